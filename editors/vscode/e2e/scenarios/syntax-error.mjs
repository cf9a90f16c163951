// A syntax error stands on its own line, and the file's other diagnostics stay while it does.
import assert from "node:assert/strict";

export const description = "a syntax error shows on its line and the file's schema diagnostics stay";

export async function run(workbench) {
  await workbench.openFile("require-team.yaml");
  await workbench.waitForProblem("is not one of Audit, Enforce");
  // Line 15 is `        message: "Pods need a team label."`: a `: x` after the quoted value breaks it.
  await workbench.goTo(15, 1);
  await workbench.page.keyboard.press("End");
  await workbench.page.keyboard.type(" : x");
  await workbench.runCommand("View: Focus Problems");
  const deadline = Date.now() + 30_000;
  let rows = [];
  for (;;) {
    rows = await workbench.page.locator(".markers-panel .monaco-list-row").allInnerTexts();
    const syntax = rows.some((row) => /yaml\/syntax/.test(row) && /\[Ln 15, Col \d+\]/.test(row));
    const schema = rows.some((row) => /`Enforse` is not one of Audit, Enforce/.test(row) && /\[Ln 14, Col 24\]/.test(row));
    if (syntax && schema) {
      break;
    }
    assert.ok(Date.now() < deadline, `Problems rows: ${rows.join(" | ")}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await workbench.screenshot("syntax-error");
}
