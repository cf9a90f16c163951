// A policy with a misspelt enum value: the diagnostic reaches the Problems panel, with its code.
import assert from "node:assert/strict";

export const description = "a policy with a typo shows its diagnostic in the Problems panel";

export async function run(workbench) {
  await workbench.openFile("require-team.yaml");
  const row = await workbench.waitForProblem("is not one of Audit, Enforce");
  await workbench.screenshot("problems");
  assert.match(row, /`Enforse` is not one of Audit, Enforce; did you mean `Enforce`\?/);
  assert.match(row, /schema\/enum/);
  assert.match(row, /\[Ln 14, Col 24\]/);
}
