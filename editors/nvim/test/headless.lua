-- Headless Neovim test of the policy-lsp configs: attaches the real server to a fixture and checks
-- root detection, diagnostics, document symbols, an edit that fixes the error, and completion and hover
-- when the server offers them.
--
-- Run: PATH=<dir holding policy-lsp>:$PATH POLICY_LSP_CONFIG=entry|init WORK=<empty dir> FIXTURES=<dir> \
--        nvim --headless --clean -c 'luafile editors/nvim/test/headless.lua'
-- Set POLICY_LSP_REQUIRE=completion,hover to make the absence of those features a failure.

local passed, failed, skipped = 0, 0, 0
local mode = os.getenv('POLICY_LSP_CONFIG') or 'entry'

local function out(line)
  io.stdout:write(line .. '\n')
end

local function check(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
    out('PASS nvim (' .. mode .. '): ' .. name)
  else
    failed = failed + 1
    out('FAIL nvim (' .. mode .. '): ' .. name .. ': ' .. tostring(err))
  end
end

local function skip(name, why)
  skipped = skipped + 1
  out('SKIP nvim (' .. mode .. '): ' .. name .. ': ' .. why)
end

local function finish()
  out(string.format('nvim (%s config) done with %d passed, %d failed, %d skipped', mode, passed, failed, skipped))
  io.stdout:flush()
  vim.cmd(failed > 0 and 'cquit 1' or 'qall!')
end

local work = assert(os.getenv('WORK'), 'set WORK to an empty directory')
local fixtures = assert(os.getenv('FIXTURES'), 'set FIXTURES to editors/fixtures')
local editors_nvim = vim.fs.dirname(vim.fs.dirname(debug.getinfo(1, 'S').source:sub(2)))
local required = {}
for feature in (os.getenv('POLICY_LSP_REQUIRE') or ''):gmatch('[^,]+') do
  required[feature] = true
end

-- Load the config the way a user would: the lspconfig-style entry from 'runtimepath', or the init snippet.
if mode == 'entry' then
  vim.opt.runtimepath:prepend(editors_nvim)
  vim.lsp.enable('policy_lsp')
else
  dofile(vim.fs.joinpath(editors_nvim, 'init.lua'))
end

-- A repository with a policy in a subfolder: the root must be the repository, found through .git.
local repo = vim.fs.joinpath(work, 'repo')
vim.fn.mkdir(vim.fs.joinpath(repo, '.git'), 'p')
vim.fn.mkdir(vim.fs.joinpath(repo, 'policies'), 'p')
local policy = vim.fs.joinpath(repo, 'policies', 'require-team.yaml')
vim.fn.writefile(vim.fn.readfile(vim.fs.joinpath(fixtures, 'require-team.yaml')), policy)

local function client_of(bufnr)
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'policy_lsp' })[1]
end

vim.cmd.edit(vim.fn.fnameescape(policy))
local bufnr = vim.api.nvim_get_current_buf()
local client

check('filetype is yaml', function()
  assert(vim.bo[bufnr].filetype == 'yaml', 'filetype is ' .. vim.bo[bufnr].filetype)
end)

check('server attaches', function()
  assert(vim.wait(10000, function()
    return client_of(bufnr) ~= nil
  end, 50), 'no policy_lsp client attached within 10 s')
  client = client_of(bufnr)
  assert(client.server_info and client.server_info.name == 'policy-lsp', vim.inspect(client.server_info))
end)

if client == nil then
  return finish()
end

check('root is the repository (.git)', function()
  assert(client.root_dir == repo, 'root_dir is ' .. tostring(client.root_dir) .. ', expected ' .. repo)
end)

