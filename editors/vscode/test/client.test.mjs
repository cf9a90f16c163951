// Tests the extension's client code (out/core.js, as bundled) and then the real server started exactly as
// the extension starts it: found by the same resolution, given the same initializationOptions, over stdio.
// Run: POLICY_LSP_SERVER=/path/to/policy-lsp node --test test/*.test.mjs

import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const core = require("../out/core.js");
const rpc = require("vscode-languageserver-protocol/node");

const here = path.dirname(fileURLToPath(import.meta.url));
const extensionRoot = path.join(here, "..");
const fixtures = path.join(here, "..", "..", "fixtures");
const manifest = JSON.parse(fs.readFileSync(path.join(extensionRoot, "package.json"), "utf8"));

// The real server is required: a missing binary is a failure, never a skip.
const serverBinary = process.env.POLICY_LSP_SERVER;

/** The settings a fresh install has: each manifest default, read through the extension's own reader. */
function defaultSettings(overrides = {}) {
  const properties = manifest.contributes.configuration.properties;
  return core.readSettings((key) => (key in overrides ? overrides[key] : properties[`policyLsp.${key}`]?.default));
}

test("the settings read by the extension are all declared in the manifest", () => {
  const declared = Object.keys(manifest.contributes.configuration.properties);
  const read = [];
  core.readSettings((key) => {
    read.push(`policyLsp.${key}`);
    return undefined;
  });
  for (const key of read) {
    assert.ok(declared.includes(key), `${key} is read but not declared`);
  }
});

test("every contributed command is registered by the extension", () => {
  // Commands are registered in extension.ts and in the modules it calls (mutations.ts).
  const sources = fs.readdirSync(path.join(extensionRoot, "src")).filter((name) => name.endsWith(".ts"));
  const source = sources.map((name) => fs.readFileSync(path.join(extensionRoot, "src", name), "utf8")).join("\n");
  for (const { command } of manifest.contributes.commands) {
    const registered =
      source.includes(`registerCommand("${command}"`) ||
      source.includes(`registerCommand(${constantNamed(source, command)}`);
    assert.ok(registered, `${command} is contributed but never registered`);
  }
});

test("the bundle loads with nothing but the vscode module and node built-ins", () => {
  // Anything else must be bundled, since the .vsix is packaged without node_modules.
  const Module = require("node:module");
  const original = Module._load;
  const requested = new Set();
  const stub = () => new Proxy(function () {}, { get: (_, key) => (key === "prototype" ? {} : stub()) });
  Module._load = function (request, ...rest) {
    requested.add(request);
    return request === "vscode" ? stub() : original.call(this, request, ...rest);
  };
  let extension;
  try {
    extension = require("../out/extension.js");
  } finally {
    Module._load = original;
  }
  assert.equal(typeof extension.activate, "function");
  assert.equal(typeof extension.deactivate, "function");
  const outside = [...requested].filter((name) => name !== "vscode" && !Module.isBuiltin(name) && !name.endsWith("extension.js"));
  assert.deepEqual(outside, []);
  assert.equal(manifest.main, "./out/extension.js");
  // vscode-languageclient kills a lingering server with a script it expects beside its code.
  fs.accessSync(path.join(extensionRoot, "out", "terminateProcess.sh"), fs.constants.X_OK);
});

test("activation covers YAML and folders of policy tests", () => {
  assert.ok(manifest.activationEvents.includes("onLanguage:yaml"));
  assert.ok(manifest.activationEvents.includes("workspaceContains:**/kyverno-test.yaml"));
  assert.ok(manifest.activationEvents.includes("workspaceContains:**/suite.yaml"));
});

test("default settings ask the server for pull diagnostics", () => {
  assert.deepEqual(core.initializationOptions(defaultSettings()), { diagnosticMode: "pull" });
});

