// Runs the bundled extension (out/extension.js, with vscode-languageclient inside) against the real server,
// with test/vscode-stub.cjs standing in for VS Code: activation, the server found on PATH, pull diagnostics
// landing in exactly one diagnostic collection, the status item, the commands, and the missing-server message.
// Run: POLICY_LSP_SERVER=/path/to/policy-lsp node --test test/*.test.mjs

import assert from "node:assert/strict";
import * as fs from "node:fs";
import { createRequire } from "node:module";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const Module = require("node:module");
const { createVscode, textDocument } = require("./vscode-stub.cjs");

const here = path.dirname(fileURLToPath(import.meta.url));
const fixtures = path.join(here, "..", "..", "fixtures");
const serverBinary = process.env.POLICY_LSP_SERVER;

// Every server process the extension starts, to check that none outlives it.
const childProcess = require("node:child_process");
const servers = [];
const originalSpawn = childProcess.spawn;
childProcess.spawn = function (...args) {
  const child = originalSpawn.apply(this, args);
  if (args[1]?.[0] === "serve") {
    servers.push(child);
  }
  return child;
};

// Every `require("vscode")` of the bundle gets the stub of the running test.
let currentVscode;
const originalLoad = Module._load;
Module._load = function (request, ...rest) {
  return request === "vscode" ? currentVscode : originalLoad.call(this, request, ...rest);
};

/** A fresh copy of the bundle, so module-level state (the client) does not leak between tests. */
function loadExtension(vscode) {
  currentVscode = vscode;
  const bundle = require.resolve("../out/extension.js");
  delete require.cache[bundle];
  return require(bundle);
}

