"""The systemd units as installed: `systemd-analyze verify` accepts them (with
ExecStart pointed at this build), they carry the hardening the issue lists,
and the engine works under MemoryDenyWriteExecute: started with the kernel's
own W^X switch (prctl PR_SET_MDWE, the same refusal of writable+executable
memory), libyara compiles and scans every sample with the verdicts expected."""
import ctypes
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import zhtest
from zhtest import Engine, SAMPLES, scan_json

BUILD = os.environ.get("ZH_BUILD_DIR", "")
UNITS = os.path.join(BUILD, "dist", "systemd")
NAMES = ("zerohourd.service", "zerohour-milter.service", "zerohour-clamd.service")


def unit_text(name):
    path = os.path.join(UNITS, name)
    if not os.path.exists(path):
        raise unittest.SkipTest(f"{path} is not configured")
    with open(path) as f:
        return f.read()


class UnitsTest(unittest.TestCase):
    def test_verify(self):
        exe = shutil.which("systemd-analyze")
        if not exe:
            self.skipTest("systemd-analyze is not installed")
        tmp = tempfile.mkdtemp(prefix="zh-units-")
        try:
            for name in NAMES:
                text = re.sub(r"^ExecStart=\S+/(zerohourd|zerohour-milter|zerohour-clamd) ",
                              lambda m: f"ExecStart={zhtest.BIN}/{m.group(1)} ", unit_text(name),
                              flags=re.M)
                with open(os.path.join(tmp, name), "w") as f:
                    f.write(text)
            # The man pages are checked by the package test, where they are installed.
            r = subprocess.run([exe, "verify", "--man=no", *NAMES], cwd=tmp,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stderr.strip(), "", "verify warned")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_hardening_and_order(self):
        for name in NAMES:
            text = unit_text(name)
            for line in ["User=zerohour", "NoNewPrivileges=yes", "ProtectSystem=strict",
                         "ProtectHome=yes", "PrivateTmp=yes", "PrivateDevices=yes",
                         "CapabilityBoundingSet=\n", "SystemCallFilter=@system-service",
                         "MemoryDenyWriteExecute=yes", "RuntimeDirectory=zerohour",
                         "RuntimeDirectoryPreserve=yes",
                         "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6"]:
                self.assertIn(line, text, name)
            self.assertRegex(text, r"\nExecStart=/\S+ --config /\S+/zerohour\S*\.ini\n")
        engine = unit_text("zerohourd.service")
        self.assertIn("StateDirectory=zerohour", engine)
        self.assertIn("ExecReload=/bin/kill -HUP $MAINPID", engine)
        for name in ("zerohour-milter.service", "zerohour-clamd.service"):
            self.assertIn("After=network.target zerohourd.service", unit_text(name))


class MemoryDenyWriteExecuteTest(unittest.TestCase):
    def test_engine_scans_under_w_xor_x(self):
        libc = ctypes.CDLL(None, use_errno=True)
        pid = os.fork()
        if pid == 0:  # probe in a child: the flag cannot be taken back
            os._exit(0 if libc.prctl(65, 1, 0, 0, 0) == 0 else 1)
        if os.waitpid(pid, 0)[1] != 0:
            self.skipTest("this kernel has no PR_SET_MDWE")
        tmp = tempfile.mkdtemp(prefix="zh-mdwe-")
        wrapper = os.path.join(tmp, "zerohourd")
        with open(wrapper, "w") as f:
            f.write("#!/usr/bin/env python3\nimport ctypes, os, sys\n"
                    "if ctypes.CDLL(None).prctl(65, 1, 0, 0, 0) != 0:\n    sys.exit(99)\n"
                    f"os.execv({zhtest.binary('zerohourd')!r}, sys.argv)\n")
        os.chmod(wrapper, 0o755)
        os.symlink(zhtest.binary("zerohour"), os.path.join(tmp, "zerohour"))
        files = sorted(os.path.join(SAMPLES, n) for n in os.listdir(SAMPLES) if n.endswith(".eml"))
        saved, zhtest.BIN = zhtest.BIN, tmp
        try:
            # The wrapper exits 99 when the switch cannot be set: no engine, no pass.
            eng = Engine()
            try:
                _, under = scan_json(eng, *files)
            finally:
                eng.stop()
        finally:
            zhtest.BIN = saved
            shutil.rmtree(tmp, ignore_errors=True)
        eng = Engine()
        try:
            _, plain = scan_json(eng, *files)
        finally:
            eng.stop()
        self.assertEqual(len(under), len(files))
        self.assertEqual({p: (r["verdict"], r["score"]) for p, r in under.items()},
                         {p: (r["verdict"], r["score"]) for p, r in plain.items()})
        self.assertIn("MALICIOUS", {r["verdict"] for r in under.values()})

if __name__ == "__main__":
    unittest.main(verbosity=2)
