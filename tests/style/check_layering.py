#!/usr/bin/env python3
"""Keep the direction of the engine's dependencies (issue: the extractor seam).

1. Only the orchestrator (engine/src/engine.c) knows the order of the stages:
   no other object of the scanning library -- stage, detector, extractor or
   service -- may use a symbol the orchestrator defines. They talk through
   the scan context (scan.c) and their own interfaces instead.
2. The daemon (engine/daemon/) is a program over the library's public API: it
   includes its own headers and zerohour/*.h, never the library's internals.

Usage: check_layering.py SOURCE_DIR OBJECT...  (the objects of zh-engine)
"""
import os
import re
import subprocess
import sys


def symbols(obj, flag):
    out = subprocess.run(["nm", flag, obj], check=True, capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if flag == "-u" and len(parts) == 2 and parts[0] == "U":
            names.add(parts[1])
        elif flag != "-u" and len(parts) == 3 and parts[1] in "TDBR":
            names.add(parts[2])
    return names


def main():
    src = sys.argv[1]
    # CMake hands $<TARGET_OBJECTS:...> over as one ;-separated argument.
    objects = [o for arg in sys.argv[2:] for o in arg.split(";") if o]
    problems = []
    orchestrator = next((o for o in objects if o.endswith("src/engine.c.o")), None)
    if not orchestrator:
        print("no src/engine.c.o among the objects")
        return 1
    defined = symbols(orchestrator, "--defined-only")
    if not defined:
        problems.append(f"{orchestrator}: defines no symbol (wrong object given?)")
    for obj in objects:
        if os.path.samefile(obj, orchestrator):
            continue
        for name in sorted(symbols(obj, "-u") & defined):
            problems.append(f"{os.path.basename(obj)} uses {name}, defined by the orchestrator")
    daemon = os.path.join(src, "engine", "daemon")
    own = {f for f in os.listdir(daemon) if f.endswith(".h")}
    for f in sorted(os.listdir(daemon)):
        if not f.endswith((".c", ".h")):
            continue
        for n, line in enumerate(open(os.path.join(daemon, f), encoding="utf-8"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if m and m.group(1) not in own and not m.group(1).startswith("zerohour/"):
                problems.append(f"engine/daemon/{f}:{n}: includes \"{m.group(1)}\", "
                                "which is not a public header")
    for p in problems:
        print(p)
    print(f"{len(objects)} objects and the daemon checked: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
