#!/usr/bin/env python3
"""zh-milter-bench: what zerohour-milter costs. Starts zerohourd, the milter
and a private Postfix (the same setup as tests/e2e/test_milter.py, all under
a temp folder, loopback only), then measures at concurrency 8:

  1. messages/s through Postfix with smtp-source (8 sessions, small messages),
     with the milter and, for comparison, with smtpd_milters emptied;
  2. messages/s for real samples (clean and worm-like, mixed) sent by 8
     threads of smtplib;
  3. the milter's own overhead per message, from its log lines: time in its
     callbacks plus the Scan call's wall time less the engine's elapsed_us
     (encoding, nng transport, decoding). Engine time is excluded.

Needs root, postfix (smtp-source comes with it) and a build with
zerohour-milter. Usage: zh-milter-bench.py [--messages N] [--bin DIR]"""
import argparse
import os
import re
import smtplib
import statistics
import subprocess
import sys
import tempfile
import shutil
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))] if v else 0


def overhead_stats(lines):
    rows = []
    for l in lines:
        m = re.search(r"engine_us=(\d+) overhead_us=(\d+) \(callbacks=(\d+) rpc=(\d+)\)", l)
        if m and "error=" not in l:
            rows.append(tuple(int(x) for x in m.groups()))
    return rows


def report_overhead(title, rows):
    if not rows:
        print(f"{title}: no scanned messages logged")
        return
    eng = [r[0] for r in rows]
    ovh = [r[1] for r in rows]
    cb = [r[2] for r in rows]
    rpc = [r[3] for r in rows]
    print(f"{title} ({len(rows)} messages)")
    print(f"  milter overhead per message: median {statistics.median(ovh) / 1000:.3f} ms, "
          f"p90 {pct(ovh, 0.9) / 1000:.3f} ms, p99 {pct(ovh, 0.99) / 1000:.3f} ms")
    print(f"    of which callbacks (collecting, deciding, logging): median "
          f"{statistics.median(cb)} us; Scan call beyond engine time: median "
          f"{statistics.median(rpc)} us")
    print(f"  engine elapsed_us (excluded): median {statistics.median(eng)} us, "
          f"p90 {pct(eng, 0.9)} us")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=2000, help="messages per smtp-source run")
    ap.add_argument("--samples", type=int, default=800, help="sample messages sent by smtplib")
    ap.add_argument("--bin", default=os.path.join(HERE, "..", "..", "build", "bin"))
    args = ap.parse_args()
    os.environ["ZH_BIN"] = os.path.abspath(args.bin)
    import zhtest
    zhtest.BIN = os.environ["ZH_BIN"]
    from test_milter import Postfix, smtp_data  # noqa: F401
    from test_milter_protocol import MilterProcess

    if os.geteuid() != 0 or not shutil.which("smtp-source"):
        sys.exit("zh-milter-bench needs root and postfix (smtp-source)")

    tmp = tempfile.mkdtemp(prefix="zh-milter-bench-")
    os.chmod(tmp, 0o755)
    addr = f"ipc://{tmp}/zh.sock"
    engine = milter = pf = None
    try:
        engine = zhtest.Engine(addresses=[addr], args=["--log-level", "warn"], workers=4)
        milter = MilterProcess([addr], ["--log-level", "info"])
        pf = Postfix(os.path.join(tmp, "pf"), milter.port)
        pf.run("postconf", "-c", pf.etc, "-e", "smtpd_client_connection_rate_limit=0",
               "default_process_limit=100", "smtpd_client_connection_count_limit=0")
        pf.run("postfix", "-c", pf.etc, "reload")
        time.sleep(1)

        def smtp_source(label):
            n0 = len(pf.delivered())
            t0 = time.time()
            subprocess.run(["smtp-source", "-s", "8", "-m", str(args.messages), "-l", "2000",
                            "-f", "bob@northwind.example", "-t", "alice@corp.example.com",
                            "-M", "mail.northwind.example", f"127.0.0.1:{pf.port}"],
                           check=True, timeout=600)
            t_sent = time.time() - t0
            pf.wait_queue_empty(timeout=600)
            t_all = time.time() - t0
            got = len(pf.delivered()) - n0
            print(f"smtp-source, 8 sessions, {args.messages} x 2 KB, {label}: "
                  f"{args.messages / t_sent:.0f} msg/s accepted, "
                  f"{got / t_all:.0f} msg/s delivered ({got} delivered)")

        print("== throughput through Postfix (concurrency 8)")
        smtp_source("with zerohour-milter")
        lines_before = len(milter.message_lines())
        pf.run("postconf", "-c", pf.etc, "-e", "smtpd_milters=")
        pf.run("postfix", "-c", pf.etc, "reload")
        time.sleep(1)
        smtp_source("without milter (baseline)")
        pf.run("postconf", "-c", pf.etc, "-e", f"smtpd_milters=inet:127.0.0.1:{milter.port}")
        pf.run("postfix", "-c", pf.etc, "reload")
        time.sleep(1)
        small_rows = overhead_stats(milter.message_lines()[:lines_before])

        # Real samples, mixed: what a gateway sees, including rejections.
        samples = []
        for name, env in (("01-clean-plain.eml", ("bob@northwind.example", "mail.northwind.example")),
                          ("02-clean-business-pdf.eml", ("carol@fabrikam.example", "mail.fabrikam.example")),
                          ("06-clean-bounce-dsn.eml", ("", "mx.woodgrove.example")),
                          ("08-clean-it-virus-warning.eml", ("helpdesk@corp.example.com", "exch01.corp.example.com")),
                          ("04-mydoom-like-zip-pif.eml", ("sandra@example.org", "kqvtwz")),
                          ("05-sobig-like-pif.eml", ("support@microsoft.com", "HOME-3F2A1B"))):
            with open(os.path.join(zhtest.SAMPLES, name), "rb") as f:
                samples.append((f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), *env))
        counts = {"accepted": 0, "rejected": 0, "other": 0}
        lock = threading.Lock()
        per_thread = args.samples // 8

        def sender(k):
            s = smtplib.SMTP("127.0.0.1", pf.port, local_hostname="mail.northwind.example")
            for i in range(per_thread):
                data, mail_from, helo = samples[(k + i) % len(samples)]
                try:
                    s.sendmail(mail_from, ["alice@corp.example.com"], data)
                    what = "accepted"
                except smtplib.SMTPDataError as e:
                    what = "rejected" if e.smtp_code == 550 else "other"
                    s.rset()
                with lock:
                    counts[what] += 1
            s.quit()

        lines_before = len(milter.message_lines())
        t0 = time.time()
        threads = [threading.Thread(target=sender, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        dt = time.time() - t0
        pf.wait_queue_empty(timeout=600)
        n = per_thread * 8
        print(f"samples (4 clean, 2 worm-like), 8 smtplib sessions, {n} messages: "
              f"{n / dt:.0f} msg/s ({counts['accepted']} accepted, {counts['rejected']} rejected "
              f"550, {counts['other']} other)")
        sample_rows = overhead_stats(milter.message_lines()[lines_before:])

        print("== milter overhead (engine time excluded)")
        report_overhead("smtp-source messages", small_rows)
        report_overhead("sample messages", sample_rows)
    finally:
        if pf:
            pf.stop()
        if milter:
            milter.stop()
        if engine:
            engine.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
