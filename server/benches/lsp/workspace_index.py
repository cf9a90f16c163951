#!/usr/bin/env python3
"""Language server at scale (#18): indexing a monorepo of N copies of the conformance corpus.

For each N (default 1, 5, 10, 20) it builds the N-copy workspace with the tree builder of
server/benches/scale.py (hard links), starts `policy-lsp serve` with that root, and measures:

- indexing: the time from `initialized` to the end of the server's `$/progress` report for indexing;
- peak RSS: VmHWM of /proc/PID/status once indexing has ended and the typing is over;
- a hover and a completion in one policy of the workspace, sent right after `initialized` while indexing
  runs: their latency, and whether the index had finished before they were answered;
- typing: one character at a time typed into that policy (then deleted again), each didChange timed until
  the publishDiagnostics of its version (as stress.py measures it): p50 and p99.

    cargo build --release -p policy-lsp
    python3 server/benches/lsp/workspace_index.py --binary target/release/policy-lsp [--copies 1,5,10,20]

It prints a Markdown table; the temporary trees are deleted at the end. Only the standard library is used.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

# The tree builder of the CLI's scale benchmark and the stdio client of the stress benchmark, so the three
# benchmarks build the same workspace and speak to the server the same way.
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from scale import add_common_arguments, build_workspace, common_arguments, count_yaml  # noqa: E402
from stress import Server, percentile  # noqa: E402

# The policy typed into: one of the first copy, so every size types in the same file.
POLICY = Path("copy-00") / "kyverno-policies" / "best-practices" / "require-labels" / "require-labels.yaml"
# Where the typing happens: inside the rule's message, before its closing quote.
MESSAGE_LINE = 'message: "The label `app.kubernetes.io/name` is required."'


class IndexingServer(Server):
    """The stress client, watching for the end of the indexing progress report among other messages."""

    def __init__(self, command):
        super().__init__(command)
        self.index_token = None
        self.index_ended_at = None
        self.indexed_message = None
        self.versions = {}

    def on_other(self, message):
        method = message.get("method")
        if method == "window/workDoneProgress/create":
            return
        if method == "$/progress":
            value = message["params"]["value"]
            if value.get("kind") == "begin" and "ndex" in value.get("title", ""):
                self.index_token = message["params"]["token"]
            elif value.get("kind") == "end" and message["params"]["token"] == self.index_token:
                self.index_ended_at = time.monotonic()
                self.indexed_message = value.get("message")
        elif method == "textDocument/publishDiagnostics":
            params = message["params"]
            if params.get("version") is not None:
                self.versions[params["uri"]] = params["version"]

    def drain_until(self, predicate, timeout):
        """Reads messages until `predicate()` holds (checked after each message)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the server did not get there in time")
            message = self.messages.get(timeout=remaining)
            if message is None:
                raise RuntimeError("the server closed its output")
            if "method" in message and "id" in message:
                self.on_other(message)
                self.send({"jsonrpc": "2.0", "id": message["id"], "result": None})
                continue
            self.on_other(message)


def timed_request(server, method, params):
    """(milliseconds, whether indexing had ended when the answer came)."""
    sent = time.monotonic()
    server.request(method, params)
    return (time.monotonic() - sent) * 1000, server.index_ended_at is not None


def run_one(binary: str, root: Path, edits: int) -> dict:
    server = IndexingServer([binary, "serve"])
    try:
        server.request("initialize", {
            "processId": os.getpid(),
            "rootUri": root.as_uri(),
            "workspaceFolders": [{"uri": root.as_uri(), "name": root.name}],
            "capabilities": {
                "general": {"positionEncodings": ["utf-16"]},
                "window": {"workDoneProgress": True},
                "textDocument": {"publishDiagnostics": {"versionSupport": True}},
            },
        })
        started = time.monotonic()
        server.notify("initialized", {})
        policy = root / POLICY
        uri = policy.as_uri()
        text = policy.read_text()
        server.notify("textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        # Hover on `kind: ClusterPolicy`, completion of a rule key: both while the workspace is being indexed.
        hover = timed_request(server, "textDocument/hover", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}})
        completion = timed_request(server, "textDocument/completion", {"textDocument": {"uri": uri}, "position": {"line": 20, "character": 4}})
        server.drain_until(lambda: server.index_ended_at is not None, timeout=600)
        indexing = server.index_ended_at - started

        lines = text.split("\n")
        line = next(index for index, content in enumerate(lines) if MESSAGE_LINE in content)
        column = len(lines[line]) - 1
        latencies = []
        version = 1
        typed = 0
        for edit in range(edits):
            # Type a word of up to eight letters, then delete it, and again: the policy stays valid.
            version += 1
            if (edit // 8) % 2 == 0:
                change = {"range": {"start": {"line": line, "character": column + typed},
                                    "end": {"line": line, "character": column + typed}}, "text": "x"}
                typed += 1
            else:
                typed -= 1
                change = {"range": {"start": {"line": line, "character": column + typed},
                                    "end": {"line": line, "character": column + typed + 1}}, "text": ""}
            sent = time.monotonic()
            server.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]})
            server.drain_until(lambda: server.versions.get(uri, 0) >= version, timeout=60)
            latencies.append((time.monotonic() - sent) * 1000)
        _, peak = server.memory()
        server.request("shutdown", None)
        server.notify("exit", None)
        server.process.wait(timeout=30)
    finally:
        if server.process.poll() is None:
            server.process.kill()
    return {
        "indexing": indexing,
        "indexed": server.indexed_message,
        "peak": peak,
        "hover": hover,
        "completion": completion,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--edits", type=int, default=400)
    arguments = parser.parse_args()
    common = common_arguments(arguments)
    if common is None:
        return 2
    binary, corpus, copies = common
    scratch = Path(tempfile.mkdtemp(prefix="policy-lsp-lsp-scale-"))
    rows = []
    try:
        root = scratch / "workspace"
        for count in copies:
            # The tree grows copy by copy: the copies already there are the same files.
            build_workspace(corpus, root, count)
            result = run_one(binary, root, arguments.edits)
            # The server's own count (it skips hidden and excluded folders), else what the tree holds.
            indexed = (result["indexed"] or "").split()
            files = int(indexed[1]) if len(indexed) > 1 and indexed[1].isdigit() else count_yaml(root)
            rows.append((count, files, result))
            print(f"{count} copies: {files} YAML files; {result}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    during = lambda answer: f"{answer[0]:.0f} ms" + (" (after indexing)" if answer[1] else "")
    print("| copies | YAML files indexed | indexing | peak RSS | hover while indexing | completion while indexing | typing p50 | typing p99 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for count, files, result in rows:
        print(
            f"| {count} | {files:,} | {result['indexing']:.1f} s | {result['peak']:.0f} MB | {during(result['hover'])} "
            f"| {during(result['completion'])} | {result['p50']:.2f} ms | {result['p99']:.2f} ms |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
