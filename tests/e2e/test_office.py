"""Macro documents end to end: each fixture of tests/fixtures/office (written by
make_office.py per MS-CFB/MS-OVBA) mailed as an attachment and scanned by a
real zerohourd on the default rules through the CLI. The droppers must come
back MALICIOUS with the macro detector's auto-run hit; the near misses
(documents without macros, a workbook whose macros only format, an installer
database) must not be MALICIOUS, and the documents must be CLEAN."""
import base64
import os
import shutil
import tempfile
import unittest

from zhtest import Engine, message, scan_json, SRC

OFFICE = os.path.join(SRC, "tests", "fixtures", "office")

MUST_FIRE = ["invoice-autoopen.doc", "invoice-autoopen.docm", "invoice-workbook-open.xls",
             "invoice-objdata.rtf"]
# Excel 4.0 macro sheets run by Auto_Open, and documents embedding a program.
MALICIOUS = {"invoice-xlm.xls": "xlm_auto_open", "package-exe.doc": "document_embeds_program",
             "package-exe.rtf": "document_embeds_program"}
CLEAN = ["report.docx", "budget.xlsx", "letter.doc", "totals-benign-macro.xls",
         "totals-benign-macro.xlsm", "xlm-sheet-no-autorun.xls"]


class OfficeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="zh-office-")
        cls.engine = Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def mail(self, name):
        with open(os.path.join(OFFICE, name), "rb") as f:
            b64 = base64.encodebytes(f.read()).decode()
        hdr = [("From", "Erin <erin@contoso-partners.example>"), ("To", "dave@corp.example.com"),
               ("Subject", "October statement"), ("Date", "Tue, 14 Nov 2023 09:30:00 +0000"),
               ("Message-ID", f"<{name}.1700000000@smtp.contoso-partners.example>")]
        path = os.path.join(self.tmp, name + ".eml")
        with open(path, "wb") as f:
            f.write(message(hdr, "Hello Dave, the statement is attached.", "b1", [(
                ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
                 f'Content-Disposition: attachment; filename="{name}"'], b64)]))
        return path

    def test_droppers_and_near_misses(self):
        paths = {name: self.mail(name) for name in
                 MUST_FIRE + CLEAN + list(MALICIOUS) + ["setup.msi", "cut.doc"]}
        _, recs = scan_json(self.engine, *paths.values())
        got = {name: recs[p] for name, p in paths.items()}
        for name in MUST_FIRE:
            rules = [h["rule"] for h in got[name]["hits"]]
            self.assertEqual(got[name]["verdict"], "MALICIOUS", f"{name}: {got[name]}")
            self.assertIn("macro_autorun_risky", rules, name)
        for name, rule in MALICIOUS.items():
            self.assertEqual(got[name]["verdict"], "MALICIOUS", f"{name}: {got[name]}")
            self.assertIn(rule, [h["rule"] for h in got[name]["hits"]], name)
        for name in CLEAN:
            self.assertEqual(got[name]["verdict"], "CLEAN", f"{name}: {got[name]}")
        self.assertNotEqual(got["setup.msi"]["verdict"], "MALICIOUS", got["setup.msi"])
        self.assertFalse([h for h in got["setup.msi"]["hits"] if h["detector"] == "macro"])
        # A compound file cut short is never CLEAN: its damage is an unscannable hit.
        self.assertNotEqual(got["cut.doc"]["verdict"], "CLEAN", got["cut.doc"])
        self.assertTrue([h for h in got["cut.doc"]["hits"] if h["rule"] == "malformed_ole"],
                        got["cut.doc"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
