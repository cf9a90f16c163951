// The status item follows the server's own report: ready, with the number of policy files it indexed.
import assert from "node:assert/strict";

export const description = "the status item shows the server's state and its count of policy files";

export async function run(workbench) {
  await workbench.openFile("require-team.yaml");
  // The fixtures hold two policies: require-team.yaml and kyverno-test/policy.yaml.
  const item = workbench.statusItem("Policy LSP: 2 policy files");
  await item.waitFor({ timeout: 60_000 });
  await workbench.screenshot("status-ready");
  assert.equal(await workbench.statusItem("Policy LSP").count(), 1, "one status item");
}
