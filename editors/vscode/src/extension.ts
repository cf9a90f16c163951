// VS Code entry point: starts policy-lsp through vscode-languageclient, and wires its commands and status item.

import { type ChildProcess, execFile, spawn } from "node:child_process";
import * as vscode from "vscode";
import {
  CodeLensRequest,
  DocumentSymbolRequest,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  type StaticFeature,
  WorkDoneProgress,
} from "vscode-languageclient/node";

import {
  type ClientStatus,
  DOCUMENT_SELECTOR,
  RUN_TESTS_COMMAND,
  RUNNING_LENS_TITLE,
  type ServerResolution,
  type ServerStatusParams,
  TEST_FILE_NAMES,
  describeSource,
  initializationOptions,
  isRunTestsLens,
  needsRestart,
  planTestRun,
  readSettings,
  resolveServer,
  runTestsTarget,
  shouldStartFor,
  startedLine,
  statusLook,
  summarizeTestReport,
  summaryText,
} from "./core";
import { registerMutationPreview } from "./mutations";
import { PolicySymbols } from "./symbols";

let client: LanguageClient | undefined;
let serverCommand: string | undefined;
/** The server process of the running client, to end it should it outlive `shutdown`/`exit`. */
let serverProcess: ChildProcess | undefined;
/** Whether the extension itself stops the server (a restart or deactivation), so its exit is no error. */
let stopping = false;
let output: vscode.LogOutputChannel;
let testOutput: vscode.OutputChannel;
let status: vscode.StatusBarItem;
let clientStatus: ClientStatus = { kind: "stopped" };
let extensionDirectory: string | undefined;
/** The test files whose run is under way, by URI: their "Run tests" lens says so until the run ends. */
const runningTests = new Set<string>();
let runCount = 0;
/** The outline and breadcrumbs provider, ahead of other YAML extensions' (see `PolicySymbols`). */
let symbols: PolicySymbols;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extensionDirectory = context.extensionPath;
  // A log channel: every line carries its level, and the level the user picks ("Set Log Level") filters them.
  output = vscode.window.createOutputChannel("Policy LSP", { log: true });
  testOutput = vscode.window.createOutputChannel("Policy LSP Tests");
  status = vscode.window.createStatusBarItem("policyLsp.status", vscode.StatusBarAlignment.Left, 0);
  status.name = "Policy LSP";
  status.command = "policyLsp.showOutput";
  context.subscriptions.push(output, testOutput, status);
  registerMutationPreview(context, () => client);
  symbols = new PolicySymbols(() => client);
  context.subscriptions.push(symbols);

  context.subscriptions.push(
    vscode.commands.registerCommand("policyLsp.restartServer", () => restart()),
    vscode.commands.registerCommand("policyLsp.showOutput", () => output.show(true)),
    vscode.commands.registerCommand("policyLsp.runTestsInFile", () => runTests("file")),
    vscode.commands.registerCommand("policyLsp.runTestsInWorkspace", () => runTests("workspace")),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (client !== undefined && needsRestart((section) => event.affectsConfiguration(section))) {
        output.info("A setting the server starts with changed: restarting it");
        void restart();
      }
    }),
    vscode.workspace.onDidOpenTextDocument((document) => {
      if (client === undefined && shouldStartFor(facts(document))) {
        void start();
      }
    }),
    vscode.window.onDidChangeActiveTextEditor((editor) => {
      if (editor?.document.languageId === "yaml") {
        symbols.keepFirst();
      }
    }),
  );

  if (vscode.workspace.textDocuments.some((document) => shouldStartFor(facts(document))) || (await hasTestFiles())) {
    await start();
  } else {
    setStatus({ kind: "stopped" });
  }
}

export async function deactivate(): Promise<void> {
  await stop();
}

function facts(document: vscode.TextDocument) {
  return {
    languageId: document.languageId,
    scheme: document.uri.scheme,
    fileName: document.fileName,
    text: document.getText(),
  };
}

async function hasTestFiles(): Promise<boolean> {
  const pattern = `**/{${TEST_FILE_NAMES.join(",")}}`;
  const found = await vscode.workspace.findFiles(pattern, "**/node_modules/**", 1);
  return found.length > 0;
}

function settings() {
  const configuration = vscode.workspace.getConfiguration("policyLsp");
  return readSettings((key) => configuration.get(key));
}

/**
 * Starts the server process itself rather than letting the language client do it: the client reports
 * every exit of a process it started as an error ("Server process exited with code 0"), restarts and
 * shutdowns included. Here a clean exit is logged as information, and only an unexpected one as an error.
 */
function serverStarter(resolution: Extract<ServerResolution, { ok: true }>): ServerOptions {
  return () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawn(resolution.command, resolution.args, { stdio: "pipe" });
      child.once("error", reject);
      child.once("spawn", () => {
        serverProcess = child;
        resolve(child);
      });
      child.once("exit", (code, signal) => {
        if (serverProcess === child) {
          serverProcess = undefined;
        }
        const how = signal === null ? `with code ${String(code)}` : `on signal ${signal}`;
        if (code === 0 || stopping) {
          output.info(`The server (process ${String(child.pid)}) exited ${how}`);
        } else {
          output.error(`The server (process ${String(child.pid)}) exited ${how}`);
        }
      });
    });
}

