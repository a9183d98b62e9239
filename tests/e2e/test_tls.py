"""A secured fleet: tls+tcp:// engine addresses (nng's TLS, mbedTLS in
Debian's libnng) with a server certificate and required client
certificates, and administrative calls (Reload, Stats, Outbreaks, Retrohunt,
StoreForget) answered
only on ipc addresses and engine.admin_address. Certificates are made here
with openssl for the test alone."""
import os
import shutil
import subprocess
import tempfile
import unittest

from zhtest import Engine, SAMPLES, cli, free_port

CLEAN = os.path.join(SAMPLES, "01-clean-plain.eml")
WORM = os.path.join(SAMPLES, "04-mydoom-like-zip-pif.eml")


def openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise AssertionError(f"openssl {' '.join(args)}:\n{r.stderr}")


def make_pki(d):
    """ca.pem + server.pem (cert and key, for 127.0.0.1) + client.pem,
    signed by ca; other-ca.pem and stranger.pem (a client signed by it)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "2",
                "-subj", f"/CN=zerohour test {ca}", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:127.0.0.1,IP:127.0.0.1\n")
    for name, ca, cn in (("server", "ca", "127.0.0.1"), ("client", "ca", "milter.example"),
                         ("stranger", "other-ca", "stranger.example")):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={cn}",
                cwd=d)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                "-CAcreateserial", "-days", "2", "-out", f"{name}.crt",
                *(["-extfile", "san.ext"] if name == "server" else []), cwd=d)
        with open(os.path.join(d, f"{name}.pem"), "w") as out:
            for part in (f"{name}.crt", f"{name}.key"):
                with open(os.path.join(d, part)) as f:
                    out.write(f.read())


class TlsFleetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl is not installed")
        cls.pki = tempfile.mkdtemp(prefix="zh-tls-")
        make_pki(cls.pki)
        for attempt in range(5):  # a free port may be taken before the engine binds it
            cls.tls = f"tls+tcp://127.0.0.1:{free_port()}"
            cls.tcp = f"tcp://127.0.0.1:{free_port()}"
            cls.admin = f"tcp://127.0.0.1:{free_port()}"
            try:
                cls.engine = Engine(addresses=[f"ipc://{cls.pki}/zh.sock", cls.tls, cls.tcp],
                                    args=["--set", f"engine.tls_cert={cls.pki}/server.pem",
                                          "--set", f"engine.tls_ca={cls.pki}/ca.pem",
                                          "--set", f"engine.admin_address={cls.admin}"])
                return
            except AssertionError as e:
                if attempt == 4 or "in use" not in str(e):
                    shutil.rmtree(cls.pki, ignore_errors=True)
                    raise

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()
        shutil.rmtree(cls.pki, ignore_errors=True)

    def tls_cli(self, *args, ca="ca.pem", cert="client.pem", **kw):
        extra = ["--tls-ca", f"{self.pki}/{ca}"]
        if cert:
            extra += ["--tls-cert", f"{self.pki}/{cert}"]
        return cli(*args[:1], "--address", self.tls, "--connect-timeout", "3000", *extra,
                   *args[1:], check=False, **kw)

    def test_right_ca_and_client_certificate_scan(self):
        r = self.tls_cli("scan", CLEAN, WORM)
        self.assertEqual(r.returncode, 1, r.out + r.err)
        self.assertIn("01-clean-plain.eml: CLEAN", r.out)
        self.assertIn("04-mydoom-like-zip-pif.eml: MALICIOUS", r.out)

    def test_wrong_ca_is_refused(self):
        r = self.tls_cli("ping", ca="other-ca.pem")
        self.assertEqual(r.returncode, 2, r.out)
        self.assertRegex(r.err.lower(), r"unreachable|connect")

    def test_client_without_certificate_or_with_a_strangers_is_refused(self):
        for cert in (None, "stranger.pem"):
            r = self.tls_cli("ping", cert=cert)
            self.assertEqual(r.returncode, 2, f"{cert}: {r.out}")

    def test_tls_address_needs_a_ca_on_the_client(self):
        r = cli("ping", "--address", self.tls, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("needs the CA file", r.err)

    def test_admin_calls_only_on_ipc_and_admin_address(self):
        for args in (("reload",), ("stats",), ("outbreaks",)):
            r = self.tls_cli(*args)
            self.assertEqual(r.returncode, 2, f"{args} over TLS: {r.out}")
            self.assertIn("permission denied", r.err.lower())
            r = cli(*args, "--address", self.tcp, check=False)
            self.assertEqual(r.returncode, 2, f"{args} over plain tcp: {r.out}")
            self.assertIn("permission denied", r.err.lower())
            for addr in (self.engine.address, self.admin):
                r = cli(*args, "--address", addr, check=False)
                self.assertEqual(r.returncode, 0, f"{args} on {addr}: {r.err}")
        # Retrohunt and StoreForget (issue 15) read and erase stored mail:
        # admin calls too. This engine keeps no store, so where they are
        # allowed they fail for that reason, never for permission.
        for args in (("retrohunt", "--sha256", "ab" * 32), ("store", "forget", "--older-than", "1h")):
            for addr in (self.tls, self.tcp):
                extra = (["--tls-ca", f"{self.pki}/ca.pem", "--tls-cert", f"{self.pki}/client.pem",
                          "--connect-timeout", "3000"] if addr == self.tls else [])
                r = cli(*args, "--address", addr, *extra, check=False)
                self.assertEqual(r.returncode, 2, f"{args} on {addr}: {r.out}")
                self.assertIn("permission denied", r.err.lower())
            for addr in (self.engine.address, self.admin):
                r = cli(*args, "--address", addr, check=False)
                self.assertNotIn("permission denied", r.err.lower(), f"{args} on {addr}")
        # Scan and Ping stay open to every address.
        self.assertEqual(cli("ping", "--address", self.tcp).returncode, 0)
        self.assertEqual(self.tls_cli("ping").returncode, 0)

    def test_engine_refuses_tls_without_certificate(self):
        r = subprocess.run([self.engine.proc.args[0], "--check", "--address", self.tls],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("needs engine.tls_cert", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
