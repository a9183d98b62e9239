#!/usr/bin/env python3
"""zh-soak — a long run of a real zerohourd under load and faults.

Starts a private redis-server (unix socket, no persistence) and a zerohourd
(private ipc socket, a copy of the rules, outbreak counts shared through that
Redis, outbreak state saved to a file), then sends N scans at concurrency C
through libzerohour-client (zh-bench, in rounds of --round requests) while it
  - reloads the rules --reloads times, each with a changed rule: in turns by
    the Reload call (`zerohour reload`), by SIGHUP, and by editing the rules
    directory alone (the watcher),
  - kills the engine with SIGKILL --kills times and starts it again on the
    same socket and state file,
  - stops Redis and starts it again (empty), and freezes it (SIGSTOP: the
    socket accepts, nothing answers) and thaws it (SIGCONT).
Each fault happens while a round of scans is in flight. It prints a line per
progress step (requests, failures, reloads, engine and Redis RSS), then
requests, failures by status (and which of them fell in a round with a kill),
verdicts, reloads requested and done (counted from the engine's log), restarts
and RSS over time.

With --check it exits 1 unless: no scan failed outside the rounds with a
kill -9, failures in those rounds are only the transport kinds a dead engine
gives (unreachable, timeout), the round after each restart has none, every
Reload call and every reload succeeded, the engine made at least as many new
rule sets as reloads were requested, no sanitizer report appeared, and the
last engine and Redis stopped cleanly. ctest runs a short version (soak.short);
the long one is run by hand:

    tests/soak/zh-soak.py --bin build/bin --requests 1000000 --concurrency 8 \\
        --reloads 300 --kills 1

Exit status: 0 passed (or no --check), 1 a check failed, 2 setup failed,
77 redis-server is not installed (ctest counts it as skipped)."""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXIT_OK, EXIT_CHECK, EXIT_SETUP, EXIT_SKIP = 0, 1, 2, 77
# What a client sees from an engine that was killed: its request was lost or
# nobody listened until the restart. Anything else is a real failure.
TRANSPORT = {"unreachable", "timeout"}
SANITIZER = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")
START_TIMEOUT = 60.0


