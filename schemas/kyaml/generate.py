#!/usr/bin/env python3
"""Generates schemas/kyaml/merge-hints.json: the merge hints Kyverno's patchStrategicMerge really uses.

Kyverno applies patchStrategicMerge through kustomize's kyaml, which reads list merge strategies only from
the Kubernetes OpenAPI compiled into it (kyaml/v0.21.1, the version Kyverno pins, carries Kubernetes
v1.21.2), never from the cluster or a newer schema. So a kind or a field that Kubernetes v1.21.2 did not
have gets no merge strategy (its lists are replaced), and one it had keeps the strategy it had then.

Input: kyaml's `kyaml/openapi/kubernetesapi/v1_21_2/swagger.pb` (a gnostic OpenAPI v2 protobuf), e.g.
    git -C kustomize show kyaml/v0.21.1:kyaml/openapi/kubernetesapi/v1_21_2/swagger.pb > swagger.pb
    python3 schemas/kyaml/generate.py swagger.pb            # writes schemas/kyaml/merge-hints.json
    python3 schemas/kyaml/generate.py swagger.pb --check    # exit 1 if the committed file differs

Output (minified, sorted keys): {"source", "kinds": {"<apiVersion>/<kind>": definition},
"definitions": {name: node}}. A node keeps only what the merge walk reads: `$ref`
(`#/definitions/<name>`), `type: "array"` (only for a node typed exactly array), `items`, `properties`,
`additionalProperties`, and the extensions x-kubernetes-patch-strategy, x-kubernetes-patch-merge-key,
x-kubernetes-list-map-keys, x-kubernetes-list-type. Plain scalar properties are left out.
"""

import argparse
import json
import os
import sys

import yaml

SOURCE = "kustomize kyaml/v0.21.1 kyaml/openapi/kubernetesapi/v1_21_2/swagger.pb (Kubernetes v1.21.2)"
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "merge-hints.json")
EXTENSIONS = (
    "x-kubernetes-patch-strategy",
    "x-kubernetes-patch-merge-key",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
)


def varint(data, position):
    result, shift = 0, 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return result, position


def fields(data):
    """The (field number, raw value) pairs of one protobuf message."""
    position, out = 0, []
    while position < len(data):
        key, position = varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = varint(data, position)
        elif wire == 2:
            length, position = varint(data, position)
            value = data[position:position + length]
            position += length
        elif wire == 1:
            value = data[position:position + 8]
            position += 8
        elif wire == 5:
            value = data[position:position + 4]
            position += 4
        else:
            raise SystemExit(f"unsupported protobuf wire type {wire}")
        out.append((number, value))
    return out


def named(data):
    """A gnostic Named* message: (name, raw value)."""
    name, value = None, None
    for number, raw in fields(data):
        if number == 1:
            name = raw.decode()
        elif number == 2:
            value = raw
    return name, value


def any_yaml(data):
    """A gnostic Any: its YAML text, parsed."""
    for number, raw in fields(data):
        if number == 2:
            return yaml.safe_load(raw.decode())
    return None


def schema(data):
    """A gnostic Schema, reduced to what the merge walk reads."""
    node = {}
    for number, raw in fields(data):
        if number == 1:
            node["$ref"] = raw.decode()
        elif number == 22:
            types = [value.decode() for sub, value in fields(raw) if sub == 1]
            if types == ["array"]:
                node["type"] = "array"
        elif number == 23:
            items = [schema(value) for sub, value in fields(raw) if sub == 1]
            if items:
                node["items"] = items[0]
        elif number == 25:
            properties = {}
            for sub, value in fields(raw):
                if sub == 1:
                    name, body = named(value)
                    properties[name] = schema(body or b"")
            kept = {name: body for name, body in properties.items() if body}
            if kept:
                node["properties"] = kept
        elif number == 21:
            for sub, value in fields(raw):
                if sub == 1:
                    node["additionalProperties"] = schema(value)
        elif number == 31:
            name, value = named(raw)
            if name in EXTENSIONS:
                node[name] = any_yaml(value or b"")
            elif name == "x-kubernetes-group-version-kind":
                node[name] = any_yaml(value or b"")
    return node


def generate(swagger):
    definitions, kinds = {}, {}
    for number, raw in fields(swagger):
        if number != 9:
            continue
        for sub, value in fields(raw):
            if sub != 1:
                continue
            name, body = named(value)
            node = schema(body or b"")
            for gvk in node.pop("x-kubernetes-group-version-kind", None) or []:
                group, version, kind = gvk.get("group", ""), gvk["version"], gvk["kind"]
                api_version = f"{group}/{version}" if group else version
                kinds[f"{api_version}/{kind}"] = name
            definitions[name] = node
    if not definitions:
        raise SystemExit("no definitions found: is this kyaml's swagger.pb?")
    document = {"source": SOURCE, "kinds": kinds, "definitions": definitions}
    return (json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n").encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("swagger", help="kyaml's v1_21_2/swagger.pb")
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed file differs")
    args = parser.parse_args()
    with open(args.swagger, "rb") as handle:
        output = generate(handle.read())
    if args.check:
        with open(OUTPUT, "rb") as handle:
            if handle.read() != output:
                print("schemas/kyaml/merge-hints.json differs from a fresh generation", file=sys.stderr)
                sys.exit(1)
        return
    with open(OUTPUT, "wb") as handle:
        handle.write(output)
    print(f"wrote {OUTPUT}: {len(output)} bytes")


if __name__ == "__main__":
    main()
