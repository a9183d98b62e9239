"""Outbreak detection end to end: polymorphic copies of a new worm replayed
with their envelopes through `zerohour scan --envelopes` against a real
engine: the first copies are judged alone (or deferred), then the surge
becomes an outbreak and every copy is flagged; `zerohour outbreaks` shows it;
the state survives a SIGTERM restart and counts go on; a corrupt snapshot is
reported and ignored."""
import base64
import json
import os
import random
import shutil
import tempfile
import unittest

from zhtest import Engine, cli, message

T0 = 1075111200000


def fake_pe(rng):
    pe = bytearray(2048)
    pe[0:10] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00"
    pe[0x3c] = 0x80
    pe[0x80:0x84] = b"PE\x00\x00"
    for i in range(0x100, len(pe)):
        pe[i] = rng.randrange(256)          # polymorphic: every copy differs
    return bytes(pe)


class OutbreakTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-ob-")
        self.state = os.path.join(self.tmp, "outbreak.state")
        self.rng = random.Random(7)
        self.n = 0
        self.engine = None

    def tearDown(self):
        if self.engine:
            self.engine.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self):
        self.engine = Engine(args=["--set", f"outbreak.state_file={self.state}",
                                   "--set", "outbreak.snapshot_ms=1s"])

    def write_copies(self, where, count, start_ms):
        """count worm copies as files in where; returns their envelopes, one
        every 20 s, each from a new sender and client."""
        lines = []
        for _ in range(count):
            self.n += 1
            i = self.n
            name = self.rng.choice(["document", "readme", "data", "file", "text"]) + ".scr"
            hdr = [("From", f"u{i}@h{i}.example"), ("To", "alice@corp.example.com"),
                   ("Subject", self.rng.choice(["hello", "hi", "test"])),
                   ("Date", "Mon, 26 Jan 2004 10:00:00 +0000"), ("Message-ID", f"<{i}@h{i}.example>")]
            path = f"w{i}.eml"
            with open(os.path.join(where, path), "wb") as f:
                f.write(message(hdr, "hi", "b", [(
                    [f'Content-Type: application/octet-stream; name="{name}"',
                     "Content-Transfer-Encoding: base64"],
                    base64.encodebytes(fake_pe(self.rng)).decode())]))
            lines.append({"path": path, "client_ip": f"198.51.100.{i % 250 + 1}",
                          "helo": f"mx{i}.h{i}.example", "mail_from": f"u{i}@h{i}.example",
                          "rcpt_to": ["alice@corp.example.com"], "received_at": start_ms + i * 20000})
        return lines

    def stream(self, count, start_ms, *extra):
        """count worm copies replayed as live traffic (see write_copies)."""
        lines = self.write_copies(self.tmp, count, start_ms)
        if not lines:
            return []
        jl = os.path.join(self.tmp, f"s{self.n}.jsonl")
        with open(jl, "w") as f:
            f.write("\n".join(json.dumps(l) for l in lines) + "\n")
        r = cli("scan", "--json", "--address", self.engine.address, "--envelopes", jl, *extra,
                check=False)
        return [json.loads(l) for l in r.out.splitlines()]

    def test_surge_restart_and_listing(self):
        self.start()
        recs = self.stream(4, T0)
        self.assertEqual([r["verdict"] for r in recs[:2]], ["SUSPICIOUS", "DEFER"])
        self.assertFalse(any(h["detector"] == "outbreak" for r in recs for h in r["hits"]))
        recs = self.stream(4, T0)
        flagged = [any(h["detector"] == "outbreak" for h in r["hits"]) for r in recs]
        self.assertTrue(flagged[0], "the fifth copy crosses the thresholds")
        self.assertTrue(all(flagged))
        self.assertTrue(all(r["verdict"] == "MALICIOUS" for r in recs))
        out = cli("outbreaks", "--json", "--address", self.engine.address)
        self.assertEqual(out.returncode, 1)
        obs = json.loads(out.out)["outbreaks"]
        self.assertTrue(obs[0]["active"] and obs[0]["blocking"])
        self.assertEqual(obs[0]["total"], 8)
        self.assertIn("pe", obs[0]["summary"])
        human = cli("outbreaks", "--address", self.engine.address).out
        self.assertIn("ACTIVE", human)
        # Restart: the state is saved on SIGTERM and restored.
        log = self.engine.stop()
        self.assertIn("outbreak state saved", log)
        self.start()
        recs = self.stream(2, T0)
        self.assertTrue(all(any(h["detector"] == "outbreak" for h in r["hits"]) for r in recs))
        obs = json.loads(cli("outbreaks", "--json", "--address", self.engine.address).out)["outbreaks"]
        self.assertEqual(obs[0]["total"], 10)

    def outbreak_table(self):
        return json.loads(cli("outbreaks", "--json", "--address", self.engine.address,
                              check=False).out)["outbreaks"]

    def test_hunt_does_not_teach(self):
        """Scanning stored mail (the CLI on files, by default) judges it with
        what the engine knows but counts nothing: no DEFER, no new or rising
        entry in the outbreak table. --observe opts back in; an outbreak the
        live traffic established is still flagged by a hunt."""
        self.start()
        self.stream(8, T0)  # writes w1..w8.eml and replays them as live traffic
        base = self.outbreak_table()
        self.assertEqual(base[0]["total"], 8)
        hunt = os.path.join(self.tmp, "hunt")
        os.mkdir(hunt)
        for i in range(1, 9):
            shutil.copy(os.path.join(self.tmp, f"w{i}.eml"), hunt)
        # Inside the outbreak's hold: every stored copy is flagged, nothing counted.
        r = cli("scan", "--json", "--address", self.engine.address, "--received-at",
                str(T0 + 9 * 20000), hunt, check=False)
        recs = [json.loads(l) for l in r.out.splitlines()]
        self.assertEqual(len(recs), 8)
        self.assertTrue(all(any(h["detector"] == "outbreak" for h in x["hits"]) for x in recs))
        self.assertEqual(self.outbreak_table(), base)
        # Replayed as traffic but with --no-observe: still nothing counted.
        self.stream(4, T0 + 3600 * 1000, "--no-observe")
        self.assertEqual(self.outbreak_table(), base)

    def test_hunt_of_a_new_worm_leaves_no_trace(self):
        self.start()
        self.stream(0, T0)
        hunt = os.path.join(self.tmp, "hunt")
        os.mkdir(hunt)
        self.write_copies(hunt, 12, T0)
        r = cli("scan", "--json", "--address", self.engine.address, hunt, check=False)
        recs = [json.loads(l) for l in r.out.splitlines()]
        self.assertEqual(len(recs), 12)
        self.assertNotIn("DEFER", [x["verdict"] for x in recs])
        self.assertEqual(self.outbreak_table(), [])
        # The same files with --observe are counted (the default of an MTA).
        cli("scan", "--json", "--observe", "--address", self.engine.address, hunt, check=False)
        table = self.outbreak_table()
        self.assertEqual(len(table), 1)
        self.assertEqual(table[0]["total"], 12)

    def test_corrupt_snapshot_is_ignored(self):
        with open(self.state, "wb") as f:
            f.write(b"ZHOBSNP1" + os.urandom(200))
        self.start()
        self.assertIn("ignored", self.engine.logtext())
        self.assertEqual(cli("ping", "--address", self.engine.address).returncode, 0)
        out = cli("outbreaks", "--address", self.engine.address)
        self.assertEqual(out.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
