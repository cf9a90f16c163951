//! Diagnostics of plain `.rego` files: parse errors, what OPA's compiler rejects once a file is compiled
//! with the other modules of its folder, and deprecated built-ins (warnings in Rego v0, undefined in v1).

use crate::support::check_annotated_diagnostics;

fn check(fixture: &str) {
    check_annotated_diagnostics(fixture, |code| code.starts_with("rego/"));
}

#[test]
fn helpers_of_the_same_folder_are_defined_and_unknown_calls_are_not() {
    check(
        r#"
#- /policies/labels/src.rego
package labels

import rego.v1

violation contains message if {
    not has_team(input.review.object)
    message := describe(input.review.object)
    missing_helper(input.review.object)
#   ^^^^^^^^^^^^^^ error[rego/compile]: undefined function missing_helper
    count(input.review.object.metadata.labels, 2, 3)
#   ^^^^^ error[rego/compile]: count takes 1 argument, not 3
}
#- /policies/labels/lib.rego
package labels

import rego.v1

has_team(object) if object.metadata.labels.team

describe(object) := sprintf("%s has no team label", [object.metadata.name])
"#,
    );
}

#[test]
fn unsafe_variables_and_parse_errors_are_placed_where_they_are() {
    check(
        r#"
#- /policies/unsafe.rego
package unsafe

import rego.v1

allow if {
    name != "root"
#   ^^^^ error[rego/compile]: var name is unsafe
}
#- /policies/broken/broken.rego
package broken

import rego.v1

allow if { input.x == }
#                     ^ error[rego/compile]: expecting expression (read as Rego v1)
"#,
    );
}

#[test]
fn deprecated_builtins_warn_in_rego_v0_and_are_undefined_in_rego_v1() {
    check(
        r#"
#- /policies/old/old.rego
package old

deny[message] {
    re_match("^test-", input.metadata.name)
#   ^^^^^^^^ warning[rego/deprecated]: re_match is a deprecated built-in (Rego v1 removed it); use `regex.match`
    message := "test objects are not allowed"
}
#- /policies/new/new.rego
package new

import rego.v1

deny contains message if {
    re_match("^test-", input.metadata.name)
#   ^^^^^^^^ error[rego/compile]: undefined function re_match: Rego v1 removed this deprecated built-in; use `regex.match`
    message := "test objects are not allowed"
}
"#,
    );
}

#[test]
fn a_template_generated_from_a_source_warns_when_its_rego_differs_from_it() {
    check(
        r#"
#- /repo/src/general/labels/src.rego
package labels

violation[{"msg": msg}] {
    not input.review.object.metadata.labels.team
    msg := "add a team label"
}
#- /repo/library/general/labels/template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: labels
spec:
  crd:
    spec:
      names:
        kind: Labels
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
#     ^^^^ warning[rego/stale-template]: this Rego differs from src.rego in /repo/src/general/labels, which it is generated from (beyond whitespace and comments): regenerate the template, or move the change into the source
        package labels

        violation[{"msg": msg}] {
          not input.review.object.metadata.labels.owner
          msg := "add a team label"
        }
#- /repo/src/general/names/src.rego
package names

# Names start with the team's prefix.
violation[{"msg": msg}] {
    not startswith(input.review.object.metadata.name, "team-")
    msg := "name the object team-..."
}
#- /repo/general/names/template.yaml
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: names
spec:
  crd:
    spec:
      names:
        kind: Names
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package names
        violation[{"msg": msg}] {
          not startswith(input.review.object.metadata.name,   "team-")
          msg := "name the object team-..."
        }
"#,
    );
}