async function waitFor(what, condition, timeout = 10000) {
  const start = Date.now();
  for (;;) {
    const value = condition();
    if (value) {
      return value;
    }
    assert.ok(Date.now() - start < timeout, `timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * A workspace with the fixture policy open in the active editor, and policy-lsp on a PATH of its own; with
 * `bundled`, the server is in the extension's folder instead (as a platform-specific .vsix has it) and the
 * PATH holds none.
 */
function setUp(t, { text, settings = {}, bundled = false } = {}) {
  assert.ok(serverBinary, "set POLICY_LSP_SERVER to the policy-lsp binary (editors/test.sh does)");
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), "policy-lsp-vscode-"));
  const file = path.join(workspace, "require-team.yaml");
  const content = text ?? fs.readFileSync(path.join(fixtures, "require-team.yaml"), "utf8");
  fs.writeFileSync(file, content);
  const bin = path.join(workspace, ".bin");
  fs.mkdirSync(bin);
  const extensionPath = path.join(workspace, ".extension");
  fs.mkdirSync(path.join(extensionPath, "server"), { recursive: true });
  fs.symlinkSync(path.resolve(serverBinary), path.join(bundled ? path.join(extensionPath, "server") : bin, "policy-lsp"));
  const savedPath = process.env.PATH;
  // Node's own directory stays on PATH (the language client spawns nothing through it, but tools may).
  process.env.PATH = bundled ? path.dirname(process.execPath) : `${bin}${path.delimiter}${savedPath}`;
  const document = textDocument(file, "yaml", content);
  const stub = createVscode({ workspaceFolder: workspace, documents: [document], settings });
  const extension = loadExtension(stub.vscode);
  const context = { subscriptions: [], extensionPath };
  t.after(async () => {
    await extension.deactivate();
    context.subscriptions.forEach((item) => item.dispose());
    // FIXME(server): policy-lsp ignores `exit` while a request of its own (the indexing progress) is pending,
    // which a quick restart hits; vscode-languageclient then kills it after 2 s with out/terminateProcess.sh.
    await waitFor("every server process to end", () => servers.every((child) => child.exitCode !== null || child.signalCode !== null), 6000);
    process.env.PATH = savedPath;
    if (stub.missing.size > 0) {
      t.diagnostic(`vscode API the stub does not model (answered inertly): ${[...stub.missing].sort().join(", ")}`);
    }
  });
  return { ...stub, extension, context, document, file, bin, extensionPath };
}

function diagnosticsByCollection(recorded, uri) {
  return [...recorded.collections.entries()]
    .map(([name, collection]) => [name, collection.get(uri) ?? []])
    .filter(([, diagnostics]) => diagnostics.length > 0);
}

test("the extension starts the real server and VS Code receives each diagnostic once, by pull", async (t) => {
  const { vscode, recorded, extension, context, document, bin } = setUp(t);
  await extension.activate(context);

  const output = recorded.outputs.get("Policy LSP");
  assert.ok(output.lines.some((line) => line.startsWith(`Starting ${path.join(bin, "policy-lsp")} serve (found through PATH)`)), output.lines.join("\n"));
  const status = recorded.statusItems[0];
  // The server reports its state: the workspace holds one policy file, so the item shows it.
  await waitFor("the status item to say the server is ready", () => status.text.includes("Policy LSP: 1 policy file"));
  assert.equal(status.text, "$(check) Policy LSP: 1 policy file");
  assert.ok(status.visible);
  assert.equal(status.command, "policyLsp.showOutput");

  const found = await waitFor("diagnostics for the open policy", () => {
    const withDiagnostics = diagnosticsByCollection(recorded, document.uri);
    return withDiagnostics.length > 0 ? withDiagnostics : undefined;
  });
  // Give a push (which would duplicate them) the time to arrive, then check there is exactly one source.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const sources = diagnosticsByCollection(recorded, document.uri);
  assert.equal(sources.length, 1, `diagnostics in several collections: ${sources.map(([name]) => name).join(", ")}`);
  assert.equal(found[0][0].split(" #")[0], "policy-lsp", "the pull collection is named by the server's identifier");
  const [diagnostic] = sources[0][1];
  assert.equal(sources[0][1].length, 1);
  assert.deepEqual(
    [diagnostic.range.start.line, diagnostic.range.start.character, diagnostic.range.end.line, diagnostic.range.end.character],
    [13, 23, 13, 30],
  );
  assert.equal(diagnostic.code, "schema/enum");
  assert.equal(diagnostic.severity, vscode.DiagnosticSeverity.Error);
  assert.match(diagnostic.message, /did you mean `Enforce`/);

  // The outline: VS Code asks the provider the client registered, which asks the server.
  assert.equal(recorded.symbolProviders.length, 1);
  const token = new vscode.CancellationTokenSource().token;
  const symbols = await recorded.symbolProviders[0].provider.provideDocumentSymbols(document, token);
  assert.equal(symbols.length, 1);
  assert.ok(symbols[0] instanceof vscode.DocumentSymbol, "hierarchical symbols");
  assert.equal(symbols[0].name, "ClusterPolicy require-team");
});

test("with nothing on PATH the extension runs the server it carries, and names it and its version", async (t) => {
  const { recorded, extension, context, document, extensionPath } = setUp(t, { bundled: true });
  await extension.activate(context);
  const bundled = path.join(extensionPath, "server", "policy-lsp");
  const output = recorded.outputs.get("Policy LSP");
  await waitFor("the server to answer initialize", () => output.lines.some((line) => line.startsWith("Using ")));
  assert.ok(output.lines.includes(`Starting ${bundled} serve (found through the copy bundled with the extension)`), output.lines.join("\n"));
  const version = fs.readFileSync(path.join(here, "..", "..", "..", "server", "Cargo.toml"), "utf8").match(/^version = "(.+)"$/m)[1];
  assert.ok(output.lines.includes(`Using policy-lsp ${version} from the copy bundled with the extension: ${bundled}`), output.lines.join("\n"));
  await waitFor("diagnostics from the bundled server", () => diagnosticsByCollection(recorded, document.uri).length > 0);
});

test("the commands run tests, restart the server and show the output", async (t) => {
  const { vscode, recorded, extension, context, file, bin, document } = setUp(t);
  recorded.documentUri = document.uri.toString();
  await extension.activate(context);
  const status = recorded.statusItems[0];
  await waitFor("the server to be ready", () => status.text.includes("1 policy file"));

  await vscode.commands.executeCommand("policyLsp.runTestsInFile");
  const tests = recorded.outputs.get("Policy LSP Tests");
  await waitFor("the test run to report", () => tests.lines.length > 1);
  const reported = tests.lines.slice(1).join("\n");
  if (tests.lines[0].startsWith("Running policy-lsp.runTests")) {
    // The server offers the command: the extension asks it, for the active file.
    t.diagnostic("the server advertises policy-lsp.runTests: the command path was exercised");
    assert.equal(tests.lines[0], `Running policy-lsp.runTests ${JSON.stringify({ uri: recorded.documentUri })}`);
    assert.match(reported, /\d+ passed, \d+ failed/);
  } else if (/unrecognized subcommand 'test'/.test(reported)) {
    // Until the server offers policy-lsp.runTests, the CLI fallback runs on the active file.
    assert.equal(tests.lines[0], `Running ${path.join(bin, "policy-lsp")} test ${file} --output json`);
    t.diagnostic("this server has no `test` subcommand yet: the run's error output was shown, as it should be");
    assert.ok(recorded.messages.some((message) => message.kind === "error" && /test run failed/.test(message.text)));
  } else if (/no Kyverno test files/.test(reported)) {
    // The fixture workspace holds a policy and no test: the CLI warns, prints an empty report and exits 0,
    // as `kyverno test` does; the extension shows the warning and the empty summary.
    assert.equal(tests.lines[0], `Running ${path.join(bin, "policy-lsp")} test ${file} --output json`);
    assert.match(reported, /0 passed, 0 failed/);
  } else {
    assert.equal(tests.lines[0], `Running ${path.join(bin, "policy-lsp")} test ${file} --output json`);
    assert.match(reported, /\d+ passed, \d+ failed/);
  }

  await vscode.commands.executeCommand("policyLsp.restartServer");
  await waitFor("the server to be ready again", () => status.text.includes("1 policy file"));
  const starts = recorded.outputs.get("Policy LSP").lines.filter((line) => line.startsWith("Starting "));
  assert.equal(starts.length, 2, "restart starts a second server process");
  // The first server's exit is logged as information, never as the client's "exited with code 0" error.
  const log = recorded.outputs.get("Policy LSP").logged;
  await waitFor("the first server's exit to be logged", () => log.some((entry) => /exited with code 0/.test(entry.text)));
  assert.deepEqual(
    log.filter((entry) => /exited/.test(entry.text)).map((entry) => entry.level),
    ["info"],
  );
  assert.deepEqual(log.filter((entry) => entry.level === "error"), []);
  const lines = recorded.outputs.get("Policy LSP").lines;
  assert.ok(!lines.some((line) => /Server process exited/.test(line)), lines.join("\n"));

  await vscode.commands.executeCommand("policyLsp.showOutput");
});

test("without a server the extension says what to install", async (t) => {
  const { recorded, extension, context } = setUp(t, { settings: { "policyLsp.server.path": "/nonexistent/policy-lsp" } });
  await extension.activate(context);
  const errors = recorded.messages.filter((message) => message.kind === "error");
  assert.equal(errors.length, 1);
  assert.match(errors[0].text, /pip install policy-lsp/);
  assert.match(errors[0].text, /cargo install --path server/);
  assert.deepEqual(errors[0].items, ["Open Settings"]);
  assert.equal(recorded.statusItems[0].text, "$(error) Policy LSP: error");
  assert.ok(recorded.statusItems[0].visible);
});

test("YAML that is not a policy does not start the server", async (t) => {
  const { recorded, extension, context } = setUp(t, { text: "apiVersion: apps/v1\nkind: Deployment\n" });
  await extension.activate(context);
  assert.equal(recorded.outputs.get("Policy LSP").lines.length, 0);
  assert.equal(recorded.statusItems[0].visible, false, "no status item in a workspace without policies");
});
