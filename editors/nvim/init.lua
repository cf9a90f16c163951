-- policy-lsp for Neovim 0.11+ without nvim-lspconfig: paste into init.lua. It attaches to every YAML and Rego buffer;
-- for attaching only to policies and their tests, use lsp/policy_lsp.lua instead (see editors/README.md).

vim.lsp.config('policy_lsp', {
  -- A full path works here too, if policy-lsp is not on PATH (`cargo install --path server` puts it in ~/.cargo/bin).
  cmd = { 'policy-lsp', 'serve' },
  filetypes = { 'yaml', 'rego' },
  -- The repository root first; else the folder of a Kyverno test or a gator suite.
  root_markers = { '.git', 'kyverno-test.yaml', 'suite.yaml' },
  init_options = {},
})
vim.lsp.enable('policy_lsp')
