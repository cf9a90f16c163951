// Beside another YAML extension that outlines every YAML file as its key tree (a stand-in for Red Hat's YAML,
// which no registry reachable here carries, with the same selector), the outline of a policy shows
// policy-lsp's symbols first, YAML that is no Kubernetes object keeps the other extension's outline alone, and
// after an edit the breadcrumbs of a policy show policy-lsp's path. (The breadcrumbs follow the provider that
// answers first; this stand-in answers inside the extension host, faster than Red Hat's server could, so it
// is the harder case.) Named to run last: the stand-in stays installed only until this scenario ends.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const description = "beside another YAML outline, a policy's outline shows policy-lsp's symbols first";

const here = path.dirname(fileURLToPath(import.meta.url));
const STAND_IN = "policy-lsp-e2e.generic-yaml-outline";

export function prepare(folder, { work, installExtension }) {
  // Packaged with the extension's own vsce, offline, from a copy (vsce writes nothing into the sources then).
  const source = path.join(work, "generic-yaml-outline");
  fs.cpSync(path.join(here, "..", "generic-yaml-outline"), source, { recursive: true });
  const vsix = path.join(work, "generic-yaml-outline.vsix");
  const vsce = path.join(here, "..", "..", "node_modules", "@vscode", "vsce", "vsce");
  execFileSync(process.execPath, [vsce, "package", "--allow-missing-repository", "--skip-license", "--out", vsix], { cwd: source, stdio: "ignore" });
  installExtension(vsix);
  // YAML that is no Kubernetes object: policy-lsp has no symbols for it.
  fs.writeFileSync(path.join(folder, "settings.yaml"), "name: web\nreplicas: 2\n");
}

/** The rows of the Outline view, as `indent label` (the view is opened first). */
async function outlineRows(workbench, expected) {
  await workbench.runCommand("Explorer: Focus on Outline View");
  const rows = workbench.page.locator(".outline-pane .monaco-list-row");
  await rows.filter({ hasText: expected }).first().waitFor({ timeout: 60_000 });
  return (await rows.allInnerTexts()).map((text) => text.replaceAll("\n", " ").trim());
}

export async function run(workbench, { uninstallExtension }) {
  try {
    // Other YAML: the stand-in's key tree alone, untouched (policy-lsp has no symbols for it, so no group).
    await workbench.openFile("settings.yaml");
    const other = await outlineRows(workbench, "replicas");
    assert.deepEqual(other, ["name", "replicas"], `outline of settings.yaml: ${other.join(" | ")}`);

    await workbench.openFile("require-team.yaml");
    const rows = await outlineRows(workbench, "ClusterPolicy require-team");
    await workbench.screenshot("outline");
    // Two groups, policy-lsp's first: its policy, then the stand-in's key tree.
    const policyGroup = rows.indexOf("Policy LSP");
    const otherGroup = rows.indexOf("YAML");
    assert.ok(policyGroup >= 0 && otherGroup > policyGroup, `outline rows: ${rows.join(" | ")}`);
    // A row shows the symbol's name, then its detail (here the policy's apiVersion).
    const policy = rows.findIndex((row) => row.startsWith("ClusterPolicy require-team"));
    assert.ok(policy > policyGroup && policy < otherGroup, rows.join(" | "));

    // The breadcrumbs with the cursor in the rule's pattern: policy-lsp's rule, not the stand-in's
    // `YAML › spec › rules › …` key path; and so they stay through edits (a space typed and taken back at the
    // end of the message line), each of which has both providers asked again.
    const crumbs = workbench.page.locator(".editor-group-container.active .monaco-breadcrumbs .monaco-breadcrumb-item");
    const crumbPath = async () => (await crumbs.allInnerTexts()).map((text) => text.trim()).filter((text) => text.length > 0);
    const isPolicyPath = (path) => path.includes("Policy LSP") && path.some((text) => text.includes("check-team")) && !path.includes("spec");
    await workbench.goTo(19, 15);
    const deadline = Date.now() + 30_000;
    for (let path = await crumbPath(); !isPolicyPath(path); path = await crumbPath()) {
      assert.ok(Date.now() < deadline, `the breadcrumbs show ${path.join(" › ")}, not policy-lsp's rule check-team`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    // While VS Code recomputes after an edit the breadcrumbs may show the file alone for a moment; they must
    // never show the other extension's key tree, and must come back to policy-lsp's path.
    const showsOther = (path) => path.includes("YAML") || path.includes("spec");
    for (let edit = 0; edit < 3; edit += 1) {
      await workbench.goTo(15, 44);
      await workbench.page.keyboard.type(" ");
      await workbench.page.keyboard.press("Backspace");
      await workbench.goTo(19, 15);
      for (let waited = 0; waited < 2000; waited += 250) {
        const path = await crumbPath();
        assert.ok(!showsOther(path), `after edit ${edit + 1} the breadcrumbs show ${path.join(" › ")}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const settled = Date.now() + 30_000;
      for (let path = await crumbPath(); !isPolicyPath(path); path = await crumbPath()) {
        assert.ok(!showsOther(path) && Date.now() < settled, `after edit ${edit + 1} the breadcrumbs show ${path.join(" › ")}`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    await workbench.screenshot("breadcrumbs");
  } finally {
    uninstallExtension(STAND_IN);
  }
}
