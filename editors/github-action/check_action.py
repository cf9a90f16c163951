#!/usr/bin/env python3
"""Checks action.yml: its structure statically, then runs its shell steps the way the runner would.

GitHub's runner cannot run here, so this script plays a small part of it: it evaluates the `if:` and
`${{ }}` expressions the action uses, runs each `run:` step with bash -eo pipefail and a GITHUB_OUTPUT file,
records `uses:` steps instead of running them, and checks what happened against a real policy-lsp binary.
The release install downloads from a release served on 127.0.0.1: the directory in $POLICY_LSP_RELEASE (what
dist/build.sh and dist/checksums.py made in .ci/run), else one made here from the binary in the same layout.

Usage: check_action.py PATH_TO_POLICY_LSP FIXTURES_DIR   (needs PyYAML)
"""

import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import Skip, check, finish, results  # noqa: E402 - the shared reporting of editors/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
ACTION = os.path.join(HERE, "action.yml")
# What the runner of this machine would report, and the release asset it needs (the layout of dist/build.sh).
RUNNER = {"Linux-x86_64": ("Linux", "X64", "x86_64-unknown-linux-gnu")}.get(f"{os.uname().sysname}-{os.uname().machine}")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

def load():
    with open(ACTION, encoding="utf-8") as file:
        return yaml.safe_load(file)


def references(text):
    """The context references (inputs.x, steps.y.outputs.z, github.x) in the expressions of a text."""
    found = []
    for expression in EXPRESSION.findall(text):
        found += re.findall(r"\b(?:inputs|steps|github)\.[A-Za-z0-9_.-]+", expression)
    return found


def static_checks(action):
    steps = action["runs"]["steps"]

    def structure():
        for key in ("name", "description", "inputs", "outputs", "runs"):
            assert key in action, f"missing top-level `{key}`"
        assert action["runs"]["using"] == "composite", "runs.using must be composite"
        for name, spec in action["inputs"].items():
            assert "description" in spec, f"input {name} has no description"
            assert isinstance(spec.get("default", ""), str), f"input {name}: defaults must be strings"
        for name, spec in action["outputs"].items():
            assert "description" in spec and "value" in spec, f"output {name} needs description and value"

    def steps_are_well_formed():
        for step in steps:
            assert ("run" in step) != ("uses" in step), f"step {step.get('name')} needs exactly one of run/uses"
            if "run" in step:
                assert "shell" in step, f"composite run step {step.get('name')} needs `shell`"
                # Inputs reach scripts through env only: an expression inside a script is an injection risk.
                assert "${{" not in step["run"], f"step {step.get('name')} has an expression inside `run`"
            else:
                # Pinned by commit: a tag can be moved to other code, a commit cannot.
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", step["uses"]), f"unpinned action {step['uses']}"

    def references_resolve():
        declared_inputs = set(action["inputs"])
        used_inputs = set()
        seen_steps = set()
        for step in steps:
            text = json.dumps({k: v for k, v in step.items() if k != "run"})
            for reference in references(text):
                parts = reference.split(".")
                if parts[0] == "inputs":
                    assert parts[1] in declared_inputs, f"undeclared input {parts[1]}"
                    used_inputs.add(parts[1])
                elif parts[0] == "steps":
                    assert parts[1] in seen_steps, f"step {parts[1]} is referenced before it runs"
            if "id" in step:
                seen_steps.add(step["id"])
        for name, spec in action["outputs"].items():
            for reference in references(spec["value"]):
                assert reference.split(".")[1] in seen_steps, f"output {name} names an unknown step"
        assert used_inputs == declared_inputs, f"inputs never used: {sorted(declared_inputs - used_inputs)}"

    def uploads_sarif():
        uploads = [step for step in steps if step.get("uses", "").startswith("github/codeql-action/upload-sarif@")]
        assert len(uploads) == 1, "expected one github/codeql-action/upload-sarif step"
        assert "always()" in uploads[0]["if"], "the SARIF upload must run even when the lint found problems"

    check("action.yml: structure", structure)
    check("action.yml: steps are well formed", steps_are_well_formed)
    check("action.yml: every reference resolves and every input is used", references_resolve)
    check("action.yml: uploads SARIF with codeql-action", uploads_sarif)


