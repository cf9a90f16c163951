#!/usr/bin/env python3
"""Manifest re-judging latency in the editor (issue #16): the time from a didChange to the moment the server
has judged the open manifest again and published the diagnostics of the new verdict (recognised by their
number of policy/violation diagnostics, which every edit changes). The generated workspace has the size the issue names: one 2,000-line manifest file (50 Deployments)
and 50 Kyverno ClusterPolicies.

    python3 server/benches/lsp/manifest_rejudge.py [--server "target/release/policy-lsp serve"] [--edits 100]
                                                   [--edit manifest|policy] [--json]

`--edit manifest` flips one Deployment's replicas between a failing and a passing value (the policies stay
prepared); `--edit policy` flips a pattern value in one policy (the policies are prepared again, then the
manifest is judged). It prints p50/p95/p99/max in milliseconds.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from inline_rerun import Client, percentile  # noqa: E402

POLICIES = 50
DEPLOYMENTS = 50


def generated_workspace(root):
    os.makedirs(os.path.join(root, "policies"))
    os.makedirs(os.path.join(root, "apps"))
    for index in range(POLICIES):
        if index == 0:
            pattern = "          spec:\n            replicas: \">=2\"\n"
        else:
            pattern = f"          metadata:\n            labels:\n              l{index % 8}: \"?*\"\n"
        policy = (
            f"apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: policy-{index}\nspec:\n  rules:\n"
            f"    - name: rule-{index}\n      match:\n        any:\n          - resources:\n              kinds: [Deployment]\n"
            f"      validate:\n        failureAction: Audit\n        message: \"policy {index} is not met\"\n"
            f"        pattern:\n{pattern}"
        )
        with open(os.path.join(root, "policies", f"policy-{index}.yaml"), "w") as handle:
            handle.write(policy)
    documents = []
    for index in range(DEPLOYMENTS):
        labels = "".join(f"    l{label}: v\n" for label in range(8) if (index + label) % 9 != 0)
        documents.append(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{index}\n  namespace: shop\n"
            f"  annotations:\n    owner: shop\n    tier: web\n    revision: \"{index}\"\n  labels:\n{labels}"
            f"spec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: app-{index}\n  template:\n    metadata:\n"
            f"      labels:\n        app: app-{index}\n    spec:\n      containers:\n        - name: main\n"
            f"          image: registry.example.com/app-{index}:1.{index}\n          ports:\n            - containerPort: 8080\n"
            f"          resources:\n            limits:\n              cpu: 500m\n              memory: 256Mi\n"
            f"            requests:\n              cpu: 100m\n              memory: 128Mi\n"
        )
    text = "---\n".join(documents)
    with open(os.path.join(root, "apps", "manifests.yaml"), "w") as handle:
        handle.write(text)
    return os.path.join(root, "policies", "policy-0.yaml"), os.path.join(root, "apps", "manifests.yaml")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="target/release/policy-lsp serve")
    parser.add_argument("--edits", type=int, default=100)
    parser.add_argument("--edit", choices=["manifest", "policy"], default="manifest")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    root = tempfile.mkdtemp(prefix="policy-lsp-manifest-bench-")
    try:
        policy_file, manifest_file = generated_workspace(root)
        client = Client(options.server, root)
        client.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": client.root_uri,
                "workspaceFolders": [{"uri": client.root_uri, "name": "bench"}],
                "capabilities": {
                    "workspace": {"codeLens": {"refreshSupport": True}},
                    "textDocument": {"publishDiagnostics": {"versionSupport": True}},
                    "window": {"workDoneProgress": True},
                },
            },
        )
        client.notify("initialized", {})
        client.wait(lambda message: message.get("method") == "$/progress" and message["params"]["value"]["kind"] == "end")
        edited_file = manifest_file if options.edit == "manifest" else policy_file
        with open(edited_file) as handle:
            edited_text = handle.read()
        with open(manifest_file) as handle:
            manifest_text = handle.read()
        lines_total = manifest_text.count("\n")
        open_files = [manifest_file] if edited_file == manifest_file else [manifest_file, policy_file]
        for path in open_files:
            with open(path) as handle:
                text = handle.read()
            client.notify("textDocument/didOpen", {"textDocument": {"uri": "file://" + path, "languageId": "yaml", "version": 1, "text": text}})
        manifest_uri = "file://" + manifest_file

        def violations(message):
            return sum(1 for diagnostic in message["params"]["diagnostics"] if diagnostic.get("code") == "policy/violation")

        def manifest_published(message):
            return message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == manifest_uri

        _, first = client.wait(lambda message: manifest_published(message) and violations(message) > 0)
        count = violations(first)
        time.sleep(0.5)
        while not client.messages.empty():
            client.messages.get()

        lines = edited_text.split("\n")
        if options.edit == "manifest":
            anchor = next(index for index, line in enumerate(lines) if line == "  replicas: 3")
            column, values = len("  replicas: "), ["1", "3"]
        else:
            anchor = next(index for index, line in enumerate(lines) if '">=2"' in line)
            column, values = lines[anchor].index('">=2"'), ['">=5"', '">=2"']
        uri = "file://" + edited_file
        latencies = []
        version = 1
        for index in range(options.edits):
            text, previous = values[index % 2], values[(index + 1) % 2]
            version += 1
            sent = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": version},
                    "contentChanges": [
                        {
                            "range": {"start": {"line": anchor, "character": column}, "end": {"line": anchor, "character": column + len(previous)}},
                            "text": text,
                        }
                    ],
                },
            )
            stamp, message = client.wait(lambda message: manifest_published(message) and violations(message) != count)
            count = violations(message)
            latencies.append((stamp - sent) * 1000)
        client.request("shutdown", None)
        client.notify("exit", None)
        client.process.wait(timeout=10)
        figures = {
            "edit": options.edit,
            "manifest_lines": lines_total,
            "policies": POLICIES,
            "edits": len(latencies),
            "p50_ms": round(percentile(latencies, 0.50), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2),
            "p99_ms": round(percentile(latencies, 0.99), 2),
            "max_ms": round(max(latencies), 2),
        }
        if options.json:
            print(json.dumps(figures))
        else:
            print(
                f"manifest re-judged after a {options.edit} edit ({lines_total}-line manifest, {POLICIES} policies, "
                f"{figures['edits']} edits): p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
                f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
