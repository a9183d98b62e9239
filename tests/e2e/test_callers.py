"""The mail systems that already speak clamd's protocol, pointed at
zerohour-clamd with a real engine behind it:

- rspamd (Debian's rspamd, a private configuration directory, no Redis, no
  network): its antivirus module of type clamav adds its symbol to a worm and
  not to clean mail, and a _FAIL symbol, never a clean pass, when the engine
  is down.
- Exim's malware ACL (exim4-daemon-heavy): `deny malware = *` at DATA rejects
  a worm with the bridge's name for it, accepts clean mail, and defers when
  the engine is down; over a unix socket (Exim sends SCAN with its spool
  file) and over TCP (Exim streams with zINSTREAM).

exim4-daemon-heavy conflicts with Postfix (which the milter tests need), so
it is not installed: quickstart.sh extracts the Debian package into
/opt/zerohour-test/exim4 (or $ZH_EXIM_ROOT) and the test runs that binary
with a private configuration, its compiled-in Debian-exim user supplied by
nss_wrapper (package libnss-wrapper). Each part skips, saying why, only when
its package is missing."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import urllib.request

from zhtest import SAMPLES, START_TIMEOUT, Bridge, Engine, free_port

WORM = os.path.join(SAMPLES, "04-mydoom-like-zip-pif.eml")
CLEAN = os.path.join(SAMPLES, "01-clean-plain.eml")
NSS_WRAPPER = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so"


class RspamdTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rspamd = shutil.which("rspamd")
        cls.rspamc = shutil.which("rspamc")
        if not cls.rspamd or not cls.rspamc:
            raise unittest.SkipTest("rspamd is not installed (package rspamd)")
        cls.home = tempfile.mkdtemp(prefix="zh-rspamd-engine-")  # survives engine restarts
        cls.engine = Engine(addresses=[f"ipc://{cls.home}/zh.sock"])
        # rspamd 3.4's clamav parser fails on an ERROR line (a Lua error,
        # and the message goes on as if scanned); a closed connection it
        # records as a failed scan. Hence on_error = close for rspamd.
        cls.bridge = Bridge(cls.engine.address, args=["--on-error", "close",
                                                      "--connect-timeout", "300ms"])
        os.chmod(cls.bridge.tmp, 0o755)  # rspamd's workers may drop to _rspamd
        os.chmod(cls.bridge.sock, 0o666)
        cls.dir = tempfile.mkdtemp(prefix="zh-rspamd-")
        os.chmod(cls.dir, 0o755)
        for d in ("local.d", "db", "run", "log"):
            os.mkdir(os.path.join(cls.dir, d))
            os.chmod(os.path.join(cls.dir, d), 0o777)
        cls.port = free_port()
        with open(os.path.join(cls.dir, "rspamd.conf"), "w") as f:
            f.write(f"""
.include "$CONFDIR/common.conf"
options {{
    pidfile = "$RUNDIR/rspamd.pid";
    .include "$CONFDIR/options.inc"
    disable_hyperscan = true;
    dns {{ timeout = 0.2s; retransmits = 0; }}
}}
logging {{
    type = "file";
    filename = "$LOGDIR/rspamd.log";
    level = "info";
}}
worker "normal" {{
    bind_socket = "127.0.0.1:{cls.port}";
    .include "$CONFDIR/worker-normal.inc"
    count = 1;
}}
""")
        with open(os.path.join(cls.dir, "local.d", "antivirus.conf"), "w") as f:
            f.write(f"""
