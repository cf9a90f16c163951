//! `initialize`, `initialized` and `shutdown`: what the client can do, the settings and roots, file
//! watchers, the first workspace scan and the first request for the editor's settings.

use std::sync::Arc;

use ls_types::request::{RegisterCapability, WorkspaceConfiguration};
use ls_types::{
    ConfigurationItem, ConfigurationParams, DidChangeWatchedFilesRegistrationOptions, FileSystemWatcher, GlobPattern,
    InitializeParams, InitializeResult, InitializedParams, Registration, RegistrationParams, ServerInfo,
};
use lsp_server::{ErrorCode, ResponseError};
use serde_json::Value;

use crate::lsp::capabilities::{ClientFeatures, server_capabilities, workspace_roots};
use crate::lsp::config::{SETTINGS_SECTION, Settings};
use crate::lsp::state::{Outgoing, Session};
use crate::lsp::{scan, workspace_pull};
use crate::vfs::DiskFiles;

pub fn initialize(session: &mut Session, params: InitializeParams) -> Result<InitializeResult, ResponseError> {
    if session.initialized {
        return Err(ResponseError {
            code: ErrorCode::InvalidRequest as i32,
            message: "the server is already initialized".to_string(),
            data: None,
        });
    }
    let client = ClientFeatures::from_initialize(&params);
    session.roots = workspace_roots(&params);
    // Files named by tests are read only inside the workspace folders.
    session.host.set_file_source(Arc::new(DiskFiles::within(&session.roots)));
    session.settings =
        Settings { initialization: params.initialization_options.clone().unwrap_or(Value::Null), client: Value::Null };
    let configs = session.settings.configs(&session.roots);
    // `tests.inline: false` in .policy-lsp.yaml or the editor's settings turns inline tests off too.
    session.tests.enabled = session.settings.inline_tests_option() && configs.iter().all(|config| config.tests_inline);
    session.host.set_configs(configs);
    let capabilities = server_capabilities(&client);
    session.client = Arc::new(client);
    session.initialized = true;
    Ok(InitializeResult {
        capabilities,
        server_info: Some(ServerInfo {
            name: "policy-lsp".to_string(),
            version: Some(env!("CARGO_PKG_VERSION").to_string()),
        }),
        offset_encoding: None,
    })
}

pub fn initialized(session: &mut Session, _: InitializedParams) {
    if session.client.watch_registration {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                glob_pattern: GlobPattern::String("**/*.{yaml,yml,rego}".to_string()),
                kind: None,
            }],
        };
        let registration = Registration {
            id: "policy-lsp/watch".to_string(),
            method: "workspace/didChangeWatchedFiles".to_string(),
            register_options: serde_json::to_value(options).ok(),
        };
        session.send_request::<RegisterCapability>(
            RegistrationParams { registrations: vec![registration] },
            Outgoing::Ignored,
        );
    }
    session.status.active = true;
    let roots = session.roots.clone();
    scan::start(session, roots);
    if session.client.pull_configuration {
        request_settings(session);
    }
}

pub fn shutdown(session: &mut Session, _: ()) -> Result<(), ResponseError> {
    session.shutdown_requested = true;
    workspace_pull::shut_down(session);
    Ok(())
}

/// Asks the client for the `policy-lsp` settings; its answer reloads them (a client that never answers
/// leaves the file's and the initialization options' settings in force).
pub fn request_settings(session: &mut Session) {
    let items = vec![ConfigurationItem { scope_uri: None, section: Some(SETTINGS_SECTION.to_string()) }];
    session.send_request::<WorkspaceConfiguration>(ConfigurationParams { items }, Outgoing::Configuration);
}
