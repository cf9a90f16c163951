// A stand-in for the `vscode` module, just large enough to run the bundled extension and vscode-languageclient
// in plain node: documents, tabs, settings, output channels, diagnostic collections and commands are recorded
// so tests can assert what VS Code would have shown. Anything not modelled answers with an inert stub.

const { EventEmitter: NodeEmitter } = require("node:events");
const path = require("node:path");
const { URL, fileURLToPath, pathToFileURL } = require("node:url");

class Disposable {
  static from(...items) {
    return new Disposable(() => items.forEach((item) => item?.dispose?.()));
  }
  constructor(callback) {
    this.callback = callback;
  }
  dispose() {
    this.callback?.();
    this.callback = undefined;
  }
}

class EventEmitter {
  constructor() {
    this.emitter = new NodeEmitter();
    this.event = (listener, thisArg, disposables) => {
      const bound = (value) => listener.call(thisArg, value);
      this.emitter.on("event", bound);
      const disposable = new Disposable(() => this.emitter.off("event", bound));
      disposables?.push(disposable);
      return disposable;
    };
  }
  fire(value) {
    this.emitter.emit("event", value);
  }
  dispose() {
    this.emitter.removeAllListeners();
  }
}

class Uri {
  static parse(text) {
    const url = new URL(text);
    return new Uri(url.protocol.slice(0, -1), url.host, decodeURIComponent(url.pathname), url.search.slice(1), url.hash.slice(1));
  }
  static file(fsPath) {
    return new Uri("file", "", path.resolve(fsPath), "", "");
  }
  constructor(scheme, authority, uriPath, query, fragment) {
    Object.assign(this, { scheme, authority, path: uriPath, query, fragment });
  }
  get fsPath() {
    return this.scheme === "file" ? fileURLToPath(this.toString()) : this.path;
  }
  with(change) {
    return new Uri(change.scheme ?? this.scheme, change.authority ?? this.authority, change.path ?? this.path, change.query ?? this.query, change.fragment ?? this.fragment);
  }
  toString() {
    if (this.scheme === "file") {
      return pathToFileURL(this.path).href;
    }
    return `${this.scheme}:${this.path}`;
  }
  toJSON() {
    return { scheme: this.scheme, path: this.path, fsPath: this.fsPath };
  }
}

class Position {
  constructor(line, character) {
    this.line = line;
    this.character = character;
  }
}

class Range {
  constructor(a, b, c, d) {
    [this.start, this.end] = a instanceof Position ? [a, b] : [new Position(a, b), new Position(c, d)];
  }
}

class Diagnostic {
  constructor(range, message, severity = 0) {
    Object.assign(this, { range, message, severity });
  }
}

class DocumentSymbol {
  constructor(name, detail, kind, range, selectionRange) {
    Object.assign(this, { name, detail, kind, range, selectionRange, children: [] });
  }
}

class CancellationTokenSource {
  constructor() {
    this.emitter = new EventEmitter();
    this.token = { isCancellationRequested: false, onCancellationRequested: this.emitter.event };
  }
  cancel() {
    this.token.isCancellationRequested = true;
    this.emitter.fire();
  }
  dispose() {}
}

class TabInputText {
  constructor(uri) {
    this.uri = uri;
  }
}

/** A text document with the members vscode-languageclient reads. */
function textDocument(fsPath, languageId, text) {
  const uri = Uri.file(fsPath);
  const lines = text.split("\n");
  return {
    uri,
    fileName: uri.fsPath,
    languageId,
    version: 1,
    isClosed: false,
    isDirty: false,
    isUntitled: false,
    eol: 1,
    lineCount: lines.length,
    getText: () => text,
    lineAt: (line) => ({ text: lines[typeof line === "number" ? line : line.line] }),
    save: async () => true,
  };
}

// Unmodelled API: callable, constructible, and every member is another inert stub. `then` stays undefined
// so an awaited stub does not look like a promise.
function inert(name, missing) {
  return new Proxy(function () {}, {
    get(_, key) {
      if (key === "then" || typeof key === "symbol") {
        return undefined;
      }
      if (key === "dispose") {
        return () => {};
      }
      missing.add(`${name}.${String(key)}`);
      return inert(`${name}.${String(key)}`, missing);
    },
    apply: () => inert(`${name}()`, missing),
    construct: () => inert(`new ${name}`, missing),
  });
}

