"""The store of recent scans and `zerohour retrohunt`, end to end: a wave of a
new payload that no rule knows is replayed (with envelopes and queue ids)
among ordinary mail through a real engine with the store on; then a rule
written afterwards finds exactly the recipients of the wave, with the verdict
they got then; --json carries the documented fields; --sha256 finds the same
messages; --since narrows the window; a Mydoom-like surge becomes an outbreak
and `--outbreak` lists every copy, including those before it was declared.
With the store off (the default) nothing is written and a hunt is refused."""
import base64
import hashlib
import json
import os
import random
import shutil
import stat
import tempfile
import time
import unittest

from zhtest import START_TIMEOUT, Engine, cli, message

T0 = 1075111200000  # 26 Jan 2004 10:00 UTC; the store's clock follows received_at
MARKER = b"ZH-WAVE-7f3a-statement"


def fake_pdf(rng, marker):
    body = bytes(rng.randrange(32, 127) for _ in range(3000))
    return b"%PDF-1.4\n1 0 obj<<>>stream\n" + body + (marker or b"") + b"\nendstream endobj\n%%EOF\n"


def fake_pe(rng):
    pe = bytearray(2048)
    pe[0:10] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"
    pe[0x3c] = 0x80
    pe[0x80:0x84] = b"PE\x00\x00"
    for i in range(0x100, len(pe)):
        pe[i] = rng.randrange(256)
    return bytes(pe)