test("server settings pass through and win over the known ones", () => {
  const settings = defaultSettings({ diagnosticMode: "push", serverSettings: { futureOption: 3 } });
  assert.deepEqual(core.initializationOptions(settings), { diagnosticMode: "push", futureOption: 3 });
  // Wrong types in settings.json fall back to defaults instead of reaching the server.
  const broken = core.readSettings(() => 42);
  assert.deepEqual(broken, { serverPath: "", extraArgs: [], diagnosticMode: "pull", serverSettings: {} });
});

test("the server path setting wins, and ~ and relative paths are expanded", () => {
  const seen = [];
  const isExecutable = (file) => {
    seen.push(file);
    return true;
  };
  const environment = { pathVariable: "/usr/bin", platform: "linux", workspaceFolder: "/ws", homeDirectory: "/home/u", isExecutable };
  const settings = (serverPath) => core.readSettings((key) => (key === "server.path" ? serverPath : undefined));
  assert.deepEqual(core.resolveServer(settings("~/bin/policy-lsp"), environment), {
    ok: true,
    command: "/home/u/bin/policy-lsp",
    args: ["serve"],
    source: "setting",
  });
  assert.equal(core.resolveServer(settings("target/release/policy-lsp"), environment).command, "/ws/target/release/policy-lsp");
  assert.equal(core.resolveServer(settings("${workspaceFolder}/bin/p"), environment).command, "/ws/bin/p");
});

test("a server path setting that points nowhere says what to install", () => {
  const settings = core.readSettings((key) => (key === "server.path" ? "/nonexistent/policy-lsp" : undefined));
  const resolution = core.resolveServer(settings, { pathVariable: "", platform: "linux" });
  assert.equal(resolution.ok, false);
  assert.match(resolution.message, /\/nonexistent\/policy-lsp/);
  assert.match(resolution.message, /cargo install --path server/);
});

test("without a setting the server is looked up on PATH, and its absence says what to install", () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), "policy-lsp-empty-"));
  const resolution = core.resolveServer(defaultSettings(), { pathVariable: empty, platform: "linux" });
  assert.equal(resolution.ok, false);
  assert.match(resolution.message, /there is none on PATH/);
  assert.match(resolution.message, /cargo install --path server/);
  const windows = core.resolveServer(defaultSettings(), {
    pathVariable: "C:\\a;C:\\tools",
    platform: "win32",
    isExecutable: (file) => file.endsWith("policy-lsp.exe") && file.includes("tools"),
  });
  assert.equal(windows.ok, true);
  assert.equal(windows.source, "PATH");
});

test("the bundled server comes after the setting and before PATH", () => {
  const executables = new Set(["/ext/server/policy-lsp", "/usr/bin/policy-lsp", "/opt/policy-lsp", "C:\\ext\\server\\policy-lsp.exe"]);
  const environment = {
    pathVariable: "/usr/bin",
    platform: "linux",
    extensionDirectory: "/ext",
    isExecutable: (file) => executables.has(file),
  };
  const settings = (serverPath) => core.readSettings((key) => (key === "server.path" ? serverPath : undefined));
  assert.deepEqual(core.resolveServer(settings("/opt/policy-lsp"), environment), {
    ok: true,
    command: "/opt/policy-lsp",
    args: ["serve"],
    source: "setting",
  });
  assert.deepEqual(core.resolveServer(settings(""), environment), {
    ok: true,
    command: "/ext/server/policy-lsp",
    args: ["serve"],
    source: "bundled",
  });
  // A universal package has no server directory: PATH is next.
  assert.deepEqual(core.resolveServer(settings(""), { ...environment, extensionDirectory: "/universal" }), {
    ok: true,
    command: "/usr/bin/policy-lsp",
    args: ["serve"],
    source: "PATH",
  });
  // A setting that points nowhere is an error, not a reason to fall back silently to another binary.
  assert.equal(core.resolveServer(settings("/missing"), environment).ok, false);
  assert.equal(core.bundledServerPath("/ext", "win32"), path.join("/ext", "server", "policy-lsp.exe"));
  assert.equal(
    core.startedLine({ command: "/ext/server/policy-lsp", source: "bundled" }, { name: "policy-lsp", version: "1.2.3" }),
    "Using policy-lsp 1.2.3 from the copy bundled with the extension: /ext/server/policy-lsp",
  );
  assert.equal(
    core.startedLine({ command: "/usr/bin/policy-lsp", source: "PATH" }, undefined),
    "Using the server from PATH: /usr/bin/policy-lsp",
  );
});

