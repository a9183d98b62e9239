"""End to end: a real zerohourd on a private socket, driven through the real
`zerohour` CLI (and zh-rawcall for requests no well-behaved client sends).
Each test checks verdicts, hits, statuses and exit codes, and that the engine
keeps serving after bad input."""
import json
import os
import signal
import stat
import subprocess
import tempfile
import time
import unittest

from zhtest import START_TIMEOUT, Engine, binary, cli, free_port, message, scan_json, RULES, SAMPLES

EICAR = "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
HDR = [("From", "alice@example.com"), ("To", "bob@example.org"), ("Subject", "hello"),
       ("Date", "Mon, 26 Jan 2004 10:00:00 +0000"), ("Message-ID", "<1@example.com>")]


def write(dirpath, name, data):
    path = os.path.join(dirpath, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


class EngineTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zh-e2e-files-")
        self.engine = None

    def tearDown(self):
        if self.engine:
            self.engine.stop()
        subprocess.run(["rm", "-rf", self.tmp])

    def start(self, **kw):
        self.engine = Engine(**kw)
        return self.engine

    def test_verdicts_human_and_json(self):
        e = self.start()
        clean = write(self.tmp, "clean.eml", message(HDR, "Lunch at noon?"))
        eicar = write(self.tmp, "eicar.eml", message(HDR, "test file attached", "b", [
            (["Content-Type: application/octet-stream; name=eicar.com"], EICAR)]))
        r = cli("scan", "--address", e.address, clean)
        self.assertEqual(r.returncode, 0, r.out + r.err)
        self.assertRegex(r.out, r"clean\.eml: CLEAN 0\b")
        r = cli("scan", "--address", e.address, eicar)
        self.assertEqual(r.returncode, 1, r.out + r.err)
        self.assertRegex(r.out, r"eicar\.eml: MALICIOUS \d+ \(EICAR_Test_File \[EICAR-Test-File\]")
        r, recs = scan_json(e, clean, eicar)
        self.assertEqual(r.returncode, 1)
        c, m = recs[clean], recs[eicar]
        self.assertEqual(c["verdict"], "CLEAN")
        self.assertEqual(c["hits"], [])
        self.assertEqual(m["verdict"], "MALICIOUS")
        self.assertGreaterEqual(m["score"], 100)
        hit = m["hits"][0]
        self.assertEqual((hit["detector"], hit["rule"], hit["object"], hit["score"]),
                         ("yara", "EICAR_Test_File", "2/eicar.com", 100))
        self.assertEqual(hit["family"], "EICAR-Test-File")
        self.assertIn("Eicar-Signature", hit["aliases"])
        for rec in (c, m):
            self.assertGreater(rec["ruleset_version"], 0)
            self.assertGreater(rec["elapsed_us"], 0)
            self.assertNotIn("error", rec)

    def test_bad_input_gets_clear_status_and_engine_survives(self):
        e = self.start(args=["--set", "limits.max_message_bytes=64K"])
        empty = write(self.tmp, "empty.eml", b"")
        garbage = write(self.tmp, "garbage.bin", os.urandom(4096).replace(b":", b"_"))
        big = write(self.tmp, "big.eml", b"Subject: big\r\n\r\n" + b"x" * 70000 + b"\r\n")
        r, recs = scan_json(e, empty, garbage, big)
        self.assertEqual(r.returncode, 2)
        self.assertIn("empty", recs[empty]["error"])
        self.assertIsNone(recs[empty]["verdict"])
        # A file that is no mail is scanned whole, under its own name.
        self.assertIn(recs[garbage]["verdict"], ("CLEAN", "SUSPICIOUS"))
        self.assertNotIn("error", recs[garbage])
        self.assertRegex(recs[big]["error"], r"(max_message_bytes|at most 65536)")
        # Truncated MIME: scanned, never an error.
        trunc = write(self.tmp, "trunc.eml", message(HDR, "x", "b", [
            (["Content-Type: application/octet-stream; name=a.exe",
              "Content-Transfer-Encoding: base64"], "TVqQAAMAAAAEAAAA//8AALgAAAAA")])[:-40])
        r, recs = scan_json(e, trunc)
        self.assertIn(recs[trunc]["verdict"], ("CLEAN", "SUSPICIOUS", "MALICIOUS"))
        self.assertEqual(cli("ping", "--address", e.address).returncode, 0)

    def test_raw_protocol_abuse(self):
        e = self.start()
        raw = binary("zh-rawcall")
        junk = write(self.tmp, "junk", b"\xff\xfe\x00garbage" * 10)

        def call(*args):
            r = subprocess.run([raw, "--address", e.address, "--timeout", "60000", *args],
                               capture_output=True, text=True, timeout=120)
            return r.stdout.strip()

        self.assertIn("status=invalid_argument", call("--raw", junk))
        empty = write(self.tmp, "empty", b"")
        self.assertIn("status=invalid_argument", call("--raw", empty))
        self.assertIn("status=unimplemented", call("--method", "Explode"))
        self.assertIn("status=invalid_argument", call("--method", "Scan", "--payload", junk))
        out = call("--method", "Ping")
        self.assertIn("status=ok", out)
        # An empty Scan request is a valid protobuf carrying an empty message.
        self.assertIn("status=invalid_argument", call("--method", "Scan"))
        self.assertEqual(cli("ping", "--address", e.address).returncode, 0)

    def test_reload_by_signal_and_rpc(self):
        rules = os.path.join(self.tmp, "rules")
        os.mkdir(rules)
        subprocess.run(f"cp {RULES}/*.yar {rules}/", shell=True, check=True)
        # Only the signal and the RPC reload here: the directory watcher would
        # reload once more after each write, whenever a busy machine lets it.
        e = self.start(rules=rules, args=["--set", "engine.watch_rules=0"])
        msg = write(self.tmp, "m.eml", message(HDR, "zh-marker-7731"))
        _, recs = scan_json(e, msg)
        v1 = recs[msg]["ruleset_version"]
        self.assertEqual(recs[msg]["verdict"], "CLEAN")
        write(rules, "marker.yar", b'rule Marker { meta: score = 45 strings: $a = "zh-marker-7731" condition: $a }\n')
        e.signal(signal.SIGHUP)
        deadline = time.time() + START_TIMEOUT
        while time.time() < deadline:
            _, recs = scan_json(e, msg)
            if recs[msg]["ruleset_version"] > v1:
                break
            time.sleep(0.1)
        self.assertEqual(recs[msg]["verdict"], "SUSPICIOUS")
        self.assertEqual(recs[msg]["hits"][0]["rule"], "Marker")
        v2 = recs[msg]["ruleset_version"]
        self.assertEqual(v2, v1 + 1, "one SIGHUP, one new rule set")
        # Broken rule: `zerohour reload` reports file:line and exits 1; old set serves on.
        write(rules, "zz-broken.yar", b"rule Broken {\n  condition:\n    no_such_identifier\n}\n")
        r = cli("reload", "--address", e.address)
        self.assertEqual(r.returncode, 1, r.out + r.err)
        self.assertIn("zz-broken.yar:3", r.out + r.err)
        _, recs = scan_json(e, msg)
        self.assertEqual(recs[msg]["ruleset_version"], v2)
        self.assertEqual(recs[msg]["verdict"], "SUSPICIOUS")
        os.unlink(os.path.join(rules, "zz-broken.yar"))
        r = cli("reload", "--address", e.address)
        self.assertEqual(r.returncode, 0, r.out + r.err)
        st = cli("stats", "rules", "--address", e.address).out
        self.assertIn("last_reload_result:ok", st)
        _, recs = scan_json(e, msg)
        self.assertEqual(recs[msg]["ruleset_version"], v2 + 1)

    def test_sigterm_answers_scans_in_flight(self):
        rules = os.path.join(self.tmp, "rules")
        os.mkdir(rules)
        # A deliberately slow rule (a byte loop in the condition) so each scan
        # takes a second or two.
        write(rules, "slow.yar", b"rule Slow { condition: for all i in (0..filesize-1) : "
                                 b"(for all j in (0..19) : (uint8(i) != 255 - j)) }\n")
        # Three workers: two for the slow scans, one to answer Stats meanwhile.
        e = self.start(rules=rules, workers=3)
        body = "abcdefghi\n" * 150_000
        big = write(self.tmp, "slow.eml", message(HDR, body))
        procs = [subprocess.Popen([binary("zerohour"), "scan", "--json", "--address", e.address, big],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        # SIGTERM once both scans are being worked on (the Stats call that
        # asks is the third request in flight), however long they took to arrive.
        deadline = time.time() + START_TIMEOUT
        while True:
            st = json.loads(cli("stats", "--json", "requests", "--address", e.address).out)
            if int(st["requests"]["in_flight"]) >= 3:
                break
            self.assertTrue(all(p.poll() is None for p in procs),
                            "a slow scan ended before the other began: the rule is not slow enough")
            self.assertLess(time.time(), deadline, f"the two scans never ran together: {st}")
            time.sleep(0.02)
        e.signal(signal.SIGTERM)
        for p in procs:
            out, err = p.communicate(timeout=60)
            rec = json.loads(out.decode().splitlines()[0])
            self.assertNotIn("error", rec, err.decode())
            self.assertEqual(rec["verdict"], "MALICIOUS")
            self.assertEqual(rec["hits"][0]["rule"], "Slow")
        e.proc.wait(timeout=START_TIMEOUT)
        self.assertEqual(e.proc.returncode, 0)
        self.assertIn("finishing requests in flight", e.logtext())

    def test_socket_mode_and_env_address(self):
        e = self.start()
        path = e.address[len("ipc://"):]
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        e.stop()
        env = dict(os.environ, ZEROHOUR_ADDRESS=f"ipc://{self.tmp}/env.sock")
        log = open(os.path.join(self.tmp, "env-engine.log"), "w+")
        eng = subprocess.Popen([binary("zerohourd"), "--rules", RULES, "--set", "engine.socket_mode=0660"],
                               env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.time() + START_TIMEOUT
            while time.time() < deadline and cli("ping", env=env, check=False).returncode != 0:
                time.sleep(0.1)
            self.assertEqual(cli("ping", env=env).returncode, 0)
            self.assertEqual(stat.S_IMODE(os.stat(f"{self.tmp}/env.sock").st_mode), 0o660)
        finally:
            eng.send_signal(signal.SIGTERM)
            eng.wait(timeout=START_TIMEOUT)
            log.seek(0)
            text = log.read()
            log.close()
        self.assertEqual(eng.returncode, 0, text)
        self.assertNotIn("runtime error:", text)
        self.assertNotIn("Sanitizer", text)
        self.engine = None

    def test_several_addresses_and_tcp(self):
        for attempt in range(5):  # the free port may be taken before the engine binds it
            try:
                e = self.start(addresses=[f"ipc://{self.tmp}/zh-e2e.sock",
                                          f"tcp://127.0.0.1:{free_port()}"])
                break
            except AssertionError:
                if attempt == 4:
                    raise
        msg = write(self.tmp, "m.eml", message(HDR, "hi"))
        for addr in e.addresses:
            r = cli("scan", "--address", addr, msg)
            self.assertEqual(r.returncode, 0, r.out + r.err)
        # Client given a dead address first and a live one second still works.
        r = cli("scan", "--address", f"ipc://{self.tmp}/nobody.sock", "--address", e.addresses[1], msg)
        self.assertEqual(r.returncode, 0, r.out + r.err)

    def test_unreachable_is_fast_and_clear(self):
        # Unreachable is told after the connect timeout (1 s by default), not
        # after the call timeout, set here far beyond anything a busy machine adds.
        t0 = time.time()
        r = cli("ping", "--address", f"ipc://{self.tmp}/nobody.sock", "--timeout", "600000",
                check=False, timeout=900)
        self.assertEqual(r.returncode, 2)
        self.assertLess(time.time() - t0, 300)
        self.assertRegex((r.out + r.err).lower(), r"unreachable|connect|no such file|refused")

    def test_directory_jobs_and_stdin(self):
        e = self.start()
        d = os.path.join(self.tmp, "dir", "sub")
        os.makedirs(d)
        for i in range(40):
            write(d if i % 2 else os.path.dirname(d), f"m{i}.eml",
                  message(HDR, f"message {i}" + ("\r\n" + EICAR if i == 7 else "")))
        r, recs = scan_json(e, os.path.join(self.tmp, "dir"), extra=("--jobs", "4"))
        self.assertEqual(len(recs), 40)
        self.assertTrue(all(rec["verdict"] == "CLEAN" for rec in recs.values()))
        self.assertEqual(r.returncode, 0)
        r = cli("scan", "--address", e.address, "-", input=message(HDR, "from stdin"))
        self.assertRegex(r.out, r"^-: CLEAN")
        st = cli("stats", "--json", "--address", e.address)
        stats = json.loads(st.out)
        self.assertGreaterEqual(int(stats["scans"]["scans"]), 41)
        self.assertIn("yara", stats["detectors"])
        self.assertIn("max_message_bytes", stats["limits"])

    def test_envelopes_replay_in_order(self):
        rules = os.path.join(self.tmp, "rules")
        os.mkdir(rules)
        write(rules, "env.yar", b'rule From_Worm { meta: score = 50 condition: object_kind == "headers" '
                                b'and mail_from == "worm@example.net" and client_ip == "192.0.2.9" '
                                b'and helo == "infected.example" }\n')
        e = self.start(rules=rules)
        msg = write(self.tmp, "m.eml", message(HDR, "hi"))
        lines = [
            {"path": "m.eml", "client_ip": "192.0.2.9", "helo": "infected.example",
             "mail_from": "worm@example.net", "rcpt_to": ["a@example.org"], "received_at": 1075111200000},
            {"path": "m.eml", "client_ip": "192.0.2.10", "helo": "mx.example.com",
             "mail_from": "friend@example.com", "rcpt_to": ["a@example.org"], "received_at": 1075111201000},
        ]
        jl = write(self.tmp, "stream.jsonl", "\n".join(json.dumps(l) for l in lines).encode() + b"\nnot json\n")
        r = cli("scan", "--json", "--address", e.address, "--envelopes", jl, check=False)
        recs = [json.loads(l) for l in r.out.splitlines()]
        self.assertEqual(len(recs), 3)
        self.assertEqual(recs[0]["verdict"], "SUSPICIOUS")
        self.assertEqual(recs[1]["verdict"], "CLEAN")
        self.assertIn("error", recs[2])
        self.assertEqual(r.returncode, 2)

    def test_samples(self):
        if not os.path.isdir(SAMPLES):
            self.skipTest("no samples")
        e = self.start()
        r, recs = scan_json(e, SAMPLES)
        self.assertTrue(recs)
        for path, rec in recs.items():
            if path.endswith(".eml"):
                self.assertNotIn("error", rec, path)
        eicar = [rec for p, rec in recs.items() if "eicar" in p.lower()]
        self.assertTrue(eicar and all(rec["verdict"] == "MALICIOUS" for rec in eicar))


if __name__ == "__main__":
    unittest.main(verbosity=2)
