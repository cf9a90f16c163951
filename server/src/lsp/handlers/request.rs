//! The request handlers: each a plain function of a snapshot (and, for a document, its line index and the
//! cursor's offset) and the request's parameters, returning protocol results. What they answer is worked
//! out behind `Analysis`; here it is only asked for and converted.

use std::time::Instant;

use ls_types::{
    CodeActionKind, CodeActionOrCommand, CodeActionParams, CodeActionResponse, CodeLens, CodeLensParams,
    CompletionParams, CompletionResponse, DocumentDiagnosticParams, DocumentDiagnosticReportResult,
    DocumentSymbolParams, DocumentSymbolResponse, ExecuteCommandParams, FoldingRange, FoldingRangeKind,
    FoldingRangeParams, FullDocumentDiagnosticReport, GotoDefinitionParams, GotoDefinitionResponse, Hover, HoverParams,
    Location, ReferenceParams, SemanticTokens, SemanticTokensParams, SemanticTokensRangeParams,
    SemanticTokensRangeResult, SemanticTokensResult, SignatureHelp, SignatureHelpParams, SymbolInformation,
    UnchangedDocumentDiagnosticReport, Uri, WorkspaceDiagnosticParams, WorkspaceDiagnosticReport,
    WorkspaceDiagnosticReportResult, WorkspaceDocumentDiagnosticReport, WorkspaceFullDocumentDiagnosticReport,
    WorkspaceSymbolParams, WorkspaceSymbolResponse, WorkspaceUnchangedDocumentDiagnosticReport,
};
use lsp_server::ResponseError;
use serde_json::Value;

use crate::base::{LineIndex, PositionEncoding};
use crate::ide::{FileChange, PREVIEW_MUTATIONS_COMMAND, RUN_TESTS_COMMAND};
use crate::lsp::dispatch::{Document, invalid_params};
use crate::lsp::ext::{MutatedManifestParams, MutatedManifestResult};
use crate::lsp::progress::Reporter;
use crate::lsp::state::{Session, Snapshot};
use crate::lsp::{from_proto, publish, test_rounds, to_proto, workspace_pull};
use crate::report::test::{TestRun, TestSummary, render_json};

pub fn hover(snapshot: &Snapshot, document: &Document<'_>, _: HoverParams) -> Option<Hover> {
    let found =
        snapshot.analysis.hover_with_results(&document.path, document.offset, &snapshot.runs, &snapshot.verdicts)?;
    Some(to_proto::hover(&document.index, document.encoding, found))
}

pub fn completion(snapshot: &Snapshot, document: &Document<'_>, _: CompletionParams) -> Option<CompletionResponse> {
    let items = snapshot
        .analysis
        .completions(&document.path, document.offset)
        .into_iter()
        .map(|item| to_proto::completion_item(&document.index, document.encoding, item, snapshot.client.snippets))
        .collect();
    Some(CompletionResponse::Array(items))
}

pub fn signature_help(snapshot: &Snapshot, document: &Document<'_>, _: SignatureHelpParams) -> Option<SignatureHelp> {
    snapshot.analysis.signature_help(&document.path, document.offset).map(to_proto::signature_help)
}

pub fn definition(
    snapshot: &Snapshot,
    document: &Document<'_>,
    _: GotoDefinitionParams,
) -> Option<GotoDefinitionResponse> {
    let locations: Vec<Location> = snapshot
        .analysis
        .definition(&document.path, document.offset)
        .into_iter()
        .filter_map(|found| to_proto::location(&snapshot.analysis, document.encoding, &found.path, found.range))
        .collect();
    (!locations.is_empty()).then_some(GotoDefinitionResponse::Array(locations))
}

pub fn references(snapshot: &Snapshot, document: &Document<'_>, params: ReferenceParams) -> Option<Vec<Location>> {
    let found = snapshot.analysis.references(&document.path, document.offset, params.context.include_declaration)?;
    Some(
        found
            .into_iter()
            .filter_map(|place| to_proto::location(&snapshot.analysis, document.encoding, &place.path, place.range))
            .collect(),
    )
}

pub fn document_symbols(
    snapshot: &Snapshot,
    document: &Document<'_>,
    _: DocumentSymbolParams,
) -> Option<DocumentSymbolResponse> {
    let symbols = snapshot
        .analysis
        .document_symbols(&document.path)
        .into_iter()
        .map(|symbol| to_proto::document_symbol(&document.index, document.encoding, symbol))
        .collect();
    Some(DocumentSymbolResponse::Nested(symbols))
}

