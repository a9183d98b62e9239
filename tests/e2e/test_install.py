"""`cmake --install` of this build tree into a private DESTDIR, as a packager
does: the files land where GNUInstallDirs says, the installed engine finds
its installed rules and loads its installed configuration, and a C program
built only with the installed header and pkg-config file links
libzerohour-client and pings the installed engine."""
import glob
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from zhtest import START_TIMEOUT

BUILD = os.environ.get("ZH_BUILD_DIR", "")

PING_C = r"""
#include <stdio.h>
#include <zerohour/client.h>
int main(int argc, char **argv)
{
    zh_client *c = NULL;
    struct zh_ping_result *p = NULL;
    const char *addr[1] = {argv[1]};
    struct zh_client_options o = {.timeout_ms = 5000, .connect_timeout_ms = 5000};
    int rc = zh_client_open(&c, addr, 1, &o);
    if (rc == ZH_OK)
        rc = zh_client_ping(c, &p);
    if (rc != ZH_OK) {
        fprintf(stderr, "%s: %s\n", zh_client_strerror(rc), zh_client_last_error());
        return 1;
    }
    printf("engine %s ruleset %llu\n", p->version, (unsigned long long)p->ruleset_version);
    zh_ping_result_free(p);
    zh_client_close(c);
    return 0;
}
"""


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    if r.returncode:
        raise AssertionError(f"{cmd} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BUILD or not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
            raise unittest.SkipTest("ZH_BUILD_DIR is not a build tree")
        cls.root = tempfile.mkdtemp(prefix="zh-install-")
        run(["cmake", "--install", BUILD], env={**os.environ, "DESTDIR": cls.root})
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            cache = f.read()
        prefix = next(l.split("=", 1)[1] for l in cache.splitlines()
                      if l.startswith("CMAKE_INSTALL_PREFIX:"))
        cls.prefix = cls.root + prefix
        # A sanitizer build's library needs its runtime in the program too.
        cls.sanitize = "ZH_SANITIZE:BOOL=ON" in cache
        cls.etc = os.path.join(cls.root, "etc/zerohour") if prefix == "/usr" else \
            os.path.join(cls.prefix, "etc/zerohour")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_layout(self):
        p = self.prefix
        for f in ["sbin/zerohourd", "sbin/zerohour-milter", "sbin/zerohour-clamd", "bin/zerohour",
                  "include/zerohour/client.h", "include/zerohour/verdict.h",
                  "share/zerohour/rules/heuristics.ini", "share/zerohour/rules/eicar.yar"]:
            self.assertTrue(os.path.exists(os.path.join(p, f)), f)
        self.assertTrue(glob.glob(f"{p}/lib*/**/libzerohour-client.so.0", recursive=True))
        self.assertTrue(glob.glob(f"{p}/lib*/**/pkgconfig/zerohour-client.pc", recursive=True))
        self.assertTrue(os.path.islink(f"{p}/share/zerohour/rules/local"))
        self.assertTrue(os.readlink(f"{p}/share/zerohour/rules/local").endswith("zerohour/rules.d"))
        for f in ["zerohourd.ini", "zerohour-milter.ini", "zerohour-clamd.ini", "rules.d/README"]:
            self.assertTrue(os.path.exists(os.path.join(self.etc, f)), f)

    def test_installed_engine_finds_installed_rules_and_config(self):
        r = run([f"{self.prefix}/sbin/zerohourd", "--check"])
        self.assertIn(f"compiled from {self.prefix}/share/zerohour/rules", r.stdout)
        ini = open(f"{self.etc}/zerohourd.ini").read()
        self.assertIn("\naddress = ipc:///run/zerohour/zerohour.sock\n", ini)
        self.assertIn("\nsocket_mode = 0660\n", ini)
        self.assertIn("\nallow_root = 0\n", ini)
        self.assertIn("/lib/zerohour/outbreak.state\n", ini)
        r = run([f"{self.prefix}/sbin/zerohourd", "--config", f"{self.etc}/zerohourd.ini", "--check"])
        self.assertIn("configuration ok", r.stdout)
        mini = open(f"{self.etc}/zerohour-milter.ini").read()
        self.assertIn("\nengine = ipc:///run/zerohour/zerohour.sock\n", mini)
        run([f"{self.prefix}/sbin/zerohour-milter", "--config", f"{self.etc}/zerohour-milter.ini",
             "--check"])
        cini = open(f"{self.etc}/zerohour-clamd.ini").read()
        self.assertIn("\nengine = ipc:///run/zerohour/zerohour.sock\n", cini)
        self.assertIn("\n# socket = inet:3310@127.0.0.1\n", cini)
        run([f"{self.prefix}/sbin/zerohour-clamd", "--config", f"{self.etc}/zerohour-clamd.ini",
             "--check"])

    def test_pkg_config_program_pings_installed_engine(self):
        pc = glob.glob(f"{self.prefix}/lib*/**/pkgconfig/zerohour-client.pc", recursive=True)[0]
        env = {**os.environ, "PKG_CONFIG_PATH": os.path.dirname(pc),
               "PKG_CONFIG_SYSROOT_DIR": self.root}
        flags = run(["pkg-config", "--cflags", "--libs", "zerohour-client"], env=env).stdout.split()
        src = os.path.join(self.root, "ping.c")
        exe = os.path.join(self.root, "ping")
        with open(src, "w") as f:
            f.write(PING_C)
        san = ["-fsanitize=address,undefined"] if self.sanitize else []
        run(["cc", "-Wall", "-Werror", *san, "-o", exe, src, *flags])
        sock = os.path.join(self.root, "zh.sock")
        log = open(os.path.join(self.root, "engine.log"), "wb")
        eng = subprocess.Popen([f"{self.prefix}/sbin/zerohourd", "--address", f"ipc://{sock}",
                                "--workers", "1"], stdout=log, stderr=subprocess.STDOUT)
        try:
            libdir = os.path.dirname(os.path.dirname(pc))
            deadline = time.time() + START_TIMEOUT
            while True:
                r = subprocess.run([exe, f"ipc://{sock}"], capture_output=True, text=True,
                                   env={**os.environ, "LD_LIBRARY_PATH": libdir}, timeout=60)
                if r.returncode == 0 or time.time() > deadline or eng.poll() is not None:
                    break
                time.sleep(0.2)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"^engine \d+\.\d+\.\d+ ruleset 1\n")
        finally:
            eng.terminate()
            eng.wait(timeout=START_TIMEOUT)
            log.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
