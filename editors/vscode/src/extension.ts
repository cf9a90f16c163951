// VS Code entry point: starts policy-lsp through vscode-languageclient, and wires its commands and status item.

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  type ServerOptions,
  State,
  TransportKind,
} from "vscode-languageclient/node";

import {
  DOCUMENT_SELECTOR,
  TEST_FILE_NAMES,
  describeSource,
  initializationOptions,
  planTestRun,
  readSettings,
  resolveServer,
  shouldStartFor,
  startedLine,
  summarizeTestReport,
  summaryText,
} from "./core";
import { registerMutationPreview } from "./mutations";

let client: LanguageClient | undefined;
let serverCommand: string | undefined;
let output: vscode.OutputChannel;
let testOutput: vscode.OutputChannel;
let status: vscode.StatusBarItem;
let extensionDirectory: string | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  extensionDirectory = context.extensionPath;
  output = vscode.window.createOutputChannel("Policy LSP");
  testOutput = vscode.window.createOutputChannel("Policy LSP Tests");
  status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 0);
  status.command = "policyLsp.showOutput";
  context.subscriptions.push(output, testOutput, status);
  registerMutationPreview(context, () => client);

  context.subscriptions.push(
    vscode.commands.registerCommand("policyLsp.restartServer", () => restart()),
    vscode.commands.registerCommand("policyLsp.showOutput", () => output.show(true)),
    vscode.commands.registerCommand("policyLsp.runTestsInFile", () => runTests("file")),
    vscode.commands.registerCommand("policyLsp.runTestsInWorkspace", () => runTests("workspace")),
    vscode.workspace.onDidChangeConfiguration((event) => {
      // The server path, arguments and initialization options only take effect in a new server process.
      if (client !== undefined && event.affectsConfiguration("policyLsp")) {
        void restart();
      }
    }),
    vscode.workspace.onDidOpenTextDocument((document) => {
      if (client === undefined && shouldStartFor(facts(document))) {
        void start();
      }
    }),
  );

  if (vscode.workspace.textDocuments.some((document) => shouldStartFor(facts(document))) || (await hasTestFiles())) {
    await start();
  } else {
    setStatus("idle");
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
    setStatus("missing");
    output.appendLine(resolution.message);
    void vscode.window.showErrorMessage(resolution.message, "Open Settings").then((choice) => {
      if (choice === "Open Settings") {
        void vscode.commands.executeCommand("workbench.action.openSettings", "policyLsp.server.path");
      }
    });
    return;
  }
  serverCommand = resolution.command;
  output.appendLine(
    `Starting ${resolution.command} ${resolution.args.join(" ")} (found through ${describeSource(resolution.source)})`,
  );
  const serverOptions: ServerOptions = {
    run: { command: resolution.command, args: resolution.args, transport: TransportKind.stdio },
    debug: { command: resolution.command, args: resolution.args, transport: TransportKind.stdio },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: DOCUMENT_SELECTOR,
    initializationOptions: initializationOptions(current),
    outputChannel: output,
    synchronize: { configurationSection: "policyLsp" },
  };
  const created = new LanguageClient("policyLsp", "Policy LSP", serverOptions, clientOptions);
  created.onDidChangeState((event) => {
    if (event.newState === State.Running) {
      setStatus("running");
    } else if (event.newState === State.Starting) {
      setStatus("starting");
    } else {
      setStatus("stopped");
    }
  });
  client = created;
  setStatus("starting");
  try {
    await created.start();
    output.appendLine(startedLine(resolution, created.initializeResult?.serverInfo));
  } catch (error) {
    client = undefined;
    setStatus("stopped");
    output.appendLine(`The server failed to start: ${String(error)}`);
    void vscode.window.showErrorMessage(`Policy LSP: the server failed to start. See the output for details.`);
  }
}

async function stop(): Promise<void> {
  const running = client;
  client = undefined;
  if (running !== undefined) {
    await running.stop();
  }
}

async function restart(): Promise<void> {
  await stop();
  await start();
}

type Status = "idle" | "starting" | "running" | "stopped" | "missing";

function setStatus(state: Status): void {
  const looks: Record<Status, [string, string]> = {
    idle: ["$(shield) Policy LSP", "Waiting for a Kyverno or Gatekeeper file"],
    starting: ["$(sync~spin) Policy LSP", "Starting the server"],
    running: ["$(shield) Policy LSP", `Running ${serverCommand ?? ""}`],
    stopped: ["$(error) Policy LSP", "The server stopped; run 'Policy LSP: Restart the Server'"],
    missing: ["$(warning) Policy LSP", "policy-lsp was not found; click for details"],
  };
  const [text, tooltip] = looks[state];
  status.text = text;
  status.tooltip = tooltip;
  status.show();
}

async function runTests(scope: "file" | "workspace"): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (scope === "file" && editor === undefined) {
    void vscode.window.showWarningMessage("Policy LSP: open a policy or test file first.");
    return;
  }
  if (client === undefined) {
    await start();
  }
  if (serverCommand === undefined) {
    return;
  }
  const target =
    scope === "file" && editor !== undefined
      ? { uri: editor.document.uri.toString(), fsPath: editor.document.uri.fsPath }
      : undefined;
  const folders = (vscode.workspace.workspaceFolders ?? []).map((folder) => folder.uri.fsPath);
  const advertised = client?.initializeResult?.capabilities.executeCommandProvider?.commands;
  const plan = planTestRun(advertised, target, folders, serverCommand);
  testOutput.clear();
  testOutput.show(true);
  if (plan.kind === "executeCommand" && client !== undefined) {
    testOutput.appendLine(`Running ${plan.command} ${JSON.stringify(plan.arguments[0])}`);
    const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
      command: plan.command,
      arguments: plan.arguments,
    });
    report(result);
    return;
  }
  if (plan.kind !== "cli") {
    return;
  }
  testOutput.appendLine(`Running ${plan.command} ${plan.args.join(" ")}`);
  execFile(plan.command, plan.args, { cwd: folders[0], maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
    try {
      report(JSON.parse(stdout));
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
  void (failed ? vscode.window.showWarningMessage : vscode.window.showInformationMessage)(`Policy tests: ${text}`);
}
