"""Hostile input through a real engine: what a decompressor can still produce
is scanned, what cannot be opened is never CLEAN, a bomb is bounded, and a
message built to blow up the MIME parser costs a bounded amount of memory.
(tests/unit/test_archive.c and test_mime.c test the same stages alone.)"""
import base64
import bz2
import gzip
import lzma
import os
import shutil
import tempfile
import unittest
import zlib

from zhtest import Engine, cli, scan_json

PE = (b"MZ" + b"\x90" * 58 + b"\x80\x00\x00\x00" + b"\x00" * 64 + b"PE\x00\x00" +
      bytes(range(256)) * 8)


def mail(name, data, crlf=True):
    """A message with one base64 attachment, as a worm's SMTP engine writes it."""
    b64 = base64.encodebytes(data).decode()
    text = ("From: billing@example.org\nTo: bob@example.com\nSubject: your invoice\n"
            "Date: Mon, 26 Jan 2004 10:00:00 +0000\nMessage-ID: <x1@example.org>\n"
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=q\n\n"
            "--q\nContent-Type: text/plain\n\nsee the attached invoice\n\n"
            f"--q\nContent-Type: application/octet-stream; name=\"{name}\"\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\n"
            f"Content-Transfer-Encoding: base64\n\n{b64}--q--\n")
    return text.replace("\n", "\r\n").encode() if crlf else text.encode()


def rss_kib(engine, key):
    r = cli("stats", "server", "--address", engine.address)
    for line in r.out.splitlines():
        k, _, v = line.partition(":")
        if k.strip() == key:
            return int(v.strip())
    raise AssertionError(f"no {key} in stats:\n{r.out}")


class HostileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.engine = Engine()
        cls.tmp = tempfile.mkdtemp(prefix="zh-hostile-")

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def scan(self, name, data):
        path = os.path.join(self.tmp, name + ".eml")
        with open(path, "wb") as f:
            f.write(data)
        r, out = scan_json(self.engine, path)
        self.assertIn(path, out, r.err)
        return out[path]

    def rules(self, rec):
        return {h["rule"] for h in rec["hits"]}

    def test_compressed_programs_are_seen(self):
        zeros = b"\x00" * 1024 + PE
        for name, data in [("invoice.exe.gz", gzip.compress(zeros)),
                           ("invoice.exe.bz2", bz2.compress(zeros)),
                           ("invoice.exe.xz", lzma.compress(zeros)),
                           ("invoice.pdf.gz", gzip.compress(PE))]:
            with self.subTest(name=name):
                rec = self.scan(name, mail(name, data))
                self.assertNotEqual(rec["verdict"], "CLEAN", rec)
                objects = {h["object"] for h in rec["hits"]}
                self.assertIn(f"2/{name}/{name.rsplit('.', 1)[0]}", objects, rec)

    def test_cut_stream_is_salvaged_and_scored(self):
        rec = self.scan("cut", mail("invoice.exe.gz", gzip.compress(PE)[:-8]))
        self.assertIn("damaged_stream", self.rules(rec))
        self.assertIn("program_in_archive", self.rules(rec))  # the whole PE came out
        self.assertEqual(rec["verdict"], "MALICIOUS", rec)

    def test_what_cannot_be_opened_is_not_clean(self):
        for name, data in [("a.zip", b"PK\x03\x04" + os.urandom(300)),
                           ("b.gz", b"\x1f\x8b\x08\x00" + os.urandom(300))]:
            with self.subTest(name=name):
                rec = self.scan(name, mail(name, data))
                self.assertEqual(rec["verdict"], "SUSPICIOUS", rec)
                self.assertTrue(self.rules(rec) & {"malformed_archive", "damaged_stream"}, rec)

    def test_gzip_bomb_is_a_limit(self):
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        chunk = b"\x00" * (1 << 20)
        bomb = b"".join(c.compress(chunk) for _ in range(256)) + c.flush()  # 256 MiB
        rec = self.scan("bomb", mail("zeros.gz", bomb))
        self.assertIn("limits_exceeded", self.rules(rec))
        self.assertTrue(any("archive_max_ratio" in h["detail"] for h in rec["hits"]), rec)
        self.assertNotEqual(rec["verdict"], "CLEAN")

    def test_bare_lf_before_boundary_in_crlf_mail(self):
        # GMime cut the last two base64 characters here, and the gzip no longer opened.
        # (Only a last quantum with fewer than two '=' loses bytes that way.)
        payload = PE
        while len(gzip.compress(payload, mtime=0)) % 3 == 1:
            payload += b"\x00"
        msg = mail("invoice.exe.gz", gzip.compress(payload, mtime=0))
        msg = msg.replace(b"\r\n--q--", b"\n--q--")
        rec = self.scan("lf", msg)
        self.assertNotIn("damaged_stream", self.rules(rec), rec)
        self.assertIn("program_in_archive", self.rules(rec), rec)

    def test_millions_of_parts_cost_bounded_memory(self):
        # 31 MB of minimal parts once took 4.7 GiB and 78 s; now GMime is given
        # only what max_mime_parts allows, and the message is not CLEAN.
        head = (b"From: a@example.org\r\nTo: b@example.com\r\nSubject: parts\r\n"
                b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")
        msg = head + b"--b\r\n\r\nx\r\n" * 3_000_000 + b"--b--\r\n"
        before = rss_kib(self.engine, "rss_peak_kib")
        rec = self.scan("parts", msg)
        grown_mib = (rss_kib(self.engine, "rss_peak_kib") - before) / 1024
        self.assertEqual(rec["verdict"], "SUSPICIOUS", rec)
        self.assertTrue(any("max_mime_parts" in h["detail"] for h in rec["hits"]), rec)
        self.assertLessEqual(rec["objects"], 600)
        # A memory bound, not a speed: a few times the message, far from gigabytes.
        self.assertLess(grown_mib, 1024, f"peak RSS grew {grown_mib:.0f} MiB for a 33 MB message")


if __name__ == "__main__":
    unittest.main(verbosity=2)
