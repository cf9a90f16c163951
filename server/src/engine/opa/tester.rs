//! One `opa test` test: the rule's value decides, as OPA's `tester.Runner` reads it. `true` passes;
//! undefined, `false` or any other value fails; an evaluation error (a timeout included) is an error; a
//! `todo_test_` rule is skipped without running.

use serde_json::Value;

use super::bundle::{CompiledBundle, TestCase};
use crate::engine::gatekeeper::reported_message;

/// What running one test found.
#[derive(Clone, Debug, PartialEq)]
pub enum TestVerdict {
    Pass,
    /// The rule is not `true`: its value, as JSON, or `undefined`.
    Fail {
        actual: String,
    },
    /// Evaluation failed: why.
    Error {
        message: String,
    },
    Skipped,
}

/// The verdict and whatever `print` wrote while the test ran.
#[derive(Clone, Debug, PartialEq)]
pub struct TestRun {
    pub verdict: TestVerdict,
    pub output: Vec<String>,
    /// For a test rule with keys (`test_x[note] if ...`): each key and whether its case passed.
    pub cases: Vec<(String, bool)>,
}

impl CompiledBundle {
    /// Runs one of the bundle's tests.
    pub fn run_test(&mut self, test: &TestCase) -> TestRun {
        if test.skip {
            return TestRun { verdict: TestVerdict::Skipped, output: Vec::new(), cases: Vec::new() };
        }
        let query = CompiledBundle::test_query(test).to_string();
        let result = self.engine.eval_query(query, false);
        let output = self.take_output();
        let results = match result {
            Ok(results) => results,
            Err(error) => {
                return TestRun {
                    verdict: TestVerdict::Error { message: error_message(&error) },
                    output,
                    cases: Vec::new(),
                };
            }
        };
        let Some(value) = results
            .result
            .first()
            .and_then(|result| result.expressions.first())
            .map(|expression| serde_json::to_value(&expression.value).unwrap_or(Value::Null))
        else {
            return TestRun {
                verdict: TestVerdict::Fail { actual: "undefined".to_string() },
                output,
                cases: Vec::new(),
            };
        };
        if test.partial_object {
            let cases = object_cases(&value);
            let passed = !cases.is_empty() && cases.iter().all(|(_, passed)| *passed);
            let verdict = if passed { TestVerdict::Pass } else { TestVerdict::Fail { actual: value.to_string() } };
            return TestRun { verdict, output, cases };
        }
        let verdict = if value == Value::Bool(true) {
            TestVerdict::Pass
        } else {
            TestVerdict::Fail { actual: value.to_string() }
        };
        TestRun { verdict, output, cases: Vec::new() }
    }
}

/// The leaf cases of a test's object value: a key whose value is `true` passed, an object nests cases.
fn object_cases(value: &Value) -> Vec<(String, bool)> {
    let mut cases = Vec::new();
    collect_cases(value, "", &mut cases);
    cases
}

fn collect_cases(value: &Value, prefix: &str, cases: &mut Vec<(String, bool)>) {
    let Some(object) = value.as_object() else { return };
    for (key, inner) in object {
        let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}/{key}") };
        match inner {
            Value::Object(_) => collect_cases(inner, &name, cases),
            other => cases.push((name, *other == Value::Bool(true))),
        }
    }
}

/// An evaluation error as one sentence; running past the time limit says so, as OPA's cancelled
/// evaluation does.
pub(super) fn error_message(error: &anyhow::Error) -> String {
    if let Some(regorus::LimitError::TimeLimitExceeded { limit, .. }) =
        error.chain().find_map(|cause| cause.downcast_ref::<regorus::LimitError>())
    {
        return format!("the evaluation ran past the {}s timeout and was cancelled", limit.as_secs_f64());
    }
    let text = error.to_string();
    if text.contains("TimeLimitExceeded") || text.contains("time limit") {
        return "the evaluation ran past its timeout and was cancelled".to_string();
    }
    reported_message(&text)
}
