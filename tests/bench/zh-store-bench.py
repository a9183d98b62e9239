#!/usr/bin/env python3
"""zh-store-bench: what the store of recent scans costs the scan path.

Starts zerohourd with the store off, then on (a fresh store directory each
time), in alternating rounds so a busy machine's drift hits both alike; each
round runs zh-bench over the same corpus and reads messages/s. Prints every
round, the median of each side and the ratio, then the store's counters and
disk use after the last round (what was stored, dropped, kept). Not a test:
a figure for the README and the issue.

  python3 tests/corpus/zh-corpus-gen.py --out /tmp/corpus --count 2000
  nice tests/bench/zh-store-bench.py --bin build/bin --corpus /tmp/corpus
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time


def start(bin_dir, tmp, store, workers):
    sock = f"ipc://{tmp}/zh.sock"
    args = [os.path.join(bin_dir, "zerohourd"), "--address", sock, "--workers", str(workers),
            "--set", "rule_profile_interval_ms=0"]
    if store:
        args += ["--set", "store.enabled=1", "--set", f"store.directory={tmp}/store"]
    log = open(os.path.join(tmp, "engine.log"), "wb")
    p = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        r = subprocess.run([os.path.join(bin_dir, "zerohour"), "ping", "--address", sock],
                           capture_output=True)
        if r.returncode == 0:
            return p, sock
        time.sleep(0.1)
    p.kill()
    raise SystemExit("zerohourd did not start")


def stop(p):
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    rates = {False: [], True: []}
    last_stats = ""
    for rnd in range(a.rounds):
        for store in (False, True):
            tmp = tempfile.mkdtemp(prefix="zh-store-bench-")
            try:
                p, sock = start(a.bin, tmp, store, a.workers)
                r = subprocess.run([os.path.join(a.bin, "zh-bench"), "--address", sock,
                                    "--concurrency", str(a.concurrency), "--duration",
                                    str(a.duration), "--json", "--allow-errors", a.corpus],
                                   capture_output=True, text=True)
                res = json.loads(r.stdout.strip().splitlines()[-1])
                rate = res.get("messages_per_s") or res.get("rate") or res.get("msgs_per_s")
                rates[store].append(float(rate))
                print(f"round {rnd + 1} store {'on ' if store else 'off'}: {float(rate):8.1f} msg/s",
                      flush=True)
                if store:
                    last_stats = subprocess.run(
                        [os.path.join(a.bin, "zerohour"), "stats", "store", "--address", sock],
                        capture_output=True, text=True).stdout
                stop(p)
                if store:
                    last_stats += f"disk used by the store after stop: {du(tmp + '/store')} bytes\n"
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"median store off {off:.1f} msg/s, on {on:.1f} msg/s: on/off = {on / off:.3f}")
    print(last_stats, end="")


if __name__ == "__main__":
    main()
