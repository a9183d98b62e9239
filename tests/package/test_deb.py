"""The Debian package, as an administrator meets it: `./quickstart.sh deb`
builds build/deb/zerohour_VERSION_ARCH.deb; its contents and control data
are checked with dpkg-deb, lintian finds no error; then (as root, on a
machine without zerohour installed) it is installed for real with apt, the
installed engine and milter are started as the zerohour user with the
installed configuration (the units' ExecStart lines: CI has no systemd as
PID 1), the samples are scanned through the installed CLI and through a
private Postfix using the installed milter, the units pass
`systemd-analyze verify` with their man pages, and the purge leaves nothing
but the zerohour user and group (Debian leaves system users).

Label `package`, registered with -DZH_PACKAGE_TESTS=ON: it rebuilds the tree
for /usr and installs a package, which the quick run should not do."""
import glob
import grp
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from zhtest import SAMPLES, SRC, START_TIMEOUT, free_port  # noqa: E402

UNITS = ("zerohourd.service", "zerohour-milter.service", "zerohour-clamd.service")
EXPECTED = [
    "./usr/sbin/zerohourd", "./usr/sbin/zerohour-milter", "./usr/sbin/zerohour-clamd",
    "./usr/bin/zerohour",
    "./usr/include/zerohour/client.h", "./usr/include/zerohour/verdict.h",
    "./usr/share/zerohour/rules/heuristics.ini", "./usr/share/zerohour/rules/eicar.yar",
    "./usr/share/zerohour/rules/local -> /etc/zerohour/rules.d",
    "./etc/zerohour/zerohourd.ini", "./etc/zerohour/zerohour-milter.ini",
    "./etc/zerohour/zerohour-clamd.ini", "./etc/zerohour/rules.d/README",
    "./lib/systemd/system/zerohourd.service", "./lib/systemd/system/zerohour-milter.service",
    "./lib/systemd/system/zerohour-clamd.service",
    "./usr/share/man/man8/zerohourd.8.gz", "./usr/share/man/man8/zerohour-milter.8.gz",
    "./usr/share/man/man8/zerohour-clamd.8.gz",
    "./usr/share/man/man1/zerohour.1.gz", "./usr/share/man/man5/zerohourd.ini.5.gz",
    "./usr/share/doc/zerohour/copyright", "./usr/share/doc/zerohour/changelog.gz",
    "./usr/share/doc/zerohour/README.md", "./var/lib/zerohour/",
]


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 900), **kw)
    if check and r.returncode:
        raise AssertionError(f"{cmd} exited {r.returncode}:\n{r.stdout}\n{r.stderr}")
    return r


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


def installed():
    r = run(["dpkg-query", "-W", "-f=${Status}", "zerohour"], check=False)
    return "ok installed" in r.stdout


class DebTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("dpkg-deb") or not shutil.which("cpack"):
            raise unittest.SkipTest("dpkg-deb or cpack missing")
        r = run([os.path.join(SRC, "quickstart.sh"), "deb"], timeout=1800)
        cls.build_log = r.stdout + r.stderr
        debs = glob.glob(os.path.join(SRC, "build", "deb", "zerohour_*.deb"))
        if len(debs) != 1:
            raise AssertionError(f"want one .deb in build/deb, got {debs}\n{cls.build_log}")
        cls.deb = debs[0]

    def test_1_name_contents_and_control(self):
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        self.assertRegex(os.path.basename(self.deb), rf"^zerohour_\d+\.\d+\.\d+_{arch}\.deb$")
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        paths = [" ".join(l.split()[5:]) for l in listing.splitlines()]
        for want in EXPECTED:
            self.assertIn(want, paths)
        self.assertTrue([p for p in paths if re.match(r"\./usr/lib/.*/libzerohour-client\.so\.0 ", p)])
        self.assertTrue([p for p in paths if p.endswith("/pkgconfig/zerohour-client.pc")])
        info = run(["dpkg-deb", "-I", self.deb]).stdout
        self.assertRegex(info, r"\n Depends: adduser, init-system-helpers[^\n]*libnng1")
        self.assertIn(" Section: mail\n", info)
        for script in ("postinst", "prerm", "postrm", "conffiles", "triggers", "shlibs"):
            self.assertRegex(info, rf"\n\s+\d+ bytes,\s+\d+ lines\s+\*?\s+{script}\b")
        self.assertEqual(run(["dpkg-deb", "-f", self.deb, "Package"]).stdout.strip(), "zerohour")
        tmp = tempfile.mkdtemp(prefix="zh-deb-ctl-")
        try:
            run(["dpkg-deb", "-e", self.deb, tmp])
            with open(os.path.join(tmp, "conffiles")) as f:
                self.assertEqual(f.read().split(), ["/etc/zerohour/zerohourd.ini",
                                                    "/etc/zerohour/zerohour-milter.ini",
                                                    "/etc/zerohour/zerohour-clamd.ini",
                                                    "/etc/zerohour/rules.d/README"])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_2_lintian_finds_no_error(self):
        if not shutil.which("lintian"):
            self.skipTest("lintian is not installed")
        r = run(["lintian", "--fail-on", "error", self.deb], check=False)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotRegex(r.stdout, r"(?m)^E: ")

    def test_3_install_run_scan_purge(self):
        if os.geteuid() != 0:
            self.skipTest("installing a package needs root")
        if installed():
            self.skipTest("zerohour is installed on this machine; not touching it")
        run(["apt-get", "install", "-y", "-q", self.deb],
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        procs = []
        logs = tempfile.mkdtemp(prefix="zh-deb-logs-")
        self.engine_log = os.path.join(logs, "engine.log")
        self.milter_log = os.path.join(logs, "milter.log")
        try:
            self.check_installed(procs)
        finally:
            shutil.rmtree(logs, ignore_errors=True)
            for p in procs:
                if p.poll() is None:
                    p.terminate()
                try:
                    p.wait(timeout=START_TIMEOUT)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            run(["apt-get", "purge", "-y", "-q", "zerohour"], check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        self.assertFalse(installed())
        for path in ("/etc/zerohour", "/var/lib/zerohour", "/run/zerohour", "/usr/share/zerohour",
                     "/usr/share/doc/zerohour", "/usr/sbin/zerohourd", "/usr/bin/zerohour",
                     "/lib/systemd/system/zerohourd.service",
                     "/etc/systemd/system/multi-user.target.wants/zerohourd.service"):
            self.assertFalse(os.path.lexists(path), f"{path} left after purge")
        pwd.getpwnam("zerohour")  # the system user stays, as Debian leaves them

    def exec_start(self, unit):
        with open(f"/lib/systemd/system/{unit}") as f:
            return re.search(r"^ExecStart=(.*)$", f.read(), re.M).group(1).split()

    def check_installed(self, procs):
        user = pwd.getpwnam("zerohour")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "zerohour")
        self.assertEqual(user.pw_shell, "/usr/sbin/nologin")
        try:
            self.assertIn("zerohour", [g.gr_name for g in grp.getgrall()
                                       if "postfix" in g.gr_mem])
        except KeyError:
            pass
        st = os.stat("/var/lib/zerohour")
        self.assertEqual((st.st_uid, oct(st.st_mode & 0o777)), (user.pw_uid, "0o750"))
        if shutil.which("systemd-analyze"):  # with the installed man pages this time
            r = run(["systemd-analyze", "verify", *UNITS], check=False)
            self.assertEqual((r.returncode, r.stderr.strip()), (0, ""), r.stdout + r.stderr)

        log = open(self.engine_log, "wb")
        procs.append(subprocess.Popen(["runuser", "-u", "zerohour", "--",
                                       *self.exec_start("zerohourd.service")],
                                      stdout=log, stderr=subprocess.STDOUT))
        deadline = time.time() + START_TIMEOUT
        while run(["/usr/bin/zerohour", "ping"], check=False).returncode != 0:
            if procs[0].poll() is not None or time.time() > deadline:
                raise AssertionError(read(self.engine_log))
            time.sleep(0.2)
        sock = os.stat("/run/zerohour/zerohour.sock")
        self.assertEqual((sock.st_uid, sock.st_gid, oct(sock.st_mode & 0o777)),
                         (user.pw_uid, user.pw_gid, "0o660"))
        files = sorted(glob.glob(f"{SAMPLES}/*.eml"))
        r = run(["/usr/bin/zerohour", "scan", *files], check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(re.findall(r": MALICIOUS ", r.stdout)), 4, r.stdout)
        if "postfix" in [p.pw_name for p in pwd.getpwall()]:
            r = run(["runuser", "-u", "postfix", "--", "/usr/bin/zerohour", "--address",
                     "ipc:///run/zerohour/zerohour.sock", "ping"], check=False)
            self.assertEqual(r.returncode, 0, "postfix, in group zerohour, uses the socket: "
                             + r.stderr)
        self.postfix_through_installed_milter(procs)
        procs[0].terminate()
        procs[0].wait(timeout=START_TIMEOUT)
        log.close()
        text = read(self.engine_log)
        self.assertIn("rules from /usr/share/zerohour/rules", text)
        self.assertIn("verdict=MALICIOUS", text)
        self.assertTrue(os.path.exists("/var/lib/zerohour/outbreak.state"), text)

    def postfix_through_installed_milter(self, procs):
        if not shutil.which("postfix") or not shutil.which("swaks"):
            return
        from test_milter import Postfix, smtp_data
        port = free_port()
        mlog = open(self.milter_log, "wb")
        procs.append(subprocess.Popen(["runuser", "-u", "zerohour", "--",
                                       *self.exec_start("zerohour-milter.service"),
                                       "--socket", f"inet:{port}@127.0.0.1"],
                                      stdout=mlog, stderr=subprocess.STDOUT))
        deadline = time.time() + START_TIMEOUT
        while "listening on" not in read(self.milter_log):
            if procs[-1].poll() is not None or time.time() > deadline:
                raise AssertionError(read(self.milter_log))
            time.sleep(0.1)
        tmp = tempfile.mkdtemp(prefix="zh-deb-pf-")
        os.chmod(tmp, 0o755)
        pf = Postfix(os.path.join(tmp, "pf"), port)
        try:
            finals = {}
            for name, frm, helo in (("01-clean-plain.eml", "bob@northwind.example",
                                     "mail.northwind.example"),
                                    ("04-mydoom-like-zip-pif.eml", "sandra@example.org", "kqvtwz")):
                data = smtp_data(os.path.join(SAMPLES, name), os.path.join(tmp, "data.txt"))
                r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(pf.port),
                                    "--from", frm, "--to", "alice@corp.example.com", "--ehlo",
                                    helo, "--no-data-fixup", "--data", "@" + data, "--timeout",
                                    "60"], capture_output=True, text=True, timeout=120)
                finals[name] = r.returncode
            pf.wait_queue_empty()
            delivered = pf.delivered()
        finally:
            pf.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(finals["01-clean-plain.eml"], 0)
        self.assertNotEqual(finals["04-mydoom-like-zip-pif.eml"], 0, "the worm was accepted")
        self.assertEqual(len(delivered), 1)
        self.assertIn(b"Subject:", delivered[0])
        procs[-1].terminate()
        procs[-1].wait(timeout=START_TIMEOUT)
        mlog.close()
        text = read(self.milter_log)
        self.assertRegex(text, r"verdict=MALICIOUS score=\d+ action=reject")


if __name__ == "__main__":
    unittest.main(verbosity=2)
