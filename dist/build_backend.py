"""The PEP 517 backend of `pip install .`: maturin, after putting rustup's cargo on PATH when only PATH lacks it.

rustup installs cargo in ~/.cargo/bin (or $CARGO_HOME/bin) and asks the shell profile to put that on PATH; a
shell that did not read the profile, or a pip started from an IDE, has no `cargo`, and maturin would then
download a second toolchain. With no toolchain at all, maturin's own bootstrap (puccinialin) installs one.
"""

import os
import shutil


def _add_rustup_cargo_to_path():
    if shutil.which("cargo"):
        return
    cargo_home = os.environ.get("CARGO_HOME") or os.path.join(os.path.expanduser("~"), ".cargo")
    directory = os.path.join(cargo_home, "bin")
    if shutil.which("cargo", path=directory):
        os.environ["PATH"] = directory + os.pathsep + os.environ.get("PATH", "")


_add_rustup_cargo_to_path()

from maturin import (  # noqa: E402 - cargo must be on PATH before maturin looks for it
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)

__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