class Run:
    """One simulated run of the action: the outputs of its steps, what it printed and the `uses` it reached."""

    def __init__(self, action, inputs, path_prefix, workdir, runner_env=None, action_path=HERE):
        self.action_path = action_path
        self.inputs = {name: spec.get("default", "") for name, spec in action["inputs"].items()}
        self.inputs.update(inputs)
        self.steps = {}
        self.uses = []
        self.output = ""
        self.failed_step = None
        for step in action["runs"]["steps"]:
            condition = step.get("if", "success()")
            if not self.evaluate(condition, failed=self.failed_step is not None):
                continue
            if "uses" in step:
                self.uses.append((step["uses"], {k: self.substitute(v) for k, v in step.get("with", {}).items()}))
                continue
            env = dict(os.environ)
            env["PATH"] = path_prefix + os.pathsep + env["PATH"]
            env.update(runner_env or {})
            env.update({k: self.substitute(str(v)) for k, v in step.get("env", {}).items()})
            with tempfile.NamedTemporaryFile("r", delete=False) as outputs:
                env["GITHUB_OUTPUT"] = outputs.name
            process = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                env=env,
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=120,
            )
            self.output += process.stdout + process.stderr
            values = {}
            with open(outputs.name, encoding="utf-8") as file:
                for line in file:
                    key, _, value = line.rstrip("\n").partition("=")
                    values[key] = value
            os.unlink(outputs.name)
            if "id" in step:
                self.steps[step["id"]] = values
            if process.returncode != 0 and self.failed_step is None:
                self.failed_step = step.get("id") or step.get("name")
        self.outputs = {name: self.substitute(spec["value"]) for name, spec in action["outputs"].items()}

    def value(self, reference):
        parts = reference.split(".")
        if parts[0] == "inputs":
            return self.inputs[parts[1]]
        if parts[0] == "steps":
            return self.steps.get(parts[1], {}).get(parts[3], "")
        if reference == "github.action_path":
            return self.action_path
        raise AssertionError(f"the checker does not know {reference}")

    def substitute(self, text):
        return EXPRESSION.sub(lambda match: self.value(match.group(1).strip()), text)

    def evaluate(self, condition, failed):
        """Evaluates the small expression language the action uses: functions, ==, !=, && and literals."""
        expression = EXPRESSION.fullmatch(condition.strip())
        expression = expression.group(1) if expression else condition
        python = re.sub(r"\b(?:inputs|steps|github)\.[A-Za-z0-9_.-]+", lambda m: repr(self.value(m.group(0))), expression)
        python = python.replace("&&", " and ").replace("||", " or ").replace("!=", "<>").replace("!", " not ")
        python = python.replace("<>", "!=")
        python = python.replace("always()", "True").replace("success()", repr(not failed))
        python = python.replace("failure()", repr(failed)).replace("cancelled()", "False")
        return bool(eval(python, {"__builtins__": {}}, {}))  # noqa: S307 - input is our own action.yml