pub fn folding_ranges(
    snapshot: &Snapshot,
    document: &Document<'_>,
    _: FoldingRangeParams,
) -> Option<Vec<FoldingRange>> {
    let mut folds: Vec<FoldingRange> = snapshot
        .analysis
        .folding_ranges(&document.path)
        .into_iter()
        .map(|range| FoldingRange {
            start_line: document.index.line_col(range.start, PositionEncoding::Utf8).line,
            end_line: document.index.line_col(range.end, PositionEncoding::Utf8).line,
            kind: Some(FoldingRangeKind::Region),
            ..Default::default()
        })
        .filter(|fold| fold.end_line > fold.start_line)
        .collect();
    folds.dedup_by(|left, right| left.start_line == right.start_line && left.end_line == right.end_line);
    Some(folds)
}

/// Quick fixes of the diagnostics in the range, then the other actions; only the kinds the client asked
/// for, and actions that create files only for clients that can.
pub fn code_actions(
    snapshot: &Snapshot,
    document: &Document<'_>,
    params: CodeActionParams,
) -> Option<CodeActionResponse> {
    let analysis = &snapshot.analysis;
    let wanted = document.text_range(params.range);
    let only = params.context.only.as_deref();
    let actions = analysis
        .quick_fixes(&document.path, wanted)
        .into_iter()
        .chain(analysis.code_actions(&document.path, wanted))
        .filter(|action| kind_wanted(&to_proto::action_kind(action.kind), only))
        .filter(|action| {
            snapshot.client.create_files
                || !action.changes.iter().any(|change| matches!(change, FileChange::Create { .. }))
        })
        .filter_map(|action| to_proto::code_action(analysis, document.encoding, &document.uri, &document.index, action))
        .chain(preview_mutations_action(snapshot, document).filter(|_| only.is_none()))
        .collect();
    Some(actions)
}

/// "Preview mutations (N changes)" for a manifest the workspace's mutating policies change: a command,
/// not an edit, so it is offered only to a request that names no kinds (the light bulb's).
fn preview_mutations_action(snapshot: &Snapshot, document: &Document<'_>) -> Option<CodeActionOrCommand> {
    let mutated = snapshot.analysis.mutated_manifest(&document.path, &snapshot.verdicts)?;
    let changes = if mutated.changes == 1 { "1 change".to_string() } else { format!("{} changes", mutated.changes) };
    let command = to_proto::preview_mutations_command(format!("Preview mutations ({changes})"), &document.uri);
    Some(CodeActionOrCommand::Command(command))
}

/// `policy-lsp.previewMutations` sent to the server (a client without a handler of its own, such as Helix
/// running the code action): the answer is what `policyLsp/mutatedManifest` gives, for scripts; the server
/// does not advertise the command, so that VS Code's client leaves it to the extension.
fn preview_mutations(snapshot: &Snapshot, params: &ExecuteCommandParams) -> Value {
    let Some(path) = run_tests_target(params) else { return Value::Null };
    let Some(mutated) = snapshot.analysis.mutated_manifest(&path, &snapshot.verdicts) else { return Value::Null };
    let Some(uri) = Uri::from_file_path(&path) else { return Value::Null };
    serde_json::to_value(MutatedManifestResult::of(uri, mutated)).unwrap_or(Value::Null)
}

/// `policyLsp/mutatedManifest`: the file as the mutating policies would leave it, from its verdict.
pub fn mutated_manifest(
    snapshot: &Snapshot,
    document: &Document<'_>,
    _: MutatedManifestParams,
) -> Option<MutatedManifestResult> {
    let mutated = snapshot.analysis.mutated_manifest(&document.path, &snapshot.verdicts)?;
    Some(MutatedManifestResult::of(document.uri.clone(), mutated))
}

/// Whether an action's kind is among those the client asked for (`only`), by prefix.
fn kind_wanted(kind: &CodeActionKind, only: Option<&[CodeActionKind]>) -> bool {
    let Some(only) = only else { return true };
    only.iter()
        .any(|wanted| kind.as_str() == wanted.as_str() || kind.as_str().starts_with(&format!("{}.", wanted.as_str())))
}

pub fn semantic_tokens_full(
    snapshot: &Snapshot,
    document: &Document<'_>,
    _: SemanticTokensParams,
) -> Option<SemanticTokensResult> {
    let highlights = snapshot.analysis.highlights(&document.path, None);
    let data = to_proto::semantic_tokens(&document.index, document.encoding, &highlights);
    Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data }))
}

