#!/usr/bin/env python3
"""zh-corpus-check.py -- verify a corpus written by zh-corpus-gen.py.

For every message in DIR/manifest.jsonl:
  * the file exists, has the recorded size, CRLF line endings, lines <= 998 bytes;
  * Python's email parser (compat32 and policy.default) reports no defects,
    neither while parsing nor while decoding any part (base64, QP);
  * the attachments the parser finds (plus inline uuencode blocks) match the
    manifest: names (RFC 2047/2231 decoded), sizes and sniffed types;
  * every zip opens and tests clean (ZipCrypto ones with the manifest password),
    members match the manifest, OOXML files have [Content_Types].xml, tar.gz
    files have no executable bits, synthetic PEs have a PE header;
  * with --unzip (default when unzip(1) is installed) every zip is also tested
    with the system `unzip -t`, encrypted ones with `unzip -P <password> -t`;
  * envelope fields are present and consistent (null sender only for DSNs).
Exit status 0 when everything passes.  Python 3 standard library only.
"""

import argparse
import binascii
import email
import email.header
import email.policy
import importlib.util
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections import Counter

sys.dont_write_bytecode = True   # don't leave __pycache__ next to the generator
HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("zhgen", os.path.join(HERE, "zh-corpus-gen.py"))
zhgen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(zhgen)
sniff = zhgen.sniff


def decode_name(s):
    if s is None:
        return None
    if "=?" in s:
        return str(email.header.make_header(email.header.decode_header(s)))
    return s


def walk_outer(msg):
    """Parts of the message, not descending into message/rfc822 (a bounce's
    returned message) -- those are not attachments of *this* message."""
    yield msg
    if msg.is_multipart():
        for p in msg.get_payload():
            if p.get_content_type() == "message/rfc822":
                yield p
                continue
            yield from walk_outer(p)


def uu_blocks(text):
    out, lines, i = [], text.split(b"\n"), 0
    while i < len(lines):
        ln = lines[i].rstrip(b"\r")
        if ln.startswith(b"begin ") and len(ln.split(b" ", 2)) == 3:
            name = ln.split(b" ", 2)[2].decode()
            data = bytearray()
            i += 1
            while i < len(lines) and lines[i].rstrip(b"\r") != b"end":
                l2 = lines[i].rstrip(b"\r")
                if l2 and l2 != b"`":
                    data += binascii.a2b_uu(l2)
                i += 1
            out.append((name, bytes(data)))
        i += 1
    return out


def all_defects(msg):
    d = []
    for part in msg.walk():
        d += [type(x).__name__ for x in part.defects]
    return d


# RFC 2047 encoded-words inside a quoted parameter (name="=?utf-8?B?...?=") are
# what Outlook and most webmailers send and what the generator deliberately
# produces for "rfc2047_filename" messages; RFC 2047 section 5 forbids them, so
# policy.default reports these two defects on exactly those headers.  They are
# expected there and nowhere else.
RFC2047_PARAM_DEFECTS = {"encoded word inside quoted string", "missing trailing whitespace after encoded-word"}


def header_defects(msg, allow_2047_params):
    d = []
    for part in msg.walk():
        for k, v in part.items():
            for x in getattr(v, "defects", ()):
                if (allow_2047_params and k.lower() in ("content-type", "content-disposition")
                        and str(x) in RFC2047_PARAM_DEFECTS):
                    continue
                d.append(f"{k}: {type(x).__name__}({x})")
    return d


