#!/usr/bin/env python3
"""Seeded YAML mistakes: where `policy-lsp lint` reports them against where libyaml does.

Takes YAML files of a corpus, seeds one common mistake into a copy of each (a mis-indented key, a
missing colon, a tab in the indentation, an unclosed quote or bracket, a list item out of line, a
second `: ` in a plain value), keeps the copies that libyaml rejects, lints them all in one run and
compares the line of the first syntax error policy-lsp reports with the line of libyaml's problem
mark. libyaml is PyYAML's C loader (`yaml.CSafeLoader`), the parser Kubernetes' YAML readers are
ported from. Prints, per kind of mistake, how many cases land on libyaml's line and within one line
of it, and the cases that do not (with --verbose). A key that lost its `:` is reported on the key's own
line, one before the line where libyaml notices (more when blank lines or comments come between): that
kind scores on "within one", not "same line".

    python3 server/benches/yaml_mistakes.py [--corpus ../shared/corpus] [--binary target/debug/policy-lsp]
        [--per-kind 150] [--seed 14] [--verbose]
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

import yaml

if not getattr(yaml, "__with_libyaml__", False):
    sys.exit("PyYAML was built without libyaml: install libyaml-dev and reinstall pyyaml")


def libyaml_error_line(text):
    """The 1-based line of libyaml's problem mark, or None when libyaml accepts the text."""
    try:
        for _ in yaml.load_all(text, Loader=yaml.CSafeLoader):
            pass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        return mark.line + 1 if mark else 1
    except yaml.YAMLError:
        return 1
    return None


def indent_of(line):
    return len(line) - len(line.lstrip(" "))


def is_key_line(line):
    stripped = line.strip()
    return (
        stripped
        and not stripped.startswith(("#", "-", "{", "[", "\"", "'", "|", ">"))
        and ": " in stripped + " "
        and stripped.split(":", 1)[0].replace("-", "").replace("_", "").replace(".", "").isalnum()
    )


def pick(lines, rng, test):
    """A random line index that passes `test(index, line)`, or None."""
    found = [index for index, line in enumerate(lines) if test(index, line)]
    return rng.choice(found) if found else None


def drop_closing_character(lines, rng, test):
    """The last character of a random line that passes `test` removed (an unclosed quote or bracket)."""
    index = pick(lines, rng, test)
    if index is None:
        return None
    lines[index] = lines[index].rstrip()[:-1]
    return lines


def misindent_key(lines, rng):
    """A nested key moved one column right, its sibling above left where it was."""
    def fits(index, line):
        return (
            index > 0
            and indent_of(line) > 0
            and is_key_line(line)
            and is_key_line(lines[index - 1])
            and indent_of(lines[index - 1]) == indent_of(line)
        )

    index = pick(lines, rng, fits)
    if index is None:
        return None
    lines[index] = " " + lines[index]
    return lines


def missing_colon(lines, rng):
    """`key: value` written `key value`, or `key:` written `key`."""
    index = pick(lines, rng, lambda index, line: is_key_line(line))
    if index is None:
        return None
    line = lines[index]
    position = line.index(":")
    lines[index] = line[:position] + line[position + 1:]
    return lines


def tab_indentation(lines, rng):
    """The indentation of an indented line written with a tab."""
    index = pick(lines, rng, lambda index, line: indent_of(line) >= 2 and line.strip() and not line.strip().startswith("#"))
    if index is None:
        return None
    line = lines[index]
    lines[index] = "\t" + line[2:]
    return lines


def unclosed_quote(lines, rng):
    """A double-quoted value without its closing quote."""
    def fits(index, line):
        stripped = line.rstrip()
        return stripped.endswith("\"") and ": \"" in stripped and stripped.count("\"") == 2

    return drop_closing_character(lines, rng, fits)


def unclosed_bracket(lines, rng):
    """A flow sequence without its closing bracket."""
    def fits(index, line):
        stripped = line.rstrip()
        return stripped.endswith("]") and ": [" in stripped and stripped.count("[") == 1 and "\"" not in stripped

    return drop_closing_character(lines, rng, fits)


def misindent_item(lines, rng):
    """A list item moved one column left of its siblings."""
    def fits(index, line):
        stripped = line.lstrip(" ")
        return (
            index > 0
            and stripped.startswith("- ")
            and indent_of(line) > 0
            and lines[index - 1].lstrip(" ").startswith("- ") is False
            and any(
                other.lstrip(" ").startswith("- ") and indent_of(other) == indent_of(line)
                for other in lines[index + 1:index + 40]
            )
        )

    index = pick(lines, rng, fits)
    if index is None:
        return None
    lines[index] = lines[index][1:]
    return lines