pub fn semantic_tokens_range(
    snapshot: &Snapshot,
    document: &Document<'_>,
    params: SemanticTokensRangeParams,
) -> Option<SemanticTokensRangeResult> {
    let highlights = snapshot.analysis.highlights(&document.path, Some(document.text_range(params.range)));
    let data = to_proto::semantic_tokens(&document.index, document.encoding, &highlights);
    Some(SemanticTokensRangeResult::Tokens(SemanticTokens { result_id: None, data }))
}

/// The lenses of the inline test results and of a manifest's verdict; none (an empty list) for a file the
/// analysis does not hold.
pub fn code_lenses(snapshot: &Snapshot, params: CodeLensParams) -> Result<Option<Vec<CodeLens>>, ResponseError> {
    let path = from_proto::path(&params.text_document.uri);
    let Some(index) = snapshot.analysis.line_index(&path) else { return Ok(Some(Vec::new())) };
    let mut lenses: Vec<CodeLens> = snapshot
        .analysis
        .test_lenses(&path, &snapshot.runs)
        .into_iter()
        .filter_map(|lens| to_proto::code_lens(&index, snapshot.encoding(), lens))
        .collect();
    lenses.extend(
        snapshot
            .analysis
            .manifest_lenses(&path, &snapshot.verdicts)
            .into_iter()
            .map(|lens| to_proto::manifest_lens(&index, snapshot.encoding(), &params.text_document.uri, lens)),
    );
    Ok(Some(lenses))
}

pub fn document_diagnostics(
    snapshot: &Snapshot,
    params: DocumentDiagnosticParams,
) -> Result<DocumentDiagnosticReportResult, ResponseError> {
    let uri = &params.text_document.uri;
    let path = from_proto::path(uri);
    let items = publish::file_diagnostics(
        &snapshot.analysis,
        &snapshot.runs,
        &snapshot.verdicts,
        &path,
        uri,
        snapshot.encoding(),
    );
    Ok(to_proto::full_document_report(items))
}

/// Every YAML file the analysis holds. Each file's result id names the state its diagnostics come from, so
/// a file whose id the client holds already is answered "unchanged" without computing anything.
pub fn workspace_diagnostics(
    snapshot: &Snapshot,
    params: WorkspaceDiagnosticParams,
) -> Result<WorkspaceDiagnosticReportResult, ResponseError> {
    let analysis = &snapshot.analysis;
    let previous = workspace_pull::previous_ids(&params);
    let paths = workspace_pull::reported_paths(analysis);
    let mut items = Vec::with_capacity(paths.len());
    // Files the client holds results for that are gone: an empty report clears them, once.
    for gone in &params.previous_result_ids {
        let path = from_proto::path(&gone.uri);
        if gone.value != workspace_pull::GONE_RESULT_ID && paths.binary_search(&&path).is_err() {
            items.push(WorkspaceDocumentDiagnosticReport::Full(WorkspaceFullDocumentDiagnosticReport {
                uri: gone.uri.clone(),
                version: None,
                full_document_diagnostic_report: FullDocumentDiagnosticReport {
                    result_id: Some(workspace_pull::GONE_RESULT_ID.to_string()),
                    items: Vec::new(),
                },
            }));
        }
    }
    for path in paths {
        let (uri, version) = match snapshot.open.get(path) {
            Some(open) => (open.uri.clone(), Some(i64::from(open.version))),
            None => match Uri::from_file_path(path) {
                Some(uri) => (uri, None),
                None => continue,
            },
        };
        let result_id = snapshot.result_ids.of(path);
        if previous.get(path) == Some(&result_id) {
            items.push(WorkspaceDocumentDiagnosticReport::Unchanged(WorkspaceUnchangedDocumentDiagnosticReport {
                uri,
                version,
                unchanged_document_diagnostic_report: UnchangedDocumentDiagnosticReport { result_id },
            }));
            continue;
        }
        let diagnostics =
            publish::file_diagnostics(analysis, &snapshot.runs, &snapshot.verdicts, path, &uri, snapshot.encoding());
        items.push(WorkspaceDocumentDiagnosticReport::Full(WorkspaceFullDocumentDiagnosticReport {
            uri,
            version,
            full_document_diagnostic_report: FullDocumentDiagnosticReport {
                result_id: Some(result_id),
                items: diagnostics,
            },
        }));
    }
    Ok(WorkspaceDiagnosticReportResult::Report(WorkspaceDiagnosticReport { items }))
}

