"""ClamAV's test files (package clamav-testfiles), each wrapped in an ordinary
message as an attachment under its own name, through a real engine. Every one
of them carries ClamAV's harmless test program clam.exe — bare, packed
(UPX, UPack, MEW...), compressed, archived (cpio, CAB, CHM, SZDD...) or
embedded in a document. No signature is used: what flags them is behaviour,
a program where mail should not carry one.

Each file is in exactly one class, and the test fails when a file leaves its
class — a gap that starts being flagged must move out of GAPS, a flagged file
that stops being flagged is a regression:
- SEEN (the default): flagged, and a hit names the program found;
- FLAGGED_UNSEEN: flagged because the container could not be fully read (an
  unscannable hit), without the program itself being seen;
- GAPS: not flagged at all; the reason says what the engine does not read."""
import email.message
import email.policy
import email.utils
import glob
import os
import shutil
import tempfile
import unittest

from zhtest import Engine, scan_json

TESTFILES = "/usr/share/clamav-testfiles"

# Rules whose hit means the program itself was found (by name or content).
PROGRAM_RULES = {"program_in_archive", "executable_in_archive", "executable_content",
                 "executable_name", "content_mismatch", "html_smuggling_payload",
                 "pdf_action_with_program"}

FLAGGED_UNSEEN = {
    "clam.arj": "ARJ: libarchive 3.6.2 has no ARJ reader (unsupported_format)",
    "clam_cache_emax.tgz": "clam.exe sits 8 gzipped tars deep, past archive_max_depth",
}

GAPS = {
    "clam.exe.binhex": "BinHex 4.0 is not decoded",
    "clam.exe.html": "a link to a data: URI without a download attribute is not rebuilt",
    "clam.exe.mbox.base64": "a mailbox attached as application/octet-stream is not parsed as mail",
    "clam.exe.mbox.uu": "a mailbox attached as application/octet-stream is not parsed as mail",
    "clam.mail": "a message attached as application/octet-stream is not parsed as mail",
    "clam.ppt": "PowerPoint 97 keeps embedded objects compressed inside its own 'PowerPoint "
                "Document' stream, which is not decoded",
    "clam.sis": "Symbian SIS installers are not opened",
    "clam.tnef": "TNEF (winmail.dat) attachments are not opened",
}


def wrap(path, out_dir):
    m = email.message.EmailMessage()
    m["From"] = "Carol Tester <carol@fabrikam.example>"
    m["To"] = "alice@corp.example.com"
    m["Subject"] = "the file you asked for"
    m["Date"] = email.utils.format_datetime(email.utils.localtime())
    m["Message-ID"] = email.utils.make_msgid(domain="mail.fabrikam.example")
    m.set_content("Hello Alice,\n\nthe file is attached.\n\nCarol\n")
    with open(path, "rb") as f:
        m.add_attachment(f.read(), maintype="application", subtype="octet-stream",
                         filename=os.path.basename(path))
    dst = os.path.join(out_dir, os.path.basename(path) + ".eml")
    with open(dst, "wb") as f:
        f.write(m.as_bytes(policy=email.policy.SMTP))
    return dst


def category(rec):
    if rec.get("verdict") not in ("SUSPICIOUS", "MALICIOUS"):
        return "gap"
    if any(h["rule"] in PROGRAM_RULES for h in rec["hits"]):
        return "seen"
    return "flagged_unseen"


class ClamavTestFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = sorted(p for p in glob.glob(TESTFILES + "/*") if os.path.isfile(p))
        if not cls.files:
            raise unittest.SkipTest("clamav-testfiles is not installed")
        cls.tmp = tempfile.mkdtemp(prefix="zh-clamav-")
        cls.engine = Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_every_file_in_its_class(self):
        by_mail = {wrap(p, self.tmp): os.path.basename(p) for p in self.files}
        r, recs = scan_json(self.engine, *by_mail)
        self.assertEqual(len(recs), len(by_mail), r.err)
        got = {by_mail[path]: rec for path, rec in recs.items()}
        wrong = []
        for name, rec in sorted(got.items()):
            want = "gap" if name in GAPS else \
                "flagged_unseen" if name in FLAGGED_UNSEEN else "seen"
            have = category(rec)
            if have != want:
                hits = ", ".join(f"{h['rule']}@{h['object']}" for h in rec.get("hits", []))
                wrong.append(f"{name}: {have}, expected {want} "
                             f"({rec.get('verdict')} {rec.get('score')}: {hits or rec.get('error')})")
        self.assertEqual(wrong, [], "\n" + "\n".join(wrong))
        # The lists name real files: a renamed or removed file is not a silent pass.
        names = set(got)
        self.assertEqual(set(GAPS) - names, set())
        self.assertEqual(set(FLAGGED_UNSEEN) - names, set())
        print(f"\n{len(names) - len(GAPS) - len(FLAGGED_UNSEEN)} seen, "
              f"{len(FLAGGED_UNSEEN)} flagged unseen, {len(GAPS)} gaps of {len(names)}")

    def test_new_containers_seen(self):
        """The containers this engine opens since issue 12 find clam.exe
        inside: cpio (four flavours), CAB, CHM, SZDD; and the PE header
        tricks of UPack and MEW are programs."""
        want = {"clam.newc.cpio", "clam.odc.cpio", "clam.bin-le.cpio", "clam.bin-be.cpio",
                "clam.cab", "clam.chm", "clam.exe.szdd", "clam-upack.exe", "clam-mew.exe"}
        paths = {wrap(os.path.join(TESTFILES, n), self.tmp): n for n in want}
        _, recs = scan_json(self.engine, *paths)
        for path, rec in recs.items():
            self.assertEqual(category(rec), "seen", f"{paths[path]}: {rec}")
            if paths[path] in ("clam.chm", "clam.exe.szdd", "clam.cab") or \
                    paths[path].endswith(".cpio"):
                inside = [h for h in rec["hits"] if h["rule"] == "program_in_archive"]
                self.assertTrue(inside, f"{paths[path]}: no program found inside: {rec}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
