"""Hostile neighbours and a noisy machine (issue 11): another local user must
not be able to take over the engine's default socket directory, signals must
not starve the outbreak snapshots, a dying engine must fail the calls in
flight at once, and addresses and rule files that cannot be trusted are
refused or warned about.

Every wait is a polled deadline; a "fails at once" check sets the call
timeout far beyond the deadline it asserts, so a loaded machine only makes the
test slower, never wrong."""
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from zhtest import BIN, RULES, START_TIMEOUT, Daemon, Engine, binary, cli, free_port


def unused_uid():
    """A uid no account and no /tmp/zerohour-UID directory uses yet."""
    rng = random.Random()
    while True:
        uid = rng.randrange(40000, 60000)
        try:
            pwd.getpwuid(uid)
            continue
        except KeyError:
            pass
        if not os.path.lexists(f"/tmp/zerohour-{uid}"):
            return uid


def as_user(uid, cmd):
    return [shutil.which("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *cmd]


class DefaultSocketDirectoryTest(unittest.TestCase):
    """A non-root engine without XDG_RUNTIME_DIR listens in /tmp/zerohour-UID:
    a directory another local user made first (0777) is refused by the
    engine and by the clients; an absent one is made 0700."""

    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            raise unittest.SkipTest("needs root and setpriv to act as another local user")
        self.uid = unused_uid()
        self.dir = f"/tmp/zerohour-{self.uid}"
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("XDG_RUNTIME_DIR", "ZEROHOUR_ADDRESS")}
        self.env["HOME"] = "/"
        self.daemon = None

    def tearDown(self):
        if self.daemon:
            self.daemon.stop(expect_rc=None)
        shutil.rmtree(self.dir, ignore_errors=True)

    def engine_as_user(self, env=None):
        d = Daemon("zh-nb-")
        d.name = "zerohourd"
        d.spawn(as_user(self.uid, [binary("zerohourd"), "--rules", RULES, "--workers", "1",
                                   "--set", "engine.watch_rules=0"]), env=env or self.env)
        self.daemon = d
        return d

    def cli_as_user(self, *args):
        r = subprocess.run(as_user(self.uid, [binary("zerohour"), *args]), capture_output=True,
                           text=True, env=self.env, timeout=120)
        self.assertNotIn("Sanitizer", r.stderr)
        self.assertNotIn("runtime error:", r.stderr)
        return r

    def test_planted_directory_is_refused(self):
        os.mkdir(self.dir)
        os.chmod(self.dir, 0o777)  # made first by someone else (root here), open to all
        d = self.engine_as_user()
        d.proc.wait(timeout=START_TIMEOUT)
        log = d.logtext()
        self.assertEqual(d.proc.returncode, 2, log)
        self.assertIn(f"refusing the default socket directory {self.dir}", log)
        self.assertFalse(os.path.exists(f"{self.dir}/zerohour.sock"), log)
        r = self.cli_as_user("ping", "--timeout", "600000")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn("refusing the default socket directory", r.stderr)
        self.assertIn("writable by group or others", r.stderr)

    def test_absent_directory_is_made_private(self):
        d = self.engine_as_user()
        deadline = time.time() + START_TIMEOUT
        while True:
            r = self.cli_as_user("ping", "--timeout", "5000")
            if r.returncode == 0:
                break
            if d.proc.poll() is not None or time.time() > deadline:
                self.fail(f"engine as uid {self.uid} not answering: {r.stderr}\n{d.logtext()}")
            time.sleep(0.1)
        st = os.lstat(self.dir)
        self.assertEqual(st.st_uid, self.uid)
        self.assertEqual(st.st_mode & 0o777, 0o700)

    def test_xdg_runtime_dir_open_to_all_is_refused(self):
        xdg = tempfile.mkdtemp(prefix="zh-nb-xdg-")
        try:
            os.chown(xdg, self.uid, self.uid)
            os.chmod(xdg, 0o777)
            env = dict(self.env, XDG_RUNTIME_DIR=xdg)
            d = self.engine_as_user(env)
            d.proc.wait(timeout=START_TIMEOUT)
            self.assertEqual(d.proc.returncode, 2, d.logtext())
            self.assertIn(f"refusing the default socket directory {xdg}", d.logtext())
        finally:
            shutil.rmtree(xdg, ignore_errors=True)



def run_engine(*args, timeout=START_TIMEOUT):
    """Run zerohourd expecting it to exit by itself (a refusal or --check);
    one that keeps running is stopped and reported."""
    p = subprocess.Popen([binary("zerohourd"), "--workers", "1", *args], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.terminate()
        out, _ = p.communicate(timeout=START_TIMEOUT)
        raise AssertionError(f"zerohourd {args} kept running instead of refusing:\n{out}")
    return p.returncode, out


class RefusalsTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-nb-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_rule_symlink_outside_rules_dir_is_refused(self):
        rules = os.path.join(self.tmp, "rules")
        outside = os.path.join(self.tmp, "elsewhere")
        os.mkdir(rules)
        os.mkdir(outside)
        shutil.copy(os.path.join(RULES, "eicar.yar"), rules)
        shutil.copy(os.path.join(RULES, "heuristics.ini"), rules)
        with open(os.path.join(outside, "planted.yar"), "w") as f:
            f.write('rule Planted { strings: $a = "planted" condition: $a }\n')
        # A link that stays inside is fine (a rule kept under another name).
        os.mkdir(os.path.join(rules, "sub"))
        shutil.copy(os.path.join(RULES, "lures.yar"), os.path.join(rules, "sub"))
        os.symlink(os.path.join(rules, "sub", "lures.yar"), os.path.join(rules, "lures.yar.link"))
        rc, out = run_engine("--rules", rules, "--check")
        self.assertEqual(rc, 0, out)
        # A file link and a directory link that leave the directory are refused.
        os.symlink(os.path.join(outside, "planted.yar"), os.path.join(rules, "planted.yar"))
        rc, out = run_engine("--rules", rules, "--check")
        self.assertEqual(rc, 1, out)
        self.assertIn("planted.yar: symbolic link to", out)
        self.assertIn("outside the rules directory", out)
        os.unlink(os.path.join(rules, "planted.yar"))
        os.symlink(outside, os.path.join(rules, "more"))
        rc, out = run_engine("--rules", rules, "--check")
        self.assertEqual(rc, 1, out)
        self.assertIn("more: symbolic link to", out)
        os.unlink(os.path.join(rules, "more"))
        # A link into a tree nobody else can change is followed, as the
        # package links rules/local to /etc/zerohour/rules.d. The build tree
        # belongs to whoever runs the tests; /tmp (above) is everyone's.
        local = tempfile.mkdtemp(prefix="zh-local-rules-", dir=os.path.abspath(BIN))
        try:
            os.chmod(local, 0o755)
            with open(os.path.join(local, "local.yar"), "w") as f:
                f.write('rule Local_Rule { strings: $a = "local" condition: $a }\n')
            os.symlink(local, os.path.join(rules, "local"))
            rc, out = run_engine("--rules", rules, "--check")
            parents = []
            d = os.path.abspath(BIN)
            while True:
                st = os.stat(d)
                parents.append(st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022)
                if d == "/":
                    break
                d = os.path.dirname(d)
            if all(parents):
                self.assertEqual(rc, 0, out)
            else:   # a build tree under a shared directory: refused, rightly
                self.assertEqual(rc, 1, out)
        finally:
            shutil.rmtree(local, ignore_errors=True)

    def test_tls_listener_without_certificate_is_refused(self):
        # TLS works with certificates (e2e.tls); a configuration without them
        # must still refuse to start rather than fail every handshake.
        url = f"tls+tcp://127.0.0.1:{free_port()}"
        rc, out = run_engine("--rules", RULES, "--address", url)
        self.assertEqual(rc, 1, out)
        self.assertIn("needs engine.tls_cert", out)
        self.assertNotIn("listening on", out)
        rc, out = run_engine("--rules", RULES, "--address", f"wss://127.0.0.1:{free_port()}/zh")
        self.assertEqual(rc, 1, out)
        self.assertIn("only tls+tcp:// is supported", out)
        self.assertNotIn("listening on", out)
        r = cli("ping", "--address", f"tls+tcp://127.0.0.1:{free_port()}", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs the CA file", r.err)
        r = cli("ping", "--address", f"wss://127.0.0.1:{free_port()}/zh", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("only tls+tcp:// is supported", r.err)

    def test_tcp_beyond_loopback_is_warned_about(self):
        for attempt in range(5):  # a free port may be taken before the engine binds it
            wide, local = free_port(), free_port()
            try:
                e = Engine(addresses=[f"ipc://{self.tmp}/zh.sock", f"tcp://0.0.0.0:{wide}",
                                      f"tcp://127.0.0.1:{local}"])
                break
            except AssertionError:
                if attempt == 4:
                    raise
        log = e.stop()
        self.assertIn(f"tcp://0.0.0.0:{wide} is not a loopback address", log)
        self.assertNotIn(f"tcp://127.0.0.1:{local} is not a loopback", log)
        self.assertNotIn("zh.sock is not a loopback", log)

    def test_explicit_socket_in_open_directory_is_warned_about(self):
        open_dir = os.path.join(self.tmp, "open")
        os.mkdir(open_dir)
        os.chmod(open_dir, 0o777)
        e = Engine(addresses=[f"ipc://{open_dir}/zh.sock"])
        r = cli("ping", "--address", e.address, check=False)
        log = e.stop()
        self.assertIn("another local user can replace the socket", log)
        self.assertEqual(r.returncode, 0, r.err)
        self.assertIn("another local user can replace the socket", r.err)


class SnapshotScheduleTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-nb-")
        self.engine = None

    def tearDown(self):
        if self.engine:
            self.engine.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_sighup_storm_does_not_starve_snapshots(self):
        """SIGHUP five times a second with snapshot_ms=1s: the table is still
        saved. (Each SIGHUP used to restart the snapshot timer.)"""
        state = os.path.join(self.tmp, "outbreak.state")
        self.engine = Engine(args=["--set", f"outbreak.state_file={state}",
                                   "--set", "outbreak.snapshot_ms=1s",
                                   "--set", "engine.watch_rules=0"])
        # A save may have happened before the storm began: remove it and wait
        # for one made while the storm blows.
        seen_before = False
        deadline = time.time() + 2 * START_TIMEOUT
        while time.time() < deadline:
            self.engine.signal(signal.SIGHUP)
            if os.path.exists(state):
                if seen_before:
                    break
                os.unlink(state)
                seen_before = True
            time.sleep(0.2)
        else:
            self.fail("no snapshot saved while SIGHUPs kept coming:\n" + self.engine.logtext()[-2000:])
        self.assertIn("SIGHUP", self.engine.logtext())


if __name__ == "__main__":
    unittest.main(verbosity=2)