test("executable headers name their platform, and a package refuses a server for another one", async () => {
  const { executablePlatform, mismatch, RUST_TARGETS } = await import("../scripts/platforms.mjs");
  const header = (bytes) => {
    const buffer = new Uint8Array(128);
    for (const [offset, values] of bytes) {
      buffer.set(values, offset);
    }
    return buffer;
  };
  const elfArm = header([[0, [0x7f, 0x45, 0x4c, 0x46]], [18, [0xb7, 0x00]]]);
  const machoX64 = header([[0, [0xcf, 0xfa, 0xed, 0xfe]], [4, [0x07, 0x00, 0x00, 0x01]]]);
  const peX64 = header([[0, [0x4d, 0x5a]], [0x3c, [0x40, 0, 0, 0]], [0x40, [0x50, 0x45, 0, 0, 0x64, 0x86]]]);
  assert.deepEqual(executablePlatform(elfArm), { os: "linux", arch: "arm64" });
  assert.deepEqual(executablePlatform(machoX64), { os: "darwin", arch: "x64" });
  assert.deepEqual(executablePlatform(peX64), { os: "win32", arch: "x64" });
  assert.equal(executablePlatform(Buffer.from("#!/bin/sh\necho policy-lsp\n".padEnd(100))), undefined);
  assert.equal(mismatch("linux-arm64", elfArm), undefined);
  assert.equal(mismatch("alpine-arm64", elfArm), undefined);
  assert.equal(mismatch("linux-x64", elfArm), "it is a linux-arm64 executable, not linux-x64");
  assert.equal(mismatch("win32-x64", machoX64), "it is a darwin-x64 executable, not win32-x64");
  // The real server is an executable for the machine it was built on.
  const real = fs.readFileSync(serverBinary);
  const found = executablePlatform(real);
  assert.deepEqual(found, { os: process.platform, arch: process.arch });
  assert.ok(`${process.platform}-${process.arch}` in RUST_TARGETS);
});

test("Rego, and only YAML that looks like a policy or a policy test, starts the server", () => {
  const policy = fs.readFileSync(path.join(fixtures, "require-team.yaml"), "utf8");
  const facts = (overrides) => ({ languageId: "yaml", scheme: "file", fileName: "/w/x.yaml", text: "", ...overrides });
  assert.equal(core.shouldStartFor(facts({ text: policy })), true);
  assert.equal(core.shouldStartFor(facts({ text: policy, scheme: "untitled" })), true);
  assert.equal(core.shouldStartFor(facts({ text: "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\n" })), true);
  assert.equal(core.shouldStartFor(facts({ text: "---\napiVersion: \"test.gatekeeper.sh/v1alpha1\"\nkind: Suite\n" })), true);
  assert.equal(core.shouldStartFor(facts({ fileName: "/w/tests/kyverno-test.yaml" })), true);
  assert.equal(core.shouldStartFor(facts({ text: "apiVersion: apps/v1\nkind: Deployment\n" })), false);
  assert.equal(core.shouldStartFor(facts({ text: "# kyverno.io/v1 in a comment\nname: x\n" })), false);
  assert.equal(core.shouldStartFor(facts({ text: policy, languageId: "json" })), false);
  assert.equal(core.shouldStartFor(facts({ text: policy, scheme: "git" })), false);
  // Any Rego module starts it, whatever its text.
  assert.equal(core.shouldStartFor(facts({ languageId: "rego", fileName: "/w/src.rego", text: "package p\n" })), true);
  assert.equal(core.shouldStartFor(facts({ languageId: "rego", scheme: "git", fileName: "/w/src.rego" })), false);
});

