//! The `policy-lsp` binary: argv goes to the CLI, or to the language server for `serve`.

fn main() -> std::process::ExitCode {
    policy_lsp::main()
}
