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
For a --modern corpus, today's containers are opened by the real tools that
read them, when installed (a missing tool is counted and its check skipped):
ISO 9660 images with bsdtar (libarchive-tools), FAT images and the FAT volume
inside a VHD with mtools, shortcuts with lnkinfo (liblnk-utils), OLE2 files
and VBA projects with gsf and gsf-vba-dump (libgsf-bin); the VHD footer
checksum and OneNote FileDataStoreObjects are checked here; the members of
images are checked in turn.
Exit status 0 when everything passes.  Python 3 standard library (plus the
tools above for today's containers).
"""

import argparse
import binascii
import email
import email.header
import email.policy
import gzip
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
sys.modules["zhgen"] = zhgen
_spec.loader.exec_module(zhgen)
sys.path.insert(0, HERE)
import zh_containers  # noqa: E402
import zh_modern  # noqa: E402
sniff = zh_modern.msniff  # the 2004 types plus today's containers
TOOLS = {t: shutil.which(t) for t in ("bsdtar", "mdir", "mcopy", "lnkinfo", "gsf", "gsf-vba-dump")}


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

    def tool(self, name):
        if TOOLS.get(name):
            return TOOLS[name]
        self.stats[f"skipped ({name} not installed)"] += 1
        return None

    def run(self, path, name, cmd, data=None):
        """Run a real reader on data (written to a temporary file that @F in
        cmd names); an error unless it exits 0.  Returns its stdout."""
        fn = os.path.join(self.tmp, "blob")
        if data is not None:
            with open(fn, "wb") as f:
                f.write(data)
        r = subprocess.run([c.replace("@F", fn) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stats[f"{os.path.basename(cmd[0])} runs"] += 1
        if r.returncode != 0:
            self.err(path, f"{name}: {os.path.basename(cmd[0])} failed rc={r.returncode}: {r.stderr[:200]!r}")
            return None
        return r.stdout

    def check_modern(self, path, name, data, kind, meta):
        """Today's containers, opened by the tools that read them."""
        self.stats[kind] += 1
        want = [m["name"] for m in (meta or {}).get("members", [])]
        if kind == "iso" and self.tool("bsdtar"):
            out = self.run(path, name, ["bsdtar", "-tf", "@F"], data)
            if out is None:
                return
            listed = [ln for ln in out.decode("utf-8", "replace").splitlines() if ln and ln != "."]
            dirs = {ln for ln in listed if any(x.startswith(ln + "/") for x in listed)}
            for w in want:
                if w not in listed and not any(ln.endswith("/" + w) for ln in listed):
                    self.err(path, f"{name}: {w} not in the ISO ({listed})")
            for ln in listed:
                if ln not in dirs:
                    body = self.run(path, name, ["bsdtar", "-xOf", "@F", ln], data)
                    if body is not None:
                        self.check_blob(path, f"{name}/{ln}", body)
        elif kind in ("fat", "vhd"):
            if kind == "vhd":
                footer = bytearray(data[-512:])
                csum = int.from_bytes(footer[64:68], "big")
                footer[64:68] = b"\0\0\0\0"
                if (~sum(footer)) & 0xFFFFFFFF != csum or footer[60:64] != b"\0\0\0\2":
                    self.err(path, f"{name}: VHD footer checksum or disk type wrong")
            spec = "@F@@1M" if kind == "vhd" else "@F"
            if self.tool("mdir") and self.tool("mcopy"):
                out = self.run(path, name, ["mdir", "-a", "-b", "-i", spec, "::"], data)
                if out is None:
                    return
                listed = [ln.split("/")[-1] for ln in out.decode("utf-8", "replace").splitlines() if ln.strip()]
                for w in want:
                    if w not in listed:
                        self.err(path, f"{name}: {w} not on the FAT volume ({listed})")
                for ln in listed:
                    body = self.run(path, name, ["mcopy", "-n", "-i", spec, f"::{ln}", "-"], data)
                    if body is not None:
                        self.check_blob(path, f"{name}/{ln}", body)
        elif kind == "lnk" and self.tool("lnkinfo"):
            out = self.run(path, name, ["lnkinfo", "@F"], data)
            if out is not None and b"Local path" not in out:
                self.err(path, f"{name}: lnkinfo shows no local path")
        elif kind == "ole2" and self.tool("gsf"):
            out = self.run(path, name, ["gsf", "list", "@F"], data)
            if out is not None and b"VBA/dir" in out and self.tool("gsf-vba-dump"):
                dump = self.run(path, name, ["gsf-vba-dump", "@F"], data)
                if dump is not None and b"Sub " not in dump and b"Function " not in dump:
                    self.err(path, f"{name}: gsf-vba-dump finds no VBA source")
        elif kind == "onenote":
            hdr, foot = zh_containers.FDSO_HEADER, zh_containers.FDSO_FOOTER
            pos, n = data.find(hdr), 0
            while pos >= 0:
                size = int.from_bytes(data[pos + 16:pos + 24], "little")
                end = pos + 36 + size + (-size % 8)
                if data[end:end + 16] != foot:
                    self.err(path, f"{name}: FileDataStoreObject at {pos} without its footer")
                    break
                self.check_blob(path, f"{name}/#{n}", data[pos + 36:pos + 36 + size])
                n += 1
                pos = data.find(hdr, end + 16)
            if n < 1:
                self.err(path, f"{name}: OneNote without FileDataStoreObjects")

    def check_blob(self, path, name, data, meta=None):
        kind = sniff(data)
        if kind in ("iso", "fat", "vhd", "lnk", "ole2", "onenote"):
            return self.check_modern(path, name, data, kind, meta)
        if kind == "zip" and name.lower().endswith((".docm", ".xlsm")):
            z = zipfile.ZipFile(io.BytesIO(data))
            bins = [n for n in z.namelist() if n.endswith("vbaProject.bin")]
            if not bins:
                self.err(path, f"{name}: macro-enabled OOXML without vbaProject.bin")
            for b in bins:   # gsf reads the VBA project through the package, as Office does
                if self.tool("gsf") and self.run(path, f"{name}/{b}", ["gsf", "list", "@F"], z.read(b)) is not None \
                        and self.tool("gsf-vba-dump"):
                    dump = self.run(path, name, ["gsf-vba-dump", "@F"], data)
                    if dump is not None and b"Sub " not in dump:
                        self.err(path, f"{name}: gsf-vba-dump finds no VBA source")
            return
        if kind == "zip":
            if not name.lower().endswith((".docx", ".xlsx", ".zip", ".docm", ".xlsm")):
                self.err(path, f"{name}: unexpected zip")
            self.check_zip(path, name, data, None)
        elif kind == "pe":
            self.stats["pe"] += 1
            off = int.from_bytes(data[0x3C:0x40], "little")
            if data[off:off + 4] != b"PE\0\0" or b"This program cannot be run in DOS mode" not in data[:off]:
                self.err(path, f"{name}: MZ without PE header / DOS stub text")
        elif kind == "gzip" and not name.lower().endswith((".tar.gz", ".tgz")):
            try:
                self.check_blob(path, f"{name}/(gunzip)", gzip.decompress(data))
            except (OSError, EOFError) as e:
                self.err(path, f"{name}: bad gzip: {e}")
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
        elif not path.startswith(f"{e['label']}/{e['family']}/"):
            self.err(path, f"{e['label']} entry in wrong directory")
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
            if sniff(data) == "zip" and not name.lower().endswith((".docm", ".xlsm")):
                self.check_zip(path, name, data, a)
            else:
                self.check_blob(path, name, data, a)
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
    extra = {k: v for k, v in c.stats.items() if k not in ("attachments", "zips", "encrypted_zips", "pe", "unzip_runs")}
    if extra:
        print("  today's containers and their readers: " + ", ".join(f"{k}={v}" for k, v in sorted(extra.items())))
    print("zh-corpus-check: OK")


if __name__ == "__main__":
    main()