test("test runs use the server's command when it is advertised, else the CLI", () => {
  const target = { uri: "file:///w/kyverno-test.yaml", fsPath: "/w/kyverno-test.yaml" };
  assert.deepEqual(core.planTestRun(["policy-lsp.runTests"], target, ["/w"], "/bin/policy-lsp"), {
    kind: "executeCommand",
    command: "policy-lsp.runTests",
    arguments: [{ uri: "file:///w/kyverno-test.yaml" }],
  });
  assert.deepEqual(core.planTestRun(["policy-lsp.runTests"], undefined, ["/w"], "/bin/policy-lsp").arguments, [{}]);
  assert.deepEqual(core.planTestRun(undefined, target, ["/w"], "/bin/policy-lsp"), {
    kind: "cli",
    command: "/bin/policy-lsp",
    args: ["test", "/w/kyverno-test.yaml", "--output", "json"],
  });
  assert.deepEqual(core.planTestRun([], undefined, ["/a", "/b"], "p").args, ["test", "/a", "/b", "--output", "json"]);
});

test("only the settings a server starts with restart it; the trace level does not", () => {
  const changed = (...sections) => (section) => sections.includes(section);
  assert.equal(core.needsRestart(changed("policyLsp.trace.server")), false);
  assert.equal(core.needsRestart(changed("editor.fontSize")), false);
  for (const key of ["server.path", "server.extraArgs", "diagnosticMode", "serverSettings"]) {
    assert.equal(core.needsRestart(changed(`policyLsp.${key}`)), true, key);
  }
});

test("the status item shows starting, indexing with a count, ready and errors, and hides without policies", () => {
  const look = (status) => core.statusLook(status, "/bin/policy-lsp");
  assert.equal(look({ kind: "stopped" }).visible, false);
  assert.equal(look({ kind: "starting" }).text, "$(sync~spin) Policy LSP: starting");
  assert.deepEqual([look({ kind: "running" }).visible, look({ kind: "running" }).text], [true, "$(check) Policy LSP"]);
  assert.equal(look({ kind: "server", params: { state: "indexing", files: 0, policyFiles: 0 } }).text, "$(sync~spin) Policy LSP: indexing");
  assert.equal(look({ kind: "server", params: { state: "indexing", files: 12, policyFiles: 0 } }).text, "$(sync~spin) Policy LSP: indexing 12 files");
  const ready = look({ kind: "server", params: { state: "ready", files: 5, policyFiles: 1 } });
  assert.deepEqual([ready.visible, ready.text, ready.error], [true, "$(check) Policy LSP: 1 policy file", false]);
  assert.match(ready.tooltip, /^Ready: 1 policy file among 5 files/);
  assert.equal(look({ kind: "server", params: { state: "ready", files: 40, policyFiles: 0 } }).visible, false);
  const error = look({ kind: "error", message: "The server stopped" });
  assert.deepEqual([error.visible, error.text, error.tooltip, error.error], [true, "$(error) Policy LSP: error", "The server stopped", true]);
});

test("a lens click names its test file, and only the header lens shows the run", () => {
  assert.equal(core.runTestsTarget([{ uri: "file:///w/kyverno-test.yaml" }]), "file:///w/kyverno-test.yaml");
  assert.equal(core.runTestsTarget([{}]), undefined);
  assert.equal(core.runTestsTarget([]), undefined);
  assert.equal(core.isRunTestsLens({ command: "policy-lsp.runTests", title: "▶ Run tests  ✓ 1 passed" }), true);
  assert.equal(core.isRunTestsLens({ command: "policy-lsp.runTests", title: "✓ 1 passed" }), false);
  assert.equal(core.isRunTestsLens({ command: "", title: "▶ Run tests" }), false);
});

