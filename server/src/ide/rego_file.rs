//! Diagnostics of plain `.rego` files: a parse error where the parser stops, and what OPA's compiler
//! rejects once the file is compiled with the other modules of its folder (the unit `opa test` and `opa
//! check` of that folder compile together, so a helper defined beside the file is defined), with the
//! deprecated built-ins of Rego v0 as warnings. The Rego version is OPA's choice for the file: an import
//! of `rego.v1`, else the `rego.version` setting, else whichever version the file parses as.

use std::path::Path;

use super::workspace::Workspace;
use crate::base::{Code, Diagnostic};
use crate::engine::opa::{self, Module};
use crate::testrun::opa::is_rego_file;

/// The diagnostics of the `.rego` file `path`, whose text is `text`.
pub(super) fn rego_file_diagnostics(workspace: &Workspace, path: &Path, text: &str) -> Vec<Diagnostic> {
    let version = workspace.rego_version(path);
    let module = match opa::parse_module(&path.display().to_string(), text, version) {
        Ok(module) => module,
        Err(failure) => {
            let message = format!("{} (read as Rego {})", failure.message, failure.version.name());
            return vec![Diagnostic::new(Code::RegoCompile, failure.range, message)];
        }
    };
    // This module first, then its neighbours that parse (one that does not gets its own diagnostic).
    let mut modules: Vec<Module> = vec![module];
    let folder = path.parent().unwrap_or(Path::new(""));
    for neighbour in workspace.list_dir(folder).unwrap_or_default() {
        if neighbour == path || !is_rego_file(&neighbour) {
            continue;
        }
        let Some(neighbour_text) = workspace.read(&neighbour) else { continue };
        if let Ok(parsed) = opa::parse_module(&neighbour.display().to_string(), &neighbour_text, version) {
            modules.push(parsed);
        }
    }
    opa::check(&modules)
        .into_iter()
        .filter(|finding| finding.module == 0)
        .map(|finding| {
            let code = if finding.deprecated { Code::RegoDeprecated } else { Code::RegoCompile };
            Diagnostic::new(code, finding.range, finding.message)
        })
        .collect()
}
