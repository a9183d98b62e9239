"""Outbreak counts shared by a fleet through a real Redis: two engines that
each see half of a worm's copies detect the surge at the fleet's fifth copy,
as one engine seeing all of them would, where two engines counting alone see
nothing; and a Redis outage costs no scan (each engine counts alone, says so
in its log and its detector errors, and hands what it found alone to the
fleet when Redis is back), and so does a Redis that is frozen."""
import base64
import json
import os
import random
import shutil
import tempfile
import time
import unittest

from test_outbreak import fake_pe
from zhtest import START_TIMEOUT, Engine, Redis, cli, message

T0 = 1075111200000


class SharedOutbreakTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-obs-")
        self.rng = random.Random(11)
        self.n = 0
        self.procs = []

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def engine(self, redis=None):
        args = ["--set", "outbreak.redis_prefix=zh-test-%d:" % os.getpid()]
        if redis:
            args += ["--set", f"outbreak.redis={redis.url}"]
        e = Engine(args=args)
        self.procs.append(e)
        return e

    def copy(self, engine):
        """One more worm copy (new PE bytes, sender and client), scanned by engine."""
        self.n += 1
        i = self.n
        hdr = [("From", f"u{i}@h{i}.example"), ("To", "alice@corp.example.com"),
               ("Subject", "hi"), ("Date", "Mon, 26 Jan 2004 10:00:00 +0000"),
               ("Message-ID", f"<{i}@h{i}.example>")]
        path = os.path.join(self.tmp, f"w{i}.eml")
        with open(path, "wb") as f:
            f.write(message(hdr, "hi", "b", [(
                ['Content-Type: application/octet-stream; name="readme.scr"',
                 "Content-Transfer-Encoding: base64"],
                base64.encodebytes(fake_pe(self.rng)).decode())]))
        env = {"path": path, "client_ip": f"198.51.100.{i}", "helo": f"mx.h{i}.example",
               "mail_from": f"u{i}@h{i}.example", "rcpt_to": ["alice@corp.example.com"],
               "received_at": T0 + i * 20000}
        jl = os.path.join(self.tmp, f"w{i}.jsonl")
        with open(jl, "w") as f:
            f.write(json.dumps(env) + "\n")
        r = cli("scan", "--json", "--address", engine.address, "--envelopes", jl, check=False)
        rec = json.loads(r.out.splitlines()[0])
        self.assertNotIn("error", rec, rec)
        return rec

    @staticmethod
    def outbreak_hit(rec):
        return next((h for h in rec["hits"] if h["detector"] == "outbreak"), None)

    def test_two_engines_count_as_one(self):
        redis = Redis()
        self.procs.append(redis)
        a, b = self.engine(redis), self.engine(redis)
        recs = [self.copy(a if k % 2 == 0 else b) for k in range(8)]
        flagged = [self.outbreak_hit(r) is not None for r in recs]
        # Copies 1-4 (two per engine) are not an outbreak yet; the fifth,
        # though engine a has seen only three, is: the fleet has seen five.
        self.assertEqual(flagged, [False] * 4 + [True] * 4, recs)
        self.assertIn("across the fleet", self.outbreak_hit(recs[4])["detail"])
        self.assertTrue(all(r["verdict"] == "MALICIOUS" for r in recs[4:]))
        # Engine b lists the outbreak the fleet found.
        obs = json.loads(cli("outbreaks", "--json", "--address", b.address, check=False).out)
        self.assertTrue(any(o["active"] for o in obs["outbreaks"]), obs)

    def test_two_engines_alone_miss_it(self):
        """The control: the same traffic on two engines without Redis."""
        a, b = self.engine(), self.engine()
        recs = [self.copy(a if k % 2 == 0 else b) for k in range(8)]
        self.assertFalse(any(self.outbreak_hit(r) for r in recs),
                         "each engine saw four copies: below min_copies")

    def test_redis_outage(self):
        redis = Redis()
        self.procs.append(redis)
        a = self.engine(redis)
        self.copy(a)
        redis.pause()
        # Every copy is answered (copy() checks there is no error) with the
        # verdict of the engine counting alone.
        recs = [self.copy(a) for _ in range(5)]
        self.assertTrue(all(r["verdict"] in ("SUSPICIOUS", "DEFER", "MALICIOUS") for r in recs))
        # Counting alone, the engine still found the outbreak at its sixth copy.
        self.assertIsNotNone(self.outbreak_hit(recs[-1]))
        self.assertIn("counting in this engine alone", a.logtext())
        det = json.loads(cli("stats", "--json", "detectors", "--address", a.address).out)["detectors"]
        self.assertNotIn("errors=0,", det["outbreak"])
        # Redis back, empty as after a restart: the engine hands the outbreak
        # it found alone to the fleet, so an engine that never saw a copy
        # flags its very first one.
        redis.start()
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            hit = self.outbreak_hit(self.copy(a))
            self.assertIsNotNone(hit, "an outbreak found during the outage stays flagged")
            if "across the fleet" in hit["detail"]:
                break
            time.sleep(0.2)
        self.assertIn("across the fleet", hit["detail"])
        b = self.engine(redis)
        hit = self.outbreak_hit(self.copy(b))
        self.assertIsNotNone(hit, "the fleet's outbreak reaches a new engine")
        self.assertIn("across the fleet", hit["detail"])

    def test_redis_frozen(self):
        """A Redis that accepts connections and never answers (SIGSTOP, as a
        swapped-out or wedged server) costs no scan either: each copy waits
        at most redis_timeout_ms, the engine counts alone, and goes back to
        the fleet's counts when Redis answers again."""
        redis = Redis()
        self.procs.append(redis)
        a = self.engine(redis)
        self.copy(a)
        redis.freeze()
        try:
            recs = [self.copy(a) for _ in range(5)]
        finally:
            redis.thaw()
        self.assertTrue(all(r["verdict"] in ("SUSPICIOUS", "DEFER", "MALICIOUS") for r in recs))
        self.assertIsNotNone(self.outbreak_hit(recs[-1]), "counting alone, the sixth copy is one")
        self.assertIn("counting in this engine alone", a.logtext())
        # Each worker has its own connection and tries again a second after
        # its failure; whichever worker takes a copy, it is soon counted by
        # the fleet again.
        deadline = time.time() + START_TIMEOUT
        while True:
            hit = self.outbreak_hit(self.copy(a))
            self.assertIsNotNone(hit, "an outbreak found while Redis was frozen stays flagged")
            if "across the fleet" in hit["detail"]:
                break
            self.assertLess(time.time(), deadline, a.logtext())
            time.sleep(0.2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
