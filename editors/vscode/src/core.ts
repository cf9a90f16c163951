// The extension's decisions, free of the `vscode` module so node tests run them as the extension does.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The server's binary name; `.exe` is added on Windows. */
export const SERVER_BINARY = "policy-lsp";

/** The command the server registers for running tests through `workspace/executeCommand`. */
export const RUN_TESTS_COMMAND = "policy-lsp.runTests";

/** Where the platform-specific .vsix carries the server, relative to the extension's folder. */
export const BUNDLED_SERVER_DIRECTORY = "server";

/** What to tell people who have no server yet. */
export const INSTALL_HINT =
  "Install the extension for your platform (its .vsix carries the server), or `pip install policy-lsp`, or " +
  "`cargo install --path server` in a checkout of the policy-lsp repository (this puts `policy-lsp` in " +
  "~/.cargo/bin), or set `policyLsp.server.path` to the binary.";

/** The extension's settings, read from the `policyLsp` section. */
export interface Settings {
  serverPath: string;
  extraArgs: string[];
  diagnosticMode: "pull" | "push";
  serverSettings: Record<string, unknown>;
}

/** Reads the settings through a getter shaped like `WorkspaceConfiguration.get`, tolerating wrong types. */
export function readSettings(get: (key: string) => unknown): Settings {
  const serverPath = get("server.path");
  const extraArgs = get("server.extraArgs");
  const diagnosticMode = get("diagnosticMode");
  const serverSettings = get("serverSettings");
  return {
    serverPath: typeof serverPath === "string" ? serverPath.trim() : "",
    extraArgs: Array.isArray(extraArgs) ? extraArgs.filter((arg): arg is string => typeof arg === "string") : [],
    // Pull is the default: the server then stops pushing, so VS Code never shows a diagnostic twice.
    diagnosticMode: diagnosticMode === "push" ? "push" : "pull",
    serverSettings:
      serverSettings !== null && typeof serverSettings === "object" && !Array.isArray(serverSettings)
        ? (serverSettings as Record<string, unknown>)
        : {},
  };
}

/** The `initializationOptions` the server receives: the known settings, then the free-form ones on top. */
export function initializationOptions(settings: Settings): Record<string, unknown> {
  return { diagnosticMode: settings.diagnosticMode, ...settings.serverSettings };
}

/** Where the server was found: the `policyLsp.server.path` setting, the copy inside the .vsix, or PATH. */
export type ServerSource = "setting" | "bundled" | "PATH";

/** How the server is started, or why it cannot be. */
export type ServerResolution =
  | { ok: true; command: string; args: string[]; source: ServerSource }
  | { ok: false; message: string };

export interface ResolveEnvironment {
  /** The PATH to search, as in `process.env.PATH`. */
  pathVariable: string | undefined;
  platform: NodeJS.Platform;
  /** The first workspace folder, against which a relative `server.path` is read. */
  workspaceFolder?: string;
  homeDirectory?: string;
  /** The extension's own folder, where a platform-specific .vsix keeps the server (`server/policy-lsp`). */
  extensionDirectory?: string;
  isExecutable?: (file: string) => boolean;
}

/** The path of the server inside an extension folder, for a platform. */
export function bundledServerPath(extensionDirectory: string, platform: NodeJS.Platform): string {
  const name = platform === "win32" ? `${SERVER_BINARY}.exe` : SERVER_BINARY;
  return path.join(extensionDirectory, BUNDLED_SERVER_DIRECTORY, name);
}

/**
 * Finds the server: the `server.path` setting first (a deliberate choice wins), then the copy a
 * platform-specific .vsix carries (it matches the extension's version), then `policy-lsp` on PATH (the
 * universal .vsix has no copy).
 */
