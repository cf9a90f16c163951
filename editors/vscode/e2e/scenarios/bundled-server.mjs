// With no setting and nothing on PATH, the extension runs the server its .vsix carries, and says so.
import assert from "node:assert/strict";
import * as path from "node:path";

export const description = "the extension runs the server bundled in the .vsix and names it in its output";

export async function run(workbench, { extensionsDirectory }) {
  await workbench.openFile("require-team.yaml");
  const text = await workbench.outputChannel("Policy LSP", "Using policy-lsp");
  await workbench.screenshot("output");
  const match = /Using policy-lsp (\S+) from the copy bundled with the extension: (\S*?server\/policy-lsp)/.exec(text);
  assert.ok(match, `the output channel says:\n${text}`);
  assert.match(match[1], /^\d+\.\d+\.\d+/);
  assert.ok(match[2].startsWith(extensionsDirectory + path.sep), `${match[2]} is not inside ${extensionsDirectory}`);
  assert.ok(match[2].endsWith(path.join("server", "policy-lsp")), match[2]);
}
