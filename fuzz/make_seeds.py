#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into fuzz/seeds/<target>/ (committed; rerun after editing).

Seeds are small inputs written here by hand, plus the repository's own examples, so every target
starts from inputs that reach deep into its code instead of from random bytes.
"""
import json
import pathlib
import shutil
import struct

ROOT = pathlib.Path(__file__).resolve().parent
SEEDS = ROOT / "seeds"
EXAMPLES = ROOT.parent / "examples"

POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: require-labels # é
  annotations:
    policies.kyverno.io/title: "Require Labels 😀"
spec:
  rules:
    - name: check
      match:
        any:
          - resources:
              kinds: [Pod, Deployment]
      validate:
        message: |
          multi
          line
        pattern:
          metadata:
            labels:
              team: "?*"
---
apiVersion: v1
kind: Pod
metadata: &meta
  name: web
spec:
  containers:
    - name: c
      image: 'nginx:1.25'
---
anchors: *meta
list: [a, {b: c}]\r
windows: line\r
"""

TEMPLATE = """apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8srequiredlabels
spec:
  crd:
    spec:
      names:
        kind: K8sRequiredLabels
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8srequiredlabels
        violation[{"msg": msg}] {
          provided := {label | input.review.object.metadata.labels[label]}
          required := {label | label := input.parameters.labels[_]}
          missing := required - provided
          count(missing) > 0
          msg := sprintf("missing labels: %v", [missing])
        }
"""

VALIDATING_POLICY = """apiVersion: policies.kyverno.io/v1alpha1
kind: ValidatingPolicy
metadata:
  name: replicas
spec:
  matchConstraints:
    resourceRules:
      - apiGroups: [apps]
        apiVersions: [v1]
        operations: [CREATE]
        resources: [deployments]
  validations:
    - expression: "object.spec.replicas <= 5"
      message: too many replicas
"""


def write(target, name, content):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    (directory / name).write_bytes(data)


def sync_seed(text, edits):
    """Initial text plus edits in the sync target's layout: start, removed, fragment index or raw text."""
    data = text.encode()
    out = struct.pack("<H", len(data)) + data
    for start, removed, insert in edits:
        if isinstance(insert, int):
            out += struct.pack("<HBB", start, removed, insert)
        else:
            raw = insert.encode()[:15]
            out += struct.pack("<HBB", start, removed, 0x80 | len(raw)) + raw
    return out


