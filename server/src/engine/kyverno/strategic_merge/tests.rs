//! Tests of the strategic merge: list placement, directives, key order and node kinds, each written
//! from kyaml's merge rules.

use super::*;
use serde_json::json;

/// Merges `patch` into a resource and compares the result as JSON text, so key order counts.
fn check(resource: Value, patch: Value, expect: expect_test::Expect) {
    let merged = match merge(&resource, &patch) {
        Ok(value) => value.to_string(),
        Err(error) => format!("error: {error}"),
    };
    expect.assert_eq(&merged);
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec})
}

#[test]
fn new_containers_go_before_the_existing_ones() {
    check(
        pod(json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]})),
        json!({"spec": {"containers": [{"name": "sidecar", "image": "proxy"}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"sidecar","image":"proxy"},{"name":"a","image":"x"},{"name":"b","image":"y"}]}}"#
        ]],
    );
}

#[test]
fn patched_containers_move_to_the_patch_order() {
    check(
        pod(json!({"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]})),
        json!({"spec": {"containers": [{"name": "b", "imagePullPolicy": "Always"}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"b","image":"y","imagePullPolicy":"Always"},{"name":"a","image":"x"}]}}"#
        ]],
    );
}

#[test]
fn existing_keys_keep_their_place_and_new_keys_are_appended_in_byte_order() {
    check(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"z": "1"}}, "data": {"b": "2"}}),
        json!({"metadata": {"labels": {"y": "2", "a": "3"}, "annotations": {"k": "v"}}, "data": {"b": "3"}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","labels":{"z":"1","a":"3","y":"2"},"annotations":{"k":"v"}},"data":{"b":"3"}}"#
        ]],
    );
}

#[test]
fn lists_without_a_merge_strategy_are_replaced() {
    check(
        pod(json!({"tolerations": [{"key": "a", "operator": "Exists"}], "containers": [{"name": "a"}]})),
        json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"tolerations":[{"key":"b","operator":"Exists"}],"containers":[{"name":"a"}]}}"#
        ]],
    );
    // A custom resource has no schema: its lists of named maps are replaced too.
    check(
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"items": [{"name": "a", "size": 1}]}}),
        json!({"spec": {"items": [{"name": "b", "size": 2}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"example.com/v1","kind":"Widget","spec":{"items":[{"name":"b","size":2}]}}"#
        ]],
    );
}

#[test]
fn scalar_lists_with_a_merge_strategy_are_united_patch_first() {
    check(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "finalizers": ["a", "b"]}}),
        json!({"metadata": {"finalizers": ["c", "a"]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","finalizers":["c","a","b"]}}"#
        ]],
    );
}

#[test]
fn ports_match_by_port_and_protocol_and_a_port_without_protocol_moves_last() {
    // kyaml appends a resource element that lacks one of several keys before re-adding it, so the
    // merged port 80 (no protocol) ends up after the others.
    check(
        pod(
            json!({"containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}]}),
        ),
        json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "name": "http"}, {"containerPort": 53, "protocol": "TCP"}]}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"a","ports":[{"containerPort":53,"protocol":"TCP"},{"containerPort":80,"name":"http"},{"containerPort":53,"protocol":"UDP"}]}]}}"#
        ]],
    );
}

#[test]
fn nulls_and_delete_directives_remove() {
    check(
        pod(
            json!({"containers": [{"name": "a", "image": "x"}, {"name": "b"}], "hostNetwork": true, "dnsConfig": {"options": []}}),
        ),
        json!({"spec": {"hostNetwork": null, "dnsConfig": {"$patch": "delete"}, "containers": [{"name": "b", "$patch": "delete"}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"a","image":"x"}]}}"#
        ]],
    );
}

#[test]
fn replace_directives_on_maps_and_lists() {
    check(
        pod(json!({"securityContext": {"runAsUser": 1, "fsGroup": 2}, "containers": [{"name": "a"}, {"name": "b"}]})),
        json!({"spec": {"securityContext": {"$patch": "replace", "runAsNonRoot": true}, "containers": [{"$patch": "replace"}, {"name": "c"}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"securityContext":{"runAsNonRoot":true},"containers":[{"name":"c"}]}}"#
        ]],
    );
}

#[test]
fn a_replace_directive_on_a_list_element_is_undone_by_the_prepending_merge() {
    // kyaml walks the element with the patch's node, then appends the resource's own element over it.
    check(
        pod(json!({"containers": [{"name": "a", "image": "x", "args": ["1"]}]})),
        json!({"spec": {"containers": [{"name": "a", "$patch": "replace", "image": "y"}]}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web"},"spec":{"containers":[{"name":"a","image":"x","args":["1"]}]}}"#
        ]],
    );
}

#[test]
fn unknown_directives_and_kind_mismatches_are_errors() {
    check(
        pod(json!({"securityContext": {"runAsUser": 1}})),
        json!({"spec": {"securityContext": {"$patch": "keep"}}}),
        expect_test::expect!["error: unknown patch strategy 'keep'"],
    );
    check(
        pod(json!({"securityContext": {"runAsUser": 1}})),
        json!({"spec": {"securityContext": "none"}}),
        expect_test::expect![[r#"
            error: wrong node kind: expected MappingNode but got ScalarNode: node contents:
            none
        "#]],
    );
}

#[test]
fn a_null_already_in_the_resource_stays_unless_patched() {
    check(
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "annotations": null}, "data": null}),
        json!({"data": null, "metadata": {"labels": {"a": "b"}}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","annotations":null,"labels":{"a":"b"}}}"#
        ]],
    );
}

#[test]
fn go_number_text() {
    let text = |value: Value| scalar_text(&value);
    assert_eq!(text(json!(3)), "3");
    assert_eq!(text(json!(3.0)), "3");
    assert_eq!(text(json!(0.5)), "0.5");
    assert_eq!(text(json!(1e21)), "1e+21");
    assert_eq!(text(json!(1.5e-7)), "1.5e-7");
    assert_eq!(text(json!(true)), "true");
}

#[test]
fn a_number_or_boolean_over_a_string_is_written_as_a_string() {
    // kyaml copies the old value's (quoted) style onto the new one; a string over a number stays a string.
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"},
        "data": {"port": "80", "debug": "false", "replicas": 1}});
    check(
        config_map,
        json!({"data": {"port": 8080, "debug": true, "replicas": "2", "new": 3}}),
        expect_test::expect![[
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"port":"8080","debug":"true","replicas":"2","new":3}}"#
        ]],
    );
}

#[test]
fn deleting_the_whole_document_is_an_error() {
    check(
        pod(json!({"containers": [{"name": "a"}]})),
        json!({"$patch": "delete"}),
        expect_test::expect!["error: filter cannot create or delete objects"],
    );
}