test("a test report is summarised with failures spelt out", () => {
  const summary = core.summarizeTestReport({
    results: [
      { file: "t.yaml", policy: "p", rule: "r", resource: "a", outcome: "pass", expected: "pass", actual: "pass" },
      { file: "t.yaml", policy: "p", rule: "r", resource: "b", outcome: "fail", expected: "pass", actual: "fail" },
      { file: "s.yaml", test: "t", case: "c", outcome: "unsupported", expected: "pass", actual: "?" },
    ],
    problems: [{ code: "test/missing-file", message: "no such file" }],
  });
  assert.equal(core.summaryText(summary), "1 passed, 1 failed, 1 unsupported, 1 problems");
  assert.deepEqual(summary.lines, [
    "PASS t.yaml p / r / a",
    "FAIL t.yaml p / r / b: expected pass, got fail",
    "UNSUPPORTED s.yaml t / c: expected pass, got ?",
    "PROBLEM test/missing-file: no such file",
  ]);
});

// The client capabilities of vscode-languageclient 9 that change what the server does: pull diagnostics,
// hierarchical symbols, UTF-16 positions.
const VSCODE_CAPABILITIES = {
  general: { positionEncodings: ["utf-16"] },
  textDocument: {
    synchronization: { dynamicRegistration: true, didSave: true },
    publishDiagnostics: { relatedInformation: true, versionSupport: false },
    diagnostic: { dynamicRegistration: true, relatedDocumentSupport: false },
    documentSymbol: { hierarchicalDocumentSymbolSupport: true },
  },
  workspace: { workspaceFolders: true, configuration: true },
  window: { workDoneProgress: true },
};

/** Starts the server the way the extension does: resolved from PATH, with the extension's options. */
async function startServer(t, settings) {
  assert.ok(serverBinary, "set POLICY_LSP_SERVER to the policy-lsp binary (editors/test.sh does)");
  // Put the binary on a PATH of its own so the extension's PATH lookup is what finds it.
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), "policy-lsp-bin-"));
  fs.symlinkSync(path.resolve(serverBinary), path.join(bin, "policy-lsp"));
  const resolution = core.resolveServer(settings, { pathVariable: bin, platform: process.platform });
  assert.equal(resolution.ok, true, resolution.message);
  assert.deepEqual(resolution.args, ["serve"]);
  const child = spawn(resolution.command, resolution.args, { stdio: ["pipe", "pipe", "inherit"] });
  const connection = rpc.createProtocolConnection(
    new rpc.StreamMessageReader(child.stdout),
    new rpc.StreamMessageWriter(child.stdin),
  );
  const pushed = [];
  connection.onNotification("textDocument/publishDiagnostics", (params) => pushed.push(params));
  // Answer the server's own requests as VS Code would, so nothing stalls on them.
  connection.onRequest("window/workDoneProgress/create", () => null);
  connection.onRequest("client/registerCapability", () => null);
  connection.onRequest("workspace/configuration", (params) => params.items.map(() => null));
  connection.listen();
  t.after(() => {
    connection.dispose();
    child.kill();
  });
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "policy-lsp-ws-"));
  const initialize = await connection.sendRequest("initialize", {
    processId: process.pid,
    rootUri: pathToFileURL(workspace).href,
    workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: "ws" }],
    capabilities: VSCODE_CAPABILITIES,
    initializationOptions: core.initializationOptions(settings),
  });
  await connection.sendNotification("initialized", {});
  return { connection, initialize, pushed, workspace, child };
}

async function openFixture(connection, workspace, name) {
  const file = path.join(workspace, name);
  const text = fs.readFileSync(path.join(fixtures, name), "utf8");
  fs.writeFileSync(file, text);
  const uri = pathToFileURL(file).href;
  await connection.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "yaml", version: 1, text } });
  return uri;
}

const summarize = (diagnostics) =>
  diagnostics.map(
    ({ range, code }) => `${range.start.line}:${range.start.character}-${range.end.line}:${range.end.character} ${code}`,
  );

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

