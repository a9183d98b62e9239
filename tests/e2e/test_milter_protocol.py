"""zerohour-milter at the milter protocol level, driven by a small milter
client written here (the MTA side of the Sendmail milter protocol, version 6)
against a real zerohour-milter and a real zerohourd: size cap, many
recipients, aborted transactions, a body in many small chunks, sessions with
no transaction, MTAs that do or do not offer the no-reply flags; the engine's
DEFER (a spreading risky payload) and TEMPFAIL answers, an engine slower than
the milter's timeout, several engines with one stopped, a unix: socket and its
mode. Also keeps the
README's settings table equal to `zerohour-milter --settings-markdown`.
Python standard library only; MilterProcess is shared with test_milter.py."""
import base64
import os
import random
import re
import shutil
import signal
import socket
import stat
import struct
import subprocess
import tempfile
import time
import unittest

from test_outbreak import fake_pe
from zhtest import START_TIMEOUT, Daemon, Engine, binary, cli, free_port, message, SAMPLES, SRC

# ---- the milter protocol (MTA side) ---------------------------------------------

SMFIP_NR_ALL = 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000 | 0x40000 | 0x80000
SMFIP_NR_HDR = 0x80
# What each MTA command needs to see before its reply is skipped.
NR_FLAG = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000, b"T": 0x10000,
           b"L": 0x80, b"N": 0x40000, b"B": 0x80000}
POSTFIX_ACTIONS = 0x1FF
POSTFIX_PROTOCOL = 0x1FFFFF  # what Postfix 3.7 offers
OLD_PROTOCOL = 0x7F          # a version-2 era MTA: no no-reply flags, no leading space


class Reply:
    """The milter's answer to one command: modifications then a final code."""

    def __init__(self):
        self.mods = []    # ("h", name, value) / ("m", index, name, value) / ("q", reason)
        self.code = None  # "a" accept, "c" continue, "r" reject, "t" tempfail, "d" discard, "y"
        self.text = ""    # for "y": "550 5.7.1 ..."

    @property
    def smtp(self):
        """The SMTP reply class this final answer means: 2xx/4xx/5xx or discard."""
        if self.code == "y":
            return self.text[:1] + "xx"
        return {"a": "2xx", "c": "2xx", "r": "5xx", "t": "4xx", "d": "discard"}[self.code]

    def added(self, name):
        return [m[2] for m in self.mods if m[0] == "h" and m[1].lower() == name.lower()]

    def __repr__(self):
        return f"Reply({self.code!r}, {self.text!r}, {self.mods!r})"


