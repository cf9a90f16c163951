// In a workspace of YAML that holds no policy, the server (started by hand here) reports none, and the status
// item stays hidden.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

export const description = "the status item is hidden in a workspace without policy files";

export function prepare(folder) {
  fs.rmSync(folder, { recursive: true, force: true });
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(
    path.join(folder, "deployment.yaml"),
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
  );
}

export async function run(workbench, { userDataDirectory }) {
  await workbench.openFile("deployment.yaml");
  // Not a policy: the extension does not start the server on its own. Started by hand, the server scans the
  // folder and says it holds no policy file.
  await workbench.runCommand("Policy LSP: Restart the Server");
  await workbench.waitForLog(userDataDirectory, "Policy LSP", "the server to answer initialize", (text) => /Using policy-lsp/.test(text));
  // The item shows "starting" and "indexing" until the scan's "ready" notification (which may come after
  // initialize's answer on a loaded machine), and may be hidden for a moment between those states; what
  // counts is that it settles hidden: hidden for 3 s in a row within 30 s, then still hidden 3 s later.
  const item = workbench.statusItem("Policy LSP");
  const deadline = Date.now() + 30_000;
  let hiddenSince = undefined;
  while (hiddenSince === undefined || Date.now() - hiddenSince < 3000) {
    assert.ok(Date.now() < deadline, "the status item did not stay hidden within 30 s of the server starting, in a workspace without policies");
    if ((await item.count()) > 0) {
      hiddenSince = undefined;
    } else if (hiddenSince === undefined) {
      hiddenSince = Date.now();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  for (let waited = 0; waited < 3000; waited += 250) {
    assert.equal(await item.count(), 0, "the status item shows again in a workspace without policies");
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await workbench.screenshot("status-hidden");
}
