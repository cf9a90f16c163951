//! Fuzz target: the test-file loaders. The input is either a Kyverno Test or a gator Suite (chosen by the
//! first byte), run against a small in-memory workspace of a policy, a template, a constraint and
//! resources; or it replaces the policy under a fixed test. Every outcome is a report, never a panic,
//! and no file outside the workspace is read.

#![no_main]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use policy_lsp::testrun::{FileError, FileSource, Framework, RunOptions, run};

const POLICY: &str = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: require-team\nspec:\n  rules:\n  - name: check-team\n    match:\n      any:\n      - resources:\n          kinds: [Pod]\n    validate:\n      failureAction: Enforce\n      message: a team label is required\n      pattern:\n        metadata:\n          labels:\n            team: \"?*\"\n";
const RESOURCES: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: good\n  labels:\n    team: a\nspec:\n  containers:\n  - name: c\n    image: nginx\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: bad\nspec:\n  containers:\n  - name: c\n    image: nginx\n";
const TEST: &str = "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: t\npolicies:\n- policy.yaml\nresources:\n- resources.yaml\nresults:\n- policy: require-team\n  rule: check-team\n  resources: [good]\n  result: pass\n- policy: require-team\n  rule: check-team\n  resources: [bad]\n  result: fail\n";
const TEMPLATE: &str = "apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8srequiredlabels\nspec:\n  crd:\n    spec:\n      names:\n        kind: K8sRequiredLabels\n  targets:\n  - target: admission.k8s.gatekeeper.sh\n    rego: |\n      package k8srequiredlabels\n      violation[{\"msg\": msg}] {\n        not input.review.object.metadata.labels.team\n        msg := \"team label missing\"\n      }\n";
const CONSTRAINT: &str =
    "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: must-have-team\n";

struct Workspace {
    files: BTreeMap<PathBuf, String>,
}

impl FileSource for Workspace {
    fn read(&self, path: &Path) -> Result<Arc<str>, FileError> {
        self.files
            .get(path)
            .map(|text| Arc::from(text.as_str()))
            .ok_or_else(|| FileError::NotFound { path: path.to_path_buf() })
    }

    fn list_dir(&self, path: &Path) -> Option<Vec<PathBuf>> {
        let children: Vec<PathBuf> = self.files.keys().filter(|file| file.parent() == Some(path)).cloned().collect();
        (!children.is_empty()).then_some(children)
    }

    fn current_time(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(1_767_225_600, 0)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let mut files = BTreeMap::new();
    for (name, content) in [
        ("policy.yaml", POLICY),
        ("resources.yaml", RESOURCES),
        ("kyverno-test.yaml", TEST),
        ("template.yaml", TEMPLATE),
        ("constraint.yaml", CONSTRAINT),
        ("suite.yaml", ""),
    ] {
        files.insert(PathBuf::from("/ws").join(name), content.to_string());
    }
    let target = match selector % 3 {
        0 => "kyverno-test.yaml",
        1 => "suite.yaml",
        _ => "policy.yaml",
    };
    files.insert(PathBuf::from("/ws").join(target), text.to_string());
    let workspace = Workspace { files };
    let _ = match selector % 3 {
        1 => run(&workspace, Path::new("/ws/suite.yaml"), Framework::Gatekeeper, RunOptions::default()),
        _ => run(&workspace, Path::new("/ws/kyverno-test.yaml"), Framework::Kyverno, RunOptions::default()),
    };
});