class Checker:
    def __init__(self, root, use_unzip):
        self.root, self.use_unzip = root, use_unzip
        self.errors = []
        self.stats = Counter()
        self.tmp = tempfile.mkdtemp(prefix="zhcheck")

    def err(self, path, msg):
        self.errors.append(f"{path}: {msg}")

    def check_zip(self, path, name, data, meta):
        self.stats["zips"] += 1
        try:
            z = zipfile.ZipFile(io.BytesIO(data))
        except zipfile.BadZipFile as e:
            return self.err(path, f"{name}: bad zip: {e}")
        pw = meta.get("password") if meta else None
        if pw:
            z.setpassword(pw.encode())
            self.stats["encrypted_zips"] += 1
        members = []
        for zi in z.infolist():
            if bool(zi.flag_bits & 1) != bool(pw):
                self.err(path, f"{name}/{zi.filename}: encryption flag {zi.flag_bits & 1} but password {pw!r}")
            try:
                body = z.read(zi)          # verifies CRC (and password)
            except Exception as e:         # noqa: BLE001
                self.err(path, f"{name}/{zi.filename}: {e}")
                continue
            members.append((zi.filename, body))
            self.check_blob(path, f"{name}/{zi.filename}", body)
        if meta and "members" in meta:
            got = [(n, len(b), sniff(b)) for n, b in members]
            want = [(m["name"], m["size"], m["sniffed"]) for m in meta["members"]]
            if got != want:
                self.err(path, f"{name}: members {got} != manifest {want}")
        if name.lower().endswith((".docx", ".xlsx")) and "[Content_Types].xml" not in z.namelist():
            self.err(path, f"{name}: OOXML without [Content_Types].xml")
        if self.use_unzip:
            fn = os.path.join(self.tmp, "t.zip")
            with open(fn, "wb") as f:
                f.write(data)
            cmd = ["unzip", "-tqq"] + (["-P", pw] if pw else []) + [fn]
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            self.stats["unzip_runs"] += 1
            if r.returncode != 0:
                self.err(path, f"{name}: {' '.join(cmd[:-1])} failed rc={r.returncode}: {r.stdout[:200]!r}")
            if pw:   # and the wrong password must fail
                r = subprocess.run(["unzip", "-tqq", "-P", pw + "x", fn], stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
                if r.returncode == 0:
                    self.err(path, f"{name}: unzip accepted a wrong password")

    def check_blob(self, path, name, data):
        kind = sniff(data)
        if kind == "zip":
            if not name.lower().endswith((".docx", ".xlsx", ".zip")):
                self.err(path, f"{name}: unexpected zip")
            self.check_zip(path, name, data, None)
        elif kind == "pe":
            self.stats["pe"] += 1
            off = int.from_bytes(data[0x3C:0x40], "little")
            if data[off:off + 4] != b"PE\0\0" or b"This program cannot be run in DOS mode" not in data[:off]:
                self.err(path, f"{name}: MZ without PE header / DOS stub text")
        elif kind == "gzip":
            try:
                with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tf:
                    for ti in tf.getmembers():
                        if ti.mode & 0o111 and not ti.isdir():
                            self.err(path, f"{name}/{ti.name}: executable bit set")
            except tarfile.TarError as e:
                self.err(path, f"{name}: bad tar.gz: {e}")

    def check(self, e):
        path = e["path"]
        fn = os.path.join(self.root, path)
        try:
            raw = open(fn, "rb").read()
        except OSError as x:
            return self.err(path, str(x))
        if len(raw) != e["size"]:
            self.err(path, f"size {len(raw)} != manifest {e['size']}")
        if raw.count(b"\n") != raw.count(b"\r\n") or raw.count(b"\r") != raw.count(b"\r\n"):
            self.err(path, "bare CR or LF")
        longest = max(len(x) for x in raw.split(b"\r\n"))
        if longest > 998:
            self.err(path, f"line of {longest} bytes")
        # label / family / path consistency
        if e["label"] == "clean":
            if e["family"] is not None or not path.startswith("clean/"):
                self.err(path, "clean entry with family or wrong directory")
        elif not path.startswith(f"worm/{e['family']}/"):
            self.err(path, "worm entry in wrong directory")
        env = e["envelope"]
        for k in ("client_ip", "helo", "mail_from", "rcpt_to", "received_at"):
            if k not in env:
                self.err(path, f"envelope lacks {k}")
        if not env.get("rcpt_to") or not isinstance(env.get("received_at"), int):
            self.err(path, "bad envelope rcpt_to/received_at")
        if (env.get("mail_from") == "") != (e["kind"] == "dsn-bounce"):
            self.err(path, "null sender on a non-DSN or DSN with a sender")

        m1 = email.message_from_bytes(raw)   # compat32
        m2 = email.message_from_bytes(raw, policy=email.policy.default)
        for p in m1.walk():
            if not p.is_multipart():
                p.get_payload(decode=True)
        d = all_defects(m1) + all_defects(m2) + header_defects(m2, "rfc2047_filename" in e["traits"])
        if d:
            self.err(path, f"parser defects: {sorted(set(d))}")

        found = []
        for p in walk_outer(m1):
            if p.is_multipart() or p.get_content_type() == "message/rfc822":
                continue
            fname = decode_name(p.get_filename())
            payload = p.get_payload(decode=True) or b""
            if fname is not None:
                found.append((fname, payload, p.get_content_type(), p.get("Content-Transfer-Encoding", "").lower()))
            elif p.get_content_maintype() == "text":
                for name, data in uu_blocks(payload):
                    found.append((name, data, "text/plain", "uuencode"))
        # nested attachments (inside a returned message) are checked for parse only
        want = [a for a in e["attachments"] if not a.get("nested")]
        if len(found) != len(want):
            self.err(path, f"{len(found)} attachments parsed, manifest has {len(want)}: "
                           f"{[f[0] for f in found]} vs {[a['name'] for a in want]}")
        for (name, data, ctype, cte), a in zip(found, want):
            if name != a["name"]:
                self.err(path, f"attachment name {name!r} != manifest {a['name']!r}")
            if len(data) != a["size"] or sniff(data) != a["sniffed"]:
                self.err(path, f"{name}: size/sniff {len(data)}/{sniff(data)} != {a['size']}/{a['sniffed']}")
            if ctype != a["declared_type"]:
                self.err(path, f"{name}: declared {ctype} != manifest {a['declared_type']}")
            if cte != a["encoding"]:
                self.err(path, f"{name}: encoding {cte} != manifest {a['encoding']}")
            if sniff(data) == "zip":
                self.check_zip(path, name, data, a)
            else:
                self.check_blob(path, name, data)
        self.stats["attachments"] += len(found)
        return bool(found)

    def close(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description="Verify a corpus written by zh-corpus-gen.py (see module docstring).")
    ap.add_argument("dir", help="corpus directory (contains manifest.jsonl)")
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--unzip", dest="unzip", action="store_true", default=None,
                   help="also test every zip with unzip(1) (default if installed)")
    g.add_argument("--no-unzip", dest="unzip", action="store_false", help="skip the unzip(1) tests")
    ap.add_argument("--max-errors", type=int, default=30, help="errors to print (default 30)")
    args = ap.parse_args()
    use_unzip = args.unzip if args.unzip is not None else shutil.which("unzip") is not None
    entries = [json.loads(ln) for ln in open(os.path.join(args.dir, "manifest.jsonl"), encoding="utf-8")]
    c = Checker(args.dir, use_unzip)
    with_att = 0
    try:
        for e in entries:
            if c.check(e):
                with_att += 1
    finally:
        c.close()
    listed = sum(1 for dp, dn, fns in os.walk(args.dir) for f in fns if f.endswith(".eml"))
    if listed != len(entries):
        c.errors.append(f"{listed} .eml files on disk, {len(entries)} in manifest")
    sizes = [e["size"] for e in entries]
    print(f"zh-corpus-check: {len(entries)} messages, median {statistics.median(sizes) / 1024:.1f} KB, "
          f"{with_att / len(entries):.1%} with attachments (parser view), "
          f"{c.stats['attachments']} attachments, {c.stats['zips']} zips "
          f"({c.stats['encrypted_zips']} ZipCrypto), {c.stats['pe']} synthetic PEs, "
          f"{c.stats['unzip_runs']} unzip(1) runs")
    for x in c.errors[:args.max_errors]:
        print("  ERROR", x)
    if c.errors:
        print(f"zh-corpus-check: {len(c.errors)} error(s)")
        sys.exit(1)
    print("zh-corpus-check: OK")


if __name__ == "__main__":
    main()
