#!/usr/bin/env python3
"""Validate a corpus of real policies, tests and resources against the generated schemas.

A development check, not part of the build:

    python3 schemas/check_corpus.py [CORPUS_DIR] [--verbose]

CORPUS_DIR defaults to ../shared/corpus. Needs PyYAML and `jsonschema` (>= 4.18, for `referencing`).
Every YAML document whose apiVersion/kind has an entry in schemas/index.json is validated the way
policy-lsp is meant to validate it:
  * YAML 1.1 scalars (yes/no/on/off are booleans) as Kubernetes and the Kyverno CLI read them, but
    timestamps and base-60 numbers stay strings; gator Suites are read with YAML 1.2 booleans only.
  * A mapping entry whose value is null is treated as absent (Kubernetes reads an explicit null on
    an optional field as "unset").
  * Gatekeeper constraints get the parameter schema of the ConstraintTemplate of the same kind
    found in the corpus, converted like a CRD schema (strict unless legacySchema).
Exits 1 when any document has errors, except KNOWN_ERRORS.
"""

import argparse
import copy
import json
import os
import re
import sys

import yaml

try:
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError:
    sys.exit("check_corpus.py needs jsonschema >= 4.18: pip install jsonschema")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402  (the same conversion the generator uses, for constraint parameters)

SCHEMAS_DIR = generate.SCHEMAS_DIR
BASE = "https://policy-lsp.invalid/schemas/"

# Upstream files the real tools reject too.
KNOWN_ERRORS = {
    # The Kyverno CLI decodes test files strictly and rejects this one (misspelt isMutatingPolicy).
    "kyverno-policies/best-practices-mpol/add-safe-to-evict/.kyverno-test/kyverno-test.yaml",
}


# --- YAML loading -----------------------------------------------------------------------------

