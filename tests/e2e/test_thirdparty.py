"""Mail that nobody here wrote must pass through the engine without a crash,
hang or leak: Python's own email test messages (libpython3.11-testsuite), the
79 real-world messages of enmime's test data (golang-github-jhillyerd-enmime-dev,
many of them malformed) and ClamAV's test files (clamav-testfiles), scanned
raw and wrapped as attachments. Every one that is not empty gets a verdict —
files that are no mail are scanned as the file they are — and the engine
exits cleanly (under the sanitizers in CI, a leak or UB fails this)."""
import email.message
import email.policy
import glob
import json
import os
import re
import shutil
import tempfile
import unittest

from zhtest import Engine, cli

PY_EMAIL = sorted(glob.glob("/usr/lib/python3*/test/test_email/data/*"))
CLAMAV = sorted(p for p in glob.glob("/usr/share/clamav-testfiles/*") if os.path.isfile(p))
ENMIME = sorted(glob.glob("/usr/share/gocode/src/github.com/jhillyerd/enmime/testdata/**/*.raw", recursive=True))
# enmime's two messages whose first line is not a header field: one starts
# with blank space before its headers, the other is no mail at all.
ENMIME_BAD_FIRST_LINE = {"bad-header-start.raw", "erroneous.raw"}
VERDICTS = {"CLEAN", "SUSPICIOUS", "MALICIOUS", "DEFER", "TEMPFAIL"}
# The one error a client may get for input: nothing to scan. Everything else,
# mail or not, is answered with a verdict.
CLEAR_ERRORS = ("empty message",)


class ThirdPartyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="zh-3rd-")
        cls.engine = Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scan_dir(self, d):
        r = cli("scan", "--json", "--jobs", "2", "--address", self.engine.address, d, check=False,
                timeout=600)
        recs = [json.loads(l) for l in r.out.splitlines()]
        return r, recs

    def check(self, recs, allow_errors):
        for rec in recs:
            if rec.get("error"):
                clear = any(e in rec["error"] for e in CLEAR_ERRORS)
                self.assertTrue(allow_errors and clear, f"{rec['path']}: {rec['error']}")
            else:
                self.assertIn(rec["verdict"], VERDICTS, rec["path"])

    def test_python_email_data(self):
        if not PY_EMAIL:
            self.skipTest("libpython3.11-testsuite is not installed")
        d = os.path.join(self.tmp, "py")
        os.mkdir(d)
        for p in PY_EMAIL:
            shutil.copy(p, d)
        r, recs = self.scan_dir(d)
        self.assertEqual(len(recs), len(PY_EMAIL))
        # Every file gets a verdict, body fragments and binary data too: a
        # file that is no mail is scanned whole. Only an empty one is refused.
        self.check(recs, allow_errors=True)
        for rec in recs:
            if os.path.getsize(rec["path"]):
                self.assertIn(rec["verdict"], VERDICTS, f"{rec['path']}: {rec.get('error')}")
        self.assertEqual(cli("ping", "--address", self.engine.address).returncode, 0)

    def scan_files(self, files, sub):
        """Copy files (names made unique by their folder) into one directory,
        scan it, and map each original path to its CLI record."""
        d = os.path.join(self.tmp, sub)
        os.mkdir(d)
        names = {}
        for p in files:
            name = os.path.basename(os.path.dirname(p)) + "--" + os.path.basename(p)
            shutil.copy(p, os.path.join(d, name))
            names[name] = p
        r, recs = self.scan_dir(d)
        self.assertIn(r.returncode, (0, 1, 2), r.err)
        out = {names[os.path.basename(rec["path"])]: rec for rec in recs}
        self.assertEqual(len(out), len(files), "every file must get a line of output")
        return out

    def unanswered(self, recs):
        """The files that got no verdict, with the reason: the report the
        issue asks for."""
        bad = {p: rec.get("error") or "no verdict" for p, rec in recs.items()
               if rec.get("error") or rec.get("verdict") not in VERDICTS}
        if bad:
            print("\nno verdict for:\n" + "\n".join(f"  {p}: {e}" for p, e in sorted(bad.items())))
        return bad

    def enmime(self):
        if not ENMIME:
            self.skipTest("golang-github-jhillyerd-enmime-dev is not installed")
        if not hasattr(type(self), "_enmime"):
            type(self)._enmime = self.scan_files(ENMIME, "enmime")
        return type(self)._enmime

    def test_enmime_messages_answered(self):
        """All of enmime's real-world messages get a verdict, malformed ones
        included."""
        recs = self.enmime()
        self.assertEqual(len(recs), 79, "enmime's test data holds 79 *.raw messages")
        self.assertEqual(self.unanswered(recs), {})
        self.check(recs.values(), allow_errors=False)
        self.assertEqual(cli("ping", "--address", self.engine.address).returncode, 0)

    def test_enmime_bad_first_line(self):
        """Blank space before the first header: parsed as mail, with a hit
        saying so. No mail at all: scanned as the file it is."""
        recs = self.enmime()
        odd = {os.path.basename(p): rec for p, rec in recs.items()
               if os.path.basename(p) in ENMIME_BAD_FIRST_LINE}
        self.assertEqual(len(odd), len(ENMIME_BAD_FIRST_LINE))
        self.assertEqual(self.unanswered(odd), {})
        rules = {h["rule"] for h in odd["bad-header-start.raw"]["hits"]}
        self.assertIn("malformed_message", rules)

    def test_python_email_data_all_answered(self):
        if not PY_EMAIL:
            self.skipTest("libpython3.11-testsuite is not installed")
        recs = self.scan_files(PY_EMAIL, "py-all")
        self.assertEqual(self.unanswered(recs), {})

    def test_clamav_files_raw_and_wrapped(self):
        if not CLAMAV:
            self.skipTest("clamav-testfiles is not installed")
        raw = os.path.join(self.tmp, "raw")
        wrapped = os.path.join(self.tmp, "wrapped")
        os.mkdir(raw)
        os.mkdir(wrapped)
        for p in CLAMAV:
            shutil.copy(p, raw)
            m = email.message.EmailMessage()
            m["From"] = "tester@example.com"
            m["To"] = "gateway@example.org"
            m["Subject"] = f"test file {os.path.basename(p)}"
            m.set_content("Attached is a file from ClamAV's test set.")
            with open(p, "rb") as f:
                m.add_attachment(f.read(), maintype="application", subtype="octet-stream",
                                 filename=os.path.basename(p))
            with open(os.path.join(wrapped, os.path.basename(p) + ".eml"), "wb") as f:
                f.write(m.as_bytes(policy=email.policy.SMTP))
        r, recs = self.scan_dir(raw)
        self.assertEqual(len(recs), len(CLAMAV))
        self.check(recs, allow_errors=False)  # files, each scanned under its name
        r, recs = self.scan_dir(wrapped)
        self.assertEqual(len(recs), len(CLAMAV))
        self.check(recs, allow_errors=False)
        self.assertEqual(cli("ping", "--address", self.engine.address).returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
