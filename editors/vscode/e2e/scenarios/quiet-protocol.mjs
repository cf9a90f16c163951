// A quiet protocol: once the diagnostics are pulled, the idle editor and server exchange nothing for 10 s
// (the workspace pull is held by the server instead of being answered "unchanged" every 2 s). The output
// channel is a log channel naming the server's version and path; changing only the trace level does not
// restart the server, and a restart logs the old server's exit as information, not as an error.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

export const description = "the trace stays quiet while idle, and trace changes and restarts are clean";

function writeSettings(folder, settings) {
  fs.mkdirSync(path.join(folder, ".vscode"), { recursive: true });
  fs.writeFileSync(path.join(folder, ".vscode", "settings.json"), JSON.stringify(settings, null, 2));
}

export function prepare(folder) {
  writeSettings(folder, { "policyLsp.trace.server": "messages" });
}

const count = (text, pattern) => (text.match(pattern) ?? []).length;

/**
 * Waits until the latest workspace pull has gone unanswered, with the channel silent, for 3 s: the server
 * holds it. Gives the channel's text then.
 */
async function heldPull(channelText) {
  const deadline = Date.now() + 60_000;
  let seen = channelText();
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const text = channelText();
    if (text !== seen) {
      seen = text;
      quietSince = Date.now();
      continue;
    }
    const latest = [...text.matchAll(/Sending request 'workspace\/diagnostic - \((\d+)\)'/g)].at(-1)?.[1];
    const answered = latest !== undefined && text.includes(`Received response 'workspace/diagnostic - (${latest})'`);
    if (latest !== undefined && !answered && Date.now() - quietSince >= 3000) {
      return text;
    }
  }
  throw new Error(`no workspace pull was held within 60 s:\n${seen.slice(-2000)}`);
}

export async function run(workbench, { folder, userDataDirectory }) {
  const log = (what, done) => workbench.waitForLog(userDataDirectory, "Policy LSP", what, done);
  await workbench.openFile("require-team.yaml");
  await workbench.waitForProblem("is not one of Audit, Enforce");
  // The first workspace pull is answered in full; later ones are answered while the scan and the inline test
  // runs bring new results (on a loaded machine that can take a while), and once nothing changes one is held.
  await log("a second workspace pull", (text) => count(text, /Sending request 'workspace\/diagnostic/g) >= 2);
  const before = await heldPull(() => workbench.logChannelText(userDataDirectory, "Policy LSP"));
  await new Promise((resolve) => setTimeout(resolve, 10_000));
  const after = workbench.logChannelText(userDataDirectory, "Policy LSP");
  const idle = after.slice(before.length);
  assert.equal(idle, "", `messages while idle:\n${idle}`);
  assert.ok(after.startsWith(before));

  // The channel is a log channel: levels on every line; the version and the path of the server. At the
  // default level (info) the extension's debug lines (each status notification) are left out.
  assert.match(after, /\[info\] Using policy-lsp \d+\.\d+\.\d+\S* from the copy bundled with the extension: \S+\/server\/policy-lsp/);
  assert.doesNotMatch(after, /\[debug\]|Server status:/);
  // The Output view shows the channel's tail: the held pull and, after it, nothing.
  await workbench.outputChannel("Policy LSP");
  await workbench.screenshot("output-quiet");

  // Only the trace level changes: the running server stays.
  writeSettings(folder, { "policyLsp.trace.server": "off" });
  await new Promise((resolve) => setTimeout(resolve, 4000));
  const traced = workbench.logChannelText(userDataDirectory, "Policy LSP");
  assert.equal(count(traced, /\] Starting \S+/g), 1, "changing policyLsp.trace.server restarted the server");
  assert.doesNotMatch(traced, /exited/);

  // A restart: the old server's exit is information, and the client's own exit error never shows.
  await workbench.runCommand("Policy LSP: Restart the Server");
  const restarted = await log("the restarted server", (text) => count(text, /\] Using policy-lsp/g) >= 2);
  assert.match(restarted, /\[info\] The server \(process \d+\) exited with code 0/);
  assert.doesNotMatch(restarted, /Server process exited/);
  assert.doesNotMatch(restarted, /\[error\]/);
}
