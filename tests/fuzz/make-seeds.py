#!/usr/bin/env python3
"""Writes the generated seeds of the fuzz corpora: small real messages with
the containers and encodings the scan path opens (corpus/scan/gen-*.eml), and
milter callback scripts (corpus/milter/gen-*). Deterministic: no timestamps,
no randomness, so running it again changes nothing unless this file changed.
Hand-written seeds and crash reproducers in the same folders are kept as they
are. Usage: tests/fuzz/make-seeds.py [--out tests/fuzz/corpus]"""
import argparse
import base64
import binascii
import bz2
import gzip
import io
import lzma
import os
import quopri
import struct
import tarfile
import zipfile

HDR = ("From: Sandra <sandra@example.org>\r\nTo: alice@corp.example.com\r\n"
       "Subject: {subject}\r\nDate: Mon, 26 Jan 2004 10:00:00 +0000\r\n"
       "Message-ID: <{tag}@example.org>\r\nMIME-Version: 1.0\r\n")
# The smallest file the engine sniffs as a PE program: MZ, e_lfanew, "PE\0\0".
PE = b"MZ" + b"\0" * 58 + struct.pack("<I", 64) + b"PE\0\0" + b"\x4c\x01" + b"\0" * 58


def mail(tag, subject, parts, preamble="", boundary="zhb"):
    """A multipart/mixed message; parts are (headers, body) with CRLF-free
    header lists and str or bytes bodies."""
    out = [HDR.format(subject=subject, tag=tag),
           f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n', preamble]
    for headers, body in parts:
        if isinstance(body, bytes):
            body = body.decode("ascii")
        out.append(f"--{boundary}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n" + body + "\r\n")
    out.append(f"--{boundary}--\r\n")
    return "".join(out).encode()


def text(body):
    return (["Content-Type: text/plain; charset=us-ascii"], body)


def attachment(name, data, ctype="application/octet-stream"):
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    return ([f'Content-Type: {ctype}; name="{name}"', "Content-Transfer-Encoding: base64",
             f'Content-Disposition: attachment; filename="{name}"'], b64)


def zip_of(*members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(2004, 1, 26, 10, 0, 0)), data,
                       compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def tar_of(*members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            t.addfile(info, io.BytesIO(data))
    # Without the padding to a 10 KiB record: the end-of-archive blocks are enough.
    raw = buf.getvalue().rstrip(b"\0")
    return raw + b"\0" * (-len(raw) % 512 + 1024)


def gz(data):
    return gzip.compress(data, mtime=0)


def uuencode(name, data):
    lines = [f"begin 644 {name}"]
    lines += [binascii.b2a_uu(data[i:i + 45], backtick=True).decode().rstrip("\n")
              for i in range(0, len(data), 45)]
    lines += ["`", "end"]
    return "\r\n".join(lines)


def scan_seeds():
    lure = "Mail transaction failed. Partial message is available."
    s = {}
    s["gen-zip-double-extension.eml"] = mail("z1", "invoice", [
        text("Please see the attached invoice."),
        attachment("invoice.zip", zip_of(("invoice.pdf                 .exe", PE)), "application/zip")])
    s["gen-zip-in-zip-in-zip.eml"] = mail("z2", "documents", [
        text("the documents"),
        attachment("docs.zip", zip_of(("inner.zip", zip_of(("deeper.zip", zip_of(
            ("readme.txt", b"hello\r\n"), ("photo.jpg.scr", PE))),))), "application/zip")])
    s["gen-tar-gz-script.eml"] = mail("t1", "backup", [
        text("backup attached"),
        attachment("backup.tar.gz", gz(tar_of(("run.js", b"var s=new ActiveXObject('WScript.Shell');"
                                                          b"s.Run('cmd /c calc');\n"),
                                              ("notes.txt", b"notes\n"))), "application/gzip")])
    s["gen-tar-vbs.eml"] = mail("t2", "files", [
        text("files"),
        attachment("files.tar", tar_of(("update.vbs", b'CreateObject("WScript.Shell").Run "x"\n')),
                   "application/x-tar")])
    s["gen-bz2-exe.eml"] = mail("c1", "update", [
        text("update"), attachment("update.exe.bz2", bz2.compress(PE), "application/x-bzip2")])
    s["gen-xz-exe.eml"] = mail("c2", "patch", [
        text("patch"), attachment("patch.exe.xz", lzma.compress(PE), "application/x-xz")])
    s["gen-gz-pif.eml"] = mail("c3", "document", [
        text(lure), attachment("document.pif.gz", gz(PE), "application/gzip")])
    s["gen-mydoom-lure-zip.eml"] = mail("m1", "Mail Delivery System", [
        text(lure), attachment("body.zip", zip_of(("body.pif", PE)), "application/octet-stream")])
    s["gen-uuencoded-zip.eml"] = (HDR.format(subject="hi", tag="u1") + "\r\n" + lure + "\r\n\r\n"
                                  + uuencode("message.zip", zip_of(("message.scr", PE))) + "\r\n").encode()
    s["gen-rfc2047-rlo-name.eml"] = mail("n1", "photo", [
        text("photo"),
        (["Content-Type: application/octet-stream; name=\"=?UTF-8?B?"
          + base64.b64encode("photo\u202egpj.exe".encode()).decode() + "?=\"",
          "Content-Transfer-Encoding: base64"], base64.b64encode(PE).decode())])
    s["gen-rfc2231-continuation.eml"] = mail("n2", "report", [
        text("report"),
        (["Content-Type: application/octet-stream",
          "Content-Disposition: attachment; filename*0*=UTF-8''annual%20report;",
          " filename*1*=.doc%20%20%20%20.com", "Content-Transfer-Encoding: base64"],
         base64.b64encode(PE).decode())])
    qp = quopri.encodestring(("<html><body><p>Your account will be suspended.</p>"
                              "<a href=\"http://example.net/x\">Click =here=</a>"
                              "</body></html>").encode()).decode().replace("\n", "\r\n")
    s["gen-alternative-qp-html.eml"] = (
        HDR.format(subject="account", tag="a1")
        + 'Content-Type: multipart/alternative; boundary="alt"\r\n\r\n'
        + "--alt\r\nContent-Type: text/plain\r\n\r\nYour account will be suspended.\r\n"
        + "--alt\r\nContent-Type: text/html; charset=utf-8\r\n"
        + "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp + "\r\n--alt--\r\n").encode()
    inner = mail("r0", "forwarded", [text("inner"), attachment("a.zip", zip_of(("a.exe", PE)))],
                 boundary="inner")
    s["gen-rfc822-with-zip.eml"] = mail("r1", "Fwd: forwarded", [
        text("forwarding"), (["Content-Type: message/rfc822"], inner.decode())])
    s["gen-dsn-report.eml"] = (
        HDR.format(subject="Undelivered Mail Returned to Sender", tag="d1")
        + 'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n\r\n'
        + "--r\r\nContent-Type: text/plain\r\n\r\nThis is the mail system.\r\n"
        + "--r\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n"
        + "\r\nFinal-Recipient: rfc822; bob@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        + "--r\r\nContent-Type: text/rfc822-headers\r\n\r\nFrom: alice@corp.example.com\r\n"
        + "Subject: hello\r\n--r--\r\n").encode()
    deep = "Content-Type: text/plain\r\n\r\nx\r\n"
    for k in range(12):
        deep = (f'Content-Type: multipart/mixed; boundary="d{k}"\r\n\r\n--d{k}\r\n'
                + deep + f"\r\n--d{k}--\r\n")
    s["gen-deep-multipart.eml"] = (HDR.format(subject="deep", tag="p1") + deep).encode()
    s["gen-many-parts.eml"] = mail("p2", "parts", [text(f"part {i}") for i in range(40)])
    s["gen-broken-base64.eml"] = mail("b1", "broken", [
        text("broken"), (['Content-Type: application/zip; name="x.zip"',
                          "Content-Transfer-Encoding: base64"],
                         "UEsDBBQ*AAAA!!AAAAA\r\n====\r\nAAAA" + base64.b64encode(PE[:30]).decode())])
    s["gen-headers-only.eml"] = HDR.format(subject="nothing", tag="h1").encode()
    return s


def op(code, data=b""):
    """One callback of the milter script: op byte, length byte, bytes."""
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 256
    return bytes([code, len(data)]) + data


MAIL, RCPT, HEADER, EOH, BODY, RESET, ESMTP, HIT = range(8)


def milter_seeds():
    # First byte: the cap is 64 + (b & 0x3f) * 64 bytes; b & 0x40: leading space.
    full = [MAIL, "<sandra@example.org>"], [RCPT, "<alice@corp.example.com>"], \
        [RCPT, "bob@corp.example.com"], [HEADER, "From:Sandra <sandra@example.org>"], \
        [HEADER, "Received:from mx.example.org\n\tby mx.corp.example.com"], \
        [HEADER, "X-Zerohour-Verdict:CLEAN"], [HEADER, "Subject:=?UTF-8?B?aGk=?="], [EOH, ""], \
        [BODY, "Mail transaction failed.\r\n"], [BODY, "begin 644 a.zip\r\n"], [BODY, "end\r\n"], \
        [ESMTP, "<sandra@example.org> SIZE=1234 BODY=8BITMIME"], \
        [HIT, "yarabody_zipMydoom.A"], [HIT, "executableexecutable_contentW32/Mydoom%\r\n"]
    s = {"gen-full-transaction": bytes([0x3f]) + b"".join(op(c, d) for c, d in full)}
    again = [MAIL, "<a@b>"], [RCPT, "<c@d>"], [HEADER, "Subject:one"], [EOH, ""], [BODY, "x" * 40], \
        [RESET, ""], [MAIL, "<>"], [RCPT, "<e@f>"], [HEADER, "Subject:two"], [EOH, ""], \
        [BODY, "y" * 200]
    s["gen-reset-and-again"] = bytes([0x41]) + b"".join(op(c, d) for c, d in again)
    sizes = [ESMTP, "<a@b> SIZE="], [ESMTP, "<a@b> SIZE=99999999999999999999999"], \
        [ESMTP, "<a@b> size=12 SIZE=13"], [ESMTP, "<a@b> SIZE=-1"], [ESMTP, "<a@b> SIZE=0x10"], \
        [ESMTP, ""]
    s["gen-esmtp-size-forms"] = bytes([0x00]) + b"".join(op(c, d) for c, d in sizes)
    exact = [HEADER, "A:" + "a" * 55], [EOH, ""], [BODY, "b" * 3], [BODY, ""], [BODY, "c"]
    s["gen-cap-exact"] = bytes([0x00]) + b"".join(op(c, d) for c, d in exact)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus"))
    a = ap.parse_args()
    for sub, seeds in (("scan", scan_seeds()), ("milter", milter_seeds())):
        os.makedirs(os.path.join(a.out, sub), exist_ok=True)
        for name, data in seeds.items():
            with open(os.path.join(a.out, sub, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