def dynamic_checks(action, binary, fixtures):
    work = tempfile.mkdtemp(prefix="policy-lsp-action-")
    bin_dir = os.path.join(work, "bin")
    os.mkdir(bin_dir)
    os.symlink(os.path.abspath(binary), os.path.join(bin_dir, "policy-lsp"))
    broken = os.path.join(fixtures, "require-team.yaml")
    clean = os.path.join(fixtures, "kyverno-test")

    def lint_findings():
        sarif = os.path.join(work, "findings.sarif")
        run = Run(action, {"install": "none", "paths": broken, "test": "false", "sarif-file": sarif}, bin_dir, work)
        assert run.outputs["lint-exit-code"] == "1", f"lint exit code {run.outputs['lint-exit-code']!r}\n{run.output}"
        assert run.outputs["test-exit-code"] == "", "the test step ran although test: false"
        assert re.search(r"^::error file=[^,]*require-team\.yaml,line=14", run.output, re.M), run.output
        with open(sarif, encoding="utf-8") as file:
            report = json.load(file)
        assert report["version"] == "2.1.0", "not SARIF 2.1.0"
        rule_ids = [result["ruleId"] for result in report["runs"][0]["results"]]
        assert rule_ids == ["schema/enum"], f"SARIF results {rule_ids}"
        upload = next(step["uses"] for step in action["runs"]["steps"] if "upload-sarif@" in step.get("uses", ""))
        assert run.uses == [(upload, {"sarif_file": sarif, "category": "policy-lsp"})], f"uploads {run.uses}"
        assert run.failed_step not in (None, "install", "lint"), f"failed at {run.failed_step}"
        assert run.failed_step is not None, "the action succeeded although lint found an error"

    def lint_clean():
        run = Run(action, {"install": "none", "paths": clean, "test": "false", "upload-sarif": "false"}, bin_dir, work)
        assert run.outputs["lint-exit-code"] == "0", f"lint exit code {run.outputs['lint-exit-code']!r}\n{run.output}"
        assert run.uses == [], "uploaded although upload-sarif: false"
        assert run.failed_step is None, f"failed at {run.failed_step}\n{run.output}"

    def tests_run():
        probe = subprocess.run([binary, "test", "--help"], capture_output=True, text=True)
        if probe.returncode != 0:
            raise Skip("this server has no `test` subcommand yet, so the test step was not exercised")
        run = Run(action, {"install": "none", "paths": clean, "lint": "false"}, bin_dir, work)
        assert run.outputs["test-exit-code"] == "0", f"test exit code {run.outputs['test-exit-code']!r}\n{run.output}"
        assert run.failed_step is None, f"failed at {run.failed_step}\n{run.output}"

    def install_modes():
        # A stand-in cargo records its arguments and installs the real binary, so each mode's command is seen.
        fake = os.path.join(work, "fake-cargo")
        os.makedirs(fake, exist_ok=True)
        log = os.path.join(work, "cargo-args")
        with open(os.path.join(fake, "cargo"), "w", encoding="utf-8") as script:
            script.write(f'#!/bin/sh\necho "$@" >> {log}\nln -sf {os.path.abspath(binary)} {fake}/policy-lsp\n')
        os.chmod(os.path.join(fake, "cargo"), 0o755)
        cases = [
            ({"install": "cargo"}, f"install --locked --path {HERE}/../../server"),
            ({"install": "path", "crate-path": "server"}, "install --locked --path server"),
            ({"install": "git", "git-url": "https://example.invalid/p.git", "git-ref": "abc123"},
             "install --locked --git https://example.invalid/p.git --rev abc123 policy-lsp"),
        ]
        for inputs, expected in cases:
            if os.path.exists(log):
                os.unlink(log)
            if os.path.exists(os.path.join(fake, "policy-lsp")):
                os.unlink(os.path.join(fake, "policy-lsp"))
            run = Run(action, {**inputs, "lint": "false", "test": "false", "upload-sarif": "false"}, fake, work)
            with open(log, encoding="utf-8") as file:
                assert file.read().strip() == expected, f"{inputs}: cargo got another command"
            assert run.failed_step is None, f"{inputs}: failed at {run.failed_step}\n{run.output}"
        run = Run(action, {"install": "git", "lint": "false", "test": "false"}, fake, work)
        assert run.failed_step == "install" and "git-url" in run.output, "git without git-url must fail clearly"
        run = Run(action, {"install": "brew", "lint": "false", "test": "false"}, fake, work)
        assert run.failed_step == "install" and "release, cargo, git, path or none" in run.output, run.output

    check("action run: lint findings give annotations, SARIF, an upload and a failure", lint_findings)
    check("action run: clean policies pass", lint_clean)
    check("action run: policy tests", tests_run)
    check("action run: install modes call cargo as documented", install_modes)


def version_of_action():
    with open(os.path.join(ROOT, "server", "Cargo.toml"), encoding="utf-8") as file:
        return re.search(r'^version = "(.+)"$', file.read(), re.M).group(1)


