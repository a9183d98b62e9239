#!/usr/bin/env python3
"""Format is not a debate (STYLE.md 12): every C file of the project must be
as clang-format formats it with the committed .clang-format.

Usage: check_format.py CLANG_FORMAT SOURCE_DIR
"""
import os
import subprocess
import sys

DIRS = ("engine", "clients", "proto", "tests")


def main():
    tool, src = sys.argv[1], sys.argv[2]
    files = []
    for d in DIRS:
        for root, dirs, names in os.walk(os.path.join(src, d)):
            dirs[:] = [x for x in dirs if x != "corpus"]
            files += [os.path.join(root, n) for n in names if n.endswith((".c", ".h"))]
    bad = []
    for f in sorted(files):
        r = subprocess.run([tool, "--dry-run", "-Werror", "--style=file", f],
                           cwd=src, capture_output=True, text=True)
        if r.returncode != 0:
            bad.append(os.path.relpath(f, src))
    for f in bad:
        print(f"{f}: not formatted; run: clang-format -i {f}")
    print(f"{len(files)} files checked, {len(bad)} not formatted")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