def main():
    if SEEDS.exists():
        shutil.rmtree(SEEDS)
    examples = sorted(EXAMPLES.rglob("*.yaml"))

    write("sync", "policy-typing", sync_seed(POLICY, [(60, 0, 0), (61, 0, 1), (200, 3, 4), (10, 0, 6), (300, 0, 19)]))
    write("sync", "split-and-merge", sync_seed(POLICY, [(0, 0, 7), (400, 4, 0), (420, 0, 6), (421, 3, "x: [1")]))
    write("sync", "template-typing", sync_seed(TEMPLATE, [(350, 0, "{{"), (380, 2, 3), (100, 0, 5), (200, 1, 11)]))
    write("sync", "empty-start", sync_seed("", [(0, 0, 27), (0, 0, 28), (30, 0, 29), (0, 0, 6)]))

    write("yaml_value", "policy", POLICY)
    write("yaml_value", "template", TEMPLATE)
    write("yaml_value", "validating-policy", VALIDATING_POLICY)
    write("yaml_value", "anchors", "a: &a [x, y]\nb: &b [*a, *a]\nc: [*b, *b]\n<<: {m: 1}\nd: !!binary aGk=\n")
    write("yaml_value", "flow-and-scalars", '{a: "b\\u00e9", c: \'it\'\'s\', d: >-\n  folded\n  text\n, e: 0x1F, f: yes}\n')
    for index, path in enumerate(examples):
        write("yaml_value", f"example-{index}", path.read_bytes())

    jmespath = [
        "request.object.metadata.name",
        "request.object.spec.containers[?image == 'busybox'].name | [0]",
        "length(request.object.spec.containers[].image) > `1`",
        "request.object.metadata.labels.team || 'none'",
        "to_upper(request.object.metadata.name)",
        "regex_match('^nginx:[0-9.]+$', request.object.spec.containers[0].image)",
        "split(request.object.spec.containers[0].image, ':')[1]",
        "items(request.object.metadata.labels, 'key', 'value')[].key",
        "sum([`1`, `2`, add(`3`, `4`)])",
        "{names: request.object.spec.containers[*].name, count: length(request.object.spec.containers)}",
        "request.object.spec.containers[*].[name, image][]",
        "sort_by(request.object.spec.containers, &name)[-1].name",
        "time_add('2026-01-01T00:00:00Z', '1h')",
        "base64_decode(base64_encode('hi'))",
        "semver_compare('1.2.3', '>=1.0.0')",
        "parse_yaml('a: [1, 2]').a[1]",
        "x509_decode('')",
        "@.[@, @].[@, @]",
    ]
    for index, expression in enumerate(jmespath):
        write("jmespath", f"expr-{index}", expression)
    write("jmespath", "with-data", 'items(@, \'k\', \'v\')[?v > `1`].k\n{"a": 1, "b": 2, "c": [1, 2, 3]}')

    pattern_pairs = [
        ({"metadata": {"labels": {"team": "a"}}}, {"metadata": {"labels": {"team": "?*"}}}),
        ({"spec": {"containers": [{"image": "nginx:1.25"}]}}, {"spec": {"containers": [{"image": "!*:latest"}]}}),
        ({"spec": {"replicas": 3}}, {"spec": {"replicas": ">=1 & <=5"}}),
        ({"spec": {"memory": "1Gi"}}, {"spec": {"memory": "<= 2Gi | 100m"}}),
        ({"spec": {"hostNetwork": True}}, {"spec": {"=(hostNetwork)": False}}),
        ({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"^(containers)": [{"(name)": "a", "image": "*"}]}}),
        ({"metadata": {"annotations": {"t": "10s"}}}, {"metadata": {"<(annotations)": {"t": "<1m"}}}),
        ({"a": [1, 2]}, {"X(a)": None, "+(b)": "c"}),
        ({"metadata": {"name": "web"}}, {"metadata": {"name": "$(../name)"}}),
    ]
    for index, (resource, pattern) in enumerate(pattern_pairs):
        write("pattern", f"pair-{index}", json.dumps(resource) + "\n" + json.dumps(pattern))
    write("pattern", "wildcard", "a*b?c\naxxbyc")
    write("pattern", "quantity", "1.5Gi")

    cel = [
        "object.spec.containers.all(c, c.image.startsWith('nginx'))",
        "object.metadata.labels.?team.orValue('none') == 'none'",
        "size(object.spec.containers) <= params.max",
        "object.spec.containers.map(c, c.name).exists(n, n in params.names)",
        "has(object.metadata.annotations) ? 1 : 2",
        "'abc'.matches('^a.c$') && 'x-y'.split('-').size() == 2",
        "quantity('1Gi').isGreaterThan(quantity('512Mi'))",
        "[1, 2, 3].filter(x, x > 1).map(x, x * 2).sum()",
        "object.spec.containers.transformMap(i, c, c.name)",
        "request.operation == 'CREATE' || oldObject == null",
        "string(int('42') + 1) + 'x'.repeat(3)",
        "{'a': 1}.all(k, k == 'a')",
        "[[1, 2], [3]].flatten(1)",
        "url('https://example.com/x').getHost()",
        "duration('1h') > duration('30m')",
        "http.Get('https://example.com')",
    ]
    for index, expression in enumerate(cel):
        write("cel", f"expr-{index}", expression)

    rego = [
        'package k8s\nviolation[{"msg": msg}] {\n  not input.review.object.metadata.labels.team\n  msg := "missing"\n}\n',
        'package k8s\nviolation[{"msg": msg}] {\n  c := input.review.object.spec.containers[_]\n  endswith(c.image, ":latest")\n  msg := sprintf("%v uses latest", [c.name])\n}\n',
        'package k8s\nimport future.keywords.in\nviolation[{"msg": msg}] {\n  some l in input.parameters.labels\n  not input.review.object.metadata.labels[l]\n  msg := concat(" ", ["missing", l])\n}\n',
        'package k8s\nviolation contains {"msg": "n"} if {\n  count(input.review.object.spec.containers) > input.parameters.max\n}\n',
        'package k8s\nviolation[{"msg": m}] {\n  x := [y | y := numbers.range(1, 10)[_]; y % 2 == 0]\n  count(x) > 100\n  m := "many"\n}\n',
        'package k8s\nviolation[{"msg": m}] {\n  re_match("^[a-z]+$", input.review.object.metadata.name)\n  m := "ok"\n}\n',
        'package k8s\nviolation[{"msg": m}] {\n  data.inventory.namespace[_][_]["Pod"][name]\n  m := name\n}\n',
    ]
    for index, module in enumerate(rego):
        write("rego", f"module-{index}", module)

    write("test_loader", "kyverno-test", b"\x00" + b"""apiVersion: cli.kyverno.io/v1alpha1
kind: Test
metadata:
  name: t
policies:
- policy.yaml
resources:
- resources.yaml
variables: values.yaml
results:
- policy: require-team
  rule: check-team
  resources: [good]
  result: pass
- policy: require-team
  rule: check-team
  resources: [bad, missing]
  result: fail
""")
    write("test_loader", "gator-suite", b"\x01" + b"""apiVersion: test.gatekeeper.sh/v1alpha1
kind: Suite
metadata:
  name: s
tests:
- name: required-labels
  template: template.yaml
  constraint: constraint.yaml
  cases:
  - name: good
    object: resources.yaml
    assertions:
    - violations: no
  - name: outside
    object: ../outside.yaml
    assertions:
    - violations: yes
""")
    write("test_loader", "policy", b"\x02" + POLICY.encode())
    for index, path in enumerate(path for path in examples if "test" in path.name or "suite" in path.name):
        write("test_loader", f"example-{index}", b"\x00" + path.read_bytes())


if __name__ == "__main__":
    main()