/** Asks the server for `policy-lsp/status` (an experimental capability, so other servers are unaffected). */
const statusCapability: StaticFeature = {
  fillClientCapabilities(capabilities) {
    capabilities.experimental = { ...(capabilities.experimental as object | undefined), policyLspStatus: true };
  },
  initialize() {},
  getState: () => ({ kind: "static" }),
  clear() {},
};

async function start(): Promise<void> {
  if (client !== undefined) {
    return;
  }
  const current = settings();
  const resolution = resolveServer(current, {
    pathVariable: process.env.PATH,
    platform: process.platform,
    workspaceFolder: vscode.workspace.workspaceFolders?.[0]?.uri.fsPath,
    extensionDirectory,
  });
  if (!resolution.ok) {
    serverCommand = undefined;
    setStatus({ kind: "error", message: "policy-lsp was not found; click for details" });
    output.error(resolution.message);
    void vscode.window.showErrorMessage(resolution.message, "Open Settings").then((choice) => {
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "policyLsp.server.path");
      }
    });
    return;
  }
  serverCommand = resolution.command;
  output.info(`Starting ${resolution.command} ${resolution.args.join(" ")} (found through ${describeSource(resolution.source)})`);
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    initializationOptions: initializationOptions(current),
    outputChannel: output,
    synchronize: { configurationSection: "policyLsp" },
    middleware: {
      // A click on a "Run tests" lens runs as the command palette's run does: progress, then a result.
      executeCommand: async (command, args, next): Promise<unknown> =>
        command === RUN_TESTS_COMMAND ? await runTests("lens", runTestsTarget(args)) : ((await next(command, args)) as unknown),
      provideCodeLenses: async (document, token, next) => {
        const lenses = await next(document, token);
        if (!runningTests.has(document.uri.toString())) {
          return lenses;
        }
        for (const lens of lenses ?? []) {
          if (lens.command !== undefined && isRunTestsLens(lens.command)) {
            lens.command = { ...lens.command, title: RUNNING_LENS_TITLE };
          }
        }
        return lenses;
      },
    },
  };
  const created = new LanguageClient("policyLsp", "Policy LSP", serverStarter(resolution), clientOptions);
  created.registerFeature(statusCapability);
  created.onNotification("policy-lsp/status", (params: ServerStatusParams) => {
    output.debug(`Server status: ${params.state}, ${params.policyFiles} policy files among ${params.files} files`);
    setStatus({ kind: "server", params });
  });
  created.onDidChangeState((event) => {
    if (event.newState === State.Starting) {
      setStatus({ kind: "starting" });
    } else if (event.newState === State.Stopped) {
      setStatus(stopping ? { kind: "stopped" } : { kind: "error", message: "The server stopped; run 'Policy LSP: Restart the Server'" });
    }
  });
  client = created;
  setStatus({ kind: "starting" });
  try {
    await created.start();
    output.info(startedLine(resolution, created.initializeResult?.serverInfo));
    const experimental = created.initializeResult?.capabilities.experimental as Record<string, unknown> | undefined;
    if (experimental?.policyLspStatus !== true) {
      // A server older than policy-lsp/status says nothing more: running is all there is to show.
      setStatus({ kind: "running" });
    }
    // The outline is served by a provider of the extension's own, which can be registered again (below).
    created.getFeature(DocumentSymbolRequest.method).clear();
    symbols.keepFirst();
  } catch (error) {
    client = undefined;
    setStatus({ kind: "error", message: "The server failed to start; click for the output" });
    output.error(`The server failed to start: ${String(error)}`);
    void vscode.window.showErrorMessage(`Policy LSP: the server failed to start. See the output for details.`);
  }
}

async function stop(): Promise<void> {
  const running = client;
  const process = serverProcess;
  client = undefined;
  if (running === undefined) {
    return;
  }
  symbols.clear();
  stopping = true;
  try {
    await running.stop();
  } catch (error) {
    output.warn(`Stopping the server: ${String(error)}`);
  } finally {
    stopping = false;
  }
  // `exit` ends the server; one that hangs anyway must not outlive its client.
  if (process !== undefined && process.exitCode === null && process.signalCode === null) {
    setTimeout(() => {
      if (process.exitCode === null && process.signalCode === null) {
        output.warn(`The server (process ${String(process.pid)}) did not exit after shutdown: ending it`);
        process.kill();
      }
    }, 2000);
  }
  setStatus({ kind: "stopped" });
}

async function restart(): Promise<void> {
  await stop();
  await start();
}

