#!/usr/bin/env python3
"""zh-outbreak-eval.py -- replay a labelled outbreak stream through a real
zerohourd and measure the window of vulnerability.

Input: a directory written by `tests/corpus/zh-corpus-gen.py --stream --out DIR`
(messages plus DIR/stream.jsonl: one envelope per message, in arrival order,
with the label fields `label`, `family`, `kind` and, for bulk mail, `campaign`).

It starts its own zerohourd on a private ipc socket (unless --address names a
running engine), replays the stream with
    zerohour scan --json --envelopes DIR/stream.jsonl --address URL
(sequential, in file order, so every time window in the engine follows the
envelopes' received_at), stops the engine with SIGTERM and checks it exits 0.
Then, per worm family: copies, how many copies got through before the first
SUSPICIOUS, the first MALICIOUS and the first `outbreak` hit, and the share
flagged; for clean mail: which messages carried an `outbreak` hit (there must
be none), SUSPICIOUS/MALICIOUS/DEFER counts by kind; DEFER counts per label.

Exit status: 0 the replay completed (with --check: and the goals hold, see
--help); 1 --check failed; 2 the replay could not be completed (engine did
not start or stop cleanly, CLI failure, messages left unscanned).

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
FLAGGED = ("SUSPICIOUS", "MALICIOUS")
VERDICTS = ("CLEAN", "SUSPICIOUS", "MALICIOUS", "DEFER", "TEMPFAIL", "ERROR")
CHECK_MAL_WITHIN = 10


class EvalError(Exception):
    pass


# -----------------------------------------------------------------------------
# Engine and CLI
# -----------------------------------------------------------------------------


class Engine:
    """A zerohourd of our own on a temporary ipc socket."""

    def __init__(self, bindir, rules, workers, sets, cli_path, log_level):
        self.tmp = tempfile.mkdtemp(prefix="zh-outbreak-eval-")
        self.address = f"ipc://{self.tmp}/zh.sock"
        self.log_path = os.path.join(self.tmp, "zerohourd.log")
        cmd = [os.path.join(bindir, "zerohourd"), "--rules", rules, "--address", self.address,
               "--workers", str(workers), "--log-level", log_level]
        for s in sets:
            cmd += ["--set", s]
        self.cmd = cmd
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.cli = cli_path

    def log_tail(self, n=40):
        try:
            if not self.log.closed:
                self.log.flush()
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
            return "\n".join(lines[-n:])
        except OSError:
            return ""

    def wait_ready(self, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise EvalError(f"zerohourd exited {self.proc.returncode} at start:\n{self.log_tail()}")
            r = subprocess.run([self.cli, "ping", "--address", self.address, "--timeout", "1000"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise EvalError(f"zerohourd did not answer ping within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self, keep_log=None):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        rc = self.proc.poll()
        if rc is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = None
        self.log.close()
        if keep_log:
            shutil.copyfile(self.log_path, keep_log)
        self.tail = self.log_tail()
        shutil.rmtree(self.tmp, ignore_errors=True)
        return rc


def read_stream(stream_dir):
    path = os.path.join(stream_dir, "stream.jsonl")
    if not os.path.isfile(path):
        raise EvalError(f"{path} not found (write one with tests/corpus/zh-corpus-gen.py --stream --out DIR)")
    entries = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                e = json.loads(line)
            except ValueError as err:
                raise EvalError(f"{path}:{n}: not JSON: {err}")
            if "path" not in e or e.get("label") not in ("clean", "worm", "malicious"):
                raise EvalError(f"{path}:{n}: needs \"path\" and \"label\" (clean|worm|malicious)")
            if e["label"] == "malicious":   # a --modern stream: a wave counts as a worm family here
                e["label"] = "worm"
            e["n"] = len(entries)
            entries.append(e)
    if not entries:
        raise EvalError(f"{path} is empty")
    return path, entries


def replay(cli_path, stream_file, stream_dir, entries, addresses, timeout_ms, progress):
    """Run the CLI over the stream; attach each result to its entry."""
    by_path = {os.path.normpath(os.path.join(stream_dir, e["path"])): e for e in entries}
    cmd = [cli_path, "scan", "--json", "--envelopes", stream_file]
    for a in addresses:
        cmd += ["--address", a]
    if timeout_ms:
        cmd += ["--timeout", str(timeout_ms)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    strays, done = [], 0
    for line in proc.stdout:
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except ValueError:
            strays.append(line)
            continue
        e = by_path.get(os.path.normpath(os.path.join(stream_dir, r.get("path") or "")))
        if e is None:
            strays.append(line)
            continue
        e["result"] = r
        done += 1
        if progress and done % 500 == 0:
            print(f"zh-outbreak-eval: {done}/{len(entries)} scanned", file=sys.stderr, flush=True)
    stderr = proc.stderr.read()
    rc = proc.wait()
    return rc, stderr, strays, time.time() - t0


# -----------------------------------------------------------------------------
# Analysis
# -----------------------------------------------------------------------------


def verdict_of(e):
    r = e.get("result")
    if r is None:
        return "UNSCANNED"
    if r.get("error") or not r.get("verdict"):
        return "ERROR"
    return r["verdict"]


def outbreak_hits(e):
    return [h for h in (e.get("result") or {}).get("hits") or [] if h.get("detector") == "outbreak"]


def first_index(seq, pred):
    for i, e in enumerate(seq):
        if pred(e):
            return i
    return None


def analyse(entries):
    families = defaultdict(list)
    for e in entries:
        if e["label"] == "worm":
            families[e.get("family") or "?"].append(e)
    fam_rows = []
    for fam, copies in sorted(families.items(), key=lambda kv: kv[1][0]["n"]):
        vc = Counter(verdict_of(e) for e in copies)
        i_s = first_index(copies, lambda e: verdict_of(e) in FLAGGED)
        i_m = first_index(copies, lambda e: verdict_of(e) == "MALICIOUS")
        i_o = first_index(copies, lambda e: outbreak_hits(e))
        t0 = copies[0].get("received_at")
        ob_min = None
        if i_o is not None and t0 is not None and copies[i_o].get("received_at") is not None:
            ob_min = (copies[i_o]["received_at"] - t0) / 60000
        after = copies[i_o:] if i_o is not None else []
        fam_rows.append({
            "family": fam, "copies": len(copies),
            "before_suspicious": i_s, "before_malicious": i_m, "before_outbreak": i_o,
            "minutes_to_outbreak": ob_min,
            "verdicts": dict(vc),
            "flagged": sum(vc[v] for v in FLAGGED),
            "flagged_share": sum(vc[v] for v in FLAGGED) / len(copies),
            "outbreak_hits": sum(1 for e in copies if outbreak_hits(e)),
            "flagged_share_after_outbreak": (sum(1 for e in after if verdict_of(e) in FLAGGED) / len(after))
            if after else None,
            "outbreak_share_after_outbreak": (sum(1 for e in after if outbreak_hits(e)) / len(after))
            if after else None,
            "clean_by_kind": dict(Counter(e.get("kind") for e in copies if verdict_of(e) == "CLEAN")),
            "outbreak_by_kind": {k: [sum(1 for e in copies if e.get("kind") == k and outbreak_hits(e)), n]
                                 for k, n in sorted(Counter(e.get("kind") for e in copies).items())},
        })
    clean = [e for e in entries if e["label"] == "clean"]
    cv = Counter(verdict_of(e) for e in clean)
    ob_clean = [e for e in clean if outbreak_hits(e)]
    fp = [e for e in clean if verdict_of(e) in FLAGGED]
    clean_row = {
        "messages": len(clean), "verdicts": dict(cv),
        "outbreak_hits": [{"path": e["path"], "kind": e.get("kind"), "campaign": e.get("campaign"),
                           "verdict": verdict_of(e), "score": e["result"].get("score"),
                           "hits": [f"{h.get('rule')}: {h.get('detail')}" for h in outbreak_hits(e)]}
                          for e in ob_clean],
        "flagged_by_kind": dict(Counter(e.get("kind") for e in fp)),
        "defer_by_kind": dict(Counter(e.get("kind") for e in clean if verdict_of(e) == "DEFER")),
        "flagged": [{"path": e["path"], "kind": e.get("kind"), "verdict": verdict_of(e),
                     "score": e["result"].get("score"),
                     "rules": [h.get("rule") for h in e["result"].get("hits") or []]} for e in fp],
    }
    defer = {lab: sum(1 for e in entries if e["label"] == lab and verdict_of(e) == "DEFER") for lab in ("clean", "worm")}
    bulk = [e for e in clean if e.get("campaign")]
    clean_row["bulk"] = {"messages": len(bulk), "campaigns": len({e["campaign"] for e in bulk}),
                         "verdicts": dict(Counter(verdict_of(e) for e in bulk))}
    return fam_rows, clean_row, defer


def fmt_idx(i):
    return "never" if i is None else str(i)


def report(fam_rows, clean_row, defer, entries, meta, list_n):
    w = sum(r["copies"] for r in fam_rows)
    print(f"stream: {meta['dir']}: {len(entries)} messages, {clean_row['messages']} clean "
          f"({clean_row['bulk']['messages']} bulk copies from {clean_row['bulk']['campaigns']} campaigns), "
          f"{w} worm copies")
    print(f"engine: {meta['engine']}; replay {meta['elapsed']:.1f}s ({len(entries) / max(meta['elapsed'], 1e-9):.0f} msg/s)")
    print()
    print("worm families (copies before the first ..., counted in arrival order; 'never' = not reached)")
    hdr = (f"  {'family':8s} {'copies':>6s} {'<SUSP':>6s} {'<MAL':>6s} {'<outbr':>6s} {'ob@min':>7s} "
           f"{'flagged':>8s} {'after ob':>8s} {'ob hits':>7s} {'ob after':>8s}  verdicts")
    print(hdr)
    for r in fam_rows:
        mins = "-" if r["minutes_to_outbreak"] is None else f"{r['minutes_to_outbreak']:.1f}"
        after = "-" if r["flagged_share_after_outbreak"] is None else f"{r['flagged_share_after_outbreak']:.1%}"
        ob_after = "-" if r["outbreak_share_after_outbreak"] is None else f"{r['outbreak_share_after_outbreak']:.1%}"
        vs = " ".join(f"{v}={r['verdicts'][v]}" for v in VERDICTS + ("UNSCANNED",) if r["verdicts"].get(v))
        print(f"  {r['family']:8s} {r['copies']:6d} {fmt_idx(r['before_suspicious']):>6s} "
              f"{fmt_idx(r['before_malicious']):>6s} {fmt_idx(r['before_outbreak']):>6s} {mins:>7s} "
              f"{r['flagged_share']:8.1%} {after:>8s} {r['outbreak_hits']:7d} {ob_after:>8s}  {vs}")
        if r["clean_by_kind"]:
            print("           answered CLEAN: " + ", ".join(f"{k}={v}" for k, v in sorted(r["clean_by_kind"].items())))
        print("           outbreak hits by kind: " +
              ", ".join(f"{k} {h}/{n}" for k, (h, n) in r["outbreak_by_kind"].items()))
    print()
    cv = clean_row["verdicts"]
    print(f"clean mail: {clean_row['messages']} messages: " +
          " ".join(f"{v}={cv[v]}" for v in VERDICTS + ("UNSCANNED",) if cv.get(v)))
    print(f"  bulk copies: " + " ".join(f"{k}={v}" for k, v in sorted(clean_row["bulk"]["verdicts"].items())))
    print(f"  with an outbreak hit: {len(clean_row['outbreak_hits'])}")
    for h in clean_row["outbreak_hits"][:list_n]:
        camp = f" campaign {h['campaign']}" if h["campaign"] else ""
        print(f"    {h['path']} ({h['kind']}{camp}) {h['verdict']} {h['score']}: {'; '.join(h['hits'])}")
    if len(clean_row["outbreak_hits"]) > list_n:
        print(f"    ... {len(clean_row['outbreak_hits']) - list_n} more (--list N to see more)")
    print(f"  SUSPICIOUS/MALICIOUS: {cv.get('SUSPICIOUS', 0) + cv.get('MALICIOUS', 0)}" +
          ("  by kind: " + ", ".join(f"{k}={v}" for k, v in sorted(clean_row["flagged_by_kind"].items()))
           if clean_row["flagged_by_kind"] else ""))
    for f in clean_row["flagged"][:list_n]:
        print(f"    {f['path']} ({f['kind']}) {f['verdict']} {f['score']}: {', '.join(f['rules'])}")
    if len(clean_row["flagged"]) > list_n:
        print(f"    ... {len(clean_row['flagged']) - list_n} more")
    print(f"  DEFER: {cv.get('DEFER', 0)}" +
          ("  by kind: " + ", ".join(f"{k}={v}" for k, v in sorted(clean_row["defer_by_kind"].items()))
           if clean_row["defer_by_kind"] else ""))
    print()
    print(f"DEFER verdicts: clean={defer['clean']} worm={defer['worm']}")


def check(fam_rows, clean_row, outbreak_within=None):
    """The goals of --check; returns the list of failures."""
    fails = []
    for r in fam_rows if outbreak_within else []:
        i = r["before_outbreak"]
        if i is None or i >= outbreak_within:
            fails.append(f"{r['family']}: first outbreak hit {'never' if i is None else f'after {i} copies'} "
                         f"(goal: within its first {outbreak_within} copies)")
    if not fam_rows:
        fails.append("the stream has no worm copies")
    for r in fam_rows:
        i = r["before_malicious"]
        if i is None or i >= CHECK_MAL_WITHIN:
            fails.append(f"{r['family']}: first MALICIOUS {'never' if i is None else f'after {i} copies'} "
                         f"(goal: within its first {CHECK_MAL_WITHIN} copies)")
    if clean_row["outbreak_hits"]:
        fails.append(f"{len(clean_row['outbreak_hits'])} clean messages carry an outbreak hit (goal: 0)")
    return fails


# -----------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="zh-outbreak-eval.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Replay a labelled outbreak stream (tests/corpus/zh-corpus-gen.py --stream) through "
                    "zerohourd, in arrival order, and report per worm family how many copies got through "
                    "before the first SUSPICIOUS, MALICIOUS and `outbreak` verdicts, and which clean "
                    "messages (newsletters, memos, bulk mail) were flagged or deferred.",
        epilog=f"""columns of the worm table:
  copies    worm copies of the family in the stream
  <SUSP     copies before the first SUSPICIOUS or MALICIOUS one (0 = the first copy was flagged)
  <MAL      copies before the first MALICIOUS one
  <outbr    copies before the first one with a hit from detector `outbreak`
  ob@min    minutes (by received_at) from the family's first copy to that hit
  flagged   share of all copies answered SUSPICIOUS or MALICIOUS
  after ob  share flagged from the first outbreak hit on
  ob hits   copies with an outbreak hit
  ob after  share of copies with an outbreak hit from the first one on (low: the
            family's copies split into several fingerprints)
DEFER counts separately: a worm copy deferred is not delivered (worms rarely
retry), but it is not flagged either.

--check succeeds when every worm family has a MALICIOUS copy within its first
{CHECK_MAL_WITHIN} copies and no clean message carries an outbreak hit.

exit status: 0 the replay completed (and, with --check, the goals hold);
1 --check failed; 2 the replay could not be completed (engine failed to start
or to exit 0 on SIGTERM, the CLI failed, a message was not scanned).

examples:
  tests/corpus/zh-corpus-gen.py --stream --out /tmp/zs
  tests/eval/zh-outbreak-eval.py --bin build/bin --stream /tmp/zs
  tests/eval/zh-outbreak-eval.py --bin build/bin --stream /tmp/zs --check --report /tmp/zs-report.json
  tests/eval/zh-outbreak-eval.py --bin build/bin --stream /tmp/zs --set outbreak.defer=0""")
    ap.add_argument("--bin", required=True, metavar="DIR", help="directory holding zerohour and zerohourd (e.g. build/bin)")
    ap.add_argument("--stream", required=True, metavar="DIR", help="a directory written by zh-corpus-gen.py --stream")
    ap.add_argument("--address", action="append", metavar="URL",
                    help="scan with this running engine instead of starting one (repeatable). Its outbreak "
                         "state must be fresh: counts from earlier traffic change the result")
    ap.add_argument("--rules", default=os.path.join(REPO, "rules"), metavar="DIR",
                    help="rules for the engine we start (default: the repository's rules/)")
    ap.add_argument("--workers", type=int, default=2, metavar="N", help="workers of the engine we start (default 2)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting for the engine we start, e.g. outbreak.min_copies=4 (repeatable)")
    ap.add_argument("--timeout", type=int, default=0, metavar="MS", help="per-scan timeout passed to the CLI")
    ap.add_argument("--check", action="store_true",
                    help=f"exit 1 unless every family is MALICIOUS within {CHECK_MAL_WITHIN} copies and no clean "
                         "message has an outbreak hit")
    ap.add_argument("--outbreak-within", type=int, metavar="N",
                    help="with --check, also require the outbreak detector to flag every family within its "
                         "first N copies (a guard on fingerprinting: how copies group)")
    ap.add_argument("--report", metavar="FILE", help="also write the numbers as JSON to FILE")
    ap.add_argument("--list", type=int, default=20, metavar="N", help="list at most N messages per category (default 20)")
    ap.add_argument("--engine-log", metavar="FILE", help="keep the started engine's log in FILE")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress on standard error")
    args = ap.parse_args(argv)

    cli_path = os.path.join(args.bin, "zerohour")
    for b in (["zerohour"] if args.address else ["zerohour", "zerohourd"]):
        p = os.path.join(args.bin, b)
        if not os.access(p, os.X_OK):
            print(f"zh-outbreak-eval: {p} is not an executable (build first, or fix --bin)", file=sys.stderr)
            return 2
    if args.address and args.set:
        print("zh-outbreak-eval: --set applies only to an engine we start (no --address)", file=sys.stderr)
        return 2
    stream_dir = os.path.abspath(args.stream)
    engine = None
    try:
        stream_file, entries = read_stream(stream_dir)
        if args.address:
            addresses, engine_desc = args.address, ", ".join(args.address)
        else:
            engine = Engine(args.bin, args.rules, args.workers, args.set, cli_path, "warn")
            engine.wait_ready()
            addresses = [engine.address]
            engine_desc = f"zerohourd started on {engine.address} with --rules {args.rules}" + \
                          "".join(f" --set {s}" for s in args.set)
        rc, stderr, strays, elapsed = replay(cli_path, stream_file, stream_dir, entries, addresses,
                                             args.timeout, not args.quiet)
    except EvalError as err:
        if engine:
            engine.stop(args.engine_log)
        print(f"zh-outbreak-eval: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if engine:
            engine.stop(args.engine_log)
        return 130
    problems = []
    if engine:
        erc = engine.stop(args.engine_log)
        if erc != 0:
            problems.append(f"zerohourd exited {'(killed after 30 s)' if erc is None else erc} on SIGTERM, "
                            f"want 0; log tail:\n{engine.tail}")
    if rc not in (0, 1):
        problems.append(f"zerohour scan exited {rc}" + (f": {stderr.strip()}" if stderr.strip() else ""))
    unscanned = [e for e in entries if "result" not in e]
    errors = [e for e in entries if verdict_of(e) == "ERROR"]
    if unscanned:
        problems.append(f"{len(unscanned)} messages got no result (first: {unscanned[0]['path']})")
    if errors:
        problems.append(f"{len(errors)} messages failed to scan (first: {errors[0]['path']}: "
                        f"{errors[0]['result'].get('error')})")
    if strays:
        problems.append(f"{len(strays)} output lines not matched to the stream (first: {strays[0][:200]})")

    fam_rows, clean_row, defer = analyse(entries)
    meta = {"dir": stream_dir, "engine": engine_desc, "elapsed": elapsed}
    report(fam_rows, clean_row, defer, entries, meta, args.list)
    fails = check(fam_rows, clean_row, args.outbreak_within)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            json.dump({"stream": stream_dir, "engine": engine_desc, "messages": len(entries),
                       "replay_seconds": round(elapsed, 3), "families": fam_rows, "clean": clean_row,
                       "defer": defer, "check_failures": fails, "problems": problems}, f, indent=1)
            f.write("\n")
    print()
    if problems:
        for p in problems:
            print(f"zh-outbreak-eval: INCOMPLETE: {p}")
        return 2
    if args.check:
        for f in fails:
            print(f"zh-outbreak-eval: CHECK FAILED: {f}")
        if fails:
            return 1
        print("zh-outbreak-eval: check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