zerohour {{
  type = "clamav";
  servers = "{cls.bridge.sock}";
  symbol = "ZEROHOUR_VIRUS";
  scan_mime_parts = false;
  log_clean = true;
  timeout = 20.0;
  retransmits = 0;
}}
""")
        cls.log = open(os.path.join(cls.dir, "stdout.log"), "wb")
        d = cls.dir
        cls.proc = subprocess.Popen(
            [cls.rspamd, "-f", "-i", "-c", f"{d}/rspamd.conf", f"--var=LOCAL_CONFDIR={d}",
             f"--var=DBDIR={d}/db", f"--var=RUNDIR={d}/run", f"--var=LOGDIR={d}/log"],
            stdout=cls.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            cls.wait_ready()
        except BaseException:
            cls.stop_rspamd()
            cls.bridge.stop()
            cls.engine.stop()
            raise

    @classmethod
    def wait_ready(cls):
        # rspamd loads its whole rule set before its worker answers /ping.
        deadline = time.time() + max(START_TIMEOUT, 240)
        while time.time() < deadline:
            if cls.proc.poll() is not None:
                raise AssertionError(f"rspamd exited {cls.proc.returncode}: {cls.logtext()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{cls.port}/ping", timeout=5) as r:
                    if r.read().strip() == b"pong":
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"rspamd did not answer /ping: {cls.logtext()}")

    @classmethod
    def logtext(cls):
        try:
            with open(os.path.join(cls.dir, "log", "rspamd.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no log)"

    @classmethod
    def stop_rspamd(cls):
        if cls.proc.poll() is None:
            os.killpg(cls.proc.pid, signal.SIGTERM)
            try:
                cls.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(cls.proc.pid, signal.SIGKILL)
                cls.proc.wait()
        cls.log.close()
        shutil.rmtree(cls.dir, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.stop_rspamd()
        cls.bridge.stop()
        cls.engine.stop()
        shutil.rmtree(cls.home, ignore_errors=True)

    def symbols(self, path):
        r = subprocess.run([self.rspamc, "-h", f"127.0.0.1:{self.port}", "-t", "60", "symbols",
                            path], capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def test_1_worm_gets_the_symbol_clean_mail_does_not(self):
        out = self.symbols(WORM)
        self.assertIn("Symbol: ZEROHOUR_VIRUS", out)
        self.assertIn("[Zerohour.program_in_archive]", out)
        out = self.symbols(CLEAN)
        self.assertNotIn("ZEROHOUR_VIRUS", out)
        self.assertGreaterEqual(self.bridge.logtext().count("unix stream: MALICIOUS"), 1)
        self.assertGreaterEqual(self.bridge.logtext().count("unix stream: CLEAN"), 1)

    def test_2_engine_down_is_a_failure_not_a_pass(self):
        address = self.engine.address
        self.engine.stop()
        try:
            out = self.symbols(WORM)
            self.assertIn("ZEROHOUR_VIRUS_FAIL", out)
            self.assertNotIn("Symbol: ZEROHOUR_VIRUS ", out)
        finally:
            type(self).engine = Engine(addresses=[address])


def exim_binary():
    root = os.environ.get("ZH_EXIM_ROOT", "/opt/zerohour-test/exim4")
    path = os.path.join(root, "usr/sbin/exim4")
    return path if os.access(path, os.X_OK) else None


class EximTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.exim = exim_binary()
        if not cls.exim:
            raise unittest.SkipTest("exim4-daemon-heavy is not extracted at /opt/zerohour-test/exim4 "
                                    "(quickstart.sh does it with apt-get download + dpkg-deb -x; it "
                                    "is not installed because it conflicts with postfix)")
        if not os.path.exists(NSS_WRAPPER):
            raise unittest.SkipTest("nss_wrapper is not installed (package libnss-wrapper)")
        cls.home = tempfile.mkdtemp(prefix="zh-exim-engine-")  # survives engine restarts
        cls.engine = Engine(addresses=[f"ipc://{cls.home}/zh.sock"])
        cls.bridge = Bridge(cls.engine.address, tcp=True, args=["--connect-timeout", "300ms"])
        os.chmod(cls.bridge.tmp, 0o755)
        os.chmod(cls.bridge.sock, 0o666)  # Exim scans as its own user
        cls.dir = tempfile.mkdtemp(prefix="zh-exim-")
        os.chmod(cls.dir, 0o755)
        nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout.strip()
        nogroup = subprocess.run(["getent", "group", "nogroup"], capture_output=True,
                                 text=True).stdout.split(":")[2]
        with open(os.path.join(cls.dir, "passwd"), "w") as f:
            f.write(f"root:x:0:0:root:/root:/bin/sh\n"
                    f"Debian-exim:x:{nobody}:{nogroup}:exim:{cls.dir}/spool:/bin/false\n")
        with open(os.path.join(cls.dir, "group"), "w") as f:
            f.write(f"root:x:0:\nDebian-exim:x:{nogroup}:\n")
        for d in ("spool", "log"):
            os.mkdir(os.path.join(cls.dir, d))
            os.chown(os.path.join(cls.dir, d), int(nobody), int(nogroup))
        cls.env = dict(os.environ, LD_PRELOAD=NSS_WRAPPER,
                       NSS_WRAPPER_PASSWD=os.path.join(cls.dir, "passwd"),
                       NSS_WRAPPER_GROUP=os.path.join(cls.dir, "group"))

    @classmethod
    def tearDownClass(cls):
        cls.bridge.stop()
        cls.engine.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)
        shutil.rmtree(cls.home, ignore_errors=True)

    def config(self, scanner):
        path = os.path.join(self.dir, "exim.conf")
        with open(path, "w") as f:
            f.write(f"""
