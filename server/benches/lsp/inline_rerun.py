#!/usr/bin/env python3
"""Inline test re-run latency: the time from a didChange of a policy to the moment the server has re-run the
affected tests and published their results (it sends workspace/codeLens/refresh right after publishing).

    python3 server/benches/lsp/inline_rerun.py [--server "target/release/policy-lsp serve"] [--edits 200]
                                               [--corpus ../shared/corpus/kyverno-policies]

Without --corpus it generates a workspace (one policy of 6 rules, 24 resources, a test of 48 results) in a
temporary directory. With --corpus it copies the test folder of the corpus whose test has the most results
(the copy lives in a temporary directory and is deleted afterwards) and edits its policy file.

Each edit alternates between a failing and a passing version of a pattern value (generated workspace) or
appends and removes a comment line (corpus), waits for the refresh, and records the latency. It prints
p50/p95/p99/max in milliseconds, as text and, with --json, as a JSON object.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import queue


def generated_workspace(root):
    rules = []
    for index in range(6):
        rules.append(
            f"""    - name: rule-{index}
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        failureAction: Audit
        message: "label l{index} must be set"
        pattern:
          metadata:
            labels:
              l{index}: "?*"
"""
        )
    policy = "apiVersion: kyverno.io/v1\nkind: ClusterPolicy\nmetadata:\n  name: labels\nspec:\n  rules:\n" + "".join(rules)
    resources = []
    for index in range(24):
        labels = "".join(f"    l{rule}: v\n" for rule in range(6) if (index + rule) % 4 != 0)
        resources.append(
            f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{index}\n  labels:\n{labels}spec:\n"
            f"  containers:\n    - name: c\n      image: nginx:1.27\n"
        )
    results = []
    for rule in range(6):
        for index in range(8):
            expected = "fail" if (index + rule) % 4 == 0 else "pass"
            results.append(
                f"  - policy: labels\n    rule: rule-{rule}\n    resources: [pod-{index}]\n    kind: Pod\n    result: {expected}\n"
            )
    test = (
        "apiVersion: cli.kyverno.io/v1alpha1\nkind: Test\nmetadata:\n  name: labels\npolicies: [policy.yaml]\n"
        "resources: [resources.yaml]\nresults:\n" + "".join(results)
    )
    with open(os.path.join(root, "policy.yaml"), "w") as handle:
        handle.write(policy)
    with open(os.path.join(root, "resources.yaml"), "w") as handle:
        handle.write("---\n".join(resources))
    with open(os.path.join(root, "kyverno-test.yaml"), "w") as handle:
        handle.write(test)
    return os.path.join(root, "policy.yaml"), os.path.join(root, "kyverno-test.yaml")


def corpus_workspace(root, corpus):
    best = None
    for directory, _, files in os.walk(corpus):
        if "kyverno-test.yaml" not in files:
            continue
        with open(os.path.join(directory, "kyverno-test.yaml")) as handle:
            text = handle.read()
        # Resources named across all results entries: the number of results the run produces, roughly.
        count = len(re.findall(r"^\s*- ", text, re.M))
        if "chainsaw" in text or "../../" in text:
            continue
        if best is None or count > best[0]:
            best = (count, directory)
    if best is None:
        sys.exit(f"no usable kyverno-test.yaml under {corpus}")
    source = os.path.dirname(best[1]) if os.path.basename(best[1]).startswith(".") else best[1]
    target = os.path.join(root, os.path.basename(source))
    shutil.copytree(source, target)
    test_file = None
    for directory, _, files in os.walk(target):
        if "kyverno-test.yaml" in files:
            test_file = os.path.join(directory, "kyverno-test.yaml")
    with open(test_file) as handle:
        test = handle.read()
    policy_name = re.search(r"^policies:\s*\n\s*-\s*(\S+)", test, re.M)
    policy_file = os.path.normpath(os.path.join(os.path.dirname(test_file), policy_name.group(1)))
    print(f"corpus input: {os.path.relpath(best[1], corpus)} ({best[0]} list items in the test)", file=sys.stderr)
    return policy_file, test_file


class Client:
    def __init__(self, command, root):
        self.process = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.messages = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()
        self.root_uri = "file://" + root

    def _read(self):
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = stream.read(length)
            self.messages.put((time.perf_counter(), json.loads(body)))

    def send(self, message):
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def request(self, method, params):
        request_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return self.wait(lambda message: message.get("id") == request_id and "method" not in message)[1]

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait(self, predicate, timeout=30):
        deadline = time.perf_counter() + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                sys.exit("timed out waiting for the server")
            stamp, message = self.messages.get(timeout=remaining)
            if "method" in message and "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            if predicate(message):
                return stamp, message


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default="target/release/policy-lsp serve")
    parser.add_argument("--edits", type=int, default=200)
    parser.add_argument("--corpus")
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()

    root = tempfile.mkdtemp(prefix="policy-lsp-inline-bench-")
    try:
        if options.corpus:
            policy_file, test_file = corpus_workspace(root, os.path.abspath(options.corpus))
        else:
            policy_file, test_file = generated_workspace(root)
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
        with open(policy_file) as handle:
            policy_text = handle.read()
        with open(test_file) as handle:
            test_text = handle.read()
        policy_uri, test_uri = "file://" + policy_file, "file://" + test_file
        for uri, text in ((test_uri, test_text), (policy_uri, policy_text)):
            client.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        client.wait(lambda message: message.get("method") == "workspace/codeLens/refresh")
        # Let the rounds the opens started finish.
        time.sleep(0.3)
        while not client.messages.empty():
            client.messages.get()

        lines = policy_text.split("\n")
        comment = "# edited by the benchmark\n"
        if options.corpus:
            # Append a comment line, then remove it: the text changes, so the tests re-run.
            anchor = len(lines) - 1 if lines[-1] == "" else len(lines)
            edits = [(anchor, 0, 0, comment), (anchor, 0, 1, "")]
        else:
            # Flip one pattern value: a third of the results change between pass and fail.
            anchor = next(index for index, line in enumerate(lines) if 'l0: "?*"' in line)
            column = lines[anchor].index('"?*"')
            edits = [(anchor, column, 0, '"v"'), (anchor, column, 0, '"?*"')]
        latencies = []
        version = 1
        for index in range(options.edits):
            line, column, line_span, text = edits[index % 2]
            if options.corpus:
                end = {"line": line + line_span, "character": 0}
            else:
                previous = edits[(index + 1) % 2][3]
                end = {"line": line, "character": column + len(previous)}
            version += 1
            sent = time.perf_counter()
            client.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": policy_uri, "version": version},
                    "contentChanges": [{"range": {"start": {"line": line, "character": column}, "end": end}, "text": text}],
                },
            )
            stamp, _ = client.wait(lambda message: message.get("method") == "workspace/codeLens/refresh")
            latencies.append((stamp - sent) * 1000)
        client.request("shutdown", None)
        client.notify("exit", None)
        client.process.wait(timeout=10)
        figures = {
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
                f"inline re-run after an edit ({figures['edits']} edits): p50 {figures['p50_ms']} ms, "
                f"p95 {figures['p95_ms']} ms, p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
