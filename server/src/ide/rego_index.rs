//! The cross-file facts of one `.rego` module: its package, its rules with where their names are and a
//! one-line head, and whether it defines tests. The language server keeps these, not the text, for every
//! `.rego` file nobody has open, so navigation and completion reach the whole workspace while memory
//! stays proportional to the number of rules.

use crate::base::TextRange;
use crate::engine::gatekeeper::lexer::{Token, TokenKind, tokenize};
use crate::engine::opa::{Module, RuleKind};

/// The longest head a hover shows; longer heads are cut (the definition is one click away).
const HEAD_LIMIT: usize = 160;

/// What other files need to know about a module.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegoFacts {
    /// `["k8s", "labels"]` for `package k8s.labels`; empty when the module does not parse.
    pub package: Vec<String>,
    pub package_range: TextRange,
    pub rules: Vec<RuleFact>,
    /// Whether a line starts with a `test_` or `todo_test_` name (known even when the module does not
    /// parse, so a folder whose tests cannot compile still gets its test run and its errors).
    pub has_tests: bool,
}

/// One rule definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleFact {
    /// The ground part of the head's reference (`["violation"]`, `["a", "b"]` for `a.b := 1`).
    pub path: Vec<String>,
    pub kind: RuleKind,
    pub name_range: TextRange,
    /// The head's first line as written (`violation[{"msg": msg}] {`, trimmed), for hovers.
    pub head: Box<str>,
}

impl RegoFacts {
    /// The facts of a module's text, read from its tokens: a rule's head starts a line at column 0 outside
    /// any bracket (as `opa fmt` lays modules out). Not parsing keeps the start-up index fast and light (a
    /// full parse of gatekeeper-library's 116 modules took seconds in a debug build and left megabytes of
    /// allocator pages behind), and it reads half-typed modules too, in either Rego version.
    pub fn of(text: &str) -> RegoFacts {
        let tokens: Vec<Token> = tokenize(text).into_iter().filter(|token| token.kind != TokenKind::Comment).collect();
        let mut facts = RegoFacts { has_tests: crate::testrun::opa::has_test_rules(text), ..RegoFacts::default() };
        let mut depth = 0usize;
        let mut index = 0;
        while index < tokens.len() {
            let token = tokens[index];
            let at_line_start = token.start == 0 || text.as_bytes().get(token.start - 1) == Some(&b'\n');
            if depth == 0 && at_line_start && token.kind == TokenKind::Identifier {
                index = facts.read_statement(text, &tokens, index);
                continue;
            }
            match token.text(text) {
                "{" | "[" | "(" => depth += 1,
                "}" | "]" | ")" => depth = depth.saturating_sub(1),
                _ => {}
            }
            index += 1;
        }
        facts
    }

    /// Reads the statement that starts at token `start` (a package, an import or a rule head); returns the
    /// index of the first token it did not consume.
    fn read_statement(&mut self, text: &str, tokens: &[Token], start: usize) -> usize {
        let word = |index: usize| tokens.get(index).map_or("", |token: &Token| token.text(text));
        let significant = |index: usize| {
            (index..tokens.len())
                .find(|&next| !matches!(tokens[next].kind, TokenKind::Whitespace))
                .unwrap_or(tokens.len())
        };
        let mut index = start;
        let keyword = word(index);
        if keyword == "import" || keyword == "else" {
            return index + 1;
        }
        if keyword == "package" || keyword == "default" {
            index = significant(index + 1);
        }
        // A dotted reference: `k8s.labels`, `violation`, `a.b`.
        let first = index;
        let mut parts: Vec<String> = Vec::new();
        let mut end = index;
        while tokens.get(index).is_some_and(|token| token.kind == TokenKind::Identifier) {
            parts.push(word(index).to_string());
            end = index;
            if word(index + 1) == "." && tokens.get(index + 2).is_some_and(|token| token.kind == TokenKind::Identifier)
            {
                index += 2;
            } else {
                break;
            }
        }
        if parts.is_empty() {
            return start + 1;
        }
        let range = TextRange::new(tokens[first].start, tokens[end].end);
        if keyword == "package" {
            self.package = parts;
            self.package_range = range;
            return end + 1;
        }
        let after = significant(end + 1);
        let kind = match word(after) {
            "(" => RuleKind::Function(arity(text, tokens, after)),
            "contains" => RuleKind::PartialSet,
            "[" if object_key(text, tokens, after) => RuleKind::PartialObject,
            "[" => RuleKind::PartialSet,
            _ => RuleKind::Complete,
        };
        self.rules.push(RuleFact { path: parts, kind, name_range: range, head: head_line(text, range.start) });
        end + 1
    }
    /// The facts of a parsed module.
    pub fn from_module(module: &Module) -> RegoFacts {
        let rules = module
            .rules
            .iter()
            .map(|rule| RuleFact {
                path: rule.path.clone(),
                kind: rule.kind,
                name_range: rule.name_range,
                head: head_line(&module.text, rule.range.start),
            })
            .collect();
        RegoFacts {
            package: module.package.clone(),
            package_range: module.package_range,
            rules,
            has_tests: module.rules.iter().any(|rule| rule.is_test()),
        }
    }