function withFallback(name, object, missing) {
  return new Proxy(object, {
    get(target, key) {
      if (key in target || typeof key === "symbol" || key === "then") {
        return target[key];
      }
      missing.add(`${name}.${String(key)}`);
      return inert(`${name}.${String(key)}`, missing);
    },
  });
}

/**
 * Builds a `vscode` module: `workspaceFolder` is the one workspace folder, `documents` the open documents
 * (the first is the active editor and the only tab), `settings` a map like `{"policyLsp.server.path": ...}`.
 */
function createVscode({ workspaceFolder, documents, settings }) {
  const missing = new Set();
  const recorded = {
    outputs: new Map(),
    collections: new Map(),
    messages: [],
    statusItems: [],
    commands: new Map(),
    symbolProviders: [],
  };
  const event = () => new EventEmitter().event;

  const outputChannel = (name) => {
    const channel = {
      name,
      lines: [],
      append: (text) => channel.lines.push(text),
      appendLine: (text) => channel.lines.push(text),
      replace: (text) => (channel.lines = [text]),
      clear: () => (channel.lines = []),
      show: () => {},
      hide: () => {},
      dispose: () => {},
    };
    // A log channel's lines, with the level each was logged at.
    channel.logged = [];
    for (const level of ["trace", "debug", "info", "warn", "error"]) {
      channel[level] = (text) => {
        channel.lines.push(text);
        channel.logged.push({ level, text });
      };
    }
    recorded.outputs.set(name, channel);
    return channel;
  };

  const diagnosticCollection = (name) => {
    const entries = new Map();
    const collection = {
      name,
      entries,
      set(uri, diagnostics) {
        if (Array.isArray(uri)) {
          uri.forEach(([key, value]) => entries.set(key.toString(), value ?? []));
        } else {
          entries.set(uri.toString(), diagnostics ?? []);
        }
      },
      get: (uri) => entries.get(uri.toString()),
      has: (uri) => entries.has(uri.toString()),
      delete: (uri) => entries.delete(uri.toString()),
      clear: () => entries.clear(),
      forEach: (callback) => entries.forEach((value, key) => callback(Uri.parse(key), value, collection)),
      dispose: () => entries.clear(),
    };
    recorded.collections.set(`${name} #${recorded.collections.size}`, collection);
    return collection;
  };

  const match = (selector, document) => {
    const filters = Array.isArray(selector) ? selector : [selector];
    return filters.some((filter) =>
      typeof filter === "string"
        ? filter === document.languageId
        : (filter.language === undefined || filter.language === document.languageId) &&
          (filter.scheme === undefined || filter.scheme === document.uri.scheme),
    )
      ? 10
      : 0;
  };

  const folder = { uri: Uri.file(workspaceFolder), name: path.basename(workspaceFolder), index: 0 };
  const workspace = {
    workspaceFolders: [folder],
    textDocuments: documents,
    name: folder.name,
    getWorkspaceFolder: () => folder,
    getConfiguration: (section) => ({
      get: (key, fallback) => settings[section ? `${section}.${key}` : key] ?? fallback,
      has: (key) => `${section}.${key}` in settings,
      inspect: () => undefined,
      update: async () => {},
    }),
    findFiles: async () => [],
    onDidOpenTextDocument: event(),
    onDidCloseTextDocument: event(),
    onDidChangeTextDocument: event(),
    onWillSaveTextDocument: event(),
    onDidSaveTextDocument: event(),
    onDidChangeConfiguration: event(),
    onDidChangeWorkspaceFolders: event(),
    onDidCreateFiles: event(),
    onDidRenameFiles: event(),
    onDidDeleteFiles: event(),
    onWillCreateFiles: event(),
    onWillRenameFiles: event(),
    onWillDeleteFiles: event(),
    createFileSystemWatcher: () => ({ onDidCreate: event(), onDidChange: event(), onDidDelete: event(), dispose() {} }),
    applyEdit: async () => true,
    notebookDocuments: [],
    onDidOpenNotebookDocument: event(),
    onDidCloseNotebookDocument: event(),
    onDidChangeNotebookDocument: event(),
    onDidSaveNotebookDocument: event(),
  };

  const message = (kind) => async (text, ...items) => {
    recorded.messages.push({ kind, text, items: items.filter((item) => typeof item === "string") });
    return undefined;
  };
  const window = {
    activeTextEditor: documents[0] ? { document: documents[0] } : undefined,
    visibleTextEditors: documents.slice(0, 1).map((document) => ({ document })),
    tabGroups: {
      all: [{ tabs: documents.slice(0, 1).map((document) => ({ input: new TabInputText(document.uri) })) }],
      onDidChangeTabs: event(),
      onDidChangeTabGroups: event(),
    },
    onDidChangeActiveTextEditor: event(),
    onDidChangeVisibleTextEditors: event(),
    createOutputChannel: outputChannel,
    createStatusBarItem: () => {
      const item = { text: "", tooltip: "", command: undefined, visible: false, show() { item.visible = true; }, hide() { item.visible = false; }, dispose() {} };
      recorded.statusItems.push(item);
      return item;
    },
    showErrorMessage: message("error"),
    showWarningMessage: message("warning"),
    showInformationMessage: message("information"),
    withProgress: async (_, task) => task({ report() {} }, new CancellationTokenSource().token),
  };

  const languages = {
    createDiagnosticCollection: diagnosticCollection,
    match,
    registerDocumentSymbolProvider: (selector, provider) => {
      const entry = { selector, provider };
      recorded.symbolProviders.push(entry);
      return new Disposable(() => recorded.symbolProviders.splice(recorded.symbolProviders.indexOf(entry), 1));
    },
  };

  const commands = {
    registerCommand: (id, callback) => {
      recorded.commands.set(id, callback);
      return new Disposable(() => recorded.commands.delete(id));
    },
    executeCommand: async (id, ...args) => recorded.commands.get(id)?.(...args),
  };

  const vscode = {
    version: "1.91.0",
    Disposable,
    EventEmitter,
    Uri,
    Position,
    Range,
    Location: class Location {
      constructor(uri, range) {
        Object.assign(this, { uri, range });
      }
    },
    Diagnostic,
    DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
    DiagnosticTag: { Unnecessary: 1, Deprecated: 2 },
    DiagnosticRelatedInformation: class DiagnosticRelatedInformation {
      constructor(location, message) {
        Object.assign(this, { location, message });
      }
    },
    DocumentSymbol,
    SymbolKind: Object.fromEntries(
      ["File", "Module", "Namespace", "Package", "Class", "Method", "Property", "Field", "Constructor", "Enum", "Interface", "Function", "Variable", "Constant", "String", "Number", "Boolean", "Array", "Object", "Key", "Null", "EnumMember", "Struct", "Event", "Operator", "TypeParameter"].map((name, index) => [name, index]),
    ),
    CancellationTokenSource,
    CancellationError: class CancellationError extends Error {},
    TabInputText,
    TabInputTextDiff: class TabInputTextDiff {},
    TabInputCustom: class TabInputCustom {},
    TabInputNotebook: class TabInputNotebook {},
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    ThemeColor: class ThemeColor {
      constructor(id) {
        this.id = id;
      }
    },
    MarkdownString: class MarkdownString {
      constructor(value = "") {
        this.value = value;
      }
    },
    workspace: withFallback("workspace", workspace, missing),
    window: withFallback("window", window, missing),
    languages: withFallback("languages", languages, missing),
    commands: withFallback("commands", commands, missing),
    env: { appName: "vscode-stub", language: "en", machineId: "stub", sessionId: "stub", uiKind: 1, openExternal: async () => true },
    extensions: { all: [], getExtension: () => undefined, onDidChange: event() },
  };
  return { vscode: withFallback("vscode", vscode, missing), recorded, missing };
}

module.exports = { createVscode, textDocument };
