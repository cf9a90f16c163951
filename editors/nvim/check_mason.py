#!/usr/bin/env python3
"""Checks the Mason registry definition (mason/package.yaml) against the facts it must agree with.

- its shape: the top-level keys, categories and platform targets the Mason registry schema allows;
- the release: the version in `source.id` is the crate's, and each asset is an archive the release workflow
  builds for that platform (dist/build.sh's names, release.yml's matrix), holding the binary `bin` names;
- Neovim: `neovim.lspconfig` names the nvim-lspconfig entry in lsp/;
- with $POLICY_LSP_RELEASE (a release directory from dist/build.sh), the archive for this machine holds the
  binary at the path Mason links, and that binary runs;
- with --schema DIR (a checkout of mason-org/registry-schema's schemas/), JSON Schema validation too.

Usage: check_mason.py [--schema DIR]   (needs PyYAML; --schema needs jsonschema)
"""

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from checks import Skip, check, finish  # noqa: E402 - the shared reporting of editors/

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PACKAGE = os.path.join(HERE, "mason", "package.yaml")

# From the registry schema (schemas/package.schema.json, enums/category.json, enums/platform.json).
TOP_LEVEL = {"name", "description", "homepage", "licenses", "languages", "categories", "deprecation", "source",
             "schemas", "bin", "share", "opt", "neovim"}
CATEGORIES = {"Compiler", "DAP", "Formatter", "LSP", "Linter", "Runtime"}
# The Mason targets of the platforms the release builds, and each one's Rust target.
RUST_TARGET = {
    "darwin_arm64": "aarch64-apple-darwin",
    "darwin_x64": "x86_64-apple-darwin",
    "linux_x64_gnu": "x86_64-unknown-linux-gnu",
    "linux_arm64_gnu": "aarch64-unknown-linux-gnu",
    "win_x64": "x86_64-pc-windows-msvc",
}

def crate_version():
    with open(os.path.join(ROOT, "server", "Cargo.toml"), encoding="utf-8") as file:
        return re.search(r'^version = "(.+)"$', file.read(), re.M).group(1)


def released_targets():
    with open(os.path.join(ROOT, ".github", "workflows", "release.yml"), encoding="utf-8") as file:
        workflow = yaml.safe_load(file)
    return {entry["target"] for entry in workflow["jobs"]["build"]["strategy"]["matrix"]["include"]}


def main():
    schema_dir = None
    if sys.argv[1:2] == ["--schema"] and len(sys.argv) == 3:
        schema_dir = sys.argv[2]
    elif len(sys.argv) != 1:
        print(__doc__)
        return 2
    with open(PACKAGE, encoding="utf-8") as file:
        package = yaml.safe_load(file)

    def shape():
        assert set(package) <= TOP_LEVEL, f"unknown keys {sorted(set(package) - TOP_LEVEL)}"
        assert package["name"] == "policy-lsp"
        assert re.match(r"^https?://", package["homepage"]), package["homepage"]
        assert package["licenses"] == ["Apache-2.0"], package["licenses"]
        assert set(package["categories"]) <= CATEGORIES, package["categories"]
        assert "LSP" in package["categories"]
        assert package["bin"] == {"policy-lsp": "{{source.asset.bin}}"}, package["bin"]

    def release():
        match = re.fullmatch(r"pkg:github/([\w.-]+)/([\w.-]+)@v(.+)", package["source"]["id"])
        assert match, f"source.id {package['source']['id']} is not pkg:github/OWNER/REPO@vVERSION"
        assert match.group(3) == crate_version(), f"source.id has {match.group(3)}, the crate {crate_version()}"
        assert package["homepage"].rstrip("/").endswith(f"{match.group(1)}/{match.group(2)}"), "homepage is another repository"
        assets = package["source"]["asset"]
        assert {asset["target"] for asset in assets} == set(RUST_TARGET), [asset["target"] for asset in assets]
        assert {RUST_TARGET[asset["target"]] for asset in assets} == released_targets(), "release.yml builds other targets"
        for asset in assets:
            rust_target = RUST_TARGET[asset["target"]]
            windows = "windows" in rust_target
            assert asset["file"] == f"policy-lsp-{rust_target}.{'zip' if windows else 'tar.gz'}", asset
            assert asset["bin"] == ("policy-lsp.exe" if windows else "policy-lsp"), asset

    def lspconfig():
        name = package["neovim"]["lspconfig"]
        assert os.path.isfile(os.path.join(HERE, "lsp", f"{name}.lua")), f"no lsp/{name}.lua"

    def archive_holds_bin():
        release_dir = os.environ.get("POLICY_LSP_RELEASE")
        if not release_dir:
            raise Skip("POLICY_LSP_RELEASE is not set (.ci/run sets it to dist/build.sh's output)")
        asset = next(asset for asset in package["source"]["asset"] if asset["target"] == "linux_x64_gnu")
        if os.uname().sysname != "Linux" or os.uname().machine != "x86_64":
            raise Skip("the local release is for another platform")
        with tempfile.TemporaryDirectory() as unpacked:
            with tarfile.open(os.path.join(release_dir, asset["file"])) as archive:
                archive.extractall(unpacked, filter="data")
            binary = os.path.join(unpacked, asset["bin"])
            output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
            assert output.strip() == f"policy-lsp {crate_version()}", output

    def schema():
        if schema_dir is None:
            raise Skip("no --schema DIR (mason-org/registry-schema's schemas/ is not part of this repository)")
        import jsonschema
        import referencing

        resources = []
        for directory, _, files in os.walk(schema_dir):
            for name in files:
                if name.endswith(".json"):
                    with open(os.path.join(directory, name), encoding="utf-8") as file:
                        contents = json.load(file)
                    resources.append((contents["$id"], referencing.Resource.from_contents(contents)))
        registry = referencing.Registry().with_resources(resources)
        root = registry.contents("https://json.schemastore.org/mason-registry.json")
        validator = jsonschema.Draft202012Validator(root, registry=registry)
        errors = [f"{list(error.path)}: {error.message}" for error in validator.iter_errors(package)]
        assert not errors, errors

    check("mason: package.yaml has the shape of a Mason registry package", shape)
    check("mason: package.yaml downloads the release archives of the crate's version", release)
    check("mason: package.yaml names the nvim-lspconfig entry in lsp/", lspconfig)
    check("mason: the linux_x64_gnu archive of the local release holds the binary Mason links", archive_holds_bin)
    check("mason: package.yaml is valid against the Mason registry JSON schema", schema)
    return finish("mason")


if __name__ == "__main__":
    sys.exit(main())
