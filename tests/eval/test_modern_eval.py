"""Today's mail, measured: a small corpus of zh-corpus-gen.py --modern (17
families of 2019-2025 beside hard clean mail) checked by the real readers of
its containers (zh-corpus-check.py), then scanned by zh-eval with the
engine library and the rules under test.

What this asserts always holds today and must keep holding: every message is
scanned, and clean mail that carries none of today's risky wrappers (no
encrypted archive, no disk image, no macro) stays CLEAN; no clean message
without an encrypted archive or a disk image is MALICIOUS.

The targets of issue 12 (every malicious message flagged, >= 90% MALICIOUS,
no clean message MALICIOUS, <= 1% of clean messages SUSPICIOUS) are not met
by main today (most of today's families are missed: that is what the issue is
about). test_issue12_targets gates them: it runs when TARGETS_ON is True or
the environment sets ZH_ISSUE12_TARGETS=1, and is skipped otherwise with the
numbers of the day in its reason. Switch it on when the detectors land.

Environment: ZH_BIN (zh-eval's directory, default build/bin), ZH_RULES
(default: the repository's rules/)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

TARGETS_ON = False  # the lead sets this to True once the issue-12 detectors are on main

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
BIN = os.environ.get("ZH_BIN", os.path.join(SRC, "build", "bin"))
RULES = os.environ.get("ZH_RULES", os.path.join(SRC, "rules"))
COUNT, SEED = 200, 12
# Traits of clean mail that today's detectors may legitimately weigh.
RISKY_CLEAN = {"encrypted_zip", "encrypted_pdf", "iso", "exe_in_image", "benign_macro", "macro_autoexec_benign"}
LINE = re.compile(r"^(\S+) (\S+) (CLEAN|SUSPICIOUS|MALICIOUS|DEFER|TEMPFAIL|\?) score (-?\d+):(.*)$")


class ModernEvalTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.zh_eval = os.path.join(BIN, "zh-eval")
        if not os.access(cls.zh_eval, os.X_OK):
            raise unittest.SkipTest(f"{cls.zh_eval} is not built")
        cls.tmp = tempfile.mkdtemp(prefix="zh-modern-")
        cls.corpus = os.path.join(cls.tmp, "corpus")
        subprocess.run([sys.executable, os.path.join(SRC, "tests/corpus/zh-corpus-gen.py"), "--modern", "--out",
                        cls.corpus, "--count", str(COUNT), "--seed", str(SEED), "-q"], check=True, timeout=600)
        with open(os.path.join(cls.corpus, "manifest.jsonl"), encoding="utf-8") as f:
            cls.manifest = {e["path"]: e for e in map(json.loads, f)}
        cls.report = os.path.join(cls.tmp, "eval.json")
        r = subprocess.run([cls.zh_eval, "--rules", RULES, "--kinds", "--verbose", "--json", cls.report, cls.corpus],
                           capture_output=True, text=True, timeout=1200)
        cls.eval_rc, cls.eval_out, cls.eval_err = r.returncode, r.stdout, r.stderr
        cls.verdicts = {}
        for ln in r.stdout.splitlines():
            m = LINE.match(ln)
            if m:
                cls.verdicts[m.group(1)] = (m.group(3), int(m.group(4)), m.group(5).strip())
        print(r.stdout[r.stdout.find("label / family"):], file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_corpus_is_what_real_readers_open(self):
        r = subprocess.run([sys.executable, os.path.join(SRC, "tests/corpus/zh-corpus-check.py"), self.corpus],
                           capture_output=True, text=True, timeout=900)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("not installed", r.stdout, "a reader of today's containers is missing (see quickstart.sh)")

    def test_every_message_scanned(self):
        self.assertEqual(self.eval_rc, 0, self.eval_err)
        self.assertEqual(len(self.verdicts), COUNT, self.eval_err)
        with open(self.report, encoding="utf-8") as f:
            rep = json.load(f)
        self.assertEqual((rep["messages"], rep["errors"]), (COUNT, 0))
        self.assertEqual(rep["targets"]["malicious"] + rep["targets"]["clean"], COUNT)
        labels = {e["label"] for e in self.manifest.values()}
        self.assertEqual(labels, {"clean", "malicious"})

    def test_plain_clean_mail_stays_clean(self):
        """Documents, signed and forwarded mail, notifications, newsletters
        with inline images: nothing of today's wrappers, so CLEAN."""
        wrong = []
        for path, e in self.manifest.items():
            if e["label"] != "clean" or RISKY_CLEAN & set(e["traits"]):
                continue
            v = self.verdicts.get(path)
            if not v or v[0] != "CLEAN":
                wrong.append(f"{path} ({e['kind']}): {v}")
        self.assertEqual(wrong, [])

    def test_clean_mail_without_encryption_or_image_never_malicious(self):
        wrong = []
        for path, e in self.manifest.items():
            if e["label"] != "clean" or {"encrypted_zip", "encrypted_pdf", "iso"} & set(e["traits"]):
                continue
            v = self.verdicts.get(path)
            if not v or v[0] == "MALICIOUS":
                wrong.append(f"{path} ({e['kind']}): {v}")
        self.assertEqual(wrong, [])

    def test_issue12_targets(self):
        with open(self.report, encoding="utf-8") as f:
            t = json.load(f)["targets"]
        numbers = (f"malicious flagged {t['malicious_flagged']}/{t['malicious']}, MALICIOUS "
                   f"{t['malicious_malicious']}/{t['malicious']}, clean MALICIOUS {t['clean_malicious']}/{t['clean']}, "
                   f"clean SUSPICIOUS {t['clean_suspicious']}/{t['clean']}")
        if not (TARGETS_ON or os.environ.get("ZH_ISSUE12_TARGETS") == "1"):
            self.skipTest(f"issue-12 targets not switched on (TARGETS_ON); today: {numbers}")
        self.assertTrue(t["met"], f"issue-12 targets missed: {numbers}\n{self.eval_out}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
