// The outline and breadcrumbs of policy files: a document symbol provider of the extension's own in front of
// the server's symbols, kept ahead of other YAML extensions' providers (Red Hat's YAML gives every file its
// generic key tree).

import * as vscode from "vscode";
import {
  type DocumentSymbol as ProtocolDocumentSymbol,
  DocumentSymbolRequest,
  type LanguageClient,
  type SymbolInformation as ProtocolSymbolInformation,
} from "vscode-languageclient/node";

import { DOCUMENT_SELECTOR } from "./core";

type Symbols = vscode.DocumentSymbol[] | vscode.SymbolInformation[];

/** The symbols of one version of a document, asked for before VS Code asks. */
interface Ahead {
  version: number;
  /** Set once the server answered (undefined: no symbols, or the request failed). */
  settled: boolean;
  symbols: Symbols | undefined;
  answer: Promise<Symbols | undefined>;
  cancel: vscode.CancellationTokenSource;
}

/**
 * Where the outline and the breadcrumbs look:
 *
 * - The outline shows every matching provider's symbols as a group, ordered by selector score, then newest
 *   registration first; the score is 10 for any exact match (language, scheme or pattern alike, not added up),
 *   so a narrower selector cannot outrank `{ language: "yaml" }`, and the `exclusive` filter that would hide
 *   the others is a proposed API. What is left is to be the newest: the provider is registered again whenever
 *   more extensions are active than at its last registration, and once more a moment later, as a language
 *   client registers its providers only once its server has answered.
 * - The breadcrumbs follow the group that answered first (`OutlineModel` adds each provider's group when its
 *   answer arrives, and `getItemEnclosingPosition` takes the first group holding the cursor). VS Code asks the
 *   providers in the outline's order and only after a debounce following each edit; the symbols of the
 *   visible documents are asked for as soon as they change, so by then this provider answers at once, ahead
 *   of any provider that must ask its server.
 */
export class PolicySymbols implements vscode.Disposable {
  private registration: vscode.Disposable | undefined;
  private activeExtensionsSeen = -1;
  private renewal: ReturnType<typeof setTimeout> | undefined;
  /** By document URI: the latest version's symbols, for the visible documents only. */
  private readonly ahead = new Map<string, Ahead>();
  private readonly listeners: vscode.Disposable[];

  constructor(private readonly currentClient: () => LanguageClient | undefined) {
    this.listeners = [
      vscode.workspace.onDidChangeTextDocument((event) => this.askSoon(event.document)),
      vscode.window.onDidChangeVisibleTextEditors((editors) => editors.forEach((editor) => this.askSoon(editor.document))),
      vscode.workspace.onDidCloseTextDocument((document) => this.forget(document.uri.toString())),
    ];
  }

  /** The server is running: registers the provider (again, when other extensions became active since). */
  keepFirst(): void {
    const active = vscode.extensions.all.filter((extension) => extension.isActive).length;
    if (active === this.activeExtensionsSeen) {
      return;
    }
    this.activeExtensionsSeen = active;
    this.register();
    clearTimeout(this.renewal);
    this.renewal = setTimeout(() => {
      if (this.running() !== undefined) {
        this.register();
      }
    }, 3000);
    vscode.window.visibleTextEditors.forEach((editor) => this.askSoon(editor.document));
  }

  /** The server stopped: no provider, and nothing kept of its answers. */
  clear(): void {
    this.registration?.dispose();
    this.registration = undefined;
    this.activeExtensionsSeen = -1;
    clearTimeout(this.renewal);
    for (const uri of [...this.ahead.keys()]) {
      this.forget(uri);
    }
  }

  dispose(): void {
    this.clear();
    for (const listener of this.listeners) {
      listener.dispose();
    }
  }

  private register(): void {
    this.registration?.dispose();
    const provider: vscode.DocumentSymbolProvider = {
      provideDocumentSymbols: (document, token) => {
        const ahead = this.ahead.get(document.uri.toString());
        if (ahead !== undefined && ahead.version === document.version) {
          // A value, not a promise, once the server has answered: the group arrives before any other.
          return ahead.settled ? ahead.symbols : ahead.answer;
        }
        return this.fetch(document, token);
      },
    };
    this.registration = vscode.languages.registerDocumentSymbolProvider(DOCUMENT_SELECTOR, provider, { label: "Policy LSP" });
  }

  private running(): LanguageClient | undefined {
    const client = this.currentClient();
    return client !== undefined && client.isRunning() ? client : undefined;
  }

  /**
   * Asks for the symbols of a changed or newly visible document. After the current event, so that the language
   * client has sent the change first (its listener may come after this one; both requests then leave in order).
   */
  private askSoon(document: vscode.TextDocument): void {
    if (this.registration === undefined || vscode.languages.match(DOCUMENT_SELECTOR, document) === 0) {
      return;
    }
    setTimeout(() => {
      const uri = document.uri.toString();
      const visible = vscode.window.visibleTextEditors.some((editor) => editor.document === document);
      if (!visible || document.isClosed || this.ahead.get(uri)?.version === document.version) {
        return;
      }
      this.forget(uri);
      const cancel = new vscode.CancellationTokenSource();
      const ahead: Ahead = { version: document.version, settled: false, symbols: undefined, answer: Promise.resolve(undefined), cancel };
      ahead.answer = this.fetch(document, cancel.token).then(
        (symbols) => {
          ahead.symbols = symbols;
          ahead.settled = true;
          return symbols;
        },
        () => {
          // Cancelled or failed: VS Code's own request asks again.
          if (this.ahead.get(uri) === ahead) {
            this.ahead.delete(uri);
          }
          return undefined;
        },
      );
      this.ahead.set(uri, ahead);
    }, 0);
  }

  private forget(uri: string): void {
    const ahead = this.ahead.get(uri);
    if (ahead !== undefined) {
      ahead.cancel.cancel();
      ahead.cancel.dispose();
      this.ahead.delete(uri);
    }
  }

  /** The server's symbols: kinds, rules and their parts for Kubernetes and policy documents, none for other YAML. */
  private async fetch(document: vscode.TextDocument, token: vscode.CancellationToken): Promise<Symbols | undefined> {
    const running = this.running();
    if (running === undefined) {
      return undefined;
    }
    const textDocument = running.code2ProtocolConverter.asTextDocumentIdentifier(document);
    const result = await running.sendRequest(DocumentSymbolRequest.type, { textDocument }, token);
    if (result === null || result.length === 0) {
      // No group at all rather than an empty one beside another extension's.
      return undefined;
    }
    const hierarchical = "range" in result[0] && !("location" in result[0]);
    return hierarchical
      ? await running.protocol2CodeConverter.asDocumentSymbols(result as ProtocolDocumentSymbol[], token)
      : await running.protocol2CodeConverter.asSymbolInformations(result as ProtocolSymbolInformation[], token);
  }
}
