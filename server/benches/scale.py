#!/usr/bin/env python3
"""Scale benchmark (#18): `lint` and `test` on a monorepo of N copies of the conformance corpus.

For each N (default 1, 5, 10, 20) it builds a workspace of N copies of ../shared/corpus under a temporary
directory (hard links where the file system allows, so 20 copies cost little disk), then measures the wall
time and the peak resident memory of `policy-lsp lint` and `policy-lsp test` on it, as the kernel reports
them for the child process (wait4's ru_maxrss; no third-party module). On the largest tree it also makes it
a git repository, changes one policy, and measures `lint --changed-since HEAD` and `test --changed-since
HEAD`. It prints a Markdown table; the temporary tree is deleted at the end.

    cargo build --release -p policy-lsp
    python3 server/benches/scale.py --binary target/release/policy-lsp [--copies 1,5,10,20] [--corpus DIR]

(the corpus defaults to $POLICY_LSP_CORPUS, else ../shared/corpus beside the repository).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def copy_tree(source: Path, target: Path) -> None:
    """Copies `source` to `target` with hard links, falling back to copies across file systems."""

    def link(src, dst):
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    shutil.copytree(source, target, copy_function=link, symlinks=True)


def build_workspace(corpus: Path, root: Path, copies: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for index in range(copies):
        target = root / f"copy-{index:02}"
        if not target.exists():
            copy_tree(corpus, target)


def count_yaml(root: Path) -> int:
    return sum(1 for path in root.rglob("*") if path.suffix in (".yaml", ".yml") and path.is_file())


def measure(command: list, directory: Path, cache: str = "") -> tuple:
    """Runs `command` in `directory` with `cache` as its cache folder (empty: none); returns (seconds, peak
    RSS in MB, exit code)."""
    environment = {**os.environ, "POLICY_LSP_CACHE_DIR": cache}
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=directory, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    # Linux reports ru_maxrss in kilobytes.
    return elapsed, usage.ru_maxrss / 1024, process.returncode


def git(directory: Path, *arguments: str) -> None:
    subprocess.run(["git", "-C", str(directory), *arguments], check=True, stdout=subprocess.DEVNULL)


def median_of(command: list, directory: Path, runs: int, cache: str = "") -> tuple:
    """The run of median wall time among `runs` runs of `command` (seconds, peak RSS in MB, exit code)."""
    results = sorted((measure(command, directory, cache) for _ in range(runs)), key=lambda result: result[0])
    return results[len(results) // 2]


def change_one_policy(root: Path) -> Path:
    """Edits one policy of the first copy without touching the corpus the tree is linked to."""
    policy = root / "copy-00" / "kyverno-policies" / "best-practices" / "require-labels" / "require-labels.yaml"
    text = policy.read_text()
    replacement = policy.with_suffix(".tmp")
    replacement.write_text(text.replace("The label `app.kubernetes.io/name` is required.", "A name label is required.", 1) + "\n")
    # A new inode: the hard-linked original in the corpus stays as it was.
    os.replace(replacement, policy)
    return policy


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """--binary, --corpus and --copies, as this benchmark and server/benches/lsp/workspace_index.py take them."""
    parser.add_argument("--binary", default=str(REPOSITORY / "target" / "release" / "policy-lsp"))
    parser.add_argument(
        "--corpus", default=os.environ.get("POLICY_LSP_CORPUS", str(REPOSITORY.parent / "shared" / "corpus"))
    )
    parser.add_argument("--copies", default="1,5,10,20")


def common_arguments(arguments) -> tuple:
    """(binary, corpus, sorted copies) from the common arguments, or None (said on stderr) without a corpus."""
    corpus = Path(arguments.corpus).resolve()
    if not corpus.is_dir():
        print(f"error: no corpus at {corpus}", file=sys.stderr)
        return None
    copies = sorted(int(count) for count in arguments.copies.split(","))
    return str(Path(arguments.binary).resolve()), corpus, copies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_arguments(parser)
    parser.add_argument("--keep", action="store_true", help="keep the temporary tree")
    arguments = parser.parse_args()
    common = common_arguments(arguments)
    if common is None:
        return 2
    binary, corpus, copies = common
    scratch = Path(tempfile.mkdtemp(prefix="policy-lsp-scale-"))
    rows = []
    try:
        for count in copies:
            root = scratch / f"copies-{count}"
            # Each size is its own tree of links, so each run walks exactly N copies.
            build_workspace(corpus, root, count)
            files = count_yaml(root)
            lint = measure([binary, "lint", "."], root)
            test = measure([binary, "test", "."], root)
            rows.append((count, files, lint, test))
            print(f"{count} copies: {files} YAML files; lint {lint[0]:.1f} s {lint[1]:.0f} MB; test {test[0]:.1f} s {test[1]:.0f} MB", file=sys.stderr, flush=True)
            if count != copies[-1]:
                shutil.rmtree(root)
        largest = scratch / f"copies-{copies[-1]}"
        git(largest, "init", "--quiet")
        git(largest, "add", "--all")
        git(largest, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "--quiet", "-m", "corpus")
        change_one_policy(largest)
        # The median of five runs each: one run of under a second is at the mercy of the machine's noise.
        # Without a cache (a fresh CI machine), then with the one the first run of a developer's fills.
        changed = {}
        cache = str(scratch / "cache")
        for label, cache_folder in (("no cache", ""), ("cache", cache)):
            for command in ("lint", "test"):
                command_line = [binary, command, "--changed-since", "HEAD", "."]
                if cache_folder:
                    measure(command_line, largest, cache_folder)
                changed[(label, command)] = median_of(command_line, largest, 5, cache_folder)
    finally:
        if arguments.keep:
            print(f"kept {scratch}", file=sys.stderr)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    base_lint, base_test = rows[0][2][0], rows[0][3][0]
    print("| copies | YAML files | lint time | lint peak RSS | test time | test peak RSS |")
    print("|---:|---:|---:|---:|---:|---:|")
    for count, files, lint, test in rows:
        print(
            f"| {count} | {files:,} | {lint[0]:.1f} s ({lint[0] / base_lint:.1f}x) | {lint[1]:.0f} MB "
            f"| {test[0]:.1f} s ({test[0] / base_test:.1f}x) | {test[1]:.0f} MB |"
        )
    print()
    print(f"One changed policy in {copies[-1]} copies (`--changed-since HEAD`, the median of five runs):")
    for label in ("no cache", "cache"):
        lint, test = changed[(label, "lint")], changed[(label, "test")]
        print(f"{label}: lint {lint[0]:.2f} s, {lint[1]:.0f} MB (exit {lint[2]}); "
              f"test {test[0]:.2f} s, {test[1]:.0f} MB (exit {test[2]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
