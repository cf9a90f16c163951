#!/usr/bin/env python3
"""Writes SHA256SUMS for the files of release directories, in `sha256sum` format ("HASH  NAME"), sorted by name.

Usage: checksums.py DIR [DIR...] > SHA256SUMS. Only regular files directly inside each DIR are listed, by their
name alone (the release is flat); a name found twice is an error, as are an existing SHA256SUMS or no file.
"""

import hashlib
import os
import sys


def main(directories):
    if not directories:
        print(__doc__, file=sys.stderr)
        return 2
    digests = {}
    for directory in directories:
        for name in sorted(os.listdir(directory)):
            path = os.path.join(directory, name)
            if not os.path.isfile(path):
                continue
            if name == "SHA256SUMS":
                print(f"checksums.py: {path} would be listed in itself", file=sys.stderr)
                return 1
            if name in digests:
                print(f"checksums.py: {name} is in two directories", file=sys.stderr)
                return 1
            digest = hashlib.sha256()
            with open(path, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    digest.update(block)
            digests[name] = digest.hexdigest()
    if not digests:
        print("checksums.py: no files", file=sys.stderr)
        return 1
    for name in sorted(digests):
        sys.stdout.write(f"{digests[name]}  {name}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
