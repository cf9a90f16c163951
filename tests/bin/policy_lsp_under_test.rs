//! The `policy-lsp` CLI under another name, built for the end-to-end test modules (see Cargo.toml).

fn main() -> std::process::ExitCode {
    policy_lsp::main()
}
