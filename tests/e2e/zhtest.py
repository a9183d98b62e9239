"""Shared helpers for zerohour's end-to-end tests: start a real zerohourd on
a private ipc address, run the real CLI against it, and stop what was started.
Only the Python standard library is used, so the tests need no pip packages.

The machine running the tests may be busy (CI shares two cores with a build):
every wait here is a deadline for something to happen, polled, never a fixed
sleep assumed long enough, and the deadlines are generous because they only
bound how long a failure takes to report."""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

BIN = os.environ.get("ZH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
RULES = os.path.join(SRC, "rules")
SAMPLES = os.path.join(SRC, "tests", "samples")


# Longest wait for a process to start answering. A sanitizer build on a loaded
# machine starts in seconds; this only bounds how long a failure takes.
START_TIMEOUT = 60.0


def free_port():
    """A loopback TCP port nobody listens on now. Another process may take it
    before the caller binds it: callers that bind retry with a new one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary(name):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"{path} is not built")
    return path


class Daemon:
    """A zerohour daemon under test: its own temp folder and log file. stop()
    sends SIGTERM, waits, removes the folder, and fails on a sanitizer report
    in the log or an unexpected exit status."""
    name = "daemon"

    def __init__(self, prefix):
        self.tmp = tempfile.mkdtemp(prefix=prefix)
        self.log_path = os.path.join(self.tmp, f"{self.name}.log")
        self.log = open(self.log_path, "wb")
        self.proc = None

    def spawn(self, cmd, env=None):
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)

    def logtext(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, expect_rc=0):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=START_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"{self.name} did not stop on SIGTERM:\n{self.logtext()}")
        text = self.logtext() if os.path.exists(self.log_path) else ""
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)
        if "ERROR: AddressSanitizer" in text or "runtime error:" in text or "LeakSanitizer" in text:
            raise AssertionError(f"sanitizer report from {self.name}:\n{text}")
        if expect_rc is not None and self.proc and self.proc.returncode != expect_rc:
            raise AssertionError(f"{self.name} exited {self.proc.returncode}, want {expect_rc}:\n{text}")
        return text


class Engine(Daemon):
    """A zerohourd process on a temporary ipc socket; stop() checks it exits 0."""
    name = "zerohourd"

    def __init__(self, rules=RULES, args=(), addresses=None, workers=2, env=None):
        super().__init__("zh-e2e-")
        self.addresses = addresses or [f"ipc://{self.tmp}/zh.sock"]
        self.address = self.addresses[0]
        cmd = [binary("zerohourd"), "--rules", rules, "--workers", str(workers), "--log-level", "debug"]
        for a in self.addresses:
            cmd += ["--address", a]
        cmd += list(args)
        self.spawn(cmd, env=env)
        try:
            self.wait_ready()
        except BaseException:
            self.stop(expect_rc=None)  # nothing is left running when a start fails
            raise

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        last = "no ping tried"
        wait_ms = 1000
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"zerohourd exited {self.proc.returncode}:\n{self.logtext()}")
            r = cli("ping", "--address", self.address, "--timeout", str(wait_ms), check=False)
            if r.returncode == 0:
                return
            last = f"ping exited {r.returncode} (--timeout {wait_ms}): {r.err.strip()}"
            # A loaded machine may need longer than a second to answer at all.
            wait_ms = min(wait_ms * 2, 10000)
            time.sleep(0.1)
        raise AssertionError(f"zerohourd not ready after {timeout}s; last {last}\n{self.logtext()}")



class Bridge(Daemon):
    """A zerohour-clamd on a unix socket in its temp folder (and a loopback
    TCP port when tcp=True), in front of engine_address. .sock, .port."""
    name = "zerohour-clamd"

    def __init__(self, engine_address, args=(), tcp=False):
        super().__init__("zh-clamd-")
        self.sock = os.path.join(self.tmp, "clamd.sock")
        self.port = None
        for _ in range(20):  # a free port may be taken before we bind it
            cmd = [binary("zerohour-clamd"), "--socket", f"unix:{self.sock}",
                   "--engine", engine_address, "--log-level", "debug"]
            if tcp:
                self.port = free_port()
                cmd += ["--socket", f"inet:{self.port}@127.0.0.1"]
            self.spawn(cmd + list(args))
            if self.wait_listening():
                return
        self.stop(expect_rc=None)
        raise AssertionError(f"zerohour-clamd did not start:\n{self.logtext()}")

    def wait_listening(self):
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                if "Address already in use" in self.logtext():
                    return False
                raise AssertionError(f"zerohour-clamd exited {self.proc.returncode}:\n{self.logtext()}")
            if "listening on" in self.logtext():
                return True
            time.sleep(0.05)
        raise AssertionError(f"zerohour-clamd not listening after {START_TIMEOUT}s")

    def connect(self, timeout=30):
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(timeout)
        s.connect(self.sock)
        return s

    def talk(self, data, timeout=30, tcp=False):
        """Send data on a new connection; return everything until the bridge closes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout) if tcp else self.connect(timeout)
        with s:
            s.sendall(data)
            out = b""
            while True:
                d = s.recv(65536)
                if not d:
                    return out
                out += d


