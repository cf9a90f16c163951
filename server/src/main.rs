//! The `policy-lsp` binary: hands argv to the CLI, which also starts the language server.

fn main() -> std::process::ExitCode {
    policy_lsp::cli::main()
}
