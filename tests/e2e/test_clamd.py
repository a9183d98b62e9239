"""zerohour-clamd end to end: a real engine, the real bridge, and callers
speaking clamd's protocol over real sockets — first this test's own raw
client (every framing, sessions, and every way a caller can misbehave), then
Debian's clamdscan pointed at the bridge with its own clamd.conf, whose exit
codes must be those it gives against clamd (0 clean, 1 found, 2 error)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from zhtest import SAMPLES, Bridge, Engine, instream
from test_milter import suspicious_message

WORM = os.path.join(SAMPLES, "04-mydoom-like-zip-pif.eml")
EICAR = os.path.join(SAMPLES, "03-eicar-test-attachment.eml")
CLEAN = os.path.join(SAMPLES, "01-clean-plain.eml")


def read(path):
    with open(path, "rb") as f:
        return f.read()


class BridgeProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = Engine()
        cls.bridge = Bridge(cls.engine.address, tcp=True, args=[
            "--stream-max-length", "256K", "--read-timeout", "1s", "--command-timeout", "2s",
            "--idle-timeout", "1500ms", "--max-connections", "40"])

    @classmethod
    def tearDownClass(cls):
        cls.bridge.stop()
        cls.engine.stop()

    def test_simple_commands_in_three_framings(self):
        b = self.bridge
        self.assertEqual(b.talk(b"zPING\0"), b"PONG\0")
        self.assertEqual(b.talk(b"nPING\n"), b"PONG\n")
        self.assertEqual(b.talk(b"PING\n"), b"PONG\n")
        self.assertRegex(b.talk(b"nVERSION\n").decode(), r"^Zerohour [^/]+/\d+/.+\n$")
        vc = b.talk(b"zVERSIONCOMMANDS\0").decode()
        self.assertIn("| COMMANDS: ", vc)
        for cmd in ("INSTREAM", "IDSESSION", "END", "STATS", "SCAN", "CONTSCAN", "MULTISCAN",
                    "ALLMATCHSCAN", "PING", "VERSION"):
            self.assertIn(cmd, vc.rstrip("\0").split("| COMMANDS: ")[1].split())
        stats = b.talk(b"nSTATS\n").decode()
        self.assertTrue(stats.startswith("POOLS: 1\n") and stats.endswith("END\n"), stats)
        self.assertIn("ZEROHOUR: uptime", stats)
        self.assertEqual(b.talk(b"zBOGUS\0"), b"UNKNOWN COMMAND\0")
        self.assertEqual(b.talk(b"zSHUTDOWN\0"), b"COMMAND UNAVAILABLE\0")

    def test_instream_verdicts(self):
        b = self.bridge
        self.assertEqual(b.talk(instream(read(CLEAN))), b"stream: OK\0")
        self.assertEqual(b.talk(instream(read(WORM), framing=b"n")),
                         b"stream: Zerohour.program_in_archive FOUND\n")
        # A rule that names a family reports the family.
        self.assertEqual(b.talk(instream(read(EICAR), chunk=7)),
                         b"stream: Zerohour.EICAR-Test-File FOUND\0")
        # SUSPICIOUS answers OK by default, with a warn line in the log.
        self.assertEqual(b.talk(instream(suspicious_message())), b"stream: OK\0")
        self.assertRegex(b.logtext(), r"warn unix stream: SUSPICIOUS score \d+ .* -> OK")
        # Over TCP as well.
        self.assertEqual(b.talk(instream(read(WORM)), tcp=True),
                         b"stream: Zerohour.program_in_archive FOUND\0")

    def test_idsession(self):
        s = self.bridge.connect()
        with s:
            s.sendall(b"zIDSESSION\0zPING\0" + instream(read(WORM)) + instream(read(CLEAN)) +
                      b"nVERSION\nzEND\0")
            out = b""
            while True:
                d = s.recv(65536)
                if not d:
                    break
                out += d
        parts = out.split(b"\0")
        self.assertEqual(parts[0], b"1: PONG")
        self.assertEqual(parts[1], b"2: stream: Zerohour.program_in_archive FOUND")
        self.assertEqual(parts[2], b"3: stream: OK")
        self.assertTrue(parts[3].startswith(b"4: Zerohour "))
        # A plain command inside a session, or a nested IDSESSION, ends it with an error.
        out = self.bridge.talk(b"zIDSESSION\0PING\n")
        self.assertTrue(out.endswith(b"ERROR\n"), out)
        out = self.bridge.talk(b"zIDSESSION\0zIDSESSION\0")
        self.assertIn(b"Nested IDSESSION. ERROR", out)

    def test_idle_session_is_closed(self):
        s = self.bridge.connect()
        with s:
            s.sendall(b"zIDSESSION\0zPING\0")
            self.assertEqual(s.recv(100), b"1: PONG\0")
            t0 = time.time()
            out = b""
            while True:  # the bridge closes after idle_timeout; recv returns b""
                d = s.recv(100)
                if not d:
                    break
                out += d
            self.assertIn(b"COMMAND READ TIMED OUT", out)
            self.assertGreater(time.time() - t0, 1.0)

    def test_oversize_stream_refused_before_its_bytes(self):
        b = self.bridge
        self.assertEqual(b.talk(instream(b"x" * (300 * 1024), chunk=64 * 1024)),
                         b"INSTREAM size limit exceeded. ERROR\0")
        # One chunk whose length alone passes the maximum: refused at once,
        # without waiting for (or buffering) 4 GiB.
        s = b.connect()
        with s:
            s.sendall(b"zINSTREAM\0\xff\xff\xff\xff" + b"a" * 100)
            self.assertEqual(s.recv(100), b"INSTREAM size limit exceeded. ERROR\0")
        # Exactly the maximum is scanned.
        body = b"From: a@example.com\r\nSubject: big\r\n\r\n"
        body += b"y" * (256 * 1024 - len(body))
        self.assertEqual(b.talk(instream(body, chunk=50000)), b"stream: OK\0")

    def test_lying_and_stalling_callers_do_not_block_others(self):
        b = self.bridge
        stalled = []
        # A chunk length that promises more than is sent, a command never
        # finished, a connection that says nothing.
        liar = b.connect()
        liar.sendall(b"zINSTREAM\0" + (1000).to_bytes(4, "big") + b"only ten b")
        half = b.connect()
        half.sendall(b"zPIN")
        mute = b.connect()
        stalled += [liar, half, mute]
        # Meanwhile everyone else is served.
        for _ in range(3):
            self.assertEqual(b.talk(instream(read(WORM))), b"stream: Zerohour.program_in_archive FOUND\0")
        for s, want in ((liar, b""), (half, b"COMMAND READ TIMED OUT\0"),
                        (mute, b"COMMAND READ TIMED OUT\n")):  # no framing known: newline
            out = b""
            while True:
                d = s.recv(100)
                if not d:
                    break
                out += d
            self.assertEqual(out, want)
            s.close()
        self.assertIn("timed out inside a stream", b.logtext())

    def test_many_concurrent_sessions(self):
        worm, clean = read(WORM), read(CLEAN)
        results = {}

        def one(i):
            data = worm if i % 2 else clean
            try:
                results[i] = self.bridge.talk(instream(data, chunk=1000 + i), timeout=120)
            except OSError as e:
                results[i] = repr(e).encode()

        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i in range(32):
            want = b"stream: Zerohour.program_in_archive FOUND\0" if i % 2 else b"stream: OK\0"
            self.assertEqual(results[i], want, i)

    def test_max_connections(self):
        b = self.bridge
        held = []
        try:
            for _ in range(40):
                s = b.connect()
                s.sendall(b"zIDSESSION\0zPING\0")
                self.assertEqual(s.recv(100), b"1: PONG\0")
                held.append(s)
            with b.connect() as s:  # refused at once, before it could send anything
                self.assertEqual(s.recv(100), b"Too many connections. ERROR\n")
        finally:
            for s in held:
                s.close()
        deadline = time.time() + 30
        while b.talk(b"zPING\0") != b"PONG\0":
            self.assertLess(time.time(), deadline, "connections never came back")
            time.sleep(0.05)

    def test_path_commands(self):
        tmp = tempfile.mkdtemp(prefix="zh-clamd-paths-")
        try:
            for name in ("a-clean.eml", "b-worm.eml", "c-eicar.eml"):
                src = {"a": CLEAN, "b": WORM, "c": EICAR}[name[0]]
                shutil.copy(src, os.path.join(tmp, name))
            os.symlink("/etc/passwd", os.path.join(tmp, "d-link"))
            b = self.bridge
            self.assertEqual(b.talk(f"zSCAN {tmp}/a-clean.eml\0".encode()),
                             f"{tmp}/a-clean.eml: OK\0".encode())
            # SCAN stops at the first detection; CONTSCAN goes on.
            self.assertEqual(b.talk(f"zSCAN {tmp}\0".encode()),
                             f"{tmp}/b-worm.eml: Zerohour.program_in_archive FOUND\0".encode())
            out = b.talk(f"nCONTSCAN {tmp}\n".encode()).decode()
            self.assertEqual(out, f"{tmp}/b-worm.eml: Zerohour.program_in_archive FOUND\n"
                                  f"{tmp}/c-eicar.eml: Zerohour.EICAR-Test-File FOUND\n")
            out = b.talk(f"zSCAN {tmp}/missing\0".encode())
            self.assertTrue(out.endswith(b"ERROR\0"), out)
            self.assertEqual(b.talk(b"zSCAN relative/path\0"),
                             b"relative/path: Path must be absolute. ERROR\0")
            # From TCP, path commands are refused by default (path_commands = unix).
            out = b.talk(f"zSCAN {tmp}\0".encode(), tcp=True)
            self.assertIn(b"Path commands are disabled here", out)
        finally:
            shutil.rmtree(tmp)


class BridgeLifecycleTest(unittest.TestCase):
    def test_engine_down_is_error_never_ok(self):
        home = tempfile.mkdtemp(prefix="zh-clamd-engine-")
        address = f"ipc://{home}/zh.sock"
        engine = Engine(addresses=[address])
        bridge = Bridge(engine.address, args=["--connect-timeout", "200ms", "--timeout", "2s"])
        try:
            self.assertEqual(bridge.talk(instream(read(CLEAN))), b"stream: OK\0")
            engine.stop()
            out = bridge.talk(instream(read(CLEAN)))
            self.assertTrue(out.startswith(b"stream: Zerohour engine unavailable") and
                            out.endswith(b" ERROR\0"), out)
            self.assertTrue(bridge.talk(b"zPING\0").endswith(b"ERROR\0"))
            self.assertRegex(bridge.talk(b"zVERSION\0").decode(), r"^Zerohour .*/0/")
            # The engine comes back on the same address: so does the bridge.
            engine = Engine(addresses=[address])
            deadline = time.time() + 60
            while bridge.talk(instream(read(WORM))) != b"stream: Zerohour.program_in_archive FOUND\0":
                self.assertLess(time.time(), deadline)
                time.sleep(0.2)
        finally:
            bridge.stop()
            engine.stop()
            shutil.rmtree(home, ignore_errors=True)

    def test_answers_are_configurable(self):
        engine = Engine()
        bridge = Bridge(engine.address, args=["--set", "on_suspicious=found",
                                              "--on-defer", "ok"])
        try:
            self.assertRegex(bridge.talk(instream(suspicious_message())).decode(),
                             r"^stream: Zerohour\.Suspicious\.[A-Za-z0-9._-]+ FOUND\0$")
        finally:
            bridge.stop()
            engine.stop()
        engine = Engine()
        bridge = Bridge(engine.address, args=["--on-suspicious", "error"])
        try:
            out = bridge.talk(instream(suspicious_message()))
            self.assertEqual(out, b"stream: Zerohour verdict SUSPICIOUS ERROR\0")
        finally:
            bridge.stop()
            engine.stop()

    def test_on_error_close(self):
        # No engine at all: with on_error = close an error is a closed
        # connection without an answer (never an OK); clean replies still flow.
        home = tempfile.mkdtemp(prefix="zh-clamd-noengine-")
        bridge = Bridge(f"ipc://{home}/none.sock",
                        args=["--on-error", "close", "--connect-timeout", "200ms"])
        try:
            self.assertEqual(bridge.talk(instream(read(CLEAN))), b"")
            self.assertRegex(bridge.talk(b"zVERSION\0").decode(), r"^Zerohour ")
        finally:
            bridge.stop()
            shutil.rmtree(home, ignore_errors=True)

    def test_help_config_and_shutdown(self):
        exe = os.path.join(os.environ.get("ZH_BIN", ""), "zerohour-clamd")
        h = subprocess.run([exe, "--help"], capture_output=True, text=True)
        self.assertEqual(h.returncode, 0)
        for word in ("SYNOPSIS", "PROTOCOL", "VERDICTS", "--stream-max-length", "--on-suspicious",
                     "--set NAME=VALUE", "EXIT STATUS"):
            self.assertIn(word, h.stdout)
        sample = subprocess.run([exe, "--print-config"], capture_output=True, text=True).stdout
        self.assertIn("[clamd]\n", sample)
        tmp = tempfile.mkdtemp(prefix="zh-clamd-cfg-")
        try:
            ini = os.path.join(tmp, "c.ini")
            with open(ini, "w") as f:
                f.write(sample)
            r = subprocess.run([exe, "--config", ini, "--check", "--engine", "ipc:///nonexistent/x"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(ini, "a") as f:
                f.write("on_defer = maybe\n")
            r = subprocess.run([exe, "--config", ini, "--check"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn("on_defer", r.stderr)
            r = subprocess.run([exe, "--socket", "tcp:3310"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 1)
            self.assertIn("neither unix:PATH nor inet:PORT@ADDRESS", r.stderr)
            # A file that is not our socket is never replaced.
            with open(os.path.join(tmp, "precious"), "w") as f:
                f.write("keep me")
            r = subprocess.run([exe, "--socket", f"unix:{tmp}/precious", "--engine",
                                "ipc:///nonexistent/x"], capture_output=True, text=True)
            self.assertNotEqual(r.returncode, 0)
            with open(os.path.join(tmp, "precious")) as f:
                self.assertEqual(f.read(), "keep me")
        finally:
            shutil.rmtree(tmp)
        engine = Engine()
        bridge = Bridge(engine.address)
        try:
            self.assertTrue(os.path.exists(bridge.sock))
            self.assertEqual(os.stat(bridge.sock).st_mode & 0o777, 0o660)
            sock = bridge.sock
            log = bridge.stop()
            self.assertFalse(os.path.exists(sock))
            self.assertIn("zerohour-clamd stopped", log)
        finally:
            engine.stop()


class ClamdscanTest(unittest.TestCase):
    """Debian's clamdscan against the bridge, with --stream and with paths."""

    @classmethod
    def setUpClass(cls):
        cls.exe = shutil.which("clamdscan")
        if not cls.exe:
            raise unittest.SkipTest("clamdscan is not installed (package clamdscan)")
        cls.engine = Engine()
        cls.bridge = Bridge(cls.engine.address)
        cls.conf = os.path.join(cls.bridge.tmp, "clamd.conf")
        with open(cls.conf, "w") as f:
            f.write(f"LocalSocket {cls.bridge.sock}\n")

    @classmethod
    def tearDownClass(cls):
        cls.bridge.stop()
        cls.engine.stop()

    def clamdscan(self, *args):
        return subprocess.run([self.exe, f"--config-file={self.conf}", "--no-summary", *args],
                              capture_output=True, text=True, timeout=120)

    def test_stream_exit_codes(self):
        r = self.clamdscan("--stream", CLEAN)
        self.assertEqual((r.returncode, r.stdout), (0, f"{CLEAN}: OK\n"))
        r = self.clamdscan("--stream", WORM)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, f"{WORM}: Zerohour.program_in_archive FOUND\n")
        r = self.clamdscan("--stream", CLEAN, EICAR)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{EICAR}: Zerohour.EICAR-Test-File FOUND", r.stdout)

    def test_paths_exit_codes(self):
        r = self.clamdscan(CLEAN)
        self.assertEqual((r.returncode, r.stdout), (0, f"{CLEAN}: OK\n"))
        r = self.clamdscan(WORM)
        self.assertEqual((r.returncode, r.stdout), (1, f"{WORM}: Zerohour.program_in_archive FOUND\n"))
        r = self.clamdscan("--multiscan", SAMPLES)
        self.assertEqual(r.returncode, 1)
        found = sorted(l for l in r.stdout.splitlines() if l.endswith(" FOUND"))
        self.assertEqual(len(found), 4, r.stdout)  # the four worm samples
        r = self.clamdscan("/nonexistent/file.eml")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_engine_down_is_exit_2(self):
        engine = Engine()
        bridge = Bridge(engine.address, args=["--connect-timeout", "200ms"])
        conf = os.path.join(bridge.tmp, "clamd.conf")
        with open(conf, "w") as f:
            f.write(f"LocalSocket {bridge.sock}\n")
        try:
            engine.stop()
            for args in (["--stream", CLEAN], [CLEAN]):
                r = subprocess.run([self.exe, f"--config-file={conf}", "--no-summary", *args],
                                   capture_output=True, text=True, timeout=120)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertNotIn(": OK", r.stdout)
        finally:
            bridge.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