export function resolveServer(settings: Settings, environment: ResolveEnvironment): ServerResolution {
  const isExecutable = environment.isExecutable ?? isExecutableFile;
  const args = ["serve", ...settings.extraArgs];
  if (settings.serverPath !== "") {
    const configured = expandPath(settings.serverPath, environment);
    if (isExecutable(configured)) {
      return { ok: true, command: configured, args, source: "setting" };
    }
    return {
      ok: false,
      message: `policyLsp.server.path is set to "${settings.serverPath}", but there is no executable file at ${configured}. ${INSTALL_HINT}`,
    };
  }
  if (environment.extensionDirectory !== undefined) {
    const bundled = bundledServerPath(environment.extensionDirectory, environment.platform);
    if (isExecutable(bundled)) {
      return { ok: true, command: bundled, args, source: "bundled" };
    }
  }
  const names = environment.platform === "win32" ? [`${SERVER_BINARY}.exe`, SERVER_BINARY] : [SERVER_BINARY];
  const delimiter = environment.platform === "win32" ? ";" : ":";
  for (const directory of (environment.pathVariable ?? "").split(delimiter)) {
    if (directory === "") {
      continue;
    }
    for (const name of names) {
      const candidate = path.join(directory, name);
      if (isExecutable(candidate)) {
        return { ok: true, command: candidate, args, source: "PATH" };
      }
    }
  }
  return {
    ok: false,
    message: `The policy-lsp server was not found: this .vsix carries none for ${environment.platform}, and there is none on PATH. ${INSTALL_HINT}`,
  };
}

/** How the output channel names where the server came from. */
export function describeSource(source: ServerSource): string {
  switch (source) {
    case "setting":
      return "the policyLsp.server.path setting";
    case "bundled":
      return "the copy bundled with the extension";
    case "PATH":
      return "PATH";
  }
}

/** The line the output channel shows once the server answered `initialize`: which binary, which version. */
export function startedLine(
  resolution: { command: string; source: ServerSource },
  serverInfo: { name: string; version?: string } | undefined,
): string {
  const name = serverInfo === undefined ? "the server" : `${serverInfo.name} ${serverInfo.version ?? "(no version given)"}`;
  return `Using ${name} from ${describeSource(resolution.source)}: ${resolution.command}`;
}

function expandPath(configured: string, environment: ResolveEnvironment): string {
  let expanded = configured;
  const home = environment.homeDirectory ?? os.homedir();
  if (expanded === "~" || expanded.startsWith("~/")) {
    expanded = path.join(home, expanded.slice(1));
  }
  if (environment.workspaceFolder !== undefined) {
    expanded = expanded.replace("${workspaceFolder}", environment.workspaceFolder);
    if (!path.isAbsolute(expanded)) {
      expanded = path.join(environment.workspaceFolder, expanded);
    }
  }
  return expanded;
}