primary_hostname = mx.test.example
keep_environment =
spool_directory = {self.dir}/spool
log_file_path = {self.dir}/log/%slog
av_scanner = {scanner}
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
begin acl
acl_check_rcpt:
  accept
acl_check_data:
  deny    malware = *
          message = This message contains a worm or virus ($malware_name)
  accept
begin routers
discard:
  driver = redirect
  data = :blackhole:
begin transports
""")
        return path

    def smtp(self, conf, sample):
        """One SMTP session in Exim's host-checking mode (-bh): the real
        ACLs, the real malware condition, no delivery, no daemon."""
        with open(sample, "rb") as f:
            lines = f.read().replace(b"\r\n", b"\n").split(b"\n")
        body = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)
        dialog = (b"EHLO client.example\r\nMAIL FROM:<a@client.example>\r\n"
                  b"RCPT TO:<b@mx.test.example>\r\nDATA\r\n" + body + b"\r\n.\r\nQUIT\r\n")
        r = subprocess.run([self.exim, "-C", conf, "-bh", "192.0.2.10"], input=dialog,
                           capture_output=True, env=self.env, timeout=120)
        replies = [l for l in r.stdout.decode("utf-8", "replace").splitlines()
                   if l[:3].isdigit() and l[3:4] == " "]
        # The reply to the end of DATA comes right after 354.
        i = next(k for k, l in enumerate(replies) if l.startswith("354"))
        return replies[i + 1], r.stderr.decode("utf-8", "replace")

    def check_scanner(self, scanner, how):
        conf = self.config(scanner)
        reply, err = self.smtp(conf, WORM)
        self.assertEqual(reply, "550 This message contains a worm or virus "
                                "(Zerohour.program_in_archive)", err)
        reply, err = self.smtp(conf, CLEAN)
        self.assertTrue(reply.startswith("250 OK id="), reply + err)
        self.assertIn(how, self.bridge.logtext())

    def test_1_unix_socket_scan_path(self):
        # Exim hands a unix-socket clamd the path of its spool copy (SCAN).
        self.check_scanner(f"clamd:{self.bridge.sock}", f"{self.dir}/spool/scan/")

    def test_2_tcp_instream(self):
        self.check_scanner(f"clamd:127.0.0.1 {self.bridge.port}", "127.0.0.1 stream: MALICIOUS")

    def test_3_engine_down_defers(self):
        conf = self.config(f"clamd:127.0.0.1 {self.bridge.port}")
        address = self.engine.address
        self.engine.stop()
        try:
            reply, err = self.smtp(conf, CLEAN)
            self.assertTrue(reply.startswith("451 "), reply + err)
        finally:
            type(self).engine = Engine(addresses=[address])


if __name__ == "__main__":
    unittest.main(verbosity=2)
