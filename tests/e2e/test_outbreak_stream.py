"""The outbreak evaluation as a test: a simulated gateway stream (hours of
normal traffic with newsletters and memos, then new worm families growing to
about one message in twelve) replayed through a real engine with
tests/eval/zh-outbreak-eval.py --check: every new family MALICIOUS within its
first 10 copies, and no clean message touched by the outbreak detector."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from zhtest import BIN, SRC, binary

TARGETS_ON = False  # the lead sets this to True once the issue-12 detectors are on main


class OutbreakStreamTest(unittest.TestCase):
    def test_stream_check(self):
        binary("zerohourd")
        tmp = tempfile.mkdtemp(prefix="zh-stream-")
        try:
            out = os.path.join(tmp, "stream")
            subprocess.run([sys.executable, os.path.join(SRC, "tests/corpus/zh-corpus-gen.py"),
                            "--stream", "--out", out, "--seed", "3", "--hours", "3", "--rate", "6",
                            "-q"], check=True, timeout=300)
            r = subprocess.run([sys.executable, os.path.join(SRC, "tests/eval/zh-outbreak-eval.py"),
                                "--bin", BIN, "--stream", out, "--check"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("with an outbreak hit: 0", r.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


    def test_outbreak_speed_on_the_default_day(self):
        """The default six-hour day: the outbreak detector must flag every
        family within its first 40 copies (26 and 22 when written). Guards the
        fingerprint: a change that splits one worm's copies into several
        shapes (as the disguise class once did, 26 -> 50) fails here."""
        binary("zerohourd")
        tmp = tempfile.mkdtemp(prefix="zh-stream-")
        try:
            out = os.path.join(tmp, "stream")
            subprocess.run([sys.executable, os.path.join(SRC, "tests/corpus/zh-corpus-gen.py"),
                            "--stream", "--out", out, "-q"], check=True, timeout=300)
            r = subprocess.run([sys.executable, os.path.join(SRC, "tests/eval/zh-outbreak-eval.py"),
                                "--bin", BIN, "--stream", out, "--check", "--outbreak-within", "40"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_modern_day_with_a_container_in_no_class(self):
        """A gateway day of today's mail (hard clean mail among it: HR
        password zips, IT ISO deliveries, benign macro workbooks) where a
        wave in a made-up container no class names ("QNBK" notebooks,
        standing for OneNote in January 2023) surges from many senders and
        hosts. Always: the replay completes and no clean message carries an
        outbreak hit. The issue-12 goal, MALICIOUS within the wave's first 10
        copies, is missed today (the outbreak detector only counts risky
        fingerprints); it is checked when ZH_ISSUE12_TARGETS=1 or TARGETS_ON
        is set, and otherwise skipped with the day's numbers."""
        binary("zerohourd")
        tmp = tempfile.mkdtemp(prefix="zh-stream-")
        try:
            out = os.path.join(tmp, "stream")
            report = os.path.join(tmp, "report.json")
            subprocess.run([sys.executable, os.path.join(SRC, "tests/corpus/zh-corpus-gen.py"), "--modern",
                            "--stream", "--out", out, "--seed", "3", "--hours", "3", "--rate", "6", "-q"],
                           check=True, timeout=600)
            r = subprocess.run([sys.executable, os.path.join(SRC, "tests/eval/zh-outbreak-eval.py"),
                                "--bin", BIN, "--stream", out, "--report", report, "-q"],
                               capture_output=True, text=True, timeout=900)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("with an outbreak hit: 0", r.stdout)
            with open(report, encoding="utf-8") as f:
                rep = json.load(f)
            (novel,) = [f for f in rep["families"] if f["family"] == "novel"]
            self.assertGreaterEqual(novel["copies"], 10)
            first_mal = novel["before_malicious"]
            if not (TARGETS_ON or os.environ.get("ZH_ISSUE12_TARGETS") == "1"):
                self.skipTest(f"issue-12 target not switched on; today the unknown container's first MALICIOUS "
                              f"copy: {'never' if first_mal is None else first_mal + 1}")
            self.assertIsNotNone(first_mal, r.stdout)
            self.assertLess(first_mal, 10, r.stdout)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
