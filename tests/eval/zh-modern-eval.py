#!/usr/bin/env python3
"""zh-modern-eval.py -- issue 12's measurement in one command: write a corpus of
today's waves and hard clean mail (tests/corpus/zh-corpus-gen.py --modern), or
take one already written, and scan it with zh-eval from --bin DIR with the rules
in --rules DIR. Prints zh-eval's table (per label, family and kind) and the
targets; --check exits 1 when a target is missed.

Exit status: 0 done (and, with --check, the targets met); 1 --check failed;
2 the corpus could not be written or scanned.

Python 3 standard library only.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="zh-modern-eval.py", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Scan a corpus of today's waves (zh-corpus-gen.py --modern) with zh-eval and report\n"
                    "the confusion table per family and kind and issue 12's targets: every malicious\n"
                    "message flagged, at least 90% MALICIOUS, no clean message MALICIOUS, at most 1% of\n"
                    "clean messages SUSPICIOUS.",
        epilog="""examples:
  tests/eval/zh-modern-eval.py --bin build/bin
  tests/eval/zh-modern-eval.py --bin build/bin --count 700 --seed 1 --json /tmp/modern.json
  tests/eval/zh-modern-eval.py --bin /opt/zh/bin --rules /etc/zerohour/rules --corpus /tmp/zm --check""")
    ap.add_argument("--bin", required=True, metavar="DIR", help="directory holding zh-eval (e.g. build/bin)")
    ap.add_argument("--rules", default=os.path.join(REPO, "rules"), metavar="DIR",
                    help="rule set to scan with (default: the repository's rules/)")
    ap.add_argument("--corpus", metavar="DIR",
                    help="an existing corpus (written by zh-corpus-gen.py --modern); default: write one to a "
                         "temporary directory and remove it afterwards")
    ap.add_argument("--count", type=int, default=700, metavar="N", help="messages to write (default 700)")
    ap.add_argument("--seed", type=int, default=1, metavar="S", help="corpus seed (default 1)")
    ap.add_argument("--json", metavar="FILE", help="also write zh-eval's numbers as JSON to FILE")
    ap.add_argument("--check", action="store_true", help="exit 1 unless every target is met")
    ap.add_argument("--no-kinds", action="store_true", help="rows per label and family only")
    args = ap.parse_args(argv)

    zh_eval = os.path.join(args.bin, "zh-eval")
    if not os.access(zh_eval, os.X_OK):
        print(f"zh-modern-eval: {zh_eval} is not an executable (build first, or fix --bin)", file=sys.stderr)
        return 2
    tmp = None
    corpus = args.corpus
    try:
        if corpus is None:
            tmp = tempfile.mkdtemp(prefix="zh-modern-eval-")
            corpus = os.path.join(tmp, "corpus")
            r = subprocess.run([sys.executable, os.path.join(REPO, "tests/corpus/zh-corpus-gen.py"), "--modern",
                                "--out", corpus, "--count", str(args.count), "--seed", str(args.seed), "-q"])
            if r.returncode != 0:
                print("zh-modern-eval: writing the corpus failed", file=sys.stderr)
                return 2
        cmd = [zh_eval, "--rules", args.rules] + ([] if args.no_kinds else ["--kinds"])
        cmd += (["--json", args.json] if args.json else []) + (["--check"] if args.check else []) + [corpus]
        return subprocess.run(cmd).returncode
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
