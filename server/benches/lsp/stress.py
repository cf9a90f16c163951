#!/usr/bin/env python3
"""Stress run of the language server: opens 1,000 generated policy documents, then edits across them,
and reports the server's memory (peak and current RSS from /proc/PID/status) and the latency from each
didChange to the diagnostics of that version.

    cargo build --release
    python3 server/benches/lsp/stress.py [--binary target/release/policy-lsp] [--documents 1000] [--edits 5000]

Fails (exit 1) when an edit's diagnostics never come, a version arrives out of order, or the RSS after the
edits is more than --max-growth-mb above the RSS after opening (memory must stay bounded while typing).
Only the standard library is used; the documents are generated here.
"""
import argparse
import json
import os
import queue
import random
import statistics
import subprocess
import sys
import threading
import time

POLICY = """apiVersion: kyverno.io/v1
kind: ClusterPolicy
metadata:
  name: stress-{index}
  annotations:
    policies.kyverno.io/title: Stress policy {index}
spec:
  background: true
  rules:
    - name: require-team-{index}
      match:
        any:
          - resources:
              kinds: [Pod, Deployment]
      validate:
        failureAction: {action}
        message: "The label `team` is required ({index})."
        pattern:
          metadata:
            labels:
              team: "?*"
    - name: deny-latest-{index}
      match:
        any:
          - resources:
              kinds: [Pod]
      validate:
        failureAction: Audit
        message: "no latest tag"
        deny:
          conditions:
            any:
              - key: "{{{{ request.object.spec.containers[].image | [?ends_with(@, ':latest')] | length(@) }}}}"
                operator: GreaterThan
                value: 0
    - name: cel-{index}
      match:
        any:
          - resources:
              kinds: [Deployment]
      validate:
        cel:
          expressions:
            - expression: "object.spec.replicas <= {replicas}"
              message: too many replicas
"""


class Server:
    def __init__(self, command):
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.messages = queue.Queue()
        self.next_id = 1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        stream = self.process.stdout
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            self.messages.put(json.loads(stream.read(length)))

    def send(self, message):
        body = json.dumps(message).encode()
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        request_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        return self.wait(lambda message: message.get("id") == request_id and "method" not in message)

    def wait(self, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no answer from the server")
            message = self.messages.get(timeout=remaining)
            if message is None:
                raise RuntimeError("the server closed its output")
            if "method" in message and "id" in message:
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
            if predicate(message):
                return message
            self.on_other(message)

    def on_other(self, message):
        pass

    def memory(self):
        """(current RSS, peak RSS) in MB from /proc."""
        fields = {}
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                name, _, value = line.partition(":")
                fields[name] = value.strip()
        to_mb = lambda text: int(text.split()[0]) / 1024
        return to_mb(fields["VmRSS"]), to_mb(fields["VmHWM"])


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default="target/release/policy-lsp")
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=5000)
    parser.add_argument("--max-growth-mb", type=float, default=64.0)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    random.seed(options.seed)

    server = Server([options.binary, "serve"])
    published = {}

    def record(message):
        if message.get("method") == "textDocument/publishDiagnostics":
            params = message["params"]
            previous = published.get(params["uri"], -1)
            version = params.get("version")
            if version is not None:
                if version < previous:
                    raise AssertionError(f"{params['uri']}: version {version} after {previous}")
                published[params["uri"]] = version

    server.on_other = record
    server.request("initialize", {"processId": os.getpid(), "rootUri": None, "capabilities": {
        "general": {"positionEncodings": ["utf-16"]},
        "textDocument": {"publishDiagnostics": {"versionSupport": True}}}})
    server.notify("initialized", {})
    _, peak_at_start = server.memory()

    documents = {}
    started = time.monotonic()
    for index in range(options.documents):
        uri = f"file:///stress/policy-{index:04}.yaml"
        # Every tenth document has a typo, so diagnostics have content.
        text = POLICY.format(index=index, action="Enforse" if index % 10 == 0 else "Enforce", replicas=index % 7 + 1)
        documents[uri] = {"text": text, "version": 1}
        server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
    waiting = set(documents)
    while waiting:
        message = server.wait(lambda message: message.get("method") == "textDocument/publishDiagnostics", timeout=120)
        record(message)
        waiting.discard(message["params"]["uri"])
    open_seconds = time.monotonic() - started
    rss_after_open, peak_after_open = server.memory()

    latencies = []
    quarters = []
    uris = list(documents)
    started = time.monotonic()
    for edit in range(options.edits):
        uri = random.choice(uris)
        document = documents[uri]
        lines = document["text"].split("\n")
        line = random.randrange(len(lines) - 1)
        column = random.randrange(len(lines[line]) + 1)
        # Type one character somewhere in the document.
        inserted = random.choice(["x", " ", "e", ":", "-"])
        lines[line] = lines[line][:column] + inserted + lines[line][column:]
        document["text"] = "\n".join(lines)
        document["version"] += 1
        version = document["version"]
        sent = time.monotonic()
        server.notify("textDocument/didChange", {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": {"line": line, "character": column},
                                          "end": {"line": line, "character": column}}, "text": inserted}]})
        def is_ours(message):
            if message.get("method") != "textDocument/publishDiagnostics":
                return False
            record(message)
            return message["params"]["uri"] == uri and message["params"].get("version") == version

        server.wait(is_ours)
        latencies.append((time.monotonic() - sent) * 1000)
        if (edit + 1) % max(1, options.edits // 4) == 0:
            quarters.append(server.memory()[0])
        if edit % 10 == 9:
            # Completion and hover in another document, as an editor asks while typing.
            other = random.choice(uris)
            server.request("textDocument/completion", {"textDocument": {"uri": other}, "position": {"line": 8, "character": 4}})
            server.request("textDocument/hover", {"textDocument": {"uri": other}, "position": {"line": 1, "character": 2}})
    edit_seconds = time.monotonic() - started
    rss_after_edits, peak = server.memory()

    server.request("shutdown", None)
    server.notify("exit", None)
    server.process.wait(timeout=10)

    growth = rss_after_edits - rss_after_open
    print(f"documents opened            {options.documents} in {open_seconds:.2f} s (until every one had diagnostics)")
    print(f"edits                       {options.edits} across them in {edit_seconds:.2f} s, each waiting for its diagnostics")
    print(f"didChange -> diagnostics    p50 {statistics.median(latencies):.2f} ms, p95 {percentile(latencies, 0.95):.2f} ms, "
          f"p99 {percentile(latencies, 0.99):.2f} ms, max {max(latencies):.2f} ms")
    print(f"RSS                         peak at start {peak_at_start:.0f} MB, after opening {rss_after_open:.0f} MB "
          f"(peak {peak_after_open:.0f} MB), after the edits {rss_after_edits:.0f} MB (peak {peak:.0f} MB), growth {growth:+.1f} MB")
    print("RSS after each quarter      " + ", ".join(f"{rss:.0f} MB" for rss in quarters[:4])
          + " (edited documents keep their syntax tree, so it levels off once most have been edited)")
    if growth > options.max_growth_mb:
        print(f"FAIL: memory grew {growth:.1f} MB while editing (limit {options.max_growth_mb} MB)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
