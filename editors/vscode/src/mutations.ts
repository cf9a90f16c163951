// The mutation preview: the server's "Preview mutations" lens and code action name the command
// `policy-lsp.previewMutations`, which opens a diff editor of the manifest against the text the server's
// `policyLsp/mutatedManifest` request returns (the manifest as the workspace's mutating policies leave it).

import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";

/** The command the server's lens and code action name (PREVIEW_MUTATIONS_COMMAND in the server). */
export const PREVIEW_MUTATIONS_COMMAND = "policy-lsp.previewMutations";
/** The server's request for the mutated text of a manifest. */
export const MUTATED_MANIFEST_REQUEST = "policyLsp/mutatedManifest";
/** The scheme of the read-only documents holding mutated texts (the diff editor's right side). */
const MUTATED_SCHEME = "policy-lsp-mutated";

interface MutatedManifest {
  uri: string;
  text: string;
  changes: number;
  policies: string[];
}

/**
 * Registers the preview command and the provider of its right-hand documents. `currentClient` gives the
 * running client (the server may have restarted since activation).
 */
export function registerMutationPreview(
  context: vscode.ExtensionContext,
  currentClient: () => LanguageClient | undefined,
): void {
  // The mutated texts by the URI of their right-hand document; refreshed at each preview.
  const texts = new Map<string, string>();
  const changed = new vscode.EventEmitter<vscode.Uri>();
  context.subscriptions.push(
    changed,
    vscode.workspace.registerTextDocumentContentProvider(MUTATED_SCHEME, {
      onDidChange: changed.event,
      provideTextDocumentContent: (uri) => texts.get(uri.toString()) ?? "",
    }),
    vscode.commands.registerCommand(PREVIEW_MUTATIONS_COMMAND, async (argument?: { uri?: string }) => {
      const target = argument?.uri ?? vscode.window.activeTextEditor?.document.uri.toString();
      const client = currentClient();
      if (target === undefined || client === undefined) {
        void vscode.window.showInformationMessage("Policy LSP: open a manifest to preview its mutations.");
        return;
      }
      const mutated = await client.sendRequest<MutatedManifest | null>(MUTATED_MANIFEST_REQUEST, {
        textDocument: { uri: target },
      });
      if (mutated === null) {
        void vscode.window.showInformationMessage("Policy LSP: no policy of the workspace mutates this manifest.");
        return;
      }
      const original = vscode.Uri.parse(mutated.uri);
      const right = mutatedUri(original);
      texts.set(right.toString(), mutated.text);
      changed.fire(right);
      const name = original.path.split("/").pop() ?? original.path;
      const title = `${name} ↔ mutated by ${mutated.policies.join(", ")}`;
      await vscode.commands.executeCommand("vscode.diff", original, right, title);
    }),
  );
}

/** The right-hand document of a manifest's preview: same path, the preview's scheme. */
function mutatedUri(original: vscode.Uri): vscode.Uri {
  return vscode.Uri.from({ scheme: MUTATED_SCHEME, path: original.path });
}