class MilterConn:
    """One MTA-side milter connection. Commands the milter agreed not to answer
    (SMFIP_NR_*) are sent without waiting, as Postfix does."""

    def __init__(self, port, protocol=POSTFIX_PROTOCOL, actions=POSTFIX_ACTIONS, timeout=30):
        if isinstance(port, str):  # the path of a unix: socket
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(port)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send(b"O", struct.pack(">III", 6, actions, protocol))
        cmd, data = self.read_packet()
        assert cmd == b"O", cmd
        self.version, self.actions, self.protocol = struct.unpack(">III", data[:12])
        # A modern MTA (one that knows SMFIP_NODATA) sends DATA unless told not to.
        self.send_data = bool(protocol & 0x200) and not self.protocol & 0x200
        assert self.protocol & ~protocol == 0, "milter asked for steps the MTA did not offer"

    def send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def read_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("milter closed the connection")
            buf += chunk
        return buf

    def read_packet(self):
        (n,) = struct.unpack(">I", self.read_exact(4))
        body = self.read_exact(n)
        return body[:1], body[1:]

    def command(self, cmd, data=b""):
        """Send a command; return its Reply, or None when no reply is due."""
        self.send(cmd, data)
        if cmd in NR_FLAG and self.protocol & NR_FLAG[cmd]:
            return None
        reply = Reply()
        while True:
            c, d = self.read_packet()
            c = c.decode()
            if c == "p":  # progress: keep waiting
                continue
            if c == "h":
                name, value = d.rstrip(b"\0").split(b"\0", 1)
                reply.mods.append(("h", name.decode(), value.decode()))
            elif c == "m":
                (idx,) = struct.unpack(">I", d[:4])
                name, value = (d[4:].split(b"\0") + [b""])[:2]
                reply.mods.append(("m", idx, name.decode(), value.decode()))
            elif c == "q":
                reply.mods.append(("q", d.rstrip(b"\0").decode()))
            elif c in "acrtdy":
                reply.code = c
                reply.text = d.rstrip(b"\0").decode()
                return reply
            else:
                raise AssertionError(f"unexpected milter packet {c!r} {d!r}")

    @staticmethod
    def z(*parts):
        return b"".join(p.encode() + b"\0" for p in parts)

    def macro(self, for_cmd, **macros):
        self.send(b"D", for_cmd + b"".join(k.encode() + b"\0" + v.encode() + b"\0"
                                           for k, v in macros.items()))

    def connect(self, host="client.example", ip="127.0.0.1"):
        return self.command(b"C", self.z(host) + b"4" + struct.pack(">H", 40000) + self.z(ip))

    def helo(self, name):
        return self.command(b"H", self.z(name))

    def mail(self, addr, *esmtp):
        return self.command(b"M", self.z(f"<{addr}>", *esmtp))

    def rcpt(self, addr):
        return self.command(b"R", self.z(f"<{addr}>"))

    def header(self, name, value):
        # Postfix keeps the leading space when the milter asks for it.
        if not self.protocol & 0x100000 and value.startswith(" "):
            value = value[1:]
        return self.command(b"L", self.z(name, value))

    def eoh(self):
        return self.command(b"N")

    def body(self, data):
        return self.command(b"B", data)

    def eom(self, qid="4ABCDEF0"):
        self.macro(b"E", i=qid)
        return self.command(b"E")

    def abort(self):
        self.send(b"A")  # never answered

    def quit(self):
        self.send(b"Q")
        self.sock.close()

    def message(self, raw, chunk=65535):
        """Send raw RFC 5322 bytes as headers, end of headers, body chunks."""
        raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        head, _, body = raw.partition(b"\r\n\r\n")
        headers = []
        for line in head.split(b"\r\n"):
            if line[:1] in (b" ", b"\t") and headers:
                headers[-1][1] += b"\n" + line  # Postfix passes folded lines with LF
            else:
                name, _, value = line.partition(b":")
                headers.append([name, value])
        for name, value in headers:
            r = self.header(name.decode("latin-1"), value.decode("latin-1"))
            if r is not None:
                assert r.code == "c", r
        self.eoh()
        for i in range(0, len(body), chunk):
            r = self.body(body[i:i + chunk])
            if r is not None and r.code != "c":
                return r
        return None

    def transaction(self, raw, mail_from="bob@northwind.example",
                    rcpts=("alice@corp.example.com",), chunk=65535, qid="4ABCDEF0"):
        self.mail(mail_from)
        for r in rcpts:
            self.rcpt(r)
        if self.send_data:
            self.macro(b"T", i=qid)
            r = self.command(b"T")
            assert r is None or r.code == "c", r
        early = self.message(raw, chunk)
        return early or self.eom(qid)


# ---- the daemon -------------------------------------------------------------------

