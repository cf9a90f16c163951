//! The cross-file facts of one `.rego` module: its package, its rules with where their names are and a
//! one-line head, and whether it defines tests. The language server keeps these, not the text, for every
//! `.rego` file nobody has open, so navigation and completion reach the whole workspace while memory
//! stays proportional to the number of rules.

use crate::base::TextRange;
use crate::engine::opa::{self, Module, RuleKind, VersionSetting};

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
    /// The facts of a module's text, read in the version OPA would choose under `version`.
    pub fn of(name: &str, text: &str, version: VersionSetting) -> RegoFacts {
        let has_tests = crate::testrun::opa::has_test_rules(text);
        match opa::parse_module(name, text, version) {
            Ok(module) => RegoFacts { has_tests, ..RegoFacts::from_module(&module) },
            Err(_) => RegoFacts { has_tests, ..RegoFacts::default() },
        }
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
        let facts = RegoFacts::of("labels.rego", text, VersionSetting::Auto);
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
    fn a_rego_v0_module_is_read_as_v0() {
        let text = "package k8srequiredlabels\n\nget_message(parameters, _default) := _default {\n  not parameters.message\n}\n";
        let facts = RegoFacts::of("src.rego", text, VersionSetting::Auto);
        assert_eq!(facts.package, ["k8srequiredlabels"]);
        assert_eq!(facts.rules.len(), 1);
    }

    #[test]
    fn a_module_that_does_not_parse_still_says_it_holds_tests() {
        let facts = RegoFacts::of("broken.rego", "package p\n\ntest_x if {\n", VersionSetting::Auto);
        assert!(facts.package.is_empty());
        assert!(facts.has_tests);
    }
}
