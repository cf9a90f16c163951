// Completion of an enum value in a policy: the suggestions come from the server's schema.
import assert from "node:assert/strict";

export const description = "completion offers the enum values of failureAction";

export async function run(workbench) {
  await workbench.openFile("require-team.yaml");
  // Line 14 is `        failureAction: Enforse`; column 24 is the start of the value.
  await workbench.goTo(14, 24);
  const labels = await workbench.suggestions();
  await workbench.screenshot("suggestions");
  assert.ok(labels.includes("Enforce"), `suggestions: ${labels.join(", ")}`);
  assert.ok(labels.includes("Audit"), `suggestions: ${labels.join(", ")}`);
}
