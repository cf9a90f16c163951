---@brief
---
--- https://github.com/policy-lsp/policy-lsp
---
--- Language server for Kyverno and OPA Gatekeeper admission policies: schema diagnostics, completion, hover,
--- navigation between policies, tests and resources, and the policies' own tests run as you type.
---
--- Install it with Mason (`:MasonInstall policy-lsp`), or with pip, which needs no Rust toolchain:
--- ```sh
--- pip install policy-lsp
--- ```
---
--- The server attaches to YAML buffers that hold a Kyverno or Gatekeeper policy or a policy test (by their
--- `apiVersion`), to YAML next to a `kyverno-test.yaml` or gator `suite.yaml`, and to every Rego module
--- (`.rego`, filetype `rego`); other YAML is left alone.
--- Settings (the keys of `.policy-lsp.yaml`) go in `settings = { ['policy-lsp'] = { ... } }`.
---
--- This file is the nvim-lspconfig entry, ready to propose upstream as lsp/policy_lsp.lua. Without
--- nvim-lspconfig, put editors/nvim on 'runtimepath' (or copy this file to ~/.config/nvim/lsp/) and call
--- `vim.lsp.enable('policy_lsp')`. Needs Neovim 0.11+.

-- API groups of the documents the server understands: Kyverno, its CLI tests, Gatekeeper and gator.
local api_groups = {
  'kyverno.io',
  'policies.kyverno.io',
  'cli.kyverno.io',
  'templates.gatekeeper.sh',
  'constraints.gatekeeper.sh',
  'mutations.gatekeeper.sh',
  'expansion.gatekeeper.sh',
  'config.gatekeeper.sh',
  'test.gatekeeper.sh',
}
local test_file_names = { 'kyverno-test.yaml', 'kyverno-test.yml', 'suite.yaml', 'suite.yml' }

-- Whether a buffer is worth the server: a policy or a policy test, or YAML next to a test file (the
-- resources a test reads). Other YAML (compose files, CI configs) is left to other servers.
local function is_policy_buffer(bufnr)
  -- Every Rego module is the server's: diagnostics, navigation and its folder's `opa test` run.
  if vim.bo[bufnr].filetype == 'rego' then
    return true
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  local base = vim.fs.basename(name)
  if vim.tbl_contains(test_file_names, base) then
    return true
  end
  for _, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, 400, false)) do
    local group = line:match('^%s*apiVersion:%s*["\']?([%w%.%-]+)/')
    if group and vim.tbl_contains(api_groups, group) then
      return true
    end
  end
  if name ~= '' then
    local directory = vim.fs.dirname(name)
    for _, test_name in ipairs(test_file_names) do
      if vim.uv.fs_stat(vim.fs.joinpath(directory, test_name)) then
        return true
      end
    end
  end
  return false
end

---@type vim.lsp.Config
return {
  cmd = { 'policy-lsp', 'serve' },
  filetypes = { 'yaml', 'rego' },
  -- The repository root first, so cross-file references resolve across it; else the folder of a
  -- Kyverno test or gator suite; else the file's own folder.
  root_dir = function(bufnr, on_dir)
    if not is_policy_buffer(bufnr) then
      return
    end
    local root = vim.fs.root(bufnr, { '.git' }) or vim.fs.root(bufnr, test_file_names)
    local name = vim.api.nvim_buf_get_name(bufnr)
    on_dir(root or (name ~= '' and vim.fs.dirname(name)) or vim.uv.cwd())
  end,
  -- Settings for the server; Neovim handles both push and pull diagnostics, so the default (push) is kept.
  init_options = {},
}
