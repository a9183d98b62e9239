"""zerohourd and zerohour-milter as system services: started as root they
give their unix sockets the configured group and mode, become the
configured user once bound, refuse root when told to; and a milter
restarted while the old one is still exiting never loses its socket to the
old one's exit (libmilter removes the socket path of a non-root milter at
exit, whoever's socket is there by then)."""
import grp
import os
import pwd
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import unittest

from zhtest import Engine, START_TIMEOUT, binary, cli

USER, GROUP = "nobody", "nogroup"


def need_root_and_ids():
    if os.geteuid() != 0:
        raise unittest.SkipTest("dropping privileges needs root")
    try:
        return pwd.getpwnam(USER).pw_uid, grp.getgrnam(GROUP).gr_gid
    except KeyError:
        raise unittest.SkipTest(f"no user {USER} or group {GROUP}")


def proc_uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def live(path):
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            return True
        except OSError:
            return False


class EngineServiceTest(unittest.TestCase):
    def setUp(self):
        self.uid, self.gid = need_root_and_ids()
        self.dir = tempfile.mkdtemp(prefix="zh-svc-")
        os.chmod(self.dir, 0o755)
        os.chown(self.dir, self.uid, self.gid)  # as /run/zerohour is the service user's

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_root_start_becomes_user_after_binding(self):
        sock = f"{self.dir}/zh.sock"
        eng = Engine(addresses=[f"ipc://{sock}"],
                     args=["--set", f"engine.user={USER}", "--set", f"engine.socket_group={GROUP}",
                           "--set", "engine.socket_mode=0660", "--set", "engine.allow_root=0"])
        try:
            st = os.stat(sock)
            self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                             (self.uid, self.gid, 0o660))
            self.assertEqual(set(proc_uids(eng.proc.pid)), {self.uid})
            self.assertEqual(cli("ping", "--address", eng.address).returncode, 0)
        finally:
            log = eng.stop()
        self.assertIn(f"running as user {USER}", log)
        self.assertFalse(os.path.exists(sock), "the engine removes its socket at exit")

    def test_refuses_root_when_told(self):
        r = subprocess.run([binary("zerohourd"), "--address", f"ipc://{self.dir}/zh.sock",
                            "--set", "engine.allow_root=0", "--workers", "1"],
                           capture_output=True, text=True, timeout=START_TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("refusing to scan mail as root", r.stderr)

    def test_unknown_user_is_an_error_at_start(self):
        r = subprocess.run([binary("zerohourd"), "--address", f"ipc://{self.dir}/zh.sock",
                            "--set", "engine.user=no-such-user-zh", "--workers", "1"],
                           capture_output=True, text=True, timeout=START_TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('unknown user "no-such-user-zh"', r.stderr)


class Milter:
    def __init__(self, sock, *args):
        self.log_path = f"{sock}.{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary("zerohour-milter"), "--socket", f"unix:{sock}", "--engine",
             "ipc:///nonexistent/zh.sock", "--user", USER, "--socket-group", GROUP,
             "--socket-mode", "0660", *args], stdout=self.log, stderr=subprocess.STDOUT)

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def wait_for(self, what, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        while what not in self.text():
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"no '{what}' in the milter's log:\n{self.text()}")
            time.sleep(0.05)

    def stop(self, signal=True):
        if signal and self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=START_TIMEOUT)
        finally:
            self.log.close()
        return self.proc.returncode


class MilterServiceTest(unittest.TestCase):
    def setUp(self):
        self.uid, self.gid = need_root_and_ids()
        self.dir = tempfile.mkdtemp(prefix="zh-svc-m-")
        os.chmod(self.dir, 0o755)
        os.chown(self.dir, self.uid, self.gid)
        self.sock = f"{self.dir}/milter.sock"

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_socket_owner_group_mode_and_user(self):
        m = Milter(self.sock)
        try:
            m.wait_for("listening on")
            st = os.stat(self.sock)
            self.assertEqual((st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)),
                             (self.uid, self.gid, 0o660))
            self.assertEqual(set(proc_uids(m.proc.pid)), {self.uid})
        finally:
            self.assertEqual(m.stop(), 0, m.text())

    def test_second_milter_does_not_take_a_running_ones_socket(self):
        first = Milter(self.sock)
        try:
            first.wait_for("listening on")
            ino = os.stat(self.sock).st_ino
            second = Milter(self.sock, "--socket-lock-wait", "300ms")
            self.assertEqual(second.stop(signal=False), 2, second.text())
            self.assertIn("held by another zerohour-milter", second.text())
            self.assertEqual(os.stat(self.sock).st_ino, ino, "the running milter's socket stays")
            self.assertTrue(live(self.sock))
        finally:
            self.assertEqual(first.stop(), 0, first.text())

    def test_restart_while_the_old_one_exits_keeps_the_new_socket(self):
        old = Milter(self.sock)
        new = None
        try:
            old.wait_for("listening on")
            new = Milter(self.sock, "--socket-lock-wait", "60s")
            new.wait_for("waiting for the milter that holds")
            old.proc.terminate()  # libmilter takes up to its 5 s poll to notice
            self.assertEqual(old.stop(), 0, old.text())
            new.wait_for("listening on")
            # The old milter is gone and removed its own socket at exit; the
            # new one's socket is the one at the path, and it answers.
            self.assertTrue(os.path.exists(self.sock))
            self.assertTrue(live(self.sock), new.text())
        finally:
            old.stop()
            if new:
                self.assertEqual(new.stop(), 0, new.text())


