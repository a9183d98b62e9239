"""Detection end to end: the bundled samples, a freshly generated labelled
corpus replayed with its SMTP envelopes through `zerohour scan --envelopes`,
and archive bombs, all through a real zerohourd on the default rules."""
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile

from zhtest import Engine, cli, message, SAMPLES, SRC

GEN = os.path.join(SRC, "tests", "corpus", "zh-corpus-gen.py")


def replay(engine, jsonl):
    r = cli("scan", "--json", "--address", engine.address, "--envelopes", jsonl, check=False,
            timeout=600)
    return r, [json.loads(l) for l in r.out.splitlines()]


class DetectionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="zh-detect-")
        cls.engine = Engine()

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_samples_get_their_expected_verdicts(self):
        with open(os.path.join(SAMPLES, "expected.json")) as f:
            expected = json.load(f)
        jl = os.path.join(self.tmp, "samples.jsonl")
        with open(jl, "w") as f:
            for e in expected:
                f.write(json.dumps(dict(e["envelope"], path=os.path.join(SAMPLES, e["file"]))) + "\n")
        r, recs = replay(self.engine, jl)
        self.assertEqual(len(recs), len(expected))
        for e, rec in zip(expected, recs):
            self.assertEqual(rec["verdict"], e["expect"], f"{e['file']}: {rec}")

    def test_generated_corpus(self):
        out = os.path.join(self.tmp, "corpus")
        subprocess.run([sys.executable, GEN, "--out", out, "--count", "600", "--seed", "11", "-q"],
                       check=True, timeout=300)
        jl = os.path.join(out, "envelopes.jsonl")  # paths are relative to it
        labels = []
        with open(os.path.join(out, "manifest.jsonl")) as src, open(jl, "w") as dst:
            for line in src:
                m = json.loads(line)
                labels.append((m["label"], m.get("family")))
                dst.write(json.dumps(dict(m["envelope"], path=m["path"])) + "\n")
        r, recs = replay(self.engine, jl)
        self.assertEqual(len(recs), len(labels))
        worms = [rec for (label, _), rec in zip(labels, recs) if label == "worm"]
        clean = [rec for (label, _), rec in zip(labels, recs) if label == "clean"]
        for rec in recs:
            self.assertNotIn("error", rec, rec["path"])
        self.assertFalse([c["path"] for c in clean if c["verdict"] == "MALICIOUS"])
        self.assertFalse([w["path"] for w in worms if w["verdict"] == "CLEAN"])
        suspicious_clean = sum(c["verdict"] == "SUSPICIOUS" for c in clean)
        self.assertLessEqual(suspicious_clean, len(clean) * 0.01)
        malicious = sum(w["verdict"] == "MALICIOUS" for w in worms)
        self.assertGreaterEqual(malicious, len(worms) * 0.95, f"{malicious}/{len(worms)} MALICIOUS")

    def test_archive_bombs_are_bounded_and_flagged(self):
        # A ratio bomb: 300 MiB of zeros in one member (about 300 KiB zipped).
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            with z.open("zeros.bin", "w", force_zip64=True) as f:
                chunk = bytes(1 << 20)
                for _ in range(300):
                    f.write(chunk)
        import base64
        b64 = base64.encodebytes(buf.getvalue()).decode()
        hdr = [("From", "a@example.com"), ("To", "b@example.org"), ("Subject", "files"),
               ("Date", "Mon, 26 Jan 2004 10:00:00 +0000"), ("Message-ID", "<b1@example.com>")]
        path = os.path.join(self.tmp, "bomb.eml")
        with open(path, "wb") as f:
            f.write(message(hdr, "see attached", "b", [(
                ["Content-Type: application/zip; name=bomb.zip", "Content-Transfer-Encoding: base64"], b64)]))
        r = cli("scan", "--json", "--address", self.engine.address, path, check=False)
        rec = json.loads(r.out.splitlines()[0])
        self.assertEqual(rec["verdict"], "SUSPICIOUS", rec)
        lim = [h for h in rec["hits"] if h["rule"] == "limits_exceeded"]
        self.assertTrue(lim and "archive_max_ratio" in lim[0]["detail"], rec["hits"])
        # Stopped by the ratio, not by running out of time.
        self.assertFalse([h for h in lim if "timeout" in h["detail"]], rec["hits"])
        st = json.loads(cli("stats", "--json", "--address", self.engine.address).out)
        # Bounded memory: far below the 300 MiB the member claims.
        self.assertLess(int(st["server"]["rss_peak_kib"]), 200 * 1024)


if __name__ == "__main__":
    unittest.main(verbosity=2)