    /// The rules whose head reference starts with `name`.
    pub fn rules_named(&self, name: &str) -> impl Iterator<Item = &RuleFact> {
        let name = name.to_string();
        self.rules.iter().filter(move |rule| rule.path.first().is_some_and(|first| *first == name))
    }
}

/// The number of arguments between the parenthesis at token `open` and its match.
fn arity(text: &str, tokens: &[Token], open: usize) -> usize {
    let mut depth = 0usize;
    let mut commas = 0;
    let mut empty = true;
    for token in &tokens[open..] {
        match token.text(text) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    break;
                }
            }
            "," if depth == 1 => commas += 1,
            _ if depth >= 1 && !matches!(token.kind, TokenKind::Whitespace | TokenKind::Newline) => empty = false,
            _ => {}
        }
    }
    if empty { 0 } else { commas + 1 }
}

/// Whether the bracket at token `open` is a v0 partial object's key: its match is followed by `=` or `:=`.
fn object_key(text: &str, tokens: &[Token], open: usize) -> bool {
    let mut depth = 0usize;
    let mut rest = tokens[open..].iter().skip_while(|token| {
        match token.text(text) {
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth = depth.saturating_sub(1),
            _ => {}
        }
        depth > 0
    });
    rest.next();
    let following = rest.find(|token| token.kind != TokenKind::Whitespace).map_or("", |token| token.text(text));
    matches!(following, "=" | ":=")
}

/// The first line of a rule from `start`, without a trailing `{`, cut at [`HEAD_LIMIT`] characters.
fn head_line(text: &str, start: usize) -> Box<str> {
    let rest = text.get(start..).unwrap_or("");
    let line = rest.lines().next().unwrap_or("").trim();
    let line = line.strip_suffix('{').unwrap_or(line).trim_end();
    match line.char_indices().nth(HEAD_LIMIT) {
        Some((cut, _)) => format!("{} …", &line[..cut]).into(),
        None => line.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_name_the_package_rules_heads_and_tests() {
        let text = "package k8s.labels\n\nimport rego.v1\n\nviolation contains msg if {\n  msg := \"x\"\n}\n\n\
                    test_violation if count(violation) == 1\n";
        let facts = RegoFacts::of(text);
        assert_eq!(facts.package, ["k8s", "labels"]);
        assert_eq!(&text[facts.package_range.start..facts.package_range.end], "k8s.labels");
        let names: Vec<(&str, &str)> =
            facts.rules.iter().map(|rule| (&text[rule.name_range.start..rule.name_range.end], &*rule.head)).collect();
        assert_eq!(
            names,
            [("violation", "violation contains msg if"), ("test_violation", "test_violation if count(violation) == 1")]
        );
        assert!(facts.has_tests);
    }

    #[test]
    fn kinds_and_arities_are_read_from_the_heads() {
        let text = "package p\n\ndefault allow := false\n\nf(a, [b, c]) := a\n\ng() := 1\n\ndeny[msg] {\n  x := [1,\n2]\n  msg := \"m\"\n}\n\
                    labels[key] = value { value := input[key] }\n\na.b.c := 1\n\nallow if {\ninput.x\n}\nelse := true\n";
        let facts = RegoFacts::of(text);
        let rules: Vec<(String, RuleKind)> = facts.rules.iter().map(|rule| (rule.path.join("."), rule.kind)).collect();
        assert_eq!(
            rules,
            [
                ("allow".to_string(), RuleKind::Complete),
                ("f".to_string(), RuleKind::Function(2)),
                ("g".to_string(), RuleKind::Function(0)),
                ("deny".to_string(), RuleKind::PartialSet),
                ("labels".to_string(), RuleKind::PartialObject),
                ("a.b.c".to_string(), RuleKind::Complete),
                // The body line `input.x` starts at column 0 but inside braces: no rule.
                ("allow".to_string(), RuleKind::Complete),
            ]
        );
    }

    #[test]
    fn a_rego_v0_module_is_read_as_v0() {
        let text = "package k8srequiredlabels\n\nget_message(parameters, _default) := _default {\n  not parameters.message\n}\n";
        let facts = RegoFacts::of(text);
        assert_eq!(facts.package, ["k8srequiredlabels"]);
        assert_eq!(facts.rules.len(), 1);
    }

    #[test]
    fn a_half_typed_module_still_has_its_package_and_rules() {
        let facts = RegoFacts::of("package p\n\ntest_x if {\n");
        assert_eq!(facts.package, ["p"]);
        assert_eq!(facts.rules.iter().map(|rule| rule.path.join(".")).collect::<Vec<_>>(), ["test_x"]);
        assert!(facts.has_tests);
    }
}