def instream(data, chunk=8192, framing=b"z"):
    """The bytes of one INSTREAM command carrying data."""
    term = b"\0" if framing == b"z" else b"\n"
    out = framing + b"INSTREAM" + term
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        out += len(piece).to_bytes(4, "big") + piece
    return out + b"\0\0\0\0"


class Redis(Daemon):
    """A private redis-server on a unix socket in its temp folder (no TCP port,
    no persistence); .url is what outbreak.redis takes. Skips the test when
    redis-server is not installed (quickstart.sh installs it)."""
    name = "redis-server"

    def __init__(self):
        exe = shutil.which("redis-server")
        if not exe:
            raise unittest.SkipTest("redis-server is not installed")
        super().__init__("zh-redis-")
        self.sock = os.path.join(self.tmp, "redis.sock")
        self.url = f"unix:{self.sock}"
        self.start()

    def start(self):
        self.spawn([shutil.which("redis-server"), "--port", "0", "--unixsocket", self.sock,
                    "--unixsocketperm", "700", "--save", "", "--appendonly", "no"])
        deadline = time.time() + START_TIMEOUT
        while not self.answers():
            if self.proc.poll() is not None or time.time() > deadline:
                raise AssertionError(f"redis-server did not start:\n{self.logtext()}")
            time.sleep(0.05)

    def answers(self):
        if not os.path.exists(self.sock):
            return False
        r = subprocess.run([shutil.which("redis-cli"), "-s", self.sock, "ping"],
                           capture_output=True, text=True)
        return r.stdout.strip() == "PONG"

    def pause(self):
        """Stop the server but keep the folder (start() brings it back empty)."""
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)

    def freeze(self):
        """SIGSTOP: the socket still accepts connections, nothing answers."""
        self.proc.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self, expect_rc=0):
        if self.proc and self.proc.poll() is None:
            self.thaw()  # a frozen server would never see the SIGTERM
        return super().stop(expect_rc)

def cli(*args, check=True, input=None, timeout=120, env=None):
    r = subprocess.run([binary("zerohour"), *args], capture_output=True, input=input,
                       timeout=timeout, env=env)
    r.out = r.stdout.decode("utf-8", "replace")
    r.err = r.stderr.decode("utf-8", "replace")
    if "ERROR: AddressSanitizer" in r.err or "runtime error:" in r.err:
        raise AssertionError(f"sanitizer report from zerohour {args}:\n{r.err}")
    if check and r.returncode not in (0, 1):
        raise AssertionError(f"zerohour {' '.join(args)} exited {r.returncode}:\n{r.out}\n{r.err}")
    return r


def scan_json(engine, *paths, extra=()):
    """Scan paths with --json; returns {path: record}."""
    r = cli("scan", "--json", "--address", engine.address, *extra, *paths, check=False)
    out = {}
    for line in r.out.splitlines():
        rec = json.loads(line)
        out[rec["path"]] = rec
    return r, out


def message(headers, body, boundary=None, parts=()):
    """Build a small RFC 5322 message as bytes (CRLF line ends)."""
    lines = [f"{k}: {v}" for k, v in headers]
    if parts:
        lines += ["MIME-Version: 1.0", f'Content-Type: multipart/mixed; boundary="{boundary}"', "",
                  f"--{boundary}", "Content-Type: text/plain; charset=utf-8", "", body]
        for hdrs, content in parts:
            lines += [f"--{boundary}", *hdrs, "", content]
        lines += [f"--{boundary}--", ""]
    else:
        lines += ["", body]
    return "\r\n".join(lines).encode()
