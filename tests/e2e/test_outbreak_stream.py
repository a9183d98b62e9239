"""The outbreak evaluation as a test: a simulated gateway stream (hours of
normal traffic with newsletters and memos, then new worm families growing to
about one message in twelve) replayed through a real engine with
tests/eval/zh-outbreak-eval.py --check: every new family MALICIOUS within its
first 10 copies, and no clean message touched by the outbreak detector."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from zhtest import BIN, SRC, binary


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

if __name__ == "__main__":
    unittest.main(verbosity=2)