class MilterProcess(Daemon):
    """A zerohour-milter on a free loopback port (or, with unix=True, on a unix
    socket in its temp folder: then .port is that path, which MilterConn takes
    too); stop() checks a clean exit."""
    name = "zerohour-milter"

    def __init__(self, engine_addresses, args=(), port=None, unix=False):
        super().__init__("zh-milter-")
        os.chmod(self.tmp, 0o755)
        # A free port may be taken by someone else before the milter binds
        # it: then try another (a port given by the caller is tried once).
        for attempt in range(1 if unix or port else 5):
            if unix:
                self.port = os.path.join(self.tmp, "milter.sock")
                where = f"unix:{self.port}"
            else:
                self.port = port or free_port()
                where = f"inet:{self.port}@127.0.0.1"
            cmd = [binary("zerohour-milter"), "--socket", where, "--log-level", "debug"]
            for a in engine_addresses:
                cmd += ["--engine", a]
            cmd += list(args)
            self.spawn(cmd)
            if self.wait_listening():
                return
        text = self.logtext()
        self.stop(expect_rc=None)
        raise AssertionError(f"zerohour-milter did not start:\n{text}")

    def wait_listening(self):
        """True once it listens; False if it exited (its log says why)."""
        deadline = time.time() + START_TIMEOUT
        while "listening on" not in self.logtext():
            if self.proc.poll() is not None:
                return False
            if time.time() > deadline:
                return False
            time.sleep(0.05)
        return True

    def message_lines(self):
        return [l for l in self.logtext().splitlines() if " verdict=" in l]

    def wait_lines(self, n, timeout=START_TIMEOUT):
        deadline = time.time() + timeout
        while len(self.message_lines()) < n and time.time() < deadline:
            time.sleep(0.02)
        return self.message_lines()

    def terminate(self):
        """Ask it to stop without waiting (libmilter takes a few seconds)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read()


CLEAN = "01-clean-plain.eml"
WORM = "04-mydoom-like-zip-pif.eml"
UNAVAILABLE = "451 4.7.1 zerohour virus scanner unavailable, try again later"
# test_engine.py's deliberately slow rule: a byte loop in the condition, a
# second or two per 1.5 MB object. Score 0: its match alone must not make a
# timed-out scan MALICIOUS (the engine keeps a damning partial verdict).
SLOW_RULE = (b"rule Slow { meta: score = 0 condition: for all i in (0..filesize-1) : "
             b"(for all j in (0..19) : (uint8(i) != 255 - j)) }\n")
# Ten times slower: the big message takes tens of seconds, a sample message
# milliseconds.
SLOWER_RULE = (b"rule Slower { meta: score = 0 condition: for all i in (0..filesize-1) : "
               b"(for all j in (0..199) : (uint8(i) != 255 - j)) }\n")


def pe_copy(rng, i):
    """One polymorphic copy of a worm mail: a PE .exe attachment, new bytes each time."""
    hdr = [("From", f"u{i}@h{i}.example"), ("To", "alice@corp.example.com"),
           ("Subject", "your update"), ("Date", "Mon, 26 Jan 2004 10:00:00 +0000"),
           ("Message-ID", f"<{i}@h{i}.example>")]
    return message(hdr, "see the attachment", "b", [(
        ['Content-Type: application/octet-stream; name="update.exe"',
         "Content-Transfer-Encoding: base64"],
        base64.encodebytes(fake_pe(rng)).decode())])


def big_text(mb=1.5):
    hdr = [("From", "bob@northwind.example"), ("To", "alice@corp.example.com"),
           ("Subject", "the big report"), ("Message-ID", "<big@northwind.example>")]
    return message(hdr, "abcdefghi\n" * int(mb * 100_000))


def scans(engine):
    out = cli("stats", "--address", engine.address).out
    return int(re.search(r"^scans:(\d+)$", out, re.M).group(1))


# ---- the tests ----------------------------------------------------------------------

class MilterProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary("zerohour-milter")
        cls.engine = Engine()
        cls.milters = []
        try:
            cls.milter = cls.start([])
            cls.small = cls.start(["--max-message-bytes", "4K"])
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def start(cls, args, engines=None, **kw):
        m = MilterProcess(engines or [cls.engine.address], ["--add-header", "always", *args], **kw)
        cls.milters.append(m)
        return m

    @classmethod
    def tearDownClass(cls):
        errors = []
        for m in cls.milters:
            m.terminate()
        for m in cls.milters:
            try:
                m.stop()
            except AssertionError as e:
                errors.append(str(e))
        cls.engine.stop()
        if errors:
            raise AssertionError("\n".join(errors))

    def session(self, milter=None, **kw):
        c = MilterConn((milter or self.milter).port, **kw)
        c.connect()
        c.helo("mail.northwind.example")
        return c

    def last_line(self, milter, n):
        lines = milter.wait_lines(n)
        self.assertGreaterEqual(len(lines), n, milter.logtext())
        return lines[-1]

    def test_negotiation_takes_no_reply_flags_and_leading_space(self):
        c = MilterConn(self.milter.port)
        self.assertTrue(c.protocol & SMFIP_NR_HDR)
        self.assertTrue(c.protocol & 0x100000, "SMFIP_HDR_LEADSPC")
        self.assertFalse(c.protocol & 0x4000, "MAIL keeps its reply (SIZE= check)")
        # DATA is wanted, with a reply: see on_negotiate (Nagle vs delayed ACK)
        self.assertFalse(c.protocol & (0x200 | 0x10000), "SMFIP_NODATA / SMFIP_NR_DATA")
        self.assertEqual(c.actions & 0x31, 0x31)  # add/change headers, quarantine
        c.quit()

    def test_clean_and_worm(self):
        c = self.session()
        r = c.transaction(sample(CLEAN))
        self.assertEqual(r.code, "a", r)
        self.assertEqual(r.added("X-Zerohour-Verdict"), [" CLEAN"])
        r = c.transaction(sample(WORM), mail_from="sandra@example.org", qid="4WORM0001")
        self.assertEqual(r.code, "y", r)
        self.assertRegex(r.text, r"^550 5\.7\.1 Message rejected: worm or virus detected \(")
        c.quit()
        line = self.last_line(self.milter, 2)
        self.assertRegex(line, r"4WORM0001: verdict=MALICIOUS score=\d+ action=reject hits=\[")

    def test_old_mta_without_no_reply_flags(self):
        c = MilterConn(self.milter.port, protocol=OLD_PROTOCOL)
        self.assertEqual(c.protocol & SMFIP_NR_ALL, 0)
        self.assertEqual(c.connect().code, "c")
        self.assertEqual(c.helo("mail.northwind.example").code, "c")
        r = c.transaction(sample(CLEAN))
        self.assertEqual(r.code, "a", r)
        # no leading-space agreement: the milter's value carries none
        self.assertEqual(r.added("X-Zerohour-Verdict"), ["CLEAN"])
        c.quit()

    def test_body_over_the_size_cap(self):
        before = len(self.small.message_lines())
        big = sample(CLEAN).replace(b"\n\n", b"\n\n" + b"filler line of text\n" * 600, 1)
        c = self.session(self.small)
        r = c.transaction(big)
        self.assertEqual(r.code, "y", r)
        self.assertTrue(r.text.startswith("452 4.3.4 Message too big for virus scanning"), r)
        # the connection goes on; a small message still passes
        r = c.transaction(sample(CLEAN))
        self.assertEqual(r.code, "a", r)
        c.quit()
        lines = self.small.wait_lines(before + 2)
        self.assertIn("action=tempfail", lines[before])
        self.assertIn("max_message_bytes is 4096", lines[before])
        self.assertIn("verdict=CLEAN", lines[before + 1])

    def test_announced_size_refused_at_mail_from(self):
        c = self.session(self.small)
        r = c.command(b"M", c.z("<bob@northwind.example>", "SIZE=100000"))
        self.assertEqual(r.code, "y")
        self.assertTrue(r.text.startswith("452 4.3.4"), r)
        r = c.command(b"M", c.z("<bob@northwind.example>", "SIZE=1000"))
        self.assertEqual(r.code, "c")
        c.quit()

    def test_oversize_reject_and_accept_policies(self):
        big = sample(CLEAN) + b"more text\n" * 1000
        m = self.start(["--max-message-bytes", "4K", "--on-oversize", "reject"])
        c = self.session(m)
        r = c.transaction(big)
        self.assertTrue(r.text.startswith("552 5.3.4"), r)
        c.quit()
        m = self.start(["--max-message-bytes", "4K", "--on-oversize", "accept"])
        c = self.session(m)
        r = c.transaction(big)
        self.assertEqual(r.code, "a", r)
        self.assertEqual(r.added("X-Zerohour-Verdict"), [" UNSCANNED (too big)"])
        c.quit()

    def test_two_hundred_recipients(self):
        before = len(self.milter.message_lines())
        rcpts = [f"user{i:03d}@corp.example.com" for i in range(200)]
        c = self.session()
        r = c.transaction(sample(CLEAN), rcpts=rcpts, qid="4RCPT0200")
        self.assertEqual(r.code, "a", r)
        c.quit()
        line = self.last_line(self.milter, before + 1)
        self.assertIn("4RCPT0200: verdict=CLEAN", line)
        self.assertIn("rcpts=200 ", line)

    def test_aborted_transaction_leaves_nothing_behind(self):
        before = len(self.milter.message_lines())
        c = self.session()
        c.mail("sandra@example.org")
        c.rcpt("alice@corp.example.com")
        c.message(sample(WORM)[:1500])
        c.abort()
        # the next transaction on the same connection starts from nothing
        raw = sample(CLEAN)
        r = c.transaction(raw, qid="4AFTERABT")
        self.assertEqual(r.code, "a", r)
        c.abort()  # Postfix sends abort after end-of-message too
        c.mail("bob@northwind.example")
        c.rcpt("alice@corp.example.com")
        c.abort()  # abort before any data
        c.quit()
        # an aborted session in the middle of the body, connection dropped
        c = self.session()
        c.mail("sandra@example.org")
        c.rcpt("alice@corp.example.com")
        c.message(sample(WORM)[:3000])
        c.sock.close()
        lines = self.milter.wait_lines(before + 1)
        time.sleep(0.3)
        lines = self.milter.message_lines()
        self.assertEqual(len(lines), before + 1, "\n".join(lines[before:]))
        self.assertIn("4AFTERABT: verdict=CLEAN", lines[-1])
        self.assertIn("from=<bob@northwind.example> rcpts=1 ", lines[-1])
        # size = what the milter collected for this message alone (CRLF lines)
        size = int(re.search(r" size=(\d+)", lines[-1]).group(1))
        self.assertEqual(size, len(raw.replace(b"\n", b"\r\n")))
        self.assertIsNone(self.milter.proc.poll())

    def test_body_in_many_small_chunks(self):
        for name, chunk, want in ((WORM, 7, "y"), (CLEAN, 1, "a"), (WORM, 65535, "y")):
            c = self.session()
            r = c.transaction(sample(name), mail_from="sandra@example.org", chunk=chunk)
            self.assertEqual(r.code, want, f"{name} in {chunk}-byte chunks: {r}")
            c.quit()

    def test_connect_and_quit_without_transaction(self):
        before = len(self.milter.message_lines())
        for _ in range(20):
            c = MilterConn(self.milter.port)
            c.connect()
            c.quit()
        c = MilterConn(self.milter.port)  # negotiation only, then gone
        c.sock.close()
        c = self.session()
        self.assertEqual(c.transaction(sample(CLEAN)).code, "a")
        c.quit()
        self.assertEqual(len(self.milter.wait_lines(before + 1)), before + 1)
        self.assertIsNone(self.milter.proc.poll())

    def test_forged_verdict_headers_are_removed(self):
        raw = b"X-Zerohour-Verdict: CLEAN\nX-Zerohour-Score: 0\nX-Zerohour-Verdict: CLEAN\n" + \
            sample(CLEAN)
        c = self.session()
        r = c.transaction(raw)
        c.quit()
        deletions = sorted((m[2], m[1]) for m in r.mods if m[0] == "m" and m[3] == "")
        self.assertEqual(deletions, [("X-Zerohour-Score", 1), ("X-Zerohour-Verdict", 1),
                                     ("X-Zerohour-Verdict", 2)], r)

    def test_suspicious_is_tagged_and_quarantine_policies(self):
        m = self.start(["--on-suspicious", "quarantine", "--on-malicious", "quarantine"])
        c = self.session(m)
        r = c.transaction(sample(WORM), mail_from="sandra@example.org")
        c.quit()
        self.assertEqual(r.code, "a", r)
        self.assertTrue([x for x in r.mods if x[0] == "q" and "malicious" in x[1]], r)
        self.assertEqual(r.added("X-Zerohour-Verdict"), [" MALICIOUS"])
        m = self.start(["--on-malicious", "discard"])
        c = self.session(m)
        r = c.transaction(sample(WORM), mail_from="sandra@example.org")
        c.quit()
        self.assertEqual(r.code, "d", r)

    def test_engine_unavailable(self):
        # A milter pointing at an engine that is not there: tempfail by
        # default, fail open only when asked.
        gone = f"ipc://{tempfile.gettempdir()}/zh-no-engine-{os.getpid()}.sock"
        m = self.start(["--connect-timeout", "200"], engines=[gone])
        c = self.session(m)
        r = c.transaction(sample(CLEAN))
        c.quit()
        self.assertEqual(r.code, "y", r)
        self.assertEqual(r.text, "451 4.7.1 zerohour virus scanner unavailable, try again later")
        self.assertIn("warn", m.wait_lines(1)[-1])
        m = self.start(["--connect-timeout", "200", "--on-unavailable", "accept"], engines=[gone])
        c = self.session(m)
        r = c.transaction(sample(CLEAN))
        c.quit()
        self.assertEqual(r.code, "a", r)
        self.assertEqual(r.added("X-Zerohour-Verdict"), [" UNSCANNED (scanner unavailable)"])

    def test_concurrent_sessions(self):
        import threading
        before = len(self.milter.message_lines())
        results = []

        def run(i):
            c = self.session()
            for k in range(5):
                raw = sample(WORM if (i + k) % 3 == 0 else CLEAN)
                results.append(c.transaction(raw, mail_from="sandra@example.org",
                                             qid=f"4C{i:02d}{k}").code)
            c.quit()

        threads = [threading.Thread(target=run, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(len(results), 80)
        self.assertEqual(len(self.milter.wait_lines(before + 80)), before + 80)

    # ---- the engine's other answers and other engine setups ----------------------

    def own_engine(self, rules=None, args=(), workers=2):
        """A zerohourd for this test alone, stopped (and checked) when it ends."""
        kw = {"rules": rules} if rules else {}
        e = Engine(args=args, workers=workers, **kw)
        self.addCleanup(e.stop)
        return e

    def slow_rules(self, rule=SLOW_RULE):
        d = tempfile.mkdtemp(prefix="zh-slow-rules-")
        self.addCleanup(shutil.rmtree, d, True)
        with open(os.path.join(d, "slow.yar"), "wb") as f:
            f.write(rule)
        return d

    def test_spreading_risky_payload_is_deferred(self):
        # Its own engine, so no other test's mail is in its outbreak table.
        e = self.own_engine(args=["--set", "outbreak.defer_retry_s=120"])
        m = self.start([], engines=[e.address])
        rng = random.Random(11)
        replies = []
        for i in (1, 2):
            c = MilterConn(m.port)
            c.connect(host=f"mx{i}.h{i}.example", ip=f"198.51.100.{i}")
            c.helo(f"mx{i}.h{i}.example")
            replies.append(c.transaction(pe_copy(rng, i), mail_from=f"u{i}@h{i}.example",
                                         qid=f"4DEFER{i:03d}"))
            c.quit()
        first, second = replies
        # The first copy is judged on its own: an .exe is suspicious, not deferred.
        self.assertEqual(first.code, "a", first)
        self.assertEqual(first.added("X-Zerohour-Verdict"), [" SUSPICIOUS"])
        # The second, from another sender and client, is spreading: DEFER with
        # the engine's retry_after_s in the text.
        self.assertEqual(second.code, "y", second)
        self.assertEqual(second.text, "451 4.7.1 Message deferred by zero-hour outbreak check, "
                         "try again in 120 s")
        self.assertEqual(second.mods, [], "a deferred message gets no headers")
        lines = m.wait_lines(2)
        self.assertRegex(lines[0], r"4DEFER001: verdict=SUSPICIOUS ")
        self.assertRegex(lines[1], r"^\S+ info 4DEFER002: verdict=DEFER score=\d+ action=tempfail "
                         r"hits=\[.*executable.*\] from=<u2@h2\.example> rcpts=1 .*"
                         r"client=198\.51\.100\.2 ")
        self.assertNotIn("error=", lines[1])

    def test_engine_slower_than_timeout(self):
        # The big message takes the engine until its own 5 s budget (then
        # TEMPFAIL), the small one milliseconds: the milter's 1 s timeout
        # lies far from both, whatever else the machine is doing.
        e = self.own_engine(rules=self.slow_rules(SLOWER_RULE), workers=4,
                            args=["--set", "limits.scan_timeout_ms=5s"])
        big = big_text()
        m = self.start(["--timeout", "1s"], engines=[e.address])
        c = self.session(m)
        r = c.transaction(big, qid="4SLOW0001")
        # Had the milter waited for the engine, the log would carry the
        # engine's TEMPFAIL and no client error; it gave up at its timeout.
        self.assertEqual(r.code, "y", r)
        self.assertEqual(r.text, UNAVAILABLE)
        # The same connection goes on: a small message is quick even with this
        # rule (which matches any ASCII text, with score 0), and the late
        # answer to the abandoned scan is not taken for it.
        r = c.transaction(sample(CLEAN), qid="4SLOW0002")
        self.assertEqual(r.code, "a", r)
        c.quit()
        lines = m.wait_lines(2)
        self.assertRegex(lines[0], r"^\S+ warn 4SLOW0001: verdict=UNSCANNED \(scanner unavailable\) "
                         r"score=0 action=tempfail .* error=")
        self.assertRegex(lines[1], r" info 4SLOW0002: verdict=CLEAN score=0 action=accept "
                         r".* size=%d " % len(sample(CLEAN).replace(b"\n", b"\r\n")))
        # Fail open only when asked, and tagged.
        m = self.start(["--timeout", "1s", "--on-unavailable", "accept"], engines=[e.address])
        c = self.session(m)
        r = c.transaction(big, qid="4SLOW0003")
        c.quit()
        self.assertEqual(r.code, "a", r)
        self.assertEqual(r.added("X-Zerohour-Verdict"), [" UNSCANNED (scanner unavailable)"])
        self.assertEqual(r.added("X-Zerohour-Score"), [], "no score: there was no verdict")
        self.assertRegex(m.wait_lines(1)[0], r"^\S+ warn 4SLOW0003: verdict=UNSCANNED "
                         r"\(scanner unavailable\) score=0 action=accept ")

    def test_engine_tempfail_verdict(self):
        # The engine's own scan budget runs out long before the milter's
        # timeout (YARA stops at whole seconds, so about 1 s): it answers
        # TEMPFAIL, and the milter treats that as a scanner unavailable.
        e = self.own_engine(rules=self.slow_rules(),
                            args=["--set", "limits.scan_timeout_ms=50"])
        big = big_text()
        m = self.start(["--timeout", "20s"], engines=[e.address])
        c = self.session(m)
        r = c.transaction(big, qid="4TEMP0001")
        c.quit()
        self.assertEqual(r.code, "y", r)
        self.assertEqual(r.text, UNAVAILABLE)
        line = m.wait_lines(1)[0]
        self.assertRegex(line, r"^\S+ warn 4TEMP0001: verdict=UNSCANNED \(scanner unavailable\) "
                         r"score=\d+ action=tempfail hits=\[.*limits/limits_exceeded.*\]")
        self.assertNotIn("error=", line, "the engine answered; no client error")
        m = self.start(["--timeout", "20s", "--on-unavailable", "accept"], engines=[e.address])
        c = self.session(m)
        r = c.transaction(big, qid="4TEMP0002")
        c.quit()
        self.assertEqual(r.code, "a", r)
        self.assertEqual(r.added("X-Zerohour-Verdict"), [" UNSCANNED (scanner unavailable)"])
        self.assertIn("limits/limits_exceeded", r.added("X-Zerohour-Hits")[0])
        self.assertRegex(m.wait_lines(1)[0], r"^\S+ warn 4TEMP0002: verdict=UNSCANNED "
                         r"\(scanner unavailable\) score=\d+ action=accept ")

    def test_several_engines_and_one_stops(self):
        a, b = self.own_engine(), self.own_engine()
        m = self.start([], engines=[a.address, b.address])
        self.assertIn("and others", m.logtext())

        def send(n, tag):
            c = self.session(m)
            for k in range(n):
                raw, want = (sample(WORM), "y") if k % 5 == 4 else (sample(CLEAN), "a")
                r = c.transaction(raw, mail_from="sandra@example.org", qid=f"4{tag}{k:04d}")
                self.assertEqual(r.code, want, r)
            c.quit()

        # Both engines take scans once the milter is connected to both; on a
        # busy machine the second connection may come a few messages late.
        sent = 0
        while sent < 200 and not (scans(a) and scans(b)):
            send(10, f"T{sent // 10:02d}")
            sent += 10
        self.assertEqual(scans(a) + scans(b), sent)
        self.assertGreater(scans(a), 0, "scans are spread over the engines connected")
        self.assertGreater(scans(b), 0, "scans are spread over the engines connected")
        a.stop()  # SIGTERM; exit 0 is checked
        before_b = scans(b)
        send(10, "ONE")
        self.assertEqual(scans(b), before_b + 10)
        lines = m.wait_lines(sent + 10)
        self.assertEqual(len(lines), sent + 10)
        for line in lines[sent:]:
            self.assertNotIn("error=", line)
            self.assertRegex(line, r" info 4ONE\d{4}: verdict=(CLEAN|MALICIOUS) ")

    def test_unix_socket_and_its_mode(self):
        for args, mode in (([], 0o660), (["--socket-mode", "0640"], 0o640)):
            m = self.start(args, unix=True)
            st = os.stat(m.port)
            self.assertTrue(stat.S_ISSOCK(st.st_mode))
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, f"{args}: {oct(st.st_mode)}")
            self.assertIn(f"listening on unix:{m.port}", m.logtext())
            c = self.session(m)
            r = c.transaction(sample(CLEAN), qid="4UNIX0001")
            self.assertEqual(r.code, "a", r)
            self.assertEqual(r.added("X-Zerohour-Verdict"), [" CLEAN"])
            r = c.transaction(sample(WORM), mail_from="sandra@example.org", qid="4UNIX0002")
            self.assertTrue(r.text.startswith("550 5.7.1 "), r)
            c.quit()
            lines = m.wait_lines(2)
            self.assertIn("4UNIX0001: verdict=CLEAN", lines[0])
            self.assertIn("4UNIX0002: verdict=MALICIOUS", lines[1])



class MilterConfigTest(unittest.TestCase):
    def run_milter(self, *args):
        return subprocess.run([binary("zerohour-milter"), *args], capture_output=True, text=True,
                              timeout=30)

    def test_readme_settings_table(self):
        table = self.run_milter("--settings-markdown").stdout
        with open(os.path.join(SRC, "README.md"), encoding="utf-8") as f:
            self.assertIn(table, f.read(), "README's zerohour-milter table differs from "
                          "`zerohour-milter --settings-markdown`")

    def test_config_file_and_flags(self):
        with tempfile.TemporaryDirectory() as d:
            ini = os.path.join(d, "m.ini")
            with open(ini, "w") as f:
                f.write("[milter]\non_malicious = quarantine\ntimeout = 2s\n"
                        "engine = ipc:///tmp/a.sock\nengine = ipc:///tmp/b.sock\n")
            r = self.run_milter("--config", ini, "--check")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(ini, "a") as f:
                f.write("on_suspicious = maybe\n")
            r = self.run_milter("--config", ini, "--check")
            self.assertEqual(r.returncode, 2)
            self.assertIn("m.ini:6: on_suspicious: \"maybe\" is not one of tag|quarantine|accept",
                          r.stderr)
        r = self.run_milter("--timeout", "soon", "--check")
        self.assertEqual(r.returncode, 2)
        self.assertIn("timeout", r.stderr)
        r = self.run_milter("--print-config")
        self.assertIn("on_malicious = reject", r.stdout)
        self.assertIn("--on-unavailable tempfail|accept", self.run_milter("--help").stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
