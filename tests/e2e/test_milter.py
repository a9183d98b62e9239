"""zerohour-milter end to end: a private Postfix instance (its own config,
queue and Maildir under a temp folder, loopback only, a free high port),
a real zerohourd and a real zerohour-milter, and real SMTP sent with swaks.
Nothing is installed or configured outside the temp folder, and everything
started here is stopped at the end, also when a test fails.
Needs root, postfix and swaks (CI installs them); skips cleanly without."""
import glob
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from zhtest import START_TIMEOUT, Engine, binary, cli, free_port, SAMPLES
from test_milter_protocol import MilterProcess

CLEAN = os.path.join(SAMPLES, "01-clean-plain.eml")
WORM = os.path.join(SAMPLES, "04-mydoom-like-zip-pif.eml")
EICAR = os.path.join(SAMPLES, "03-eicar-test-attachment.eml")

MASTER_CF = """\
{port}    inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = {d}/log/postfix.log
maillog_file_prefixes = {d}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.corp.example.com
mydomain = corp.example.com
myorigin = $mydomain
mydestination = corp.example.com
mynetworks = 127.0.0.0/8
local_recipient_maps =
local_transport = virtual
virtual_mailbox_domains =
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
default_transport = error:no outbound mail from this test instance
relay_transport = error:no outbound mail from this test instance
alias_maps =
alias_database =
smtpd_relay_restrictions = reject_unauth_destination
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
biff = no
smtpd_milters = inet:127.0.0.1:{milter_port}
non_smtpd_milters =
milter_protocol = 6
milter_default_action = tempfail
"""


def smtp_data(path, dest):
    """The file as SMTP DATA: CRLF line ends, dot-stuffed, with the final dot."""
    with open(path, "rb") as f:
        raw = f.read()
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    # swaks adds the CRLF after the final dot itself
    out = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b"."
    with open(dest, "wb") as f:
        f.write(out)
    return dest


