// Completion where VS Code leaves the cursor: right after Enter at the end of a rule's first line the server
// offers the rule's keys, and the first letter typed on a new line opens the suggestions by itself.
import assert from "node:assert/strict";

export const description = "after Enter in a rule, completion offers the rule's keys, and typing opens it";

export async function run(workbench) {
  await workbench.openFile("require-team.yaml");
  // Line 8 is `    - name: check-team`; Enter leaves the cursor at the editor's own indentation.
  await workbench.goTo(8, 1);
  await workbench.page.keyboard.press("End");
  await workbench.page.keyboard.press("Enter");
  const labels = await workbench.suggestions();
  await workbench.screenshot("after-enter");
  for (const key of ["preconditions", "context"]) {
    assert.ok(labels.includes(key), `suggestions after Enter: ${labels.join(", ")}`);
  }
  await workbench.page.keyboard.press("Escape");
  // No Ctrl+Space this time: the letter itself asks.
  await workbench.page.keyboard.type("p");
  const widget = workbench.page.locator(".editor-widget.suggest-widget.visible");
  await widget.locator(".monaco-list-row", { hasText: "preconditions" }).first().waitFor({ timeout: 30_000 });
  await workbench.screenshot("first-letter");
}
