#!/usr/bin/env python3
"""zh-clamd-bench: what zerohour-clamd costs. Starts zerohourd and the bridge
(unix socket, temp folder), then measures on the bundled samples
(tests/samples/*.eml, clean and worm-like):

  1. the bridge's own overhead per message: the median round trip of one
     INSTREAM through the bridge, sequential, less the median round trip of
     the same message straight to the engine through libzerohour-client
     (zh-bench --concurrency 1). The INSTREAM client is Python's socket
     module, so its own cost is counted against the bridge: an upper bound;
  2. messages/s through Debian's clamdscan --stream at concurrency 8
     (8 clamdscan processes, each scanning its share of the files);
  3. messages/s through rspamd's antivirus module at concurrency 8
     (rspamc -n 8), when rspamd is installed; rspamd's own rules run too.

Not a test: nothing is asserted. Usage:
  zh-clamd-bench.py [--rounds N] [--bin DIR] [--no-rspamd]"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=40, help="passes over the samples (default 40)")
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "bin"))
    ap.add_argument("--no-rspamd", action="store_true")
    args = ap.parse_args()
    os.environ["ZH_BIN"] = os.path.abspath(args.bin)
    import zhtest
    zhtest.BIN = os.environ["ZH_BIN"]
    from zhtest import SAMPLES, Bridge, Engine, instream

    samples = sorted(os.path.join(SAMPLES, f) for f in os.listdir(SAMPLES) if f.endswith(".eml"))
    datas = [open(p, "rb").read() for p in samples]
    engine = Engine(workers=2)
    bridge = Bridge(engine.address)
    work = tempfile.mkdtemp(prefix="zh-clamd-bench-")
    results = {}
    try:
        # 1. Overhead: sequential round trips, bridge vs direct, in
        # alternating slices so that the machine's load hits both alike.
        for d in datas:  # warm up both paths
            bridge.talk(instream(d))
        via_all, diffs, direct_all = [], [], []
        per_slice = max(1, args.rounds // 5)
        for _ in range(5):
            via = []
            for _ in range(per_slice):
                for d in datas:
                    t0 = time.perf_counter()
                    bridge.talk(instream(d))
                    via.append((time.perf_counter() - t0) * 1e6)
            r = subprocess.run([os.path.join(zhtest.BIN, "zh-bench"), "--address", engine.address,
                                "--concurrency", "1", "--warmup", "0",
                                "--requests", str(per_slice * len(datas)), "--json", *samples],
                               capture_output=True, text=True)
            direct_p50 = json.loads(r.stdout)["latency_ms"]["p50"] * 1000.0
            via_all += via
            direct_all.append(direct_p50)
            diffs.append(statistics.median(via) - direct_p50)
        results["bridge_p50_us"] = round(statistics.median(via_all), 1)
        results["direct_p50_us"] = round(statistics.median(direct_all), 1)
        results["overhead_p50_us_per_slice"] = [round(x, 1) for x in diffs]
        results["overhead_p50_us"] = round(statistics.median(diffs), 1)

        # 2. clamdscan --stream at concurrency 8.
        exe = shutil.which("clamdscan")
        if exe:
            conf = os.path.join(work, "clamd.conf")
            with open(conf, "w") as f:
                f.write(f"LocalSocket {bridge.sock}\n")
            files = samples * max(1, args.rounds // 2)
            shares = [files[i::8] for i in range(8)]
            t0 = time.perf_counter()
            procs = [subprocess.Popen([exe, f"--config-file={conf}", "--stream", "--no-summary",
                                       *share], stdout=subprocess.DEVNULL) for share in shares]
            for p in procs:
                p.wait()
            dt = time.perf_counter() - t0
            results["clamdscan_stream_c8_msgs_per_s"] = round(len(files) / dt, 1)
            results["clamdscan_messages"] = len(files)

        # 3. rspamd at concurrency 8.
        if not args.no_rspamd and shutil.which("rspamd"):
            import test_callers
            test_callers.Engine = lambda **kw: engine  # reuse ours
            t = test_callers.RspamdTest
            t.setUpClass.__func__(t)
            try:
                files = samples * max(1, args.rounds // 4)
                t0 = time.perf_counter()
                subprocess.run([t.rspamc, "-h", f"127.0.0.1:{t.port}", "-n", "8", "-t", "60",
                                "symbols", *files], stdout=subprocess.DEVNULL)
                dt = time.perf_counter() - t0
                results["rspamd_c8_msgs_per_s"] = round(len(files) / dt, 1)
                results["rspamd_messages"] = len(files)
            finally:
                t.stop_rspamd()
                t.bridge.stop()
                shutil.rmtree(t.home, ignore_errors=True)
    finally:
        bridge.stop()
        engine.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
