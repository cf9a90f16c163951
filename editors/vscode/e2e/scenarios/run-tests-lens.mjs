// Clicking a test file's "Run tests" lens runs it as the command palette does: the server's progress, then a
// result notification whose button shows the failures, and the lens keeps the result.
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";

export const description = "the Run tests lens shows the run's progress, a result notification and the result";

export function prepare(folder) {
  // One expectation made wrong, so the run has a failure to show.
  const test = path.join(folder, "kyverno-test", "kyverno-test.yaml");
  const text = fs.readFileSync(test, "utf8");
  const wrong = text.replace("resources: [unlabelled]\n    kind: Pod\n    result: fail", "resources: [unlabelled]\n    kind: Pod\n    result: pass");
  assert.notEqual(wrong, text, "the fixture's failing expectation was not found");
  fs.writeFileSync(test, wrong);
}

export async function run(workbench) {
  await workbench.openFile("kyverno-test/kyverno-test.yaml");
  // The inline run gives the lens its result as soon as the file is open.
  const lens = await workbench.codeLens("Run tests");
  assert.match(await lens.innerText(), /Run tests\s+✓ 1 passed\s+✗ 1 failed/);
  await lens.click();
  const toast = await workbench.notification("Policy tests: 1 passed, 1 failed");
  await workbench.screenshot("result-notification");
  const button = toast.locator(".monaco-button", { hasText: "Show Failures" });
  await button.waitFor();
  await button.click();
  // The test output holds the course of the run as the server reported it ($/progress on the token the
  // extension gave), then each result.
  const text = await workbench.outputChannel("Policy LSP Tests", "1 passed, 1 failed");
  await workbench.screenshot("test-output");
  assert.match(text, /Running policy-lsp\.runTests \{"uri":"file:\/\/[^"]*kyverno-test\.yaml"\}/);
  assert.match(text, /\[begin\] Running policy tests: 1 test file/);
  assert.match(text, /\[report\] 1\/1: kyverno-test\.yaml/);
  assert.match(text, /\[end\] 1 passed, 1 failed/);
  assert.match(text, /FAIL \S*kyverno-test\.yaml require-team \/ check-team \/ unlabelled: expected pass, got fail/);
  // Back in the editor, the lens shows the run's result (the "Running tests…" title it had meanwhile is gone).
  await workbench.openFile("kyverno-test/kyverno-test.yaml");
  const after = await workbench.codeLens("Run tests");
  assert.match(await after.innerText(), /Run tests\s+✓ 1 passed\s+✗ 1 failed/);
  await workbench.screenshot("lens-after-run");
}