test("the real server, started with the default settings, serves pull diagnostics and symbols", async (t) => {
  const { connection, initialize, pushed, workspace } = await startServer(t, defaultSettings());
  assert.equal(initialize.serverInfo.name, "policy-lsp");
  assert.equal(initialize.capabilities.diagnosticProvider?.identifier, "policy-lsp", "pull diagnostics advertised");
  const uri = await openFixture(connection, workspace, "require-team.yaml");

  const report = await connection.sendRequest("textDocument/diagnostic", { textDocument: { uri } });
  assert.equal(report.kind, "full");
  assert.deepEqual(summarize(report.items), ["13:23-13:30 schema/enum"]);
  assert.match(report.items[0].message, /did you mean `Enforce`/);

  const symbols = await connection.sendRequest("textDocument/documentSymbol", { textDocument: { uri } });
  assert.equal(symbols[0].name, "ClusterPolicy require-team");

  // In pull mode the server must not push as well, or VS Code would show each diagnostic twice.
  await sleep(300);
  assert.deepEqual(pushed.filter((params) => params.diagnostics.length > 0), []);
  await connection.sendRequest("shutdown");
});

test("the real server pushes diagnostics when the push mode is chosen", async (t) => {
  const { connection, initialize, pushed, workspace } = await startServer(t, defaultSettings({ diagnosticMode: "push" }));
  assert.equal(initialize.capabilities.diagnosticProvider, undefined);
  const uri = await openFixture(connection, workspace, "require-team.yaml");
  for (let waited = 0; waited < 5000 && !pushed.some((params) => params.uri === uri); waited += 50) {
    await sleep(50);
  }
  const published = pushed.find((params) => params.uri === uri);
  assert.ok(published, "no publishDiagnostics within 5 s");
  assert.deepEqual(summarize(published.diagnostics), ["13:23-13:30 schema/enum"]);
  await connection.sendRequest("shutdown");
});

test("the CLI fallback of the test commands runs `policy-lsp test --output json`", async (t) => {
  assert.ok(serverBinary, "set POLICY_LSP_SERVER to the policy-lsp binary");
  const testFile = path.join(fixtures, "kyverno-test", "kyverno-test.yaml");
  const plan = core.planTestRun(undefined, { uri: pathToFileURL(testFile).href, fsPath: testFile }, [], serverBinary);
  assert.equal(plan.kind, "cli");
  const { code, stdout, stderr } = await new Promise((resolve) => {
    execFile(plan.command, plan.args, (error, stdout, stderr) => resolve({ code: error?.code ?? 0, stdout, stderr }));
  });
  if (code === 2 && /unrecognized subcommand 'test'/.test(stderr)) {
    // `policy-lsp test` is being built in another issue; say loudly that this part did not run.
    t.skip("this server has no `test` subcommand yet, so the CLI fallback was not exercised");
    return;
  }
  const summary = core.summarizeTestReport(JSON.parse(stdout));
  assert.equal(core.summaryText(summary), "2 passed, 0 failed", `output: ${stdout}\n${stderr}`);
  assert.equal(code, 0);
});

test("the first letter typed on a new YAML line asks for completion", () => {
  // VS Code's YAML grammar scopes a plain scalar (a key being typed included) as a string, and quick
  // suggestions are off in strings by default: without this default only Ctrl+Space or a trigger character
  // (":", " ", ...) would ask the server.
  const quick = manifest.contributes.configurationDefaults["[yaml]"]["editor.quickSuggestions"];
  assert.equal(quick.strings, "on");
  assert.equal(quick.other, "on");
});

/** The name of the `const NAME = "value"` that holds a command's name in the extension's sources, if any. */
function constantNamed(source, value) {
  const found = source.match(new RegExp(`const (\\w+) = "${value.replace(/[.]/g, "\\.")}"`));
  return found === null ? "\u0000" : found[1];
}
