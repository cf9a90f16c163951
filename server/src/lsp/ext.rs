//! The protocol extensions this server adds beyond LSP: requests a client's extension sends by name
//! (documented in editors/README.md), each with its parameters and result.

use ls_types::request::Request;
use ls_types::{TextDocumentIdentifier, Uri};
use serde::{Deserialize, Serialize};

use crate::ide::MutatedManifest;

/// `policyLsp/mutatedManifest`: a manifest file as the workspace's mutating policies would leave it, so
/// a client can show it beside the file (the VS Code extension opens a diff editor). `null` when no
/// policy mutates the file or it has not been judged yet.
pub enum MutatedManifestRequest {}

impl Request for MutatedManifestRequest {
    type Params = MutatedManifestParams;
    type Result = Option<MutatedManifestResult>;
    const METHOD: &'static str = "policyLsp/mutatedManifest";
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutatedManifestParams {
    pub text_document: TextDocumentIdentifier,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutatedManifestResult {
    pub uri: Uri,
    /// The whole file's text after the mutations.
    pub text: String,
    /// How many fields the mutations add, change or remove.
    pub changes: usize,
    /// The policies whose mutations applied, in the order the Kyverno CLI runs them.
    pub policies: Vec<String>,
}

impl MutatedManifestResult {
    pub fn of(uri: Uri, mutated: MutatedManifest) -> MutatedManifestResult {
        MutatedManifestResult { uri, text: mutated.text, changes: mutated.changes, policies: mutated.policies }
    }
}