pub fn workspace_symbols(
    snapshot: &Snapshot,
    params: WorkspaceSymbolParams,
) -> Result<Option<WorkspaceSymbolResponse>, ResponseError> {
    let analysis = &snapshot.analysis;
    let symbols = analysis
        .workspace_symbols(&params.query)
        .into_iter()
        .filter_map(|(path, symbol)| {
            // A file nobody has open is not held: its lines come from the disk.
            let rope;
            let index = match analysis.line_index(&path) {
                Some(index) => index,
                None => {
                    rope = ropey::Rope::from_str(&analysis.read(&path)?);
                    LineIndex::new(&rope)
                }
            };
            let uri = Uri::from_file_path(&path)?;
            let nested = to_proto::document_symbol(&index, snapshot.encoding(), symbol);
            #[allow(deprecated)]
            Some(SymbolInformation {
                name: nested.name,
                kind: nested.kind,
                tags: None,
                deprecated: None,
                location: Location { uri, range: nested.selection_range },
                container_name: nested.detail,
            })
        })
        .collect();
    Ok(Some(WorkspaceSymbolResponse::Flat(symbols)))
}

/// The file a `policy-lsp.runTests` or `policy-lsp.previewMutations` names (`[{"uri": ...}]`), or `None`
/// (for the tests, the whole workspace).
fn run_tests_target(params: &ExecuteCommandParams) -> Option<std::path::PathBuf> {
    params
        .arguments
        .first()
        .and_then(|argument| argument.get("uri"))
        .and_then(Value::as_str)
        .and_then(|uri| uri.parse::<Uri>().ok())
        .map(|uri| from_proto::path(&uri))
}

/// Before a `policy-lsp.runTests` runs: the inline results of its file follow the explicit run too (a code
/// lens click asks for both).
pub fn prepare_command(session: &mut Session, params: &ExecuteCommandParams) {
    if params.command != RUN_TESTS_COMMAND {
        return;
    }
    match run_tests_target(params) {
        Some(path) => test_rounds::queue(session, [path]),
        None => {
            let tests = session.host.snapshot().test_files(None);
            test_rounds::queue(session, tests.into_iter().map(|(path, _)| path));
        }
    }
}

/// `policy-lsp.runTests`: runs the tests of a file (or those that name it) or of the whole workspace, on
/// unsaved buffers, and answers with the CLI's JSON contract. With a `workDoneToken`, the run reports its
/// progress: a `begin` with the number of test files, a `report` as each starts, an `end` with the counts.
/// `policy-lsp.previewMutations` answers with the mutated manifest ([`preview_mutations`]).
pub fn execute_command(snapshot: &Snapshot, params: ExecuteCommandParams) -> Result<Option<Value>, ResponseError> {
    if params.command == PREVIEW_MUTATIONS_COMMAND {
        return Ok(Some(preview_mutations(snapshot, &params)));
    }
    if params.command != RUN_TESTS_COMMAND {
        return Err(invalid_params(format!("unknown command `{}`", params.command)));
    }
    let target = run_tests_target(&params);
    let analysis = &snapshot.analysis;
    let progress =
        params.work_done_progress_params.work_done_token.clone().map(|token| Reporter::new(&snapshot.sender, token));
    let test_files = analysis.test_files(target.as_deref());
    let count = test_files.len();
    if let Some(progress) = &progress {
        progress.begin("Running policy tests", Some(count_phrase(count, "test file")));
    }
    let runs: Vec<TestRun> = test_files
        .into_iter()
        .enumerate()
        .map(|(position, (path, framework))| {
            if let Some(progress) = &progress {
                let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
                let percentage = u32::try_from(position * 100 / count.max(1)).unwrap_or(100);
                progress.report(format!("{}/{count}: {name}", position + 1), percentage);
            }
            let started = Instant::now();
            let report = analysis.run_test_file(&path, framework);
            TestRun {
                path: path.display().to_string(),
                framework,
                duration: started.elapsed(),
                result_lines: vec![None; report.results.len()],
                problem_locations: report.problems.iter().map(|problem| (1, 1, problem.message.clone())).collect(),
                report,
            }
        })
        .collect();
    if let Some(progress) = &progress {
        progress.end(TestSummary::of(&runs).counts());
    }
    Ok(Some(serde_json::from_str(&render_json(&runs)).unwrap_or(Value::Null)))
}

/// "1 test file", "3 test files".
fn count_phrase(count: usize, noun: &str) -> String {
    format!("{count} {noun}{}", if count == 1 { "" } else { "s" })
}
