#!/usr/bin/env python3
"""Reload latency: how long from a rule file written to the new rule set
answering scans, for a generated set of N rules (default 1000), with the
engine watching its rules directory. Prints the compile time the engine
reports and the write-to-live time seen by a client, over several rounds."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"), help="where zerohourd and zerohour are")
    ap.add_argument("--rules", type=int, default=1000, help="generated rules (default 1000)")
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="zh-reload-bench-")
    rules = os.path.join(tmp, "rules")
    shutil.copytree(os.path.join(SRC, "rules"), rules)
    per_file = 100
    for f in range(a.rules // per_file):
        with open(os.path.join(rules, f"gen{f:03d}.yar"), "w") as out:
            for i in range(per_file):
                n = f * per_file + i
                out.write(f'rule Gen_{n} {{ meta: score = 1 strings: $a = "zh-gen-{n:05d}-marker" '
                          f'$b = {{ 4D 5A ?? ?? {n % 256:02X} {n // 256 % 256:02X} }} '
                          f'condition: $a or ($b at 0 and filesize < {1000 + n}) }}\n')
    msg = os.path.join(tmp, "m.eml")
    with open(msg, "w") as f:
        f.write("From: a@example.com\r\nSubject: x\r\n\r\nzh-reload-probe\r\n")
    addr = f"ipc://{tmp}/zh.sock"
    eng = subprocess.Popen([os.path.join(a.bin, "zerohourd"), "--address", addr, "--rules", rules,
                            "--log-level", "warn"], stderr=subprocess.DEVNULL)
    cli = os.path.join(a.bin, "zerohour")

    def scan():
        out = subprocess.run([cli, "scan", "--json", "--address", addr, msg], capture_output=True,
                             text=True).stdout
        return json.loads(out) if out else None

    try:
        for _ in range(100):
            if subprocess.run([cli, "ping", "--address", addr], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        results = []
        for r in range(a.rounds):
            before = scan()["ruleset_version"]
            t0 = time.monotonic()
            with open(os.path.join(rules, "probe.yar"), "w") as f:
                f.write(f'rule Probe_{r} {{ meta: score = 45 strings: $a = "zh-reload-probe" condition: $a }}\n')
            while True:
                rec = scan()
                if rec and rec["ruleset_version"] > before and any(h["rule"] == f"Probe_{r}" for h in rec["hits"]):
                    break
            live = (time.monotonic() - t0) * 1000
            st = json.loads(subprocess.run([cli, "stats", "--json", "rules", "--address", addr],
                                           capture_output=True, text=True).stdout)
            compile_ms = int(st["rules"]["last_reload_us"]) / 1000
            results.append((live, compile_ms, int(st["rules"]["rule_count"])))
            time.sleep(0.3)
        for live, comp, count in results:
            print(f"{count} rules: written → live {live:7.1f} ms (engine compile {comp:6.1f} ms, "
                  f"includes the {200} ms debounce)")
        lives = sorted(x[0] for x in results)
        print(f"median written → live: {lives[len(lives) // 2]:.1f} ms over {len(lives)} rounds")
    finally:
        eng.send_signal(signal.SIGTERM)
        eng.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
