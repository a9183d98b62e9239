#!/usr/bin/env python3
"""Memory per large message: how much a scan of one big message raises the
engine's peak RSS, as a multiple of the message's size. For each size, a
fresh engine (one worker) scans one message whose attachment is random
bytes in base64 (so nothing compresses or matches), and Stats gives the peak;
the idle engine's RSS is subtracted. Prints one line per size and a ratio."""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))


def message(attach_bytes):
    body = base64.encodebytes(os.urandom(attach_bytes)).replace(b"\n", b"\r\n")
    head = (b"From: a@example.com\r\nTo: b@example.org\r\nSubject: big\r\n"
            b"Date: Mon, 26 Jan 2004 10:00:00 +0000\r\nMessage-ID: <big@example.com>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain\r\n\r\nsee the data\r\n--XX\r\n"
            b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    return head + body + b"\r\n--XX--\r\n"


def stats(cli, addr):
    out = subprocess.run([cli, "stats", "--json", "server", "--address", addr],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)["server"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin", default=os.path.join(SRC, "build", "bin"), help="where zerohourd and zerohour are")
    ap.add_argument("--sizes", default="1,4,10,20", help="attachment sizes in MiB (default 1,4,10,20)")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="zh-memory-bench-")
    cli = os.path.join(a.bin, "zerohour")
    ratios = []
    try:
        for mib in [float(x) for x in a.sizes.split(",")]:
            path = os.path.join(tmp, "m.eml")
            with open(path, "wb") as f:
                f.write(message(int(mib * 1048576)))
            size = os.path.getsize(path)
            addr = f"ipc://{tmp}/zh.sock"
            eng = subprocess.Popen([os.path.join(a.bin, "zerohourd"), "--rules", os.path.join(SRC, "rules"),
                                    "--address", addr, "--workers", "1", "--log-level", "error"])
            try:
                for _ in range(100):
                    if subprocess.run([cli, "ping", "--address", addr], capture_output=True).returncode == 0:
                        break
                    time.sleep(0.05)
                idle = int(stats(cli, addr)["rss_kib"])
                r = subprocess.run([cli, "scan", "--address", addr, path], capture_output=True, text=True)
                if r.returncode == 2:
                    sys.exit(f"scan failed: {r.stdout}{r.stderr}")
                st = stats(cli, addr)
                peak, after = int(st["rss_peak_kib"]), int(st["rss_kib"])
            finally:
                eng.terminate()
                eng.wait()
            ratio = (peak - idle) * 1024 / size
            ratios.append(ratio)
            print(f"message {size / 1048576:7.1f} MiB: idle {idle / 1024:6.1f} MiB, peak {peak / 1024:6.1f} MiB "
                  f"(+{(peak - idle) / 1024:6.1f}, {ratio:.2f}x the message), after the scan {after / 1024:6.1f} MiB")
        print(f"peak RSS added per byte of message: {min(ratios):.2f}x to {max(ratios):.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
