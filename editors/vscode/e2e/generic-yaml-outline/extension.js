// A stand-in for Red Hat's YAML extension (which no registry reachable here carries) in what matters to the
// outline: a document symbol provider for every YAML file, `{ language: "yaml" }`, giving the generic key tree
// (each key a symbol, nested by indentation). The scenario checks that policy-lsp's outline comes first beside it.
const vscode = require("vscode");

function keyTree(document) {
  const roots = [];
  // The open symbols by indentation: a key belongs to the nearest shallower one.
  const stack = [];
  for (let line = 0; line < document.lineCount; line += 1) {
    const text = document.lineAt(line).text;
    const match = /^(\s*)(?:- )?([A-Za-z_][\w.-]*):(\s|$)/.exec(text);
    if (match === null) {
      continue;
    }
    const indent = match[1].length + (text.slice(match[1].length).startsWith("- ") ? 2 : 0);
    const range = new vscode.Range(line, 0, line, text.length);
    const symbol = new vscode.DocumentSymbol(match[2], "", vscode.SymbolKind.Module, range, range);
    while (stack.length > 0 && stack[stack.length - 1].indent >= indent) {
      stack.pop();
    }
    const parent = stack[stack.length - 1]?.symbol;
    (parent?.children ?? roots).push(symbol);
    stack.forEach((open) => (open.symbol.range = open.symbol.range.union(range)));
    stack.push({ indent, symbol });
  }
  return roots;
}

exports.activate = (context) => {
  context.subscriptions.push(
    vscode.languages.registerDocumentSymbolProvider({ language: "yaml" }, { provideDocumentSymbols: keyTree }, { label: "YAML" }),
  );
};