class SyslogTest(unittest.TestCase):
    """log_target = syslog, read from a datagram socket of the test's own
    (the place of /dev/log): RFC 3164 records under facility mail, one
    scan line per flagged message with what an administrator greps for."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="zh-syslog-")
        os.chmod(self.dir, 0o755)
        self.path = f"{self.dir}/log"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        os.chmod(self.path, 0o666)

    def tearDown(self):
        self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def records(self, want, timeout=START_TIMEOUT):
        """Records received until one contains want (polled, bounded)."""
        got = []
        deadline = time.time() + timeout
        self.sock.settimeout(0.2)
        while time.time() < deadline:
            try:
                got.append(self.sock.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                continue
            if want in got[-1]:
                return got
        raise AssertionError(f"no record with {want!r} in {got}")

    def test_engine_logs_one_line_per_flagged_scan(self):
        from zhtest import SAMPLES
        eng = Engine(args=["--set", "engine.log_target=syslog", "--set",
                           f"engine.log_socket={self.path}", "--log-level", "info"])
        try:
            recs = self.records("ready")
            self.assertRegex(recs[-1], r"^<22>\w{3} [ \d]\d \d\d:\d\d:\d\d zerohourd\[\d+\]: ")
            cli("scan", "--address", eng.address, "--client-ip", "192.0.2.7",
                "--mail-from", "worm@example.net", f"{SAMPLES}/01-clean-plain.eml",
                f"{SAMPLES}/04-mydoom-like-zip-pif.eml")
            recs = self.records("verdict=MALICIOUS")
        finally:
            eng.stop()
        line = recs[-1]
        self.assertRegex(line, r"^<22>.* zerohourd\[\d+\]: scan id=\S+ message_id=- "
                               r"client=192\.0\.2\.7 from=<worm@example\.net> rcpts=0 size=\d+ "
                               r"verdict=MALICIOUS score=\d+ rules=\S+\(\d+\)")
        self.assertIn("lure", line)
        self.assertFalse([r for r in recs if "verdict=CLEAN" in r], "flagged only by default")

    def test_milter_logs_to_syslog(self):
        r = subprocess.Popen([binary("zerohour-milter"), "--socket", f"unix:{self.dir}/m.sock",
                              "--engine", "ipc:///nonexistent/zh.sock", "--log-target", "syslog",
                              "--log-socket", self.path, "--log-facility", "local3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            recs = self.records("listening on")
        finally:
            r.terminate()
            r.communicate(timeout=START_TIMEOUT)
        self.assertRegex(recs[-1], r"^<158>.* zerohour-milter\[\d+\]: zerohour-milter \S+ "
                                   r"listening on unix:")

    def test_clamd_bridge_logs_to_syslog(self):
        r = subprocess.Popen([binary("zerohour-clamd"), "--socket", f"unix:{self.dir}/c.sock",
                              "--engine", "ipc:///nonexistent/zh.sock", "--log-target", "syslog",
                              "--log-socket", self.path, "--log-facility", "local3"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            recs = self.records("listening on")
        finally:
            r.terminate()
            r.communicate(timeout=START_TIMEOUT)
        self.assertRegex(recs[-1], r"^<158>.* zerohour-clamd\[\d+\]: zerohour-clamd \S+ "
                                   r"listening on unix:")
        r = subprocess.run([binary("zerohour-clamd"), "--check", "--log-target", "syslog",
                            "--log-facility", "kern", "--log-socket", self.path],
                           capture_output=True, text=True, timeout=START_TIMEOUT)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("kern", r.stderr)

    def test_bad_target_or_facility_refused(self):
        for flag in ["engine.log_target=journal", "engine.log_facility=kern"]:
            r = subprocess.run([binary("zerohourd"), "--check", "--set", flag],
                               capture_output=True, text=True, timeout=START_TIMEOUT)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(flag.split("=")[0], r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