def sha256(path):
    with open(path, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def make_release(binary, directory, target):
    """A release of one archive in dist/build.sh's layout, for when .ci/run did not pass its own."""
    staging = tempfile.mkdtemp(prefix="policy-lsp-archive-")
    shutil.copy(binary, os.path.join(staging, "policy-lsp"))
    os.chmod(os.path.join(staging, "policy-lsp"), 0o755)
    with tarfile.open(os.path.join(directory, f"policy-lsp-{target}.tar.gz"), "w:gz") as archive:
        for name in ("policy-lsp", "LICENSE", "README.md"):
            archive.add(os.path.join(staging, name) if name == "policy-lsp" else os.path.join(ROOT, name), arcname=name)
    shutil.rmtree(staging)
    sums = subprocess.run(
        [sys.executable, os.path.join(ROOT, "dist", "checksums.py"), directory], capture_output=True, text=True, check=True
    )
    with open(os.path.join(directory, "SHA256SUMS"), "w", encoding="utf-8") as file:
        file.write(sums.stdout)


class ReleaseServer:
    """Serves release directories on 127.0.0.1 (`/<name>/<file>`) and records every path asked for."""

    def __init__(self, root):
        self.requests = []
        requests = self.requests

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=root))
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def release_checks(action, binary, fixtures):
    if RUNNER is None:

        def no_archive():
            raise Skip(f"the release has no archive for {os.uname().sysname} {os.uname().machine}")

        check("action release: the release install", no_archive)
        return
    runner_os, runner_arch, target = RUNNER
    version = version_of_action()
    asset = f"policy-lsp-{target}.tar.gz"
    work = tempfile.mkdtemp(prefix="policy-lsp-release-")
    served = os.path.join(work, "served")
    good = os.path.join(served, f"v{version}")
    os.makedirs(good)
    given = os.environ.get("POLICY_LSP_RELEASE")
    if given:
        for name in os.listdir(given):
            shutil.copy(os.path.join(given, name), good)
        origin = f"the release dist/build.sh made ({given})"
    else:
        make_release(binary, good, target)
        origin = "a release made from the binary"
    # The same files, with the archive's line of SHA256SUMS changed: the download must be refused.
    tampered = os.path.join(served, "tampered")
    shutil.copytree(good, tampered)
    with open(os.path.join(good, "SHA256SUMS"), encoding="utf-8") as file:
        sums = file.read()
    real = sha256(os.path.join(good, asset))
    assert f"{real}  {asset}\n" in sums, f"SHA256SUMS of {good} does not list {asset} with its hash"
    with open(os.path.join(tampered, "SHA256SUMS"), "w", encoding="utf-8") as file:
        file.write(sums.replace(real, "0" * 64))
    # A release whose SHA256SUMS does not list the archive at all.
    unlisted = os.path.join(served, "unlisted")
    shutil.copytree(good, unlisted)
    with open(os.path.join(unlisted, "SHA256SUMS"), "w", encoding="utf-8") as file:
        file.write("".join(line for line in sums.splitlines(True) if not line.endswith(f"  {asset}\n")))
    server = ReleaseServer(served)
    # The release steps put nothing of their own on PATH (the install step's output names the binary).
    empty_bin = os.path.join(work, "empty-bin")
    os.mkdir(empty_bin)

    def runner_env(tool_cache):
        return {
            "RUNNER_OS": runner_os,
            "RUNNER_ARCH": runner_arch,
            "RUNNER_TOOL_CACHE": tool_cache,
            "RUNNER_TEMP": work,
            "GITHUB_SERVER_URL": "https://github.com",
            "GITHUB_REPOSITORY": "someone/policies",
        }

    clean = os.path.join(fixtures, "kyverno-test")
    installed = os.path.join(work, "tool-cache", "policy-lsp", version, target)

    def download_and_verify():
        server.requests.clear()
        inputs = {"release-url": f"{server.url}/v{version}", "lint": "false", "test": "false"}
        started = time.monotonic()
        run = Run(action, inputs, empty_bin, work, runner_env(os.path.join(work, "tool-cache")))
        seconds = time.monotonic() - started
        assert run.failed_step is None, f"failed at {run.failed_step}\n{run.output}"
        assert run.steps["install"]["binary"] == os.path.join(installed, "policy-lsp"), run.steps["install"]
        assert run.outputs["policy-lsp"] == os.path.join(installed, "policy-lsp"), run.outputs
        assert f"policy-lsp {version} downloaded from {server.url}/v{version}/{asset} (SHA-256 {real})" in run.output, run.output
        assert sorted(server.requests) == sorted([f"/v{version}/SHA256SUMS", f"/v{version}/{asset}"]), server.requests
        cache = [uses for uses in run.uses if uses[0].startswith("actions/cache@")]
        assert cache == [(cache[0][0], {"path": installed, "key": f"policy-lsp-{version}-{target}"})], run.uses
        print(f"    release install from {origin}: {seconds:.2f} s (resolve, download, SHA-256, extract, --version)")

    def cached_and_run():
        server.requests.clear()
        inputs = {"release-url": f"{server.url}/v{version}", "paths": clean, "upload-sarif": "false"}
        run = Run(action, inputs, empty_bin, work, runner_env(os.path.join(work, "tool-cache")))
        assert run.failed_step is None, f"failed at {run.failed_step}\n{run.output}"
        assert f"policy-lsp {version} from the cache" in run.output, run.output
        assert server.requests == [], f"downloaded again: {server.requests}"
        assert run.outputs["lint-exit-code"] == "0" and run.outputs["test-exit-code"] == "0", run.output

    def refused(release, message):
        def check_refusal():
            tool_cache = os.path.join(work, f"tool-cache-{release}")
            inputs = {"release-url": f"{server.url}/{release}", "version": version, "lint": "false", "test": "false"}
            run = Run(action, inputs, empty_bin, work, runner_env(tool_cache))
            assert run.failed_step == "install", f"the install did not fail\n{run.output}"
            assert re.search(message, run.output), run.output
            assert not os.path.exists(os.path.join(tool_cache, "policy-lsp", version, target, "policy-lsp")), "installed anyway"
        return check_refusal

    def default_url():
        # Used from another repository, the action lives in <runner>/_actions/OWNER/REPO/REF/editors/github-action;
        # a stand-in curl records the address and fails, so nothing leaves the machine.
        ref = os.path.join(work, "_actions", "acme", "policy-lsp", f"v{version}")
        os.makedirs(ref)
        os.symlink(os.path.join(ROOT, "editors"), os.path.join(ref, "editors"))
        os.symlink(os.path.join(ROOT, "server"), os.path.join(ref, "server"))
        fake = os.path.join(work, "fake-curl")
        os.mkdir(fake)
        log = os.path.join(work, "curl-args")
        with open(os.path.join(fake, "curl"), "w", encoding="utf-8") as script:
            script.write(f'#!/bin/sh\necho "$@" >> {log}\nexit 22\n')
        os.chmod(os.path.join(fake, "curl"), 0o755)
        env = runner_env(os.path.join(work, "tool-cache-url"))
        run = Run(action, {"lint": "false", "test": "false"}, fake, work, env, os.path.join(ref, "editors", "github-action"))
        assert run.failed_step == "install", run.output
        expected = f"https://github.com/acme/policy-lsp/releases/download/v{version}"
        assert run.steps["release"]["url"] == expected, run.steps
        with open(log, encoding="utf-8") as file:
            assert file.readline().split()[-1] == f"{expected}/SHA256SUMS", "curl was asked for another address"
        # A local copy of the action (uses: ./editors/github-action) downloads from the workflow's repository.
        run = Run(action, {"lint": "false", "test": "false"}, fake, work, env)
        expected = f"https://github.com/someone/policies/releases/download/v{version}"
        assert run.steps["release"]["url"] == expected, run.steps

    def unsupported_platform():
        env = {**runner_env(os.path.join(work, "tool-cache-x86")), "RUNNER_ARCH": "X86"}
        run = Run(action, {"release-url": f"{server.url}/v{version}", "lint": "false", "test": "false"}, empty_bin, work, env)
        assert run.failed_step == "release" and "no release archive for Linux X86; use install: cargo" in run.output, run.output

    try:
        check("action release: downloads the archive, checks its SHA-256 and caches it by version", download_and_verify)
        check("action release: a second run lints and tests with the cached binary, downloading nothing", cached_and_run)
        check("action release: a wrong checksum is refused and nothing is installed", refused("tampered", r"has SHA-256 [0-9a-f]{64}, but .* says 0{64}: not installed"))
        check("action release: an archive missing from SHA256SUMS is refused", refused("unlisted", r"SHA256SUMS lists no " + re.escape(asset)))
        check("action release: a missing release fails the install", refused("v0.0.0-none", r"404"))
        check("action release: the default address is the action's own repository and version", default_url)
        check("action release: a platform without an archive says to use install: cargo", unsupported_platform)
    finally:
        server.close()
        shutil.rmtree(work, ignore_errors=True)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    action = load()
    static_checks(action)
    dynamic_checks(action, sys.argv[1], os.path.abspath(sys.argv[2]))
    try:
        release_checks(action, sys.argv[1], os.path.abspath(sys.argv[2]))
    except (AssertionError, OSError, subprocess.CalledProcessError) as error:
        results["failed"] += 1
        print(f"FAIL action release: the local release could not be set up: {error}")
    return finish("action")


if __name__ == "__main__":
    sys.exit(main())