def attach(name, data, ctype="application/octet-stream"):
    return ([f'Content-Type: {ctype}; name="{name}"', "Content-Transfer-Encoding: base64"],
            base64.encodebytes(data).decode())


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-store-")
        self.store = os.path.join(self.tmp, "store")
        self.rng = random.Random(11)
        self.engine = None
        self.lines = []

    def tearDown(self):
        if self.engine:
            self.engine.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, store=True, extra=()):
        args = list(extra)
        if store:
            args += ["--set", "store.enabled=1", "--set", f"store.directory={self.store}"]
        self.engine = Engine(args=args)

    def add(self, i, at, sender, rcpts, parts, subject="statement", ip=None):
        path = f"m{i}.eml"
        hdr = [("From", sender), ("To", rcpts[0]), ("Subject", subject),
               ("Date", "Mon, 26 Jan 2004 10:00:00 +0000"), ("Message-ID", f"<m{i}@zh.test>")]
        with open(os.path.join(self.tmp, path), "wb") as f:
            f.write(message(hdr, "Please see the attached file.", "b", parts) if parts else
                    message(hdr, "Lunch at noon?"))
        self.lines.append({"path": path, "client_ip": ip or f"198.51.100.{i % 250 + 1}",
                           "helo": f"mx{i}.example", "mail_from": sender, "rcpt_to": rcpts,
                           "received_at": at, "queue_id": f"Q{i:05d}"})

    def replay(self):
        jl = os.path.join(self.tmp, f"replay{len(self.lines)}.jsonl")
        with open(jl, "w") as f:
            f.write("\n".join(json.dumps(l) for l in self.lines) + "\n")
        n = len(self.lines)
        self.lines = []
        r = cli("scan", "--json", "--address", self.engine.address, "--envelopes", jl, check=False)
        recs = [json.loads(l) for l in r.out.splitlines()]
        self.assertEqual(len(recs), n, r.err)
        return recs

    def stats(self):
        r = cli("stats", "store", "--address", self.engine.address)
        return dict(l.split(":", 1) for l in r.out.splitlines() if ":" in l)

    def wait_stored(self, n):
        """The writer is off the scan path: wait (polled) until n are written."""
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            st = self.stats()
            if int(st["store_stored"]) >= n:
                return st
            time.sleep(0.05)
        self.fail(f"store wrote {self.stats()} of {n}")

    def hunt(self, *args, check=True):
        r = cli("retrohunt", "--json", "--address", self.engine.address, *args, check=False)
        if check:
            self.assertIn(r.returncode, (0, 1), r.err)
        return r, [json.loads(l) for l in r.out.splitlines()]

    def test_rule_written_after_the_wave(self):
        self.start()
        wave_pdf = fake_pdf(self.rng, MARKER)
        wave_rcpts = []
        i = 0
        # 30 messages over two hours: every third is the wave (same attachment,
        # a new sender and recipient each time), the rest ordinary mail with
        # other PDFs or none.
        for k in range(30):
            i += 1
            at = T0 + k * 4 * 60 * 1000
            if k % 3 == 0:
                rcpt = f"victim{k}@corp.example"
                wave_rcpts.append((rcpt, at, f"Q{i:05d}"))
                self.add(i, at, f"s{k}@isp{k}.example", [rcpt],
                         [attach("statement.pdf", wave_pdf, "application/pdf")])
            elif k % 3 == 1:
                self.add(i, at, f"colleague{k}@corp.example", [f"user{k}@corp.example"],
                         [attach("minutes.pdf", fake_pdf(self.rng, None), "application/pdf")],
                         subject="minutes")
            else:
                self.add(i, at, f"friend{k}@example.org", [f"user{k}@corp.example"], [],
                         subject="lunch")
        recs = self.replay()
        then = {r["path"]: r["verdict"] for r in recs}
        self.assertEqual(set(then.values()), {"CLEAN"}, "no rule knows the wave yet")
        st = self.wait_stored(30)
        self.assertEqual(st["store_messages"], "30")
        # one kept file for the 10 copies of the wave, one per other PDF
        self.assertEqual(st["store_kept_objects"], "11")
        self.assertEqual(stat.S_IMODE(os.stat(self.store).st_mode), 0o700)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.store, "index.db")).st_mode), 0o600)
        for f in os.listdir(os.path.join(self.store, "objects")):
            self.assertEqual(stat.S_IMODE(os.stat(os.path.join(self.store, "objects", f)).st_mode),
                             0o600)

        # the signature arrives hours later
        rule = os.path.join(self.tmp, "hunt", "wave.yar")
        os.makedirs(os.path.dirname(rule))
        with open(rule, "w") as f:
            f.write('rule Wave_Statement_2004 {\n  strings: $m = "%s"\n  condition: $m\n}\n'
                    % MARKER.decode())
        r, found = self.hunt(os.path.dirname(rule))
        self.assertEqual(r.returncode, 1, r.err)
        self.assertEqual(sorted(x for m in found for x in m["rcpt_to"]),
                         sorted(x for x, _, _ in wave_rcpts))
        for m in found:
            for key in ("message_id", "received_at", "rcpt_to", "mail_from", "verdict", "rules",
                        "queue_id"):
                self.assertIn(key, m)
            self.assertEqual(m["verdict"], "CLEAN")
            self.assertEqual(m["rules"], ["Wave_Statement_2004"])
            self.assertEqual(m["objects"], ["2/statement.pdf"])
            self.assertTrue(m["mail_from"].startswith("s"))
            self.assertRegex(m["message_id"], r"^m\d+@zh\.test$")
        self.assertEqual([(m["rcpt_to"][0], m["received_at"], m["queue_id"]) for m in found],
                         wave_rcpts, "oldest first, with their queue ids")
        self.assertIn("10 message(s) to 10 recipient(s)", r.err)

        # human output: one line per message
        h = cli("retrohunt", "--no-progress", "--address", self.engine.address, rule)
        self.assertEqual(h.returncode, 1)
        self.assertEqual(len(h.out.splitlines()), 10)
        self.assertIn("queue=Q00001 from=<s0@isp0.example> to=<victim0@corp.example>", h.out)

        # --since: the store's clock is the newest message (T0 + 116 min), so
        # 30m reaches back to T0 + 86 min: the copies of minutes 96 and 108
        r, recent = self.hunt("--since", "30m", rule)
        self.assertEqual([m["rcpt_to"][0] for m in recent],
                         ["victim24@corp.example", "victim27@corp.example"])

        # --sha256 finds the same messages without any rule
        r, by_hash = self.hunt("--sha256", hashlib.sha256(wave_pdf).hexdigest())
        self.assertEqual(sorted(m["message_id"] for m in by_hash),
                         sorted(m["message_id"] for m in found))
        self.assertTrue(all(m["rules"] == ["sha256:" + hashlib.sha256(wave_pdf).hexdigest()]
                            for m in by_hash))
        r, none = self.hunt("--sha256", "0" * 64)
        self.assertEqual((r.returncode, none), (0, []))

        # a rule that matches nothing stored: exit 0, no lines
        other = os.path.join(self.tmp, "other.yar")
        with open(other, "w") as f:
            f.write('rule Nothing_Here { strings: $m = "no such bytes anywhere" condition: $m }\n')
        r, nothing = self.hunt(other)
        self.assertEqual((r.returncode, nothing), (0, []))

        # rules that do not compile are reported with file and line; exit 2
        bad = os.path.join(self.tmp, "bad.yar")
        with open(bad, "w") as f:
            f.write("rule Broken {\n  condition: no_such_identifier\n}\n")
        r, _ = self.hunt(bad, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad.yar:2", r.err)
        with open(bad, "w") as f:
            f.write('include "/etc/passwd"\nrule X { condition: true }\n')
        r, _ = self.hunt(bad, check=False)
        self.assertEqual(r.returncode, 2, "include is refused: hunt rules may not read files")

    def test_outbreak_copies_before_declaration(self):
        self.start()
        i = 0
        # ordinary mail first
        for k in range(5):
            i += 1
            self.add(i, T0 + k * 1000, f"friend{k}@example.org", [f"user{k}@corp.example"], [],
                     subject="lunch")
        # a Mydoom-like surge: polymorphic .scr copies from new senders
        for k in range(12):
            i += 1
            self.add(i, T0 + 10000 + k * 20000, f"u{k}@h{k}.example", [f"alice{k}@corp.example"],
                     [attach(self.rng.choice(["document", "readme", "data"]) + ".scr",
                             fake_pe(self.rng))], subject=self.rng.choice(["hi", "hello", "test"]),
                     ip=f"203.0.113.{k + 1}")
        recs = self.replay()
        flagged = [any(h["detector"] == "outbreak" for h in r["hits"]) for r in recs[5:]]
        self.assertFalse(flagged[0], "the first copy comes before the outbreak")
        self.assertTrue(flagged[-1], "the surge became an outbreak")
        self.wait_stored(17)
        ob = json.loads(cli("outbreaks", "--json", "--address", self.engine.address).out)
        active = [o for o in ob["outbreaks"] if o["active"]]
        self.assertEqual(len(active), 1)
        first = flagged.index(True)
        delivered = sum(r["verdict"] in ("CLEAN", "SUSPICIOUS") for r in recs[5:5 + first])
        self.assertGreater(first, 0)
        self.assertEqual(active[0]["delivered_before"], delivered,
                         "the copies delivered before the outbreak was declared")
        r, found = self.hunt("--outbreak", active[0]["fingerprint"])
        self.assertEqual(r.returncode, 1, r.err)
        self.assertEqual([m["rcpt_to"][0] for m in found],
                         [f"alice{k}@corp.example" for k in range(12)],
                         "every copy, the ones before the outbreak included; no other mail")
        self.assertEqual(found[0]["verdict"], recs[5]["verdict"])
        self.assertTrue(all(m["fingerprint"] == active[0]["fingerprint"] for m in found))

    def test_killed_and_corrupt_store_recover(self):
        """kill -9 while records are being written, then a corrupt index: each
        time the engine starts, scans, and the store recovers or is rebuilt."""
        self.start()
        for k in range(40):
            self.add(k + 1, T0 + k * 1000, f"a{k}@example.org", [f"b{k}@corp.example"],
                     [attach(f"f{k}.pdf", fake_pdf(self.rng, None), "application/pdf")])
        self.replay()
        self.engine.proc.kill()  # SIGKILL: whatever was queued or half written
        self.engine.proc.wait()
        self.engine.stop(expect_rc=None)
        self.start()
        self.add(100, T0 + 100000, "c@example.org", ["d@corp.example"],
                 [attach("statement.pdf", fake_pdf(self.rng, MARKER), "application/pdf")])
        self.assertEqual(self.replay()[0]["verdict"], "CLEAN")
        st = self.wait_stored(1)
        self.assertEqual(st["store_rebuilds"], "0", "a killed writer leaves a consistent index")
        self.assertGreaterEqual(int(st["store_messages"]), 1)
        self.assertLessEqual(int(st["store_messages"]), 41)
        kept = len(os.listdir(os.path.join(self.store, "objects")))
        self.assertEqual(int(st["store_kept_objects"]), kept, "no file the index does not name")
        r, found = self.hunt("--sha256", hashlib.sha256(fake_pdf(random.Random(0), b"")).hexdigest())
        self.assertEqual(r.returncode, 0)
        self.engine.stop()
        self.engine = None
        with open(os.path.join(self.store, "index.db"), "r+b") as f:
            f.write(b"\x5a" * 8192)
        self.start()
        self.add(101, T0 + 200000, "e@example.org", ["f@corp.example"], [])
        self.assertEqual(self.replay()[0]["verdict"], "CLEAN")
        st = self.wait_stored(1)
        self.assertEqual(st["store_rebuilds"], "1")
        self.assertEqual(st["store_messages"], "1")
        self.assertTrue(os.path.exists(os.path.join(self.store, "index.db.corrupt")))
        self.assertIn("moving it aside", self.engine.logtext())

    def test_forget(self):
        """Privacy requests: one Message-ID, then everything older than an age;
        a hunt no longer finds what was forgotten."""
        self.start()
        pdf = fake_pdf(self.rng, MARKER)
        for k in range(6):
            self.add(k + 1, T0 + k * 3600 * 1000, f"a{k}@example.org", [f"b{k}@corp.example"],
                     [attach("statement.pdf", pdf, "application/pdf")])
        self.replay()
        sha = hashlib.sha256(pdf).hexdigest()
        r = cli("store", "forget", "--message-id", "<m1@zh.test>", "--address",
                self.engine.address)
        self.assertEqual((r.returncode, r.out), (0, "forgot 1 message(s)\n"))
        r, found = self.hunt("--sha256", sha)
        self.assertEqual([m["rcpt_to"][0] for m in found], [f"b{k}@corp.example" for k in range(1, 6)])
        # the store's clock is T0 + 5h: older than 2h30 means the copies of 1h and 2h
        r = cli("store", "forget", "--json", "--older-than", "150m", "--address",
                self.engine.address)
        self.assertEqual(json.loads(r.out), {"forgotten": 2})
        r, found = self.hunt("--sha256", sha)
        self.assertEqual([m["rcpt_to"][0] for m in found], [f"b{k}@corp.example" for k in range(3, 6)])
        self.assertEqual(len(os.listdir(os.path.join(self.store, "objects"))), 1, "still shared")
        r = cli("store", "forget", "--older-than", "1m", "--address", self.engine.address)
        self.assertEqual(r.out, "forgot 2 message(s)\n")
        r = cli("store", "forget", "--message-id", "m6@zh.test", "--address", self.engine.address)
        self.assertEqual(r.out, "forgot 1 message(s)\n")
        self.assertEqual(os.listdir(os.path.join(self.store, "objects")), [],
                         "the last message took the kept bytes with it")
        r = cli("store", "forget", "--address", self.engine.address, check=False)
        self.assertEqual(r.returncode, 2)

    def test_off_by_default(self):
        self.start(store=False, extra=["--set", f"store.directory={self.store}"])
        self.add(1, T0, "a@example.org", ["b@corp.example"],
                 [attach("statement.pdf", fake_pdf(self.rng, MARKER), "application/pdf")])
        self.replay()
        self.assertEqual(self.stats()["store_enabled"], "0")
        ob = json.loads(cli("outbreaks", "--json", "--address", self.engine.address).out)
        self.assertTrue(all(o["delivered_before"] is None for o in ob["outbreaks"]))
        r, _ = self.hunt("--sha256", "0" * 64, check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("keeps no store", r.err)
        self.assertFalse(os.path.exists(self.store), "nothing written with the store off")

    def test_refused_directory_keeps_scanning(self):
        os.makedirs(self.store, mode=0o755)
        os.chmod(self.store, 0o755)
        self.start()
        self.add(1, T0, "a@example.org", ["b@corp.example"], [])
        recs = self.replay()
        self.assertEqual(recs[0]["verdict"], "CLEAN")
        self.assertIn("refusing store directory", self.engine.logtext())
        self.assertEqual(os.listdir(self.store), [])


if __name__ == "__main__":
    unittest.main()
