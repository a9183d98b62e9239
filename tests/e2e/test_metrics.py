"""Prometheus metrics: zerohourd's /metrics (engine.metrics_address, nng's
HTTP server) and `zerohour stats --format prometheus` give the same metric
families, valid for `promtool check metrics` (package prometheus), with
counters that move as scans are made, scraped while a load runs."""
import glob
import re
import shutil
import subprocess
import time
import unittest
import urllib.request

from zhtest import Engine, SAMPLES, binary, cli, free_port

PROMTOOL = shutil.which("promtool")


def promtool_check(text):
    if not PROMTOOL:
        return
    r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=60)
    # promtool exits 0 when clean, 3 with lint remarks only, 1 on a parse error.
    if r.returncode != 0:
        raise AssertionError(f"promtool check metrics exited {r.returncode}:\n{r.stdout}{r.stderr}"
                             f"\n--- text:\n{text}")


def value(text, name, labels=""):
    m = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    if not m:
        raise AssertionError(f"no sample {name}{labels} in:\n{text}")
    return float(m.group(1))


def families(text):
    return set(re.findall(r"^# TYPE (\S+) ", text, re.M))


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for _ in range(5):  # the free port may be taken before the engine binds it
            cls.url = f"http://127.0.0.1:{free_port()}"
            try:
                cls.engine = Engine(args=["--set", f"engine.metrics_address={cls.url}"])
                return
            except AssertionError as e:
                if "Address in use" not in str(e):
                    raise
        raise AssertionError("no free port for the metrics endpoint")

    @classmethod
    def tearDownClass(cls):
        cls.engine.stop()

    def scrape(self):
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=30) as r:
            self.assertEqual(r.headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
            return r.read().decode("utf-8")

    def test_1_counters_move_with_scans(self):
        before = self.scrape()
        promtool_check(before)
        r = cli("scan", "--address", self.engine.address, *sorted(glob.glob(f"{SAMPLES}/*.eml")))
        self.assertEqual(r.returncode, 1, r.err)  # some samples are flagged
        after = self.scrape()
        promtool_check(after)
        mal = 'zerohour_scans_total{verdict="malicious"}'
        clean = 'zerohour_scans_total{verdict="clean"}'
        self.assertEqual(value(after, mal) - value(before, mal), 4)
        self.assertEqual(value(after, clean) - value(before, clean), 4)
        self.assertEqual(value(after, "zerohour_scan_duration_seconds_count")
                         - value(before, "zerohour_scan_duration_seconds_count"), 8)
        self.assertGreater(value(after, "zerohour_scan_duration_seconds_sum"),
                           value(before, "zerohour_scan_duration_seconds_sum"))
        self.assertEqual(value(after, 'zerohour_scan_duration_seconds_bucket{le="+Inf"}'),
                         value(after, "zerohour_scan_duration_seconds_count"))
        self.assertGreater(value(after, 'zerohour_detector_hits_total{detector="archive_executable"}'), 0)
        req = 'zerohour_requests_total{method="Scan",status="ok"}'
        self.assertEqual(value(after, req) - value(before, req), 8)
        self.assertEqual(value(after, "zerohour_ruleset_version"), 1)
        self.assertEqual(value(after, "zerohour_last_reload_success"), 1)
        self.assertGreater(value(after, "zerohour_resident_memory_bytes"), 1 << 20)
        self.assertEqual(value(after, "zerohour_outbreaks_active"), 0)

    def test_2_cli_prints_the_same_families(self):
        r = cli("stats", "--address", self.engine.address, "--format", "prometheus")
        self.assertEqual(r.returncode, 0, r.err)
        promtool_check(r.out)
        self.assertEqual(families(r.out), families(self.scrape()))
        bad = cli("stats", "--address", self.engine.address, "--format", "xml", check=False)
        self.assertEqual(bad.returncode, 2)

    def test_3_scraped_during_a_load_run(self):
        files = sorted(glob.glob(f"{SAMPLES}/*.eml")) * 25
        load = subprocess.Popen([binary("zerohour"), "scan", "--jobs", "4", "--address",
                                 self.engine.address, *files], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        last, scrapes = -1.0, 0
        try:
            while load.poll() is None or scrapes < 2:
                text = self.scrape()
                promtool_check(text)
                n = value(text, "zerohour_scan_duration_seconds_count")
                self.assertGreaterEqual(n, last, "a counter went backwards")
                last, scrapes = n, scrapes + 1
                time.sleep(0.05)
        finally:
            err = load.communicate(timeout=300)[1]
        self.assertIn(load.returncode, (0, 1), err)
        self.assertGreaterEqual(value(self.scrape(), "zerohour_scan_duration_seconds_count"),
                                len(files))


if __name__ == "__main__":
    unittest.main(verbosity=2)