function isExecutableFile(file: string): boolean {
  try {
    if (!fs.statSync(file).isFile()) {
      return false;
    }
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The documents the client hands to the server: YAML and Rego on disk and in unsaved buffers. `rego` is the
 * language id the Open Policy Agent extension (tsandall.opa) gives `.rego` files too, so both extensions see
 * the same documents and neither has to be told about the other.
 */
export const DOCUMENT_SELECTOR = [
  { scheme: "file", language: "yaml" },
  { scheme: "untitled", language: "yaml" },
  { scheme: "file", language: "rego" },
  { scheme: "untitled", language: "rego" },
];

/** File names that mark a folder of policy tests even before any policy is opened. */
export const TEST_FILE_NAMES = ["kyverno-test.yaml", "kyverno-test.yml", "suite.yaml", "suite.yml"];

// API groups of the documents the server understands: Kyverno, its CLI test files, Gatekeeper and gator.
const POLICY_API_VERSION =
  /^\s*apiVersion:\s*["']?(kyverno\.io|policies\.kyverno\.io|cli\.kyverno\.io|templates\.gatekeeper\.sh|constraints\.gatekeeper\.sh|mutations\.gatekeeper\.sh|expansion\.gatekeeper\.sh|config\.gatekeeper\.sh|test\.gatekeeper\.sh)\//m;

/** Whether a YAML text holds a Kyverno or Gatekeeper policy, or a test of one. */
export function looksLikePolicyText(text: string): boolean {
  return POLICY_API_VERSION.test(text);
}

export interface DocumentFacts {
  languageId: string;
  scheme: string;
  fileName: string;
  text: string;
}

/**
 * Whether opening this document should start the server. The extension activates on any YAML (VS Code
 * has no content-based activation), so this keeps the server away from workspaces of unrelated YAML.
 */
export function shouldStartFor(document: DocumentFacts): boolean {
  if (!DOCUMENT_SELECTOR.some((filter) => filter.scheme === document.scheme && filter.language === document.languageId)) {
    return false;
  }
  // Every Rego module is the server's business (diagnostics, navigation, `opa test` runs).
  if (document.languageId === "rego") {
    return true;
  }
  return TEST_FILE_NAMES.includes(path.basename(document.fileName)) || looksLikePolicyText(document.text);
}

/** How a test run is carried out: through the server's command when it offers one, else through the CLI. */
export type TestRunPlan =
  | { kind: "executeCommand"; command: string; arguments: [Record<string, string>] }
  | { kind: "cli"; command: string; args: string[] };

/**
 * Plans a test run of one file (`target` given) or of the workspace (`target` undefined). The server adds
 * `policy-lsp.runTests` later; until it advertises it, `policy-lsp test PATH --output json` does the work.
 */
export function planTestRun(
  advertisedCommands: readonly string[] | undefined,
  target: { uri: string; fsPath: string } | undefined,
  workspaceFolders: readonly string[],
  serverCommand: string,
): TestRunPlan {
  if (advertisedCommands?.includes(RUN_TESTS_COMMAND)) {
    return { kind: "executeCommand", command: RUN_TESTS_COMMAND, arguments: [target ? { uri: target.uri } : {}] };
  }
  const paths = target ? [target.fsPath] : workspaceFolders.length > 0 ? [...workspaceFolders] : ["."];
  return { kind: "cli", command: serverCommand, args: ["test", ...paths, "--output", "json"] };
}

/** Counts of a test report, whatever exact shape of the JSON contract it comes in. */
export interface TestSummary {
  passed: number;
  failed: number;
  errors: number;
  unsupported: number;
  problems: number;
  lines: string[];
}

/** Summarises `policy-lsp test --output json` (or the command's result) into counts and readable lines. */
export function summarizeTestReport(report: unknown): TestSummary {
  const summary: TestSummary = { passed: 0, failed: 0, errors: 0, unsupported: 0, problems: 0, lines: [] };
  const record = report !== null && typeof report === "object" ? (report as Record<string, unknown>) : {};
  const results = Array.isArray(record.results) ? record.results : [];
  for (const entry of results) {
    const result = entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>) : {};
    const outcome = text(result.outcome);
    const subject = [result.policy, result.rule, result.resource, result.test, result.case]
      .filter((part) => typeof part === "string" && part !== "")
      .join(" / ");
    if (outcome === "pass") {
      summary.passed += 1;
    } else if (outcome === "fail") {
      summary.failed += 1;
    } else if (outcome === "unsupported") {
      summary.unsupported += 1;
    } else {
      summary.errors += 1;
    }
    const detail = outcome === "pass" ? "" : `: expected ${text(result.expected)}, got ${text(result.actual)}`;
    summary.lines.push(`${outcome.toUpperCase()} ${text(result.file)} ${subject}${detail}`);
  }
  const problems = Array.isArray(record.problems) ? record.problems : [];
  for (const entry of problems) {
    const problem = entry !== null && typeof entry === "object" ? (entry as Record<string, unknown>) : {};
    summary.problems += 1;
    summary.lines.push(`PROBLEM ${text(problem.code)}: ${text(problem.message)}`);
  }
  return summary;
}

// Fields of the report are strings; anything else is shown as JSON rather than "[object Object]".
function text(value: unknown): string {
  if (typeof value === "string") {
    return value;
  }
  return value === undefined ? "" : JSON.stringify(value);
}

/** The status bar text for a summary. */
export function summaryText(summary: TestSummary): string {
  const parts = [`${summary.passed} passed`, `${summary.failed} failed`];
  if (summary.errors > 0) {
    parts.push(`${summary.errors} errors`);
  }
  if (summary.unsupported > 0) {
    parts.push(`${summary.unsupported} unsupported`);
  }
  if (summary.problems > 0) {
    parts.push(`${summary.problems} problems`);
  }
  return parts.join(", ");
}

/** The settings whose change needs a new server process; the others reach the running one. */
const RESTART_SETTINGS = ["server.path", "server.extraArgs", "diagnosticMode", "serverSettings"];

/**
 * Whether a configuration change needs the server restarted: only a new process takes a new path, new
 * arguments or new initialization options. `trace.server` is read by the language client as it changes,
 * so changing it alone must not cost the user a restart.
 */
export function needsRestart(affects: (section: string) => boolean): boolean {
  return RESTART_SETTINGS.some((key) => affects(`policyLsp.${key}`));
}

/** What the server says in `policy-lsp/status`. */
export interface ServerStatusParams {
  state: "indexing" | "ready";
  files: number;
  policyFiles: number;
}

/** What the status item shows: the client's own states, and the server's once it reports them. */
export type ClientStatus =
  | { kind: "stopped" }
  | { kind: "starting" }
  /** Running, with a server too old to report its state. */
  | { kind: "running" }
  | { kind: "server"; params: ServerStatusParams }
  | { kind: "error"; message: string };

/** How the status item looks in a state; `visible: false` hides it (no server, or no policy in the workspace). */
export interface StatusLook {
  visible: boolean;
  text: string;
  tooltip: string;
  error: boolean;
}

/** The status item for a state: starting, indexing with a count, ready with the policy count, or an error. */
export function statusLook(status: ClientStatus, serverDescription: string): StatusLook {
  switch (status.kind) {
    case "stopped":
      return { visible: false, text: "", tooltip: "", error: false };
    case "starting":
      return { visible: true, text: "$(sync~spin) Policy LSP: starting", tooltip: `Starting ${serverDescription}`, error: false };
    case "running":
      return { visible: true, text: "$(check) Policy LSP", tooltip: `Running ${serverDescription}. Click for the output.`, error: false };
    case "error":
      return { visible: true, text: "$(error) Policy LSP: error", tooltip: status.message, error: true };
    case "server": {
      const { state, files, policyFiles } = status.params;
      if (state === "indexing") {
        const found = files > 0 ? ` ${plural(files, "file")}` : "";
        return { visible: true, text: `$(sync~spin) Policy LSP: indexing${found}`, tooltip: `Indexing the workspace's YAML files (${serverDescription})`, error: false };
      }
      // A workspace without a single policy is someone else's YAML: the item would only be noise there.
      return {
        visible: policyFiles > 0,
        text: `$(check) Policy LSP: ${plural(policyFiles, "policy file")}`,
        tooltip: `Ready: ${plural(policyFiles, "policy file")} among ${plural(files, "file")} (${serverDescription}). Click for the output.`,
        error: false,
      };
    }
  }
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** The file a `policy-lsp.runTests` lens names in its arguments (`[{ uri }]`), if any. */
export function runTestsTarget(args: readonly unknown[]): string | undefined {
  const first = args[0];
  if (first !== null && typeof first === "object" && typeof (first as Record<string, unknown>).uri === "string") {
    return (first as Record<string, string>).uri;
  }
  return undefined;
}

/** The lens title while its tests run: the server's lens comes back with the result once the run is done. */
export const RUNNING_LENS_TITLE = "$(sync~spin) Running tests…";

/** Whether a lens is a test file's "Run tests" lens (the one that shows the run's state). */
export function isRunTestsLens(command: { command: string; title: string } | undefined): boolean {
  return command?.command === RUN_TESTS_COMMAND && command.title.startsWith("▶");
}
