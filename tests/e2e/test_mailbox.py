"""`zerohour scan` on mail stores against a real engine: an mbox is scanned
message by message (PATH:N with its Message-ID, From_ lines left out, >From
unquoted), a Maildir as its messages (tmp/ and the server's index files
left alone, not errors), --exclude, --infected-only, the closing summary,
and a hunt through a mailbox full of a new worm leaves the engine's
outbreak table as it was."""
import json
import os
import pty
import signal
import subprocess
import threading
import time
import re
import shutil
import tempfile
import unittest

from zhtest import SAMPLES, Engine, binary, cli
import test_outbreak  # its worm maker; not its tests (no class imported by name)

T0 = 1075111200000


def sample(name):
    with open(os.path.join(SAMPLES, name), "rb") as f:
        return f.read().replace(b"\r\n", b"\n")


def mboxrd(messages):
    """An mbox as mboxrd writers make it: From_ line, >From quoting, blank line."""
    out = b""
    for i, m in enumerate(messages):
        out += b"From sender%d@example.com Mon Jan 26 10:00:%02d 2004\n" % (i, i)
        body = b"\n".join(b">" + l if re.match(rb"^>*From ", l) else l for l in m.split(b"\n"))
        out += body.rstrip(b"\n") + b"\n\n"
    return out


class MailboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-mbox-")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def scan(self, *args):
        return cli("scan", "--address", self.engine.address, *args, check=False)

    def records(self, r):
        return {rec["path"]: rec for rec in map(json.loads, r.out.splitlines())}

    def test_mbox_messages_each_scanned(self):
        clean = sample("01-clean-plain.eml").rstrip(b"\n") + b"\n\nFrom here on, a quoted line.\n"
        box = os.path.join(self.tmp, "inbox")
        with open(box, "wb") as f:
            f.write(mboxrd([clean, sample("04-mydoom-like-zip-pif.eml"),
                            sample("03-eicar-test-attachment.eml"),
                            sample("02-clean-business-pdf.eml")]))
        r = self.scan("--json", "--jobs", "2", box)
        self.assertEqual(r.returncode, 1, r.err)
        recs = self.records(r)
        self.assertEqual(sorted(recs), [f"{box}:{i}" for i in range(1, 5)])
        verdicts = [recs[f"{box}:{i}"]["verdict"] for i in range(1, 5)]
        self.assertEqual(verdicts, ["CLEAN", "MALICIOUS", "MALICIOUS", "CLEAN"])
        self.assertEqual(recs[f"{box}:1"]["message_id"], "<4014E8B2.3050601@northwind.example>")
        self.assertEqual(recs[f"{box}:2"]["mbox"], box)
        self.assertGreater(recs[f"{box}:2"]["offset"], 0)
        # Each message is exactly what the engine gets for the file itself
        # (the From_ line is gone, >From unquoted): the same verdict and score.
        single = self.records(self.scan("--json", os.path.join(SAMPLES, "04-mydoom-like-zip-pif.eml")))
        self.assertEqual(recs[f"{box}:2"]["score"], list(single.values())[0]["score"])
        # Human lines: PATH:N, then the Message-ID at the end.
        human = self.scan("--no-summary", box).out.splitlines()
        self.assertIn(f"{box}:1: CLEAN 0 <4014E8B2.3050601@northwind.example>", human)
        # Summary on standard error, standard output stays one line per message.
        r = self.scan(box)
        self.assertEqual(len(r.out.splitlines()), 4)
        self.assertIn("----------- SCAN SUMMARY -----------", r.err)
        self.assertIn("Scanned messages: 4\n", r.err)
        self.assertIn("Flagged: 2 (MALICIOUS 2, SUSPICIOUS 0, DEFER 0)\n", r.err)
        self.assertIn("Errors: 0\n", r.err)
        # An mbox of one message is reported under its own name.
        one = os.path.join(self.tmp, "one")
        with open(one, "wb") as f:
            f.write(mboxrd([sample("04-mydoom-like-zip-pif.eml")]))
        self.assertTrue(self.scan("--no-summary", one).out.startswith(f"{one}: MALICIOUS"))
        # A file that merely starts with "From " text is one message.
        text = os.path.join(self.tmp, "note.txt")
        with open(text, "wb") as f:
            f.write(b"From the desk of the director: see you at 10.\n")
        self.assertEqual(list(self.records(self.scan("--json", text))), [text])

    def test_maildir(self):
        md = os.path.join(self.tmp, "Maildir")
        for d in ("cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"):
            os.makedirs(os.path.join(md, d))
        files = {"cur/1.host:2,S": "05-sobig-like-pif.eml", "new/2.host": "01-clean-plain.eml",
                 "tmp/3.host": "04-mydoom-like-zip-pif.eml",
                 ".Sent/cur/4.host:2,S": "03-eicar-test-attachment.eml",
                 ".Sent/new/5.host.bak": "07-bagle-like-encrypted-zip.eml"}
        for dst, src in files.items():
            shutil.copy(os.path.join(SAMPLES, src), os.path.join(md, dst))
        for f in ("dovecot.index", "dovecot.index.log", "dovecot-uidlist", "dovecot-keywords",
                  "subscriptions", ".Sent/maildirfolder", ".Sent/dovecot.index.cache"):
            with open(os.path.join(md, f), "wb") as fh:
                fh.write(b"\x00\x01index data")
        r = self.scan("--json", md)
        recs = self.records(r)
        self.assertEqual(sorted(os.path.relpath(p, md) for p in recs),
                         [".Sent/cur/4.host:2,S", ".Sent/new/5.host.bak", "cur/1.host:2,S",
                          "new/2.host"])  # not tmp/, not the index files
        self.assertTrue(all(rec["verdict"] for rec in recs.values()))
        self.assertIn("Skipped: 0 excluded, 7 mail store files", r.err)
        # --exclude by name and by path; --infected-only drops CLEAN lines.
        r = self.scan("--json", "--exclude", "*.bak", "--exclude", f"{md}/new", "-i", md)
        self.assertEqual(sorted(os.path.relpath(p, md) for p in self.records(r)),
                         [".Sent/cur/4.host:2,S", "cur/1.host:2,S"])
        self.assertIn("Skipped: 2 excluded", r.err)
        r = self.scan("--infected-only", "--no-summary", os.path.join(md, "new"))
        self.assertEqual((r.returncode, r.out, r.err), (0, "", ""))

    def test_progress_line_on_a_terminal(self):
        """A scan that takes more than a second shows a progress line on a
        terminal's stderr (erased before the summary); not on a pipe. Once
        results flow, the engine is frozen for 1.5 s, so the scan surely
        takes longer than a second."""
        box = os.path.join(self.tmp, "big.mbox")
        with open(box, "wb") as f:
            f.write(mboxrd([sample("01-clean-plain.eml")] * 3000))
        engine = Engine()
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([binary("zerohour"), "scan", "--jobs", "2", "--address",
                                  engine.address, box], stdout=subprocess.PIPE, stderr=slave)
            os.close(slave)
            first = p.stdout.read(1)  # results are flowing: the client is connected
            engine.signal(signal.SIGSTOP)
            time.sleep(1.5)
            engine.signal(signal.SIGCONT)
            out = first + p.stdout.read()
            p.wait(timeout=300)
            err = b""
            while True:
                try:
                    d = os.read(master, 65536)
                except OSError:
                    break
                if not d:
                    break
                err += d
            self.assertEqual(p.returncode, 0, err)
            self.assertEqual(len(out.splitlines()), 3000)  # stdout untouched by the progress line
            self.assertRegex(err.decode(), r"\r\x1b\[Kscanned \d+, flagged 0, errors 0, [\d.]+ messages/s")
            self.assertIn("\r\x1b[K----------- SCAN SUMMARY", err.decode())
            self.assertIn("Scanned messages: 3000", err.decode())
        finally:
            os.close(master)
            engine.signal(signal.SIGCONT)
            engine.stop()
        # On a pipe: no progress line, only the summary.
        r = self.scan(box)
        self.assertNotIn("\r", r.err)
        self.assertIn("Scanned messages: 3000", r.err)

    def test_hunt_through_a_mailbox_teaches_nothing(self):
        """Twelve copies of a new worm from twelve senders in one mbox: the
        CLI's hunt finds them, and the engine's outbreak table stays empty
        (with --observe the same hunt is counted)."""
        maker = test_outbreak.OutbreakTest()
        maker.rng = __import__("random").Random(7)
        maker.n = 0
        maker.write_copies(self.tmp, 12, T0)
        copies = []
        for i in range(1, 13):
            with open(os.path.join(self.tmp, f"w{i}.eml"), "rb") as f:
                copies.append(f.read().replace(b"\r\n", b"\n"))
        box = os.path.join(self.tmp, "quarantine.mbox")
        with open(box, "wb") as f:
            f.write(mboxrd(copies))
        before = json.loads(cli("outbreaks", "--json", "--address", self.engine.address,
                                check=False).out)["outbreaks"]
        r = self.scan("--json", box)
        recs = self.records(r)
        self.assertEqual(len(recs), 12)
        self.assertNotIn("DEFER", [x["verdict"] for x in recs.values()])
        after = json.loads(cli("outbreaks", "--json", "--address", self.engine.address,
                               check=False).out)["outbreaks"]
        self.assertEqual(after, before)
        self.scan("--json", "--observe", box)
        after = json.loads(cli("outbreaks", "--json", "--address", self.engine.address,
                               check=False).out)["outbreaks"]
        self.assertEqual(sum(o["total"] for o in after) - sum(o["total"] for o in before), 12)


if __name__ == "__main__":
    unittest.main(verbosity=2)
