#!/usr/bin/env python3
"""Checks action.yml: its structure statically, then runs its shell steps the way the runner would.

GitHub's runner cannot run here, so this script plays a small part of it: it evaluates the `if:` and
`${{ }}` expressions the action uses, runs each `run:` step with bash -eo pipefail and a GITHUB_OUTPUT file,
records `uses:` steps instead of running them, and checks what happened against a real policy-lsp binary.

Usage: check_action.py PATH_TO_POLICY_LSP FIXTURES_DIR   (needs PyYAML)
"""

import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ACTION = os.path.join(HERE, "action.yml")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

results = {"passed": 0, "failed": 0, "skipped": 0}


class Skip(Exception):
    """A check that could not run here, with the reason; it is printed and counted, never passed."""


def check(name, function):
    try:
        function()
    except Skip as reason:
        results["skipped"] += 1
        print(f"SKIP {name}: {reason}")
    except AssertionError as error:
        results["failed"] += 1
        print(f"FAIL {name}: {error}")
    else:
        results["passed"] += 1
        print(f"PASS {name}")


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
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), f"unpinned action {step['uses']}"

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

    def __init__(self, action, inputs, path_prefix, workdir):
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
            return HERE
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
        assert run.uses == [
            ("github/codeql-action/upload-sarif@v4", {"sarif_file": sarif, "category": "policy-lsp"})
        ], f"uploads {run.uses}"
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
            ({"install": "action"}, f"install --locked --path {HERE}/../../server"),
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
        assert run.failed_step == "install" and "action, git, path or none" in run.output, run.output

    check("action run: lint findings give annotations, SARIF, an upload and a failure", lint_findings)
    check("action run: clean policies pass", lint_clean)
    check("action run: policy tests", tests_run)
    check("action run: install modes call cargo as documented", install_modes)


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    action = load()
    static_checks(action)
    dynamic_checks(action, sys.argv[1], os.path.abspath(sys.argv[2]))
    print(f"action checks done with {results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
