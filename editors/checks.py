"""PASS/FAIL/SKIP lines for the Python checks of editors/, which editors/test.sh counts.

Each check is a function that raises AssertionError (or an OSError or a failed command) when it fails and
`Skip` when it cannot run here; `finish` prints the totals and gives the exit code.
"""

import subprocess

results = {"passed": 0, "failed": 0, "skipped": 0}


class Skip(Exception):
    """A check that could not run here, with the reason; it is printed and counted, never passed."""


def check(name, function):
    try:
        function()
    except Skip as reason:
        results["skipped"] += 1
        print(f"SKIP {name}: {reason}")
    except (AssertionError, KeyError, OSError, subprocess.CalledProcessError) as error:
        results["failed"] += 1
        print(f"FAIL {name}: {error}")
    else:
        results["passed"] += 1
        print(f"PASS {name}")


def finish(what):
    """Prints the totals of the checks so far; the exit code is 1 when one failed."""
    print(f"{what} checks done with {results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    return 1 if results["failed"] else 0
