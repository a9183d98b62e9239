#!/usr/bin/env python3
"""zh-store-eval: the issue's measurement of the store on a gateway day.

Replays a stream written by `zh-corpus-gen.py --stream` through a real
zerohourd with the store on, then for every active outbreak runs
`zerohour retrohunt --outbreak FP` and compares what it lists with the
stream's labels: every copy of the outbreak's family that was delivered
(CLEAN or SUSPICIOUS) must be listed, and no clean message. Prints the counts
per family, `delivered_before` from `zerohour outbreaks`, the store's disk
use, and exits 1 when a delivered copy is missing or a clean message is
listed.

  python3 tests/corpus/zh-corpus-gen.py --stream --out /tmp/day --seed 3 --hours 3 --rate 6
  tests/eval/zh-store-eval.py --bin build/bin --stream /tmp/day
"""
import argparse
import collections
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def run(bin_dir, *args):
    return subprocess.run([os.path.join(bin_dir, "zerohour"), *args], capture_output=True,
                          text=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--stream", required=True)
    ap.add_argument("--rule", help="a YARA file written after the wave, hunted over the store")
    ap.add_argument("--family", help="the stream family --rule is for")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="zh-store-eval-")
    sock = f"ipc://{tmp}/zh.sock"
    log = open(os.path.join(tmp, "engine.log"), "wb")
    eng = subprocess.Popen([os.path.join(a.bin, "zerohourd"), "--address", sock, "--set",
                            "store.enabled=1", "--set", f"store.directory={tmp}/store"],
                           stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 60
        while run(a.bin, "ping", "--address", sock).returncode != 0:
            if time.time() > deadline:
                raise SystemExit("zerohourd did not start")
            time.sleep(0.1)
        lines = [json.loads(l) for l in open(os.path.join(a.stream, "stream.jsonl"))]
        r = run(a.bin, "scan", "--json", "--address", sock, "--envelopes",
                os.path.join(a.stream, "stream.jsonl"))
        verdict = {}
        for l in r.stdout.splitlines():
            rec = json.loads(l)
            path = rec["path"]
            if os.path.isabs(path):
                path = os.path.relpath(path, a.stream)
            verdict[path] = rec["verdict"]
        deadline = time.time() + 120
        while True:
            st = dict(x.split(":", 1) for x in run(a.bin, "stats", "store", "--address",
                                                   sock).stdout.splitlines() if ":" in x)
            if int(st["store_stored"]) + int(st["store_dropped_queue_full"]) >= len(lines):
                break
            if time.time() > deadline:
                raise SystemExit(f"store wrote {st} of {len(lines)}")
            time.sleep(0.1)
        by_key = {(e["received_at"], tuple(e["rcpt_to"])): e for e in lines}
        obs = json.loads(run(a.bin, "outbreaks", "--json", "--address", sock).stdout)["outbreaks"]
        ok = True
        print(f"stream: {len(lines)} messages; store: {st['store_messages']} messages, "
              f"{st['store_kept_objects']} kept objects, dropped {st['store_dropped_queue_full']}")
        listed_all = {}
        for ob in (o for o in obs if o["active"]):
            h = run(a.bin, "retrohunt", "--json", "--no-progress", "--address", sock,
                    "--outbreak", ob["fingerprint"])
            listed = [by_key.get((m["received_at"], tuple(m["rcpt_to"]))) for m in
                      map(json.loads, h.stdout.splitlines())]
            fams = collections.Counter((e or {}).get("family") or "clean" for e in listed)
            print(f"outbreak {ob['fingerprint']} ({ob['summary']}): retrohunt --outbreak lists "
                  f"{len(listed)} {dict(fams)}; delivered before detection "
                  f"{ob.get('delivered_before')}")
            for e in listed:
                if e:
                    listed_all[e["path"]] = e
        clean = [e for e in listed_all.values() if not e["family"]]
        print(f"clean messages listed: {len(clean)}")
        ok = not clean
        for fam in sorted({e["family"] for e in lines if e["family"]}):
            copies = [e for e in lines if e["family"] == fam]
            delivered = [e for e in copies if verdict.get(e["path"]) in ("CLEAN", "SUSPICIOUS")]
            missing = [e for e in delivered if e["path"] not in listed_all]
            declared = any(e["family"] == fam for e in listed_all.values())
            print(f"family {fam}: {len(copies)} copies, verdicts "
                  f"{dict(collections.Counter(verdict.get(e['path']) for e in copies))}; "
                  f"{len(delivered)} delivered, listed {sum(e['path'] in listed_all for e in copies)}"
                  + (f", delivered not listed {len(missing)}" if declared else
                     ": no outbreak declared for it (a detection matter, not the store's)"))
            ok &= not declared or not missing
        if a.rule:
            h = run(a.bin, "retrohunt", "--json", "--no-progress", "--address", sock, a.rule)
            listed = [by_key.get((m["received_at"], tuple(m["rcpt_to"]))) for m in
                      map(json.loads, h.stdout.splitlines())]
            paths = {e["path"] for e in listed if e}
            copies = [e for e in lines if e["family"] == a.family]
            delivered = [e for e in copies if verdict.get(e["path"]) in ("CLEAN", "SUSPICIOUS")]
            missing = [e for e in delivered if e["path"] not in paths]
            other = [e for e in listed if not e or e["family"] != a.family]
            print(f"rule {a.rule}: lists {len(listed)} messages; family {a.family}: "
                  f"{len(copies)} copies, verdicts "
                  f"{dict(collections.Counter(verdict.get(e['path']) for e in copies))}, "
                  f"{len(delivered)} delivered, delivered not listed {len(missing)}; "
                  f"others listed {len(other)}; {h.stderr.strip().splitlines()[-1]}")
            ok &= not missing and not other
        print(f"store on disk: {sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(tmp + '/store') for f in fs)} bytes")
        return 0 if ok else 1
    finally:
        eng.send_signal(signal.SIGTERM)
        eng.wait(timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