class SetupError(Exception):
    pass


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Proc:
    """A child process logging to a file in the run's folder."""

    def __init__(self, name, cmd, log_path):
        self.name, self.cmd, self.log_path = name, cmd, log_path
        self.proc = None

    def start(self):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def signal(self, sig):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self):
        """SIGCONT (in case it is frozen) and SIGTERM; the exit status, or None
        if it had to be killed."""
        if not self.proc:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                return self.proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        return self.proc.returncode

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class Soak:
    def __init__(self, a):
        self.a = a
        self.bin = os.path.abspath(a.bin)
        self.tmp = tempfile.mkdtemp(prefix="zh-soak-")
        self.rules = os.path.join(self.tmp, "rules")
        self.address = f"ipc://{self.tmp}/zh.sock"
        self.redis_sock = os.path.join(self.tmp, "redis.sock")
        self.engine = self.redis = None
        self.engine_starts = 0
        self.kills = 0
        self.events = []            # (round, text)
        self.reload_calls = {"rpc": 0, "sighup": 0, "edit": 0}
        self.reload_call_failures = []
        self.marker = 0
        self.rss = []               # (elapsed_s, requests, engine KiB, redis KiB)
        self.requests = self.ok = 0
        self.errors = {}            # kind -> count, all rounds
        self.kill_round_errors = {}  # kind -> count, rounds with a kill -9
        self.other_round_errors = {}
        self.after_restart_errors = 0
        self.verdicts = {}
        self.bench_failures = []    # rounds zh-bench could not run at all
        self.first_errors = []
        self.sets_alive = "?"

    # ---- the processes ----------------------------------------------------

    def tool(self, name):
        path = os.path.join(self.bin, name)
        if not os.access(path, os.X_OK):
            raise SetupError(f"{path} is not built (cmake --build build)")
        return path

    def start_redis(self):
        self.redis.start()
        deadline = time.time() + START_TIMEOUT
        while True:
            if os.path.exists(self.redis_sock):
                r = subprocess.run([shutil.which("redis-cli"), "-s", self.redis_sock, "ping"],
                                   capture_output=True, text=True)
                if r.stdout.strip() == "PONG":
                    return
            if self.redis.proc.poll() is not None or time.time() > deadline:
                raise SetupError(f"redis-server did not start:\n{self.redis.log()[-2000:]}")
            time.sleep(0.05)

    def ping(self):
        r = subprocess.run([self.tool("zerohour"), "ping", "--address", self.address,
                            "--timeout", "2000"], capture_output=True)
        return r.returncode == 0

    def start_engine(self):
        self.engine.start()
        self.engine_starts += 1
        deadline = time.time() + START_TIMEOUT
        while not self.ping():
            if self.engine.proc.poll() is not None or time.time() > deadline:
                raise SetupError(f"zerohourd did not start:\n{self.engine.log()[-2000:]}")
            time.sleep(0.05)

    def setup(self):
        shutil.copytree(self.a.rules, self.rules, ignore=shutil.ignore_patterns("README.md"))
        self.write_marker()
        redis = shutil.which("redis-server")
        self.redis = Proc("redis-server", [redis, "--port", "0", "--unixsocket", self.redis_sock,
                                           "--unixsocketperm", "700", "--save", "",
                                           "--appendonly", "no"],
                          os.path.join(self.tmp, "redis.log"))
        self.start_redis()
        cmd = [self.tool("zerohourd"), "--rules", self.rules, "--address", self.address,
               "--log-level", "info",
               "--set", f"outbreak.redis=unix:{self.redis_sock}",
               "--set", f"outbreak.state_file={self.tmp}/outbreak.state",
               "--set", "outbreak.snapshot_ms=1s"]
        if self.a.workers:
            cmd += ["--workers", str(self.a.workers)]
        self.engine = Proc("zerohourd", cmd, os.path.join(self.tmp, "zerohourd.log"))
        self.start_engine()
        self.corpus = self.a.corpus or self.make_corpus()

    def make_corpus(self):
        out = os.path.join(self.tmp, "corpus")
        subprocess.run([sys.executable, os.path.join(SRC, "tests/corpus/zh-corpus-gen.py"), "--out",
                        out, "--count", str(self.a.messages), "--seed", "7", "-q"], check=True,
                       timeout=600)
        return out

    # ---- the faults -------------------------------------------------------

    def write_marker(self):
        """A rule whose score changes at every reload, written whole (rename)."""
        self.marker += 1
        path = os.path.join(self.rules, "zz-soak-marker.yar")
        with open(path + ".tmp~", "w") as f:
            f.write(f'rule Soak_Marker_Changes {{ meta: score = {self.marker % 50} '
                    f'strings: $a = "zh-soak-marker-{self.marker}" condition: $a }}\n')
        os.rename(path + ".tmp~", path)

    def reload(self, kind):
        self.write_marker()
        self.reload_calls[kind] += 1
        if kind == "rpc":
            r = subprocess.run([self.tool("zerohour"), "reload", "--address", self.address],
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                self.reload_call_failures.append(f"zerohour reload exited {r.returncode}: "
                                                 f"{(r.stdout + r.stderr).strip()}")
        elif kind == "sighup":
            self.engine.signal(signal.SIGHUP)
        # "edit": the write alone; the watcher reloads after its quiet time

    def kill9(self):
        self.engine.signal(signal.SIGKILL)
        self.engine.proc.wait()
        self.kills += 1
        self.start_engine()

    def do(self, rnd, actions):
        for what in actions:
            if what.startswith("reload-"):
                self.reload(what[len("reload-"):])
            elif what == "kill9":
                self.kill9()
            elif what == "redis-stop":
                self.redis.stop()
            elif what == "redis-start":
                self.start_redis()
            elif what == "redis-freeze":
                self.redis.signal(signal.SIGSTOP)
            elif what == "redis-thaw":
                self.redis.signal(signal.SIGCONT)
            self.events.append((rnd, what))

    def schedule(self, rounds):
        """{round: [actions]}: reloads spread evenly over the rounds in turns
        rpc/sighup/edit, the kills spread over the middle, the Redis faults at
        fixed fractions, each undone one round later."""
        plan = {r: [] for r in range(rounds)}
        kinds = ("rpc", "sighup", "edit")
        for k in range(self.a.reloads):
            plan[min(rounds - 1, (2 * k + 1) * rounds // (2 * self.a.reloads))].append(
                "reload-" + kinds[k % 3])
        for k in range(self.a.kills):
            plan[max(1, min(rounds - 2, (k + 1) * rounds // (self.a.kills + 1)))].append("kill9")
        if self.a.redis_faults:
            for frac, first, then in ((0.2, "redis-stop", "redis-start"),
                                      (0.4, "redis-freeze", "redis-thaw")):
                r = max(0, min(rounds - 2, int(frac * rounds)))
                plan[r].append(first)
                plan[r + 1].insert(0, then)
        return plan

    # ---- the run ------------------------------------------------------------

    def bench(self, n):
        cmd = [self.tool("zh-bench"), "--address", self.address, "--concurrency",
               str(self.a.concurrency), "--requests", str(n), "--warmup", "0", "--json",
               "--allow-errors", self.corpus]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
        try:
            return json.loads(r.stdout)
        except ValueError:
            return {"setup_error": f"zh-bench exited {r.returncode}: {r.stderr.strip()[-500:]}"}

    @staticmethod
    def add(into, counts):
        for k, v in counts.items():
            into[k] = into.get(k, 0) + v

    def run(self):
        a = self.a
        rounds = max(1, -(-a.requests // a.round))
        plan = self.schedule(rounds)
        faults = []
        if a.reloads:
            faults.append(f"{a.reloads} reloads")
        if a.kills:
            faults.append(f"{a.kills} kill -9")
        if a.redis_faults:
            faults.append("Redis stopped and frozen")
        print(f"zh-soak: {a.requests} scans at concurrency {a.concurrency} in {rounds} rounds, "
              f"{', '.join(faults) or 'no faults'}; corpus {self.corpus}; run folder {self.tmp}",
              flush=True)
        print(f"{'elapsed_s':>10} {'requests':>10} {'failed':>7} {'reloads':>8} "
              f"{'engine_rss_mib':>15} {'redis_rss_mib':>14}  faults", flush=True)
        t0 = time.time()
        last_print = -1.0
        restarted_last_round = False
        round_s = None
        for rnd in range(rounds):
            n = min(a.round, a.requests - rnd * a.round)
            result = {}
            worker = threading.Thread(target=lambda: result.update(self.bench(n)))
            r0 = time.time()
            worker.start()
            if plan[rnd]:
                # A third into the round (as long as the last one took), so
                # each fault meets scans in flight.
                time.sleep(round_s / 3 if round_s else a.fault_delay)
                self.do(rnd, plan[rnd])
            worker.join()
            if not plan[rnd]:
                round_s = time.time() - r0
            if "setup_error" in result:
                self.bench_failures.append(f"round {rnd}: {result['setup_error']}")
                continue
            errs = result.get("errors", {})
            self.requests += result.get("requests", 0)
            self.ok += result.get("ok", 0)
            self.add(self.errors, errs)
            self.add(self.verdicts, result.get("verdicts", {}))
            if errs and result.get("first_error") and len(self.first_errors) < 5:
                self.first_errors.append(f"round {rnd}: {result['first_error']}")
            killed = "kill9" in plan[rnd]
            self.add(self.kill_round_errors if killed else self.other_round_errors, errs)
            if restarted_last_round and not killed:
                self.after_restart_errors += sum(errs.values())
            restarted_last_round = killed
            eng, red = rss_kib(self.engine.proc.pid), rss_kib(self.redis.proc.pid)
            elapsed = time.time() - t0
            self.rss.append((elapsed, self.requests, eng, red))
            faults = [e for e in plan[rnd] if not e.startswith("reload-")]
            if elapsed - last_print >= a.progress or faults or errs or rnd == rounds - 1:
                last_print = elapsed
                fmt = lambda k: f"{k / 1024:.1f}" if k is not None else "-"
                print(f"{elapsed:>10.1f} {self.requests:>10} {self.requests - self.ok:>7} "
                      f"{self.reloads_done():>8} {fmt(eng):>15} {fmt(red):>14}  "
                      f"{' '.join(faults)}", flush=True)
        self.duration = time.time() - t0
        self.reloads_final = self.reloads_done()
        r = subprocess.run([self.tool("zerohour"), "stats", "--json", "rules", "--address",
                            self.address], capture_output=True, text=True, timeout=300)
        try:
            self.sets_alive = json.loads(r.stdout)["rules"].get("rule_sets_alive", "?")
        except (ValueError, KeyError):
            self.sets_alive = "?"

    def reloads_done(self):
        """New rule sets made, from the engine's log: every "version N live"
        line but the first of each start."""
        text = self.engine.log()
        return len(re.findall(r"rules: version \d+ live", text)) - self.engine_starts

    def teardown(self):
        engine_rc = self.engine.stop() if self.engine else 0
        redis_rc = self.redis.stop() if self.redis else 0
        logs = (self.engine.log() if self.engine else "") + (self.redis.log() if self.redis else "")
        failed_reloads = len(re.findall(r"rules: reload of .* failed", logs))
        sanitizer = [s for s in SANITIZER if s in logs]
        return engine_rc, redis_rc, failed_reloads, sanitizer

    # ---- the report ---------------------------------------------------------

    def report(self, engine_rc, redis_rc, failed_reloads, sanitizer):
        a = self.a
        fmt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"
        rate = self.requests / self.duration if self.duration else 0
        print("\nsummary")
        print(f"  duration           {self.duration:.1f} s ({rate:.0f} scans/s)")
        print(f"  requests           {self.requests} (ok {self.ok}, failed {self.requests - self.ok})")
        print(f"  failures by status {fmt(self.errors)}")
        print(f"    in kill -9 rounds  {fmt(self.kill_round_errors)}")
        print(f"    in other rounds    {fmt(self.other_round_errors)}")
        for e in self.first_errors:
            print(f"    first error, {e}")
        print(f"  verdicts           {fmt(self.verdicts)}")
        calls = sum(self.reload_calls.values())
        print(f"  reloads            requested {calls} ({fmt(self.reload_calls)}); "
              f"new rule sets {self.reloads_final}; failed {failed_reloads}; "
              f"Reload calls failed {len(self.reload_call_failures)}; rule sets in memory "
              f"at the end {self.sets_alive}")
        print(f"  engine             started {self.engine_starts} times ({self.kills} after kill -9); "
              f"last exit status {engine_rc}")
        print(f"  redis              {'stopped/restarted and frozen/thawed once' if a.redis_faults else 'untouched'}; "
              f"exit status {redis_rc}")
        eng = [(t, n, k) for t, n, k, _ in self.rss if k is not None]
        if eng:
            ks = [k for _, _, k in eng]
            print(f"  engine RSS         min {min(ks) / 1024:.1f} MiB, median "
                  f"{statistics.median(ks) / 1024:.1f} MiB, max {max(ks) / 1024:.1f} MiB")
            print("  engine RSS over time (elapsed s, requests, MiB):")
            step = max(1, len(eng) // 10)
            for t, n, k in eng[::step] + ([eng[-1]] if (len(eng) - 1) % step else []):
                print(f"    {t:>9.1f} {n:>10} {k / 1024:>8.1f}")
        if self.bench_failures:
            print(f"  rounds that could not run: {len(self.bench_failures)}")
            for b in self.bench_failures[:5]:
                print(f"    {b}")
        if sanitizer:
            print(f"  sanitizer reports: {', '.join(sanitizer)} (logs in {self.tmp})")

    def check(self, engine_rc, redis_rc, failed_reloads, sanitizer):
        problems = []
        if self.bench_failures:
            problems.append(f"{len(self.bench_failures)} rounds could not run")
        if self.requests != self.a.requests:
            problems.append(f"{self.requests} requests made, {self.a.requests} asked")
        if self.other_round_errors:
            problems.append(f"failures outside the kill -9 rounds: {self.other_round_errors}")
        odd = {k: v for k, v in self.kill_round_errors.items() if k not in TRANSPORT}
        if odd:
            problems.append(f"failures in kill -9 rounds that a dead engine does not explain: {odd}")
        if self.after_restart_errors:
            problems.append(f"{self.after_restart_errors} failures in rounds right after a restart")
        if self.reload_call_failures:
            problems.append(f"Reload calls failed: {self.reload_call_failures[:3]}")
        if failed_reloads:
            problems.append(f"{failed_reloads} reloads failed (engine log)")
        if self.reloads_final < sum(self.reload_calls.values()):
            problems.append(f"{sum(self.reload_calls.values())} reloads requested, only "
                            f"{self.reloads_final} new rule sets")
        if engine_rc != 0:
            problems.append(f"the last engine exited {engine_rc}")
        if redis_rc != 0:
            problems.append(f"redis-server exited {redis_rc}")
        if sanitizer:
            problems.append(f"sanitizer reports in the logs: {sanitizer}")
        return problems


def main():
    ap = argparse.ArgumentParser(
        description="Long run of a real zerohourd under load, reloads, kill -9 and Redis faults.",
        epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"),
                    help="folder of zerohourd, zerohour and zh-bench (default build/bin)")
    ap.add_argument("--rules", default=os.path.join(SRC, "rules"), help="rules to copy (default rules/)")
    ap.add_argument("--corpus", help="messages to scan (default: --messages generated ones)")
    ap.add_argument("--messages", type=int, default=300, help="messages to generate (default 300)")
    ap.add_argument("-n", "--requests", type=int, default=100000, help="scans in all (default 100000)")
    ap.add_argument("-c", "--concurrency", type=int, default=8, help="scans in flight (default 8)")
    ap.add_argument("--round", type=int, default=2000,
                    help="scans per zh-bench round; faults happen during rounds (default 2000)")
    ap.add_argument("--reloads", type=int, default=30, help="rule reloads in all (default 30)")
    ap.add_argument("--kills", type=int, default=1, help="kill -9 and restart the engine (default 1)")
    ap.add_argument("--no-redis-faults", dest="redis_faults", action="store_false",
                    help="do not stop or freeze Redis")
    ap.add_argument("--workers", type=int, default=0, help="engine workers (default: one per CPU)")
    ap.add_argument("--fault-delay", type=float, default=0.2,
                    help="seconds into a round before its faults, until a round without "
                         "faults was timed (then a third of its length; default 0.2)")
    ap.add_argument("--progress", type=float, default=30.0,
                    help="seconds between progress lines (default 30)")
    ap.add_argument("--check", action="store_true", help="exit 1 unless every check passes")
    ap.add_argument("--keep", action="store_true", help="keep the run folder (logs) afterwards")
    a = ap.parse_args()
    if a.requests < 1 or a.concurrency < 1 or a.round < 1 or a.reloads < 0 or a.kills < 0:
        ap.error("--requests, --concurrency and --round must be positive, --reloads and --kills not negative")
    if (a.kills or a.redis_faults) and -(-a.requests // a.round) < 3:
        ap.error("kills and Redis faults need at least 3 rounds (--requests / --round)")
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        print("zh-soak: redis-server is not installed (apt-get install redis-server): skipped",
              file=sys.stderr)
        return EXIT_SKIP
    s = Soak(a)
    problems = []
    try:
        try:
            s.setup()
            s.run()
        except SetupError as e:
            print(f"zh-soak: {e}", file=sys.stderr)
            s.teardown()
            return EXIT_SETUP
        result = s.teardown()
        s.report(*result)
        problems = s.check(*result)
    finally:
        if a.keep or problems:
            print(f"zh-soak: logs kept in {s.tmp}")
        else:
            shutil.rmtree(s.tmp, ignore_errors=True)
    if a.check:
        for p in problems:
            print(f"zh-soak: FAILED: {p}", file=sys.stderr)
        if problems:
            return EXIT_CHECK
        print("zh-soak: all checks passed")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