class Postfix:
    """A private Postfix instance under its own folder."""

    def __init__(self, root, milter_port):
        self.dir = root
        self.port = free_port()
        self.etc = os.path.join(root, "etc")
        import pwd
        pw = pwd.getpwnam("postfix")
        for sub in ("etc", "queue", "data", "log", "mail"):
            os.makedirs(os.path.join(root, sub), mode=0o755, exist_ok=True)
        os.chown(os.path.join(root, "mail"), pw.pw_uid, pw.pw_gid)
        os.chown(os.path.join(root, "data"), pw.pw_uid, pw.pw_gid)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(d=root, uid=pw.pw_uid, gid=pw.pw_gid, milter_port=milter_port))
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        self.started = False
        self.run("postfix", "-c", self.etc, "start")
        self.started = True
        deadline = time.time() + START_TIMEOUT
        while not self.smtp_ready():
            if time.time() > deadline:
                raise AssertionError(f"postfix did not listen on {self.port}:\n{self.logtext()}")
            time.sleep(0.1)

    def smtp_ready(self):
        import socket
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def run(self, *cmd, check=True):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if check and r.returncode:
            raise AssertionError(f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout}{r.stderr}\n"
                                 f"{self.logtext()}")
        return r

    def logtext(self):
        try:
            with open(os.path.join(self.dir, "log", "postfix.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def queue_files(self, *queues):
        queues = queues or ("incoming", "active", "deferred", "maildrop")
        return [p for q in queues for p in glob.glob(os.path.join(self.dir, "queue", q, "**", "*"),
                                                      recursive=True) if os.path.isfile(p)]

    def wait_queue_empty(self, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        while self.queue_files():
            if time.time() > deadline:
                raise AssertionError("the queue did not empty:\n" + self.logtext())
            time.sleep(0.1)

    def delivered(self):
        """Messages in the Maildir, oldest first, as bytes."""
        paths = sorted(glob.glob(os.path.join(self.dir, "mail", "Maildir", "new", "*")),
                       key=os.path.getmtime)
        out = []
        for p in paths:
            with open(p, "rb") as f:
                out.append(f.read())
        return out

    def stop(self):
        if self.started:
            self.run("postfix", "-c", self.etc, "stop", check=False)
            self.started = False


class MilterPostfixTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("a private Postfix needs root")
        for tool in ("postfix", "swaks", "postconf"):
            if not shutil.which(tool):
                raise unittest.SkipTest(f"{tool} is not installed (apt-get install postfix swaks)")
        binary("zerohour-milter")
        cls.tmp = tempfile.mkdtemp(prefix="zh-milter-e2e-")
        os.chmod(cls.tmp, 0o755)
        cls.addr = f"ipc://{cls.tmp}/zh.sock"
        cls.engine = cls.milter = cls.postfix = None
        try:
            cls.engine = Engine(addresses=[cls.addr])
            cls.milter = MilterProcess([cls.addr], ["--add-header", "always", "--timeout", "5s",
                                                    "--connect-timeout", "500"])
            cls.postfix = Postfix(os.path.join(cls.tmp, "pf"), cls.milter.port)
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        errors = []
        if cls.postfix:
            cls.postfix.stop()
        if cls.milter:
            try:
                cls.milter.stop()
            except AssertionError as e:
                errors.append(str(e))
        if cls.engine:
            try:
                cls.engine.stop()
            except AssertionError as e:
                errors.append(str(e))
        shutil.rmtree(cls.tmp, ignore_errors=True)
        if errors:
            raise AssertionError("\n".join(errors))

    def swaks(self, path, mail_from="bob@northwind.example", rcpt="alice@corp.example.com",
              helo="mail.northwind.example"):
        data = smtp_data(path, os.path.join(self.tmp, "data.txt"))
        r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(self.postfix.port),
                            "--from", mail_from, "--to", rcpt, "--ehlo", helo,
                            "--no-data-fixup", "--data", "@" + data, "--timeout", "60"],
                           capture_output=True, text=True, timeout=120)
        r.out = r.stdout + r.stderr
        # The server's answer to the end of DATA: the reply after " -> .".
        lines = r.out.splitlines()
        ends = [i for i, l in enumerate(lines) if l == " -> ."]
        replies = [l for l in lines[ends[-1] if ends else 0:] if l.startswith(("<- ", "<** "))]
        r.final = replies[0].split(" ", 1)[1].strip() if replies else ""
        return r

    def deliver(self, path, **kw):
        before = len(self.postfix.delivered())
        r = self.swaks(path, **kw)
        self.postfix.wait_queue_empty()
        return r, self.postfix.delivered()[before:]

    def test_1_clean_message_delivered_with_headers_intact(self):
        r, new = self.deliver(CLEAN)
        self.assertEqual(r.returncode, 0, r.out)
        self.assertRegex(r.final, r"^250 ")
        self.assertEqual(len(new), 1, self.postfix.logtext())
        msg = new[0]
        with open(CLEAN, "rb") as f:
            original = f.read()
        head = original.split(b"\n\n", 1)[0]
        for line in head.split(b"\n"):  # every original header line, in order
            self.assertIn(line + b"\n", msg)
        self.assertIn(b"\nX-Zerohour-Verdict: CLEAN\n", msg)
        self.assertIn(b"\nX-Zerohour-Score: 0\n", msg)
        self.assertIn(original.split(b"\n\n", 1)[1], msg)  # body untouched

    def test_2_worm_rejected_and_never_delivered(self):
        for path, mail_from, helo in ((WORM, "sandra@example.org", "kqvtwz"),
                                      (EICAR, "sectest@example.net", "mail.example.net")):
            r, new = self.deliver(path, mail_from=mail_from, helo=helo)
            self.assertNotEqual(r.returncode, 0, r.out)
            self.assertRegex(r.final, r"^550 5\.7\.1 .*worm or virus detected", r.out)
            self.assertEqual(new, [], f"{path} was delivered")
        self.assertEqual(self.postfix.queue_files("hold"), [])
        self.assertIn("(EICAR-Test-File)", r.final)

    def test_3_suspicious_delivered_tagged(self):
        path = os.path.join(self.tmp, "suspicious.eml")
        with open(path, "wb") as f:
            f.write(suspicious_message())
        # what the engine says on its own, before the milter does
        s = cli("scan", "--address", self.addr, "--client-ip", "127.0.0.1", "--helo",
                "mail.northwind.example", "--mail-from", "bob@northwind.example", path)
        self.assertIn("SUSPICIOUS", s.out)
        r, new = self.deliver(path)
        self.assertEqual(r.returncode, 0, r.out)
        self.assertEqual(len(new), 1)
        self.assertIn(b"\nX-Zerohour-Verdict: SUSPICIOUS\n", new[0])
        self.assertRegex(new[0], rb"\nX-Zerohour-Score: \d+\n")
        self.assertIn(b"executable/executable_content", new[0])

    def test_4_one_log_line_per_message_with_queue_id(self):
        lines = self.milter.message_lines()
        self.assertGreaterEqual(len(lines), 4)
        for line in lines:
            self.assertRegex(line, r" [0-9A-F]{6,}: verdict=[A-Z]+ score=\d+ action=\w+ hits=\[")

    def test_5_engine_stopped_then_back(self):
        engine, type(self).engine = self.engine, None
        engine.stop()
        r, new = self.deliver(CLEAN)
        self.assertNotEqual(r.returncode, 0, r.out)
        self.assertEqual(r.final,
                         "451 4.7.1 zerohour virus scanner unavailable, try again later", r.out)
        self.assertEqual(new, [])
        self.assertEqual(self.postfix.queue_files(), [])
        # the engine comes back on the same address: the milter finds it alone
        type(self).engine = Engine(addresses=[self.addr])
        deadline = time.time() + START_TIMEOUT
        while True:
            r, new = self.deliver(CLEAN)
            if r.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(r.returncode, 0, r.out)
        self.assertEqual(len(new), 1)


def suspicious_message():
    """One signal only: a PE program attached as setup.exe (SUSPICIOUS, not
    MALICIOUS, with the default rules). The PE comes from the corpus
    generator's synthetic_pe(): headers over random filler, no code."""
    import base64
    import importlib.util
    import random
    src = os.path.join(os.path.dirname(__file__), "..", "corpus", "zh-corpus-gen.py")
    spec = importlib.util.spec_from_file_location("zh_corpus_gen", src)
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    pe = base64.encodebytes(gen.synthetic_pe(random.Random(5), 4096)).decode()
    return ("From: Bob Smith <bob@northwind.example>\n"
            "To: Alice <alice@corp.example.com>\n"
            "Subject: the installer you asked for\n"
            "Date: Mon, 26 Jan 2004 10:15:02 +0000\n"
            "Message-ID: <20040126101502.4711@mail.northwind.example>\n"
            "MIME-Version: 1.0\n"
            'Content-Type: multipart/mixed; boundary="b1"\n\n'
            "--b1\nContent-Type: text/plain\n\n"
            "Here is the setup program for the new printer driver.\n\nBob\n"
            "--b1\nContent-Type: application/octet-stream; name=\"setup.exe\"\n"
            "Content-Transfer-Encoding: base64\n"
            "Content-Disposition: attachment; filename=\"setup.exe\"\n\n"
            + pe + "--b1--\n").encode()


if __name__ == "__main__":
    unittest.main(verbosity=2)