check('diagnostics for the misspelt enum', function()
  assert(vim.wait(10000, function()
    return #vim.diagnostic.get(bufnr) > 0
  end, 50), 'no diagnostics within 10 s')
  local diagnostics = vim.diagnostic.get(bufnr)
  assert(#diagnostics == 1, 'expected 1 diagnostic, got ' .. vim.inspect(diagnostics))
  local d = diagnostics[1]
  assert(d.lnum == 13 and d.col == 23 and d.end_lnum == 13 and d.end_col == 30, 'range ' .. vim.inspect(d))
  assert(d.code == 'schema/enum', 'code ' .. tostring(d.code))
  assert(d.severity == vim.diagnostic.severity.ERROR, 'severity ' .. tostring(d.severity))
  assert(d.message:find('did you mean `Enforce`', 1, true), 'message ' .. d.message)
end)

check('document symbols', function()
  local response = client:request_sync('textDocument/documentSymbol', {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
  }, 5000, bufnr)
  assert(response and not response.err, 'request failed: ' .. vim.inspect(response))
  local symbols = response.result
  assert(#symbols == 1 and symbols[1].name == 'ClusterPolicy require-team', vim.inspect(symbols))
end)

-- Completion inside `validate:` after the misspelt value, and hover on the `failureAction` key.
local function at(pattern)
  for index, line in ipairs(vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)) do
    local column = line:find(pattern, 1, true)
    if column then
      return { line = index - 1, character = column - 1 }
    end
  end
  error('pattern not in buffer: ' .. pattern)
end

local function optional(feature, capability, fn)
  if client.server_capabilities[capability] then
    check(feature, fn)
  elseif required[feature] then
    check(feature, function()
      error('the server does not advertise ' .. capability .. ' but POLICY_LSP_REQUIRE lists ' .. feature)
    end)
  else
    skip(feature, 'the server does not advertise ' .. capability .. ' yet (set POLICY_LSP_REQUIRE=' .. feature .. ' once it does)')
  end
end

optional('completion', 'completionProvider', function()
  -- A new key under `spec:` (line 6, indented two spaces) should offer the ClusterPolicy spec fields.
  vim.api.nvim_buf_set_lines(bufnr, 6, 6, false, { '  ' })
  local response = client:request_sync('textDocument/completion', {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    position = { line = 6, character = 2 },
  }, 5000, bufnr)
  vim.api.nvim_buf_set_lines(bufnr, 6, 7, false, {})
  assert(response and not response.err and response.result, 'request failed: ' .. vim.inspect(response))
  local items = response.result.items or response.result
  local labels = {}
  for _, item in ipairs(items) do
    labels[item.label] = true
  end
  assert(labels['background'], 'spec field background missing: ' .. vim.inspect(vim.tbl_keys(labels)))
end)

optional('hover', 'hoverProvider', function()
  local response = client:request_sync('textDocument/hover', {
    textDocument = vim.lsp.util.make_text_document_params(bufnr),
    position = at('failureAction:'),
  }, 5000, bufnr)
  assert(response and not response.err and response.result, 'request failed: ' .. vim.inspect(response))
  local contents = response.result.contents
  local text = type(contents) == 'string' and contents or contents.value or vim.inspect(contents)
  assert(text:find('Enforce', 1, true) and text:find('Audit', 1, true), 'hover text: ' .. text)
end)

check('fixing the value clears the diagnostic', function()
  -- `failureAction: ` is 15 characters; the sixth letter of `Enforse` is the typo.
  local position = at('failureAction: Enforse')
  local column = position.character + 15 + 5
  vim.api.nvim_buf_set_text(bufnr, position.line, column, position.line, column + 1, { 'c' })
  assert(vim.wait(10000, function()
    return #vim.diagnostic.get(bufnr) == 0
  end, 50), 'diagnostics still there: ' .. vim.inspect(vim.diagnostic.get(bufnr)))
end)

-- Tests inline: a test file whose second expectation is wrong gets a `test/failed` diagnostic on it, with no
-- client code, and Neovim's own codelens module shows the results per entry.
check('inline test results', function()
  local tests = vim.fs.joinpath(repo, 'tests')
  vim.fn.mkdir(tests, 'p')
  for _, name in ipairs({ 'policy.yaml', 'resources.yaml' }) do
    vim.fn.writefile(vim.fn.readfile(vim.fs.joinpath(fixtures, 'kyverno-test', name)), vim.fs.joinpath(tests, name))
  end
  local lines = vim.fn.readfile(vim.fs.joinpath(fixtures, 'kyverno-test', 'kyverno-test.yaml'))
  for index, line in ipairs(lines) do
    if line == '    result: fail' then
      lines[index] = '    result: pass'
    end
  end
  local test_file = vim.fs.joinpath(tests, 'kyverno-test.yaml')
  vim.fn.writefile(lines, test_file)
  vim.cmd.edit(vim.fn.fnameescape(test_file))
  local test_buffer = vim.api.nvim_get_current_buf()
  local function failed()
    for _, d in ipairs(vim.diagnostic.get(test_buffer)) do
      if d.code == 'test/failed' then
        return d
      end
    end
  end
  assert(vim.wait(10000, function()
    return failed() ~= nil
  end, 50), 'no test/failed diagnostic: ' .. vim.inspect(vim.diagnostic.get(test_buffer)))
  local d = failed()
  assert(d.message:find('on unlabelled: expected pass, got fail', 1, true), 'message ' .. d.message)
  assert(vim.api.nvim_buf_get_lines(test_buffer, d.lnum, d.lnum + 1, false)[1]:find('unlabelled', 1, true),
    'the diagnostic is not on the resource name: ' .. vim.inspect(d))
  local lens_client = client_of(test_buffer)
  local response = lens_client:request_sync('textDocument/codeLens', {
    textDocument = vim.lsp.util.make_text_document_params(test_buffer),
  }, 5000, test_buffer)
  assert(response and not response.err and response.result, 'codeLens failed: ' .. vim.inspect(response))
  local titles = {}
  for _, lens in ipairs(response.result) do
    titles[#titles + 1] = lens.command.title
  end
  assert(vim.tbl_contains(titles, '▶ Run tests  ✓ 1 passed  ✗ 1 failed'), 'lenses: ' .. vim.inspect(titles))
end)

if mode == 'entry' then
  -- The entry only attaches to policy-like YAML: an unrelated compose file stays without the server.
  check('unrelated YAML is left alone', function()
    local other = vim.fs.joinpath(repo, 'compose.yaml')
    vim.fn.writefile({ 'services:', '  web:', '    image: nginx' }, other)
    vim.cmd.edit(vim.fn.fnameescape(other))
    local other_buffer = vim.api.nvim_get_current_buf()
    vim.wait(500, function()
      return client_of(other_buffer) ~= nil
    end, 50)
    assert(client_of(other_buffer) == nil, 'policy_lsp attached to compose.yaml')
  end)
end

finish()