function setStatus(next: ClientStatus): void {
  clientStatus = next;
  const look = statusLook(clientStatus, serverCommand ?? "policy-lsp");
  status.text = look.text;
  status.tooltip = look.tooltip;
  status.backgroundColor = look.error ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
  if (look.visible) {
    status.show();
  } else {
    status.hide();
  }
}

/** Re-asks VS Code for the lenses of a file (the "Run tests" lens shows whether its run is under way). */
function refreshLenses(uri: string): void {
  const document = vscode.workspace.textDocuments.find((candidate) => candidate.uri.toString() === uri);
  const feature = client?.getFeature(CodeLensRequest.method);
  if (document !== undefined && feature !== undefined) {
    feature.getProvider(document)?.onDidChangeCodeLensEmitter.fire();
  }
}

/**
 * Runs the tests of the active file, of the workspace, or of the file a lens names. Every way shows the same
 * things: a progress notification (the server's `$/progress` messages when it runs them), then a result
 * notification whose button shows the failures.
 */
async function runTests(scope: "file" | "workspace" | "lens", lensUri?: string): Promise<unknown> {
  const editor = vscode.window.activeTextEditor;
  if (scope === "file" && editor === undefined) {
    void vscode.window.showWarningMessage("Policy LSP: open a policy or test file first.");
    return undefined;
  }
  if (client === undefined) {
    await start();
  }
  if (serverCommand === undefined) {
    return undefined;
  }
  const uri = scope === "lens" ? lensUri : scope === "file" ? editor?.document.uri.toString() : undefined;
  const target = uri === undefined ? undefined : { uri, fsPath: vscode.Uri.parse(uri).fsPath };
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  const advertised = client?.initializeResult?.capabilities.executeCommandProvider?.commands;
  const plan = planTestRun(advertised, target, folders, serverCommand);
  testOutput.clear();
  if (uri !== undefined) {
    runningTests.add(uri);
    refreshLenses(uri);
  }
  try {
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Policy tests" },
      async (progress) => {
        if (plan.kind === "executeCommand" && client !== undefined) {
          testOutput.appendLine(`Running ${plan.command} ${JSON.stringify(plan.arguments[0])}`);
          return await runThroughServer(client, plan.command, plan.arguments, progress);
        }
        if (plan.kind !== "cli") {
          return undefined;
        }
        testOutput.appendLine(`Running ${plan.command} ${plan.args.join(" ")}`);
        progress.report({ message: "running policy-lsp test" });
        return await runThroughCli(plan.command, plan.args, folders[0]);
      },
    );
    if (result !== undefined) {
      report(result);
    }
    return result;
  } finally {
    if (uri !== undefined) {
      runningTests.delete(uri);
      refreshLenses(uri);
    }
  }
}

/** `policy-lsp.runTests` with a progress token of its own: the server's reports fill the notification. */
async function runThroughServer(
  running: LanguageClient,
  command: string,
  args: unknown[],
  progress: vscode.Progress<{ message?: string; increment?: number }>,
): Promise<unknown> {
  runCount += 1;
  const token = `policy-lsp/run-tests/${runCount}`;
  let reached = 0;
  const listener = running.onProgress(WorkDoneProgress.type, token, (value) => {
    // The test output keeps the run's course too, for whoever opens it after the notification is gone.
    testOutput.appendLine(`[${value.kind}] ${value.kind === "begin" ? `${value.title}: ` : ""}${value.message ?? ""}`);
    if (value.kind === "end") {
      return;
    }
    // VS Code's progress takes increments; the server reports where it stands.
    const percentage = value.percentage ?? reached;
    progress.report({ message: value.message, increment: Math.max(0, percentage - reached) });
    reached = Math.max(reached, percentage);
  });
  try {
    return await running.sendRequest(ExecuteCommandRequest.type, { command, arguments: args, workDoneToken: token });
  } finally {
    listener.dispose();
  }
}

/** `policy-lsp test ... --output json`, for a server that does not offer the command. */
function runThroughCli(command: string, args: string[], cwd: string | undefined): Promise<unknown> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(stdout);
      } catch {
        // Not JSON: the server is older than `test --output json`, or it failed; show what it said.
        testOutput.appendLine(stdout);
      }
      if (stderr.trim() !== "") {
        testOutput.appendLine(stderr);
      }
      if (error !== null && error.code !== 1) {
        void vscode.window.showErrorMessage(`Policy LSP: the test run failed (${error.message}). See the output.`);
      }
      resolve(parsed);
    });
  });
}

function report(result: unknown): void {
  const summary = summarizeTestReport(result);
  for (const line of summary.lines) {
    testOutput.appendLine(line);
  }
  const text = summaryText(summary);
  testOutput.appendLine(text);
  const failed = summary.failed + summary.errors + summary.problems > 0;
  const show = failed ? "Show Failures" : "Show Results";
  void (failed ? vscode.window.showWarningMessage : vscode.window.showInformationMessage)(`Policy tests: ${text}`, show).then(
    (choice) => {
      if (choice === show) {
        testOutput.show(true);
      }
    },
  );
}