def second_colon(lines, rng):
    """A plain value holding `: ` (`image: nginx: latest`)."""
    def fits(index, line):
        stripped = line.strip()
        if not is_key_line(line) or stripped.endswith(":"):
            return False
        value = stripped.split(": ", 1)[1] if ": " in stripped else ""
        return value and value[0].isalnum() and "#" not in value

    index = pick(lines, rng, fits)
    if index is None:
        return None
    lines[index] = lines[index].rstrip() + ": more"
    return lines


MISTAKES = [
    ("mis-indented key", misindent_key),
    ("missing colon", missing_colon),
    ("tab in indentation", tab_indentation),
    ("unclosed quote", unclosed_quote),
    ("unclosed bracket", unclosed_bracket),
    ("list item out of line", misindent_item),
    ("second colon in a value", second_colon),
]


def corpus_files(corpus):
    found = []
    for folder in ("kyverno-policies", "gatekeeper-library"):
        for root, directories, files in os.walk(os.path.join(corpus, folder)):
            directories[:] = sorted(d for d in directories if not d.startswith(".chainsaw-test"))
            for name in sorted(files):
                if name.endswith((".yaml", ".yml")):
                    found.append(os.path.join(root, name))
    return found


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.path.join(here, "..", "..", "..", "shared", "corpus"))
    parser.add_argument("--binary", default=os.path.join(here, "..", "..", "target", "debug", "policy-lsp"))
    parser.add_argument("--per-kind", type=int, default=150)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument(
        "--minimum",
        type=float,
        default=0.0,
        help="exit 1 when fewer than this percentage of all cases land within one line of libyaml's",
    )
    arguments = parser.parse_args()

    rng = random.Random(arguments.seed)
    files = corpus_files(arguments.corpus)
    if not files:
        sys.exit(f"no YAML files under {arguments.corpus}")
    sources = {}
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if "\t" not in text and libyaml_error_line(text) is None:
            sources[path] = text
    paths = sorted(sources)

    cases = []  # (kind, file written, libyaml line, original path)
    # With --verbose the seeded files stay on disk, so the misses it prints can be opened.
    workdir = tempfile.mkdtemp(prefix="yaml-mistakes-")
    try:
        for kind, seed_mistake in MISTAKES:
            order = paths[:]
            rng.shuffle(order)
            made = 0
            for path in order:
                if made >= arguments.per_kind:
                    break
                lines = sources[path].split("\n")
                mutated = seed_mistake(lines[:], rng)
                if mutated is None:
                    continue
                text = "\n".join(mutated)
                expected = libyaml_error_line(text)
                if expected is None:
                    continue
                made += 1
                name = os.path.join(workdir, kind.replace(" ", "-"), f"{made:04d}.yaml")
                os.makedirs(os.path.dirname(name), exist_ok=True)
                with open(name, "w", encoding="utf-8") as handle:
                    handle.write(text)
                cases.append((kind, name, expected, path))
        completed = subprocess.run(
            [arguments.binary, "lint", workdir, "--output", "json"], capture_output=True, text=True, check=False
        )
        if not completed.stdout.strip():
            sys.exit(f"policy-lsp printed nothing: {completed.stderr}")
        report = json.loads(completed.stdout)
    finally:
        if not arguments.verbose:
            shutil.rmtree(workdir, ignore_errors=True)

    first_syntax_line = {}
    for diagnostic in report["diagnostics"]:
        if not diagnostic["code"].startswith("yaml/"):
            continue
        known = first_syntax_line.get(diagnostic["file"])
        if known is None or diagnostic["line"] < known:
            first_syntax_line[diagnostic["file"]] = diagnostic["line"]

    print(f"{'mistake':<26} {'cases':>5} {'same line':>10} {'within one':>11}")
    totals = [0, 0, 0]
    for kind, _ in MISTAKES:
        mine = [case for case in cases if case[0] == kind]
        exact = within = 0
        for _, name, expected, original in mine:
            reported = first_syntax_line.get(name)
            if reported == expected:
                exact += 1
            if reported is not None and abs(reported - expected) <= 1:
                within += 1
            elif arguments.verbose:
                print(f"  MISS {kind}: libyaml line {expected}, policy-lsp {reported}: {name} (from {original})")
        totals[0] += len(mine)
        totals[1] += exact
        totals[2] += within
        if mine:
            print(f"{kind:<26} {len(mine):>5} {100 * exact / len(mine):>9.1f}% {100 * within / len(mine):>10.1f}%")
    if totals[0] == 0:
        sys.exit("no seeded case was rejected by libyaml: nothing was measured")
    within_percent = 100 * totals[2] / totals[0]
    print(f"{'all':<26} {totals[0]:>5} {100 * totals[1] / totals[0]:>9.1f}% {within_percent:>10.1f}%")
    if within_percent < arguments.minimum:
        sys.exit(f"yaml-mistakes: {within_percent:.1f}% within one line of libyaml, below {arguments.minimum}%")


if __name__ == "__main__":
    main()
