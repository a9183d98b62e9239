"""The surge of the unknown, end to end: a gateway day replayed through a real
engine (and through two engines sharing a real Redis) where a wave arrives
in a container no class names (a made-up ".zqx" format: a fixed four-byte
magic, then bytes that change in every copy, under names and sizes that
change too), growing from one copy every ten minutes, from a pool of
infected hosts and forged senders. Beside it, the clean mail a surge must
not touch: a newsletter's identical PDF to many recipients (one sender
domain, VERP envelope senders, several relays), a document forwarded around
one organisation (internal hub), and S/MIME-signed mail from many unrelated
people (every signature a ".p7s" of the same shape). The wave must be
MALICIOUS within its first 10 copies (DEFER before is allowed); no clean
message may get an outbreak hit, nor DEFER."""
import base64
import json
import os
import random
import shutil
import tempfile
import unittest

from zhtest import Engine, Redis, cli, message

T0 = 1740988800000  # 2025-03-03 08:00 UTC
MINUTE = 60000
DOMAINS = ["fabrikam.example", "contoso.example", "wingtip.example", "adatum.example",
           "litware.example", "northwind.example", "woodgrove.example", "tailspin.example",
           "proseware.example", "margie.example", "lucerne.example", "alpine.example"]


def b64(data):
    return base64.encodebytes(data).decode()


class Day:
    """Writes messages and their envelopes in arrival order."""

    def __init__(self, tmp, seed):
        self.tmp, self.rng, self.lines, self.n = tmp, random.Random(seed), [], 0

    def add(self, label, when, sender, client_ip, rcpts, subject, body, parts, helo=None,
            env_from=None):
        self.n += 1
        path = f"m{self.n:05d}.eml"
        dom = sender.split("@")[1]
        hdr = [("From", sender), ("To", ", ".join(rcpts)), ("Subject", subject),
               ("Date", "Mon, 03 Mar 2025 08:00:00 +0000"),
               ("Message-ID", f"<{self.n}.{self.rng.randrange(10**9)}@{dom}>")]
        with open(os.path.join(self.tmp, path), "wb") as f:
            f.write(message(hdr, body, "b%d" % self.n, parts))
        self.lines.append({"path": path, "client_ip": client_ip, "helo": helo or f"mail.{dom}",
                           "mail_from": env_from or sender, "rcpt_to": rcpts, "received_at": when,
                           "label": label})

    def write(self):
        self.lines.sort(key=lambda l: l["received_at"])
        jl = os.path.join(self.tmp, "day.jsonl")
        with open(jl, "w") as f:
            for l in self.lines:
                f.write(json.dumps({k: v for k, v in l.items() if k != "label"}) + "\n")
        return jl


def pdf(rng, pages):
    body = b"".join(b"%d 0 obj\n<< /Type /Page >>\nendobj\n" % (i + 3) for i in range(pages))
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" + body + b"%%EOF\n"


def attachment(name, ctype, data):
    return ([f'Content-Type: {ctype}; name="{name}"', "Content-Transfer-Encoding: base64",
             f'Content-Disposition: attachment; filename="{name}"'], b64(data))


def build_day(tmp, seed=5):
    day = Day(tmp, seed)
    rng = day.rng
    # Background: one-off business mail with ordinary documents.
    for k in range(120):
        dom = rng.choice(DOMAINS)
        who = f"{rng.choice(['anna', 'ben', 'carla', 'dev', 'emma'])}.{rng.choice(['li', 'ross', 'khan'])}"
        day.add("clean", T0 + k * 90000 + rng.randrange(60000), f"{who}@{dom}",
                f"203.0.113.{rng.randrange(1, 250)}", ["alice@corp.example.com"], "Quarterly figures",
                "Hi Alice, the figures are attached.",
                [attachment(f"figures-{k}.pdf", "application/pdf", pdf(rng, rng.randrange(1, 9)))])
    # A newsletter: one identical PDF to 30 recipients, VERP envelope senders,
    # three relays of the provider.
    letter = pdf(rng, 5)
    for k in range(30):
        rcpt = f"user{k}@corp.example.com"
        day.add("clean", T0 + 40 * MINUTE + k * 2000, "news@news.tailspin.example",
                f"192.0.2.{10 + k % 3}", [rcpt], "Tailspin monthly", "Our news this month.",
                [attachment("Tailspin-March.pdf", "application/pdf", letter)],
                helo="out.esp.example", env_from=f"bounce-{k}-{rng.randrange(10**6)}@esp.example")
    # A document forwarded around one organisation through its hub.
    memo = pdf(rng, 2)
    for k in range(12):
        day.add("clean", T0 + 60 * MINUTE + k * 30000, f"staff{k}@corp.example.com",
                f"10.0.0.{5 + k % 2}", [f"staff{k + 1}@corp.example.com"], "Fwd: new travel policy",
                "FYI, see attached.",
                [attachment("travel-policy.pdf", "application/pdf", memo)],
                helo="hub.corp.example.com")
    # S/MIME-signed mail from many unrelated people and hosts.
    for k in range(20):
        dom = DOMAINS[k % len(DOMAINS)]
        sig = b"\x30\x82" + rng.randbytes(2) + b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" + \
            rng.randbytes(rng.randrange(1500, 4000))
        day.add("clean", T0 + 30 * MINUTE + k * 120000, f"signer{k}@{dom}",
                f"198.18.{k}.{rng.randrange(1, 250)}", ["alice@corp.example.com"], "Signed",
                "Please find my signed note.",
                [attachment("smime.p7s", "application/pkcs7-signature", sig)])
    # The wave: doubling every 10 minutes from one copy per 10 minutes.
    t, rate, k = T0 + 50 * MINUTE, 0.1, 0
    hosts = [f"{rng.randrange(11, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
             for _ in range(60)]
    while k < 25:
        t += int(rng.expovariate(rate) * MINUTE)
        rate = min(4.0, 0.1 * 2 ** ((t - (T0 + 50 * MINUTE)) / (10 * MINUTE)))
        k += 1
        sdom = f"{''.join(rng.choice('bcdfghjklmnpqrstvwxz') for _ in range(7))}.example" \
            if rng.random() < 0.5 else rng.choice(DOMAINS)
        sender = f"{rng.choice(['billing', 'accounts', 'noreply', 'jsmith', 'mary'])}@{sdom}"
        blob = b"ZQX1" + rng.randbytes(rng.randrange(3000, 20000))
        name = f"{rng.choice(['Invoice', 'Remittance', 'Document'])}_{rng.randrange(1000, 9999)}.zqx"
        day.add("wave", t, sender, rng.choice(hosts), [f"user{rng.randrange(60)}@corp.example.com"],
                rng.choice(["Invoice", "Payment advice", "Your document"]),
                "Please see the attached document.",
                [attachment(name, "application/octet-stream", blob)])
    return day


class SurgeTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-surge-")
        self.procs = []

    def tearDown(self):
        for p in reversed(self.procs):
            p.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def replay(self, day, engines):
        """Scan the day in arrival order, spreading messages over engines."""
        jl = day.write()
        with open(jl) as f:
            lines = f.read().splitlines()
        recs = []
        if len(engines) == 1:  # --envelopes scans in file order
            r = cli("scan", "--json", "--address", engines[0].address, "--envelopes", jl, check=False)
            recs = [json.loads(l) for l in r.out.splitlines()]
            lines = []
        for i, line in enumerate(lines):
            one = os.path.join(self.tmp, f"one{i % len(engines)}.jsonl")
            with open(one, "w") as f:
                f.write(line + "\n")
            eng = engines[i % len(engines)]
            r = cli("scan", "--json", "--address", eng.address, "--envelopes", one, check=False)
            rec = json.loads(r.out.splitlines()[0])
            self.assertNotIn("error", rec, rec)
            recs.append(rec)
        labels = {l["path"]: l["label"] for l in day.lines}
        return [(labels[os.path.basename(r["path"])], r) for r in recs]

    def check(self, results):
        outbreak = lambda r: [h for h in r["hits"] if h["detector"] == "outbreak"]
        wave = [r for label, r in results if label == "wave"]
        verdicts = [r["verdict"] for r in wave]
        first_mal = verdicts.index("MALICIOUS") if "MALICIOUS" in verdicts else None
        self.assertIsNotNone(first_mal, verdicts)
        self.assertLess(first_mal, 10, verdicts)
        self.assertTrue(all(v in ("CLEAN", "DEFER") for v in verdicts[:first_mal]), verdicts)
        self.assertEqual(verdicts[first_mal:], ["MALICIOUS"] * (len(wave) - first_mal), verdicts)
        self.assertEqual(outbreak(wave[first_mal])[0]["rule"], "surge_unknown_type")
        for label, r in results:
            if label == "clean":
                self.assertEqual(outbreak(r), [], r)
                self.assertNotEqual(r["verdict"], "DEFER", r)
        return first_mal

    def test_one_engine(self):
        e = Engine()
        self.procs.append(e)
        self.check(self.replay(build_day(self.tmp), [e]))

    def test_fleet_through_redis(self):
        """Two engines each see every other message; the fleet's counts decide."""
        redis = Redis()
        self.procs.append(redis)
        prefix = "zh-surge-%d:" % os.getpid()
        engines = []
        for _ in range(2):
            e = Engine(args=["--set", f"outbreak.redis={redis.url}",
                             "--set", f"outbreak.redis_prefix={prefix}"])
            self.procs.append(e)
            engines.append(e)
        results = self.replay(build_day(self.tmp), engines)
        self.check(results)
        wave = [r for label, r in results if label == "wave"]
        self.assertTrue(any("across the fleet" in h["detail"] for r in wave for h in r["hits"]
                            if h["detector"] == "outbreak"))

    def test_surge_off(self):
        """[outbreak] surge = 0: the unknown type passes on volume, as before."""
        e = Engine(args=["--set", "outbreak.surge=0"])
        self.procs.append(e)
        results = self.replay(build_day(self.tmp), [e])
        self.assertFalse(any(h["detector"] == "outbreak" for _, r in results for h in r["hits"]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