PLAIN_NUMBERS = {
    "tag:yaml.org,2002:int": re.compile(
        r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    "tag:yaml.org,2002:float": re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?|\.[0-9_]+(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
}


def make_loader(yaml12_bools):
    class Loader(yaml.SafeLoader):
        pass

    resolvers = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        kept = []
        for tag, regexp in entries:
            if tag == "tag:yaml.org,2002:timestamp":
                continue  # sigs.k8s.io/yaml keeps 2024-01-01 a string
            if tag in PLAIN_NUMBERS:
                regexp = PLAIN_NUMBERS[tag]  # no base-60 numbers: 1:30 stays a string
            if tag == "tag:yaml.org,2002:bool" and yaml12_bools:
                regexp = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$", re.X)
            kept.append((tag, regexp))
        resolvers[first] = kept
    Loader.yaml_implicit_resolvers = resolvers

    def construct_bool(loader, node):
        return loader.construct_scalar(node).lower() in ("yes", "true", "on")

    Loader.add_constructor("tag:yaml.org,2002:bool", construct_bool)
    return Loader


YAML11 = make_loader(False)
YAML12 = make_loader(True)


def drop_nulls(value):
    if isinstance(value, dict):
        return {k: drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [drop_nulls(v) for v in value]
    return value


# --- schemas ----------------------------------------------------------------------------------

def absolutize(node, file_path):
    """Our refs are relative to schemas/ (not to the referring file); make them absolute URIs."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                target, _, pointer = value.partition("#")
                out[key] = BASE + (target or file_path) + "#" + pointer
            else:
                out[key] = absolutize(value, file_path)
        return out
    if isinstance(node, list):
        return [absolutize(v, file_path) for v in node]
    return node


def list_map_keys(validator, keys, instance, schema):
    """x-kubernetes-list-map-keys: items must be unique by the key tuple (a missing key counts as null)."""
    if not validator.is_type(instance, "array"):
        return
    seen = set()
    for item in instance:
        if not isinstance(item, dict):
            continue
        key = tuple(json.dumps(item.get(k), sort_keys=True) for k in keys)
        if key in seen:
            shown = ", ".join(f"{k}={item.get(k)}" for k in keys)
            yield jsonschema.ValidationError(f"duplicate entry with {shown}")
        seen.add(key)


Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"x-kubernetes-list-map-keys": list_map_keys})


class Schemas:
    def __init__(self):
        with open(os.path.join(SCHEMAS_DIR, "index.json"), encoding="utf-8") as handle:
            self.index = {(e["apiVersion"], e["kind"]): e for e in json.load(handle)["schemas"]}
        resources = []
        for root, _, names in os.walk(SCHEMAS_DIR):
            for name in names:
                if name.endswith(".json") and name != "index.json":
                    full = os.path.join(root, name)
                    rel = os.path.relpath(full, SCHEMAS_DIR).replace(os.sep, "/")
                    with open(full, encoding="utf-8") as handle:
                        body = absolutize(json.load(handle), rel)
                    resources.append((BASE + rel, Resource(contents=body, specification=DRAFT202012)))
        self.registry = Registry().with_resources(resources)
        self.validators = {}

    def entry(self, api_version, kind):
        found = self.index.get((api_version, kind))
        if found is None and api_version.startswith("constraints.gatekeeper.sh/"):
            found = self.index.get((api_version, "*"))
        return found

    def validator(self, entry, parameters=None, key=None):
        cache_key = (entry["file"], entry["pointer"], key)
        if cache_key not in self.validators:
            schema = {"$ref": BASE + entry["file"] + "#" + entry["pointer"]}
            if parameters is not None:
                # The server splices the template's parameter schema in at
                # /properties/spec/properties/parameters; here the same effect is had with allOf.
                schema = {"allOf": [schema, {"properties": {"spec": {"properties": {"parameters": parameters}}}}]}
            self.validators[cache_key] = Validator(schema, registry=self.registry)
        return self.validators[cache_key]


def template_parameter_schemas(documents):
    """kind -> converted parameter schema, from the ConstraintTemplates in the corpus."""
    out = {}
    for path, doc in documents:
        if doc.get("kind") != "ConstraintTemplate" or not str(doc.get("apiVersion", "")).startswith("templates.gatekeeper.sh/"):
            continue
        crd = ((doc.get("spec") or {}).get("crd") or {}).get("spec") or {}
        kind = (crd.get("names") or {}).get("kind")
        validation = crd.get("validation") or {}
        source = validation.get("openAPIV3Schema")
        legacy = validation.get("legacySchema", not doc["apiVersion"].endswith("/v1"))
        if not kind or source is None:
            continue
        source = copy.deepcopy(source)
        if legacy:
            mark_preserve(source)
        out[kind] = generate.Converter(generate.crd_ref_map, f"{path} parameters").node(source, "")
    return out


def mark_preserve(node):
    """What Gatekeeper does for legacySchema: unknown parameter keys are allowed at every level."""
    if isinstance(node, dict):
        if node.get("type") in ("object", "array", None):
            node["x-kubernetes-preserve-unknown-fields"] = True
        for key in ("properties",):
            for sub in node.get(key, {}).values():
                mark_preserve(sub)
        for key in ("items", "additionalProperties"):
            if isinstance(node.get(key), dict):
                mark_preserve(node[key])


# --- main -------------------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default="../shared/corpus")
    parser.add_argument("--verbose", action="store_true", help="print every error, not just a summary per file")
    args = parser.parse_args()

    schemas = Schemas()
    documents, unparsable = [], 0
    for root, dirs, names in os.walk(args.corpus):
        dirs.sort()
        for name in sorted(names):
            if not name.endswith((".yaml", ".yml")):
                continue
            full = os.path.join(root, name)
            rel = os.path.relpath(full, args.corpus).replace(os.sep, "/")
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
            try:
                docs = list(yaml.load_all(text, Loader=YAML11))
                if any(isinstance(d, dict) and str(d.get("apiVersion", "")).startswith("test.gatekeeper.sh/") for d in docs):
                    docs = list(yaml.load_all(text, Loader=YAML12))
            except yaml.YAMLError as error:
                print(f"{rel}: YAML error: {error}")
                unparsable += 1
                continue
            for doc in docs:
                if isinstance(doc, dict):
                    documents.append((rel, doc))

    parameters = template_parameter_schemas(documents)
    validated, failed_docs, warned_docs, known, skipped, chainsaw = 0, 0, 0, 0, 0, 0
    by_kind = {}
    for rel, doc in documents:
        api_version, kind = doc.get("apiVersion"), doc.get("kind")
        if "/.chainsaw-test" in "/" + rel:
            # Chainsaw assertion files hold partial objects by design; they are not manifests.
            chainsaw += 1
            continue
        if not isinstance(api_version, str) or not isinstance(kind, str):
            skipped += 1
            continue
        entry = schemas.entry(api_version, kind)
        if entry is None:
            skipped += 1
            continue
        params = parameters.get(kind) if entry["kind"] == "*" else None
        validator = schemas.validator(entry, params, kind if params is not None else None)
        errors = sorted(validator.iter_errors(drop_nulls(doc)), key=lambda e: list(e.absolute_path))
        validated += 1
        label = f"{api_version} {entry['kind']}"
        by_kind[label] = by_kind.get(label, 0) + 1
        if not errors:
            continue
        if rel in KNOWN_ERRORS:
            known += 1
            print(f"known upstream error: {rel}: {errors[0].message}")
            continue
        # Plain resources are fixtures that kyverno test and gator verify never validate, so their
        # violations are warnings (index.json marks them unknownFields: warning).
        severity = "warning" if entry["file"] == generate.K8S_FILE else "error"
        if severity == "error":
            failed_docs += 1
        else:
            warned_docs += 1
        shown = errors if args.verbose else errors[:3]
        for error in shown:
            where = "/" + "/".join(str(p) for p in error.absolute_path)
            name = (doc.get("metadata") or {}).get("name", "")
            print(f"{rel}: {severity}: {api_version} {kind} {name}: {where}: {error.message[:300]}")

    print()
    for label, count in sorted(by_kind.items()):
        print(f"{count:6d}  {label}")
    print(f"documents: {len(documents)}; validated: {validated}; without a schema: {skipped}; "
          f"in chainsaw test folders (not checked): {chainsaw}; "
          f"constraint kinds with template parameters: {len(parameters)}; unparsable files: {unparsable}")
    print(f"documents with errors: {failed_docs} (+{known} known upstream); "
          f"plain resources with warnings: {warned_docs}")
    return 1 if failed_docs or unparsable else 0


if __name__ == "__main__":
    sys.exit(main())
