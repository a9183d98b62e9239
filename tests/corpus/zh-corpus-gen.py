#!/usr/bin/env python3
"""zh-corpus-gen.py -- zerohour's labelled test corpus generator.

Writes a deterministic, labelled corpus of RFC 5322 messages: mostly clean mail
(including the tricky kinds that cause false positives) plus copies of six
historical mass-mailing worm families, modelled on their documented behaviour.

NOTHING THIS SCRIPT WRITES IS RUNNABLE.  "Executables" are synthetic: a
plausible MZ/PE header followed by random filler, entry point pointing into
the filler, import directory pointing at random bytes.  "Scripts" are harmless
text that merely looks like the first lines of a VBS/JS dropper.  There is no
real code, no exploit and no working malware anywhere in the output.

With --stream it writes hours of gateway traffic in arrival order instead,
with worm outbreaks growing part-way through, plus DIR/stream.jsonl for
`zerohour scan --envelopes` (see "Stream mode" in tests/corpus/README.md).

Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import datetime as dt
import email.utils
import gzip
import io
import json
import math
import os
import quopri
import random
import shutil
import statistics
import struct
import sys
import tarfile
import time
import urllib.parse
import zipfile
import zlib
from collections import Counter

# zh_modern.py (--modern) extends this generator and finds it under this name.
if sys.modules.get(__name__) is not None:
    sys.modules.setdefault("zhgen", sys.modules[__name__])

VERSION = "1"

# =============================================================================
# Corpus-wide constants.  Everything here is made up: example.com/.org/.net,
# the reserved .example TLD, documentation IP ranges.  No real people.
# =============================================================================

DEFAULT_START = "2004-01-26T08:00:00Z"   # W32/Mydoom.A broke out that afternoon

# The domains "we" protect (recipients live here) and their MX hosts.
OUR_DOMAINS = [
    ("corp.example.com", "mx1.corp.example.com"),
    ("example.org", "mx.example.org"),
    ("lab.example.net", "mail.lab.example.net"),
]

DOC_NETS = ["192.0.2", "198.51.100", "203.0.113"]          # RFC 5737

FIRST = """james mary john patricia robert jennifer michael linda william
elizabeth david barbara richard susan joseph jessica thomas sarah charles karen
daniel nancy matthew lisa anthony betty mark helen paul sandra steven donna
andrew carol kevin ruth brian sharon george michelle edward laura ronald emily
timothy kimberly jason deborah jeffrey amy""".split()
LAST = """smith johnson williams brown jones garcia miller davis rodriguez
martinez hernandez lopez gonzalez wilson anderson thomas taylor moore jackson
martin lee perez thompson white harris sanchez clark ramirez lewis robinson
walker young allen king wright scott torres nguyen hill flores green adams
nelson baker hall rivera campbell mitchell carter roberts""".split()

# Organisations that send us mail: (domain, display name).
ORGS = [
    ("northwind.example", "Northwind Traders"),
    ("fabrikam.example", "Fabrikam, Inc."),
    ("contoso.example", "Contoso Ltd"),
    ("adatum.example", "A. Datum Corporation"),
    ("tailspin.example", "Tailspin Toys"),
    ("wingtip.example", "Wingtip Toys"),
    ("litware.example", "Litware Inc."),
    ("proseware.example", "Proseware, Inc."),
    ("fourthcoffee.example", "Fourth Coffee"),
    ("woodgrove.example", "Woodgrove Bank"),
    ("lucerne.example", "Lucerne Publishing"),
    ("margie.example", "Margie's Travel"),
    ("example.com", "Example Company"),
    ("sales.example.net", "Example Sales"),
]
FREEMAIL = ["webmail.example.net", "mail.example.com", "inbox.example.org", "post.example"]
# Domains whose outbound MTA talks IPv6 (documentation prefix 2001:db8::/32).
V6_DOMAINS = {"litware.example", "post.example", "lists.example.org"}

# Clean mail user agents: (header, value, Message-ID style, boundary style).
MAILERS = [
    ("X-Mailer", "Microsoft Outlook Express 6.00.2800.1158", "oe", "oe"),
    ("X-Mailer", "Microsoft Office Outlook, Build 11.0.5510", "oe", "oe"),
    ("X-Mailer", "Microsoft Outlook, Build 10.0.4510", "oe", "oe"),
    ("User-Agent", "Mozilla Thunderbird 0.7.3 (Windows/20040803)", "moz", "moz"),
    ("User-Agent", "Mozilla/5.0 (X11; U; Linux i686; en-US; rv:1.6) Gecko/20040113", "moz", "moz"),
    ("User-Agent", "Mutt/1.5.6i", "mutt", "mutt"),
    ("X-Mailer", "Apple Mail (2.612)", "apple", "apple"),
    ("User-Agent", "KMail/1.6.1", "kmail", "kmail"),
    ("X-Mailer", "Ximian Evolution 1.4.5", "evo", "evo"),
    ("X-Mailer", "Lotus Notes Release 6.0.3 September 26, 2003", "notes", "notes"),
    ("X-Mailer", "QUALCOMM Windows Eudora Version 6.0.1.1", "eudora", "eudora"),
    ("User-Agent", "SquirrelMail/1.4.2", "squirrel", "squirrel"),
]

MTA_SOFTWARE = ["Postfix", "Microsoft SMTPSVC(5.0.2195.6713)", "8.12.10/8.12.10",
                "Exim 4.30", "Lotus Domino Release 6.0.3"]

TZ_OFFSETS = [-8, -7, -6, -5, -4, 0, 0, 1, 1, 1, 2, 3, 5.5, 8, 9, 10]

# =============================================================================
# Text banks
# =============================================================================

BUSINESS = [
    "Thanks for sending the figures over so quickly.",
    "I have gone through the draft and added my comments in the margin.",
    "Could you check whether the delivery dates still hold for next month?",
    "The customer asked us to move the review meeting to Thursday afternoon.",
    "Please find the updated version attached; the changes are marked in red.",
    "We still need sign-off from finance before we can place the order.",
    "Let me know if anything in the proposal is unclear.",
    "The numbers for the northern region look better than we expected.",
    "I spoke to the supplier this morning and they confirmed the price.",
    "Can we set up a short call tomorrow to go through the open points?",
    "The contract has been reviewed by legal and is ready for signature.",
    "Attached is the summary we discussed in yesterday's meeting.",
    "I will be out of the office on Friday, so please send questions before then.",
    "The budget for the second half of the year has not been approved yet.",
    "Our team has finished the first round of testing without major issues.",
    "Please forward this to anyone in your group who should be involved.",
    "We would like to schedule the kick-off for the week of the 9th.",
    "The invoice was sent to the accounts payable address last Tuesday.",
    "I have copied Sarah, who will take over the project while I am away.",
    "Could you confirm the number of attendees for the workshop?",
    "The revised timeline pushes the launch back by about two weeks.",
    "Everyone agreed that the second option is the most practical one.",
    "We are waiting for the final quote from the logistics partner.",
    "The minutes from the board meeting will be circulated on Monday.",
    "If you need the raw data as well, I can put it on the shared drive.",
    "The training room is booked from nine until noon.",
    "I have updated the spreadsheet with last week's actuals.",
    "Please review the action items and let me know if I missed anything.",
    "Procurement needs the purchase order number before they can proceed.",
    "The presentation went well and the client wants a follow-up next month.",
]
PERSONAL = [
    "How was the trip? I hope the weather held up for you.",
    "We finally finished painting the kitchen last weekend.",
    "Are you still up for dinner on Saturday?",
    "The kids loved the present, thank you so much.",
    "I found the recipe you asked about; it is below.",
    "Mum says hello and asks when you are coming to visit.",
    "The game last night was unbelievable, did you watch it?",
    "I am thinking of taking a few days off in March.",
    "Let me know when you are free for a coffee.",
    "The car is back from the garage and running fine again.",
    "We watched the film you recommended and really enjoyed it.",
    "It has been snowing here all week and the roads are a mess.",
    "Did you ever hear back about the new job?",
    "I will bring the books back next time I see you.",
    "Happy birthday! I hope you have a lovely day.",
    "The garden is looking great after all the rain.",
    "Could you send me Tom's new phone number?",
    "We are planning a small get-together for New Year's Eve.",
    "Sorry I missed your call, it was a busy day.",
    "The concert tickets arrived this morning.",
]
TECH = [
    "I can reproduce this on the current trunk with a clean build.",
    "The attached patch fixes the off-by-one in the header parser.",
    "Has anyone tried building with the new compiler release?",
    "The test suite passes on i386 but fails on sparc64.",
    "This looks like the same issue that was discussed in the archives last spring.",
    "I would rather not add another configuration option for this.",
    "Could you send the output of the configure script?",
    "The memory leak only shows up when the cache is disabled.",
    "Please keep the discussion on the list so others can follow it.",
    "We should document this behaviour in the manual.",
    "The benchmark numbers improved by about twelve percent.",
    "I have committed the change; please test and report back.",
    "The API has been stable since the last release, so this is safe.",
    "Debug output shows the timeout firing before the reply arrives.",
    "That function is not thread safe, which would explain the crash.",
    "Thanks for the review, I will post an updated version tomorrow.",
    "The documentation build needs the newer version of the stylesheet.",
    "Backwards compatibility matters here because distributions ship the old version.",
    "I agree with the general approach but have a few comments inline.",
    "The release branch will be created at the end of the month.",
]
NEWS = [
    "Spring collection now available in all stores and online.",
    "Members save an extra ten percent on selected items this week.",
    "Our travel experts picked the five best city breaks for the season.",
    "Read the interview with our head chef about this month's menu.",
    "New features make it easier than ever to track your orders.",
    "Register now for the free webinar on small business finance.",
    "Customer favourites are back in stock for a limited time.",
    "Discover the new range of outdoor equipment for the whole family.",
    "Five tips to get more out of your home office setup.",
    "Early bird tickets for the annual conference are on sale now.",
    "See what our community has been building this month.",
    "Free delivery on all orders placed before Sunday midnight.",
]

LANGS = {
    "de": {
        "charsets": ["iso-8859-1", "utf-8"],
        "domain": "beispiel-gmbh.example",
        "names": ["Jürgen Müller", "Anna Schröder", "Klaus Weiß", "Petra Schäfer"],
        "greet": "Hallo {name},", "close": "Mit freundlichen Grüßen",
        "subjects": ["Angebot für das Projekt Nordstraße", "Rechnung Nr. 2004-0117",
                     "Besprechung am Donnerstag", "Bericht Übersicht Januar"],
        "files": ["Bericht_Übersicht_Januar.pdf", "Angebot Müller GmbH.docx",
                  "Preisliste 2004 (Änderungen).xlsx"],
        "sentences": [
            "Vielen Dank für Ihre Nachricht.",
            "Anbei finden Sie den aktuellen Bericht für das erste Quartal.",
            "Bitte prüfen Sie die Zahlen bis Freitag.",
            "Die Besprechung wurde auf Donnerstag, 14 Uhr, verschoben.",
            "Bei Rückfragen stehe ich Ihnen gerne zur Verfügung.",
            "Wir freuen uns auf die weitere Zusammenarbeit.",
            "Die Lieferung erfolgt voraussichtlich in der nächsten Woche.",
            "Könnten Sie mir bitte die Unterlagen zukommen lassen?",
        ],
    },
    "fr": {
        "charsets": ["iso-8859-1", "utf-8"],
        "domain": "exemple-sarl.example",
        "names": ["Hélène Dubois", "François Lefèvre", "Amélie Girard"],
        "greet": "Bonjour {name},", "close": "Cordialement,",
        "subjects": ["Compte rendu de la réunion", "Devis n° 2004-017",
                     "Réunion de jeudi", "Facture de janvier"],
        "files": ["Compte-rendu réunion.pdf", "Devis_n°2004-017.pdf", "Résumé.docx"],
        "sentences": [
            "Merci pour votre message.",
            "Veuillez trouver ci-joint le rapport du premier trimestre.",
            "La réunion est reportée à jeudi à 14 heures.",
            "N'hésitez pas à me contacter pour toute question.",
            "Nous vous remercions de votre confiance.",
            "Le devis a été validé par la direction.",
            "Pourriez-vous me renvoyer le document signé avant vendredi ?",
            "Je vous souhaite une excellente journée.",
        ],
    },
    "ru": {
        "charsets": ["koi8-r", "utf-8", "windows-1251"],
        "domain": "primer.example",
        "names": ["Иван Петров", "Ольга Смирнова", "Сергей Кузнецов"],
        "greet": "Добрый день, {name}!", "close": "С уважением,",
        "subjects": ["Отчёт за январь", "Совещание в четверг", "Договор поставки"],
        "files": ["Отчёт за январь.xlsx", "Договор поставки.docx"],
        "sentences": [
            "Спасибо за ваше письмо.",
            "Во вложении отчёт за первый квартал.",
            "Совещание перенесено на четверг, 14:00.",
            "Пожалуйста, проверьте цифры до пятницы.",
            "Если возникнут вопросы, пишите.",
            "Договор будет подписан на следующей неделе.",
            "Прошу подтвердить получение.",
        ],
    },
    "ja": {
        "charsets": ["iso-2022-jp", "utf-8", "shift_jis"],
        "domain": "rei-shoji.example",
        "names": ["山田 太郎", "佐藤 花子", "鈴木 一郎"],
        "greet": "{name}様", "close": "よろしくお願いいたします。",
        "subjects": ["会議の件", "見積書の送付", "報告書について"],
        "files": ["見積書.pdf", "報告書.docx"],
        "sentences": [
            "いつもお世話になっております。",
            "第1四半期の報告書を添付いたします。",
            "会議は木曜日の14時に変更になりました。",
            "金曜日までにご確認いただけますでしょうか。",
            "ご不明な点がございましたら、お気軽にお問い合わせください。",
            "今後ともよろしくお願いいたします。",
        ],
    },
    "zh": {
        "charsets": ["gb2312", "utf-8", "big5"],
        "domain": "shili.example",
        "names": ["王伟", "李娜", "张敏"],
        "greet": "{name}，您好！", "close": "此致\n敬礼",
        "subjects": ["会议通知", "季度报告", "合同草案"],
        "files": ["季度报告.pdf", "合同草案.docx"],
        "sentences": [
            "感谢您的来信。",
            "附件是第一季度的报告。",
            "会议改到星期四下午两点。",
            "请在星期五之前确认这些数字。",
            "如有任何问题，请随时与我联系。",
            "期待我们的进一步合作。",
        ],
    },
}

# Technical-error lure sentences used by the worms (see family comments).
MYDOOM_LURES = [
    "The message cannot be represented in 7-bit ASCII encoding and has been sent as a binary attachment.",
    "The message contains Unicode characters and has been sent as a binary attachment.",
    "Mail transaction failed. Partial message is available.",
]

# =============================================================================
# Small utilities
# =============================================================================


def lognorm(rng, median, sigma, lo, hi):
    return int(min(hi, max(lo, rng.lognormvariate(math.log(median), sigma))))


def alnum(rng, n, chars="abcdefghijklmnopqrstuvwxyz0123456789"):
    return "".join(rng.choices(chars, k=n))


def hexs(rng, n, upper=True):
    s = "%0*x" % (n, rng.getrandbits(4 * n))
    return s.upper() if upper else s


def digits(rng, n):
    return "".join(rng.choices("0123456789", k=n))


def person(rng):
    return rng.choice(FIRST), rng.choice(LAST)


def local_part(rng, first, last):
    style = rng.randrange(5)
    if style == 0:
        return f"{first}.{last}"
    if style == 1:
        return f"{first[0]}{last}"
    if style == 2:
        return f"{first}_{last}"
    if style == 3:
        return f"{first}{last[0]}"
    return f"{first}{rng.randint(1, 99)}"


def display(first, last):
    return f"{first.title()} {last.title()}"


def fmt_addr(name, addr):
    if not name:
        return addr
    if any(c in name for c in ',.()<>@:;"[]'):
        return '"%s" <%s>' % (name.replace('"', ""), addr)
    return f"{name} <{addr}>"


def domain_ip(domain):
    """Stable documentation-range address for a sending domain's MTA."""
    h = zlib.crc32(domain.encode())
    if domain in V6_DOMAINS:
        return "2001:db8:%x::%x" % (h & 0xFFFF, 25 + (h >> 16) % 200)
    return "%s.%d" % (DOC_NETS[h % 3], 1 + (h >> 8) % 254)


def ip_literal(ip):
    return "[IPv6:%s]" % ip if ":" in ip else "[%s]" % ip


def rfc_date(ms, tz_hours):
    tz = dt.timezone(dt.timedelta(minutes=int(tz_hours * 60)))
    return email.utils.format_datetime(dt.datetime.fromtimestamp(ms / 1000, tz))


def _fill(line, width):
    if len(line) <= width or line.startswith(">"):   # quoted lines are already wrapped
        return line
    indent = line[:len(line) - len(line.lstrip())]
    out, cur = [], indent
    for w in line.split():
        if len(cur) + len(w) + 1 > width and cur.strip():
            out.append(cur)
            cur = indent + w
        else:
            cur = cur + " " + w if cur.strip() else cur + w
    out.append(cur)
    return "\n".join(out)


def wrap(text, width=72):
    """Greedy word wrap of each line (faster than textwrap for bulk text)."""
    return "\n".join(_fill(p, width) for p in text.split("\n"))


def paragraphs(rng, bank, target_len, per=(2, 5)):
    out, n = [], 0
    while n < target_len:
        k = min(len(bank), rng.randint(*per))
        p = " ".join(rng.sample(bank, k))
        out.append(p)
        n += len(p) + 2
    return out


def uniq(seq):
    seen, out = set(), []
    for x in seq:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


# --- RFC 2047 / RFC 2231 -----------------------------------------------------

_Q_SAFE = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def _ew(text, charset, enc):
    raw = text.encode(charset)
    if enc == "B":
        payload = base64.b64encode(raw).decode()
    else:
        payload = "".join("_" if b == 0x20 else chr(b) if b in _Q_SAFE else "=%02X" % b
                          for b in raw)
    return f"=?{charset}?{enc}?{payload}?="


def encode_words(text, charset="utf-8", enc="B", maxlen=75):
    """RFC 2047 encoded-words, each <= maxlen chars and each self-contained."""
    words, cur = [], ""
    for ch in text:
        if cur and len(_ew(cur + ch, charset, enc)) > maxlen:
            words.append(_ew(cur, charset, enc))
            cur = ch
        else:
            cur += ch
    if cur:
        words.append(_ew(cur, charset, enc))
    return words


def hdr_text(text, charset="utf-8", enc="B"):
    """Header value: plain if ASCII, else folded RFC 2047 encoded-words."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        return "\n ".join(encode_words(text, charset, enc))


def addr_hdr(name, addr, charset="utf-8", enc="B"):
    try:
        name.encode("ascii")
        return fmt_addr(name, addr)
    except UnicodeEncodeError:
        return "%s <%s>" % (" ".join(encode_words(name, charset, enc)), addr)


_2231_SAFE = "!#$&+-.^_`|~"


def rfc2231_value(text, charset="utf-8"):
    return "%s''%s" % (charset, urllib.parse.quote(text.encode(charset), safe=_2231_SAFE))


def rfc2231_params(key, text, charset="utf-8", chunk=None):
    """key*=charset''pct  or continuations key*0*=charset''...; key*1*=...
    Continuations are cut between characters, never inside one (as mailers do)."""
    val = rfc2231_value(text, charset)
    if not chunk or len(val) <= chunk:
        return [f"{key}*={val}"]
    parts, cur = [], f"{charset}''"
    for ch in text:
        enc = urllib.parse.quote(ch.encode(charset), safe=_2231_SAFE)
        if len(cur) + len(enc) > chunk and cur and not cur.endswith("''"):
            parts.append(cur)
            cur = ""
        cur += enc
    parts.append(cur)
    return [f"{key}*{n}*={p}" for n, p in enumerate(parts)]


# =============================================================================
# MIME tree and renderer (built by hand so every byte is under our control:
# boundaries, base64 line length, header case, folding, uuencode...).
# Internally "\n"; the message is converted to CRLF at the end.
# =============================================================================


class Leaf:
    __slots__ = ("headers", "body")

    def __init__(self, headers, body):
        self.headers, self.body = headers, body


class Multi:
    __slots__ = ("headers", "boundary", "parts", "preamble", "epilogue")

    def __init__(self, headers, boundary, parts, preamble=b"", epilogue=b""):
        self.headers, self.boundary, self.parts = headers, boundary, parts
        self.preamble, self.epilogue = preamble, epilogue


def render_body(node):
    if isinstance(node, Leaf):
        return node.body
    b = node.boundary.encode()
    out = [node.preamble.rstrip(b"\n") + b"\n\n"] if node.preamble else []
    for p in node.parts:
        # the newline before a delimiter belongs to the delimiter (RFC 2046),
        # so the entity keeps its own final line break
        out.append(b"--" + b + b"\n" + render_entity(p) + b"\n")
    out.append(b"--" + b + b"--\n" + node.epilogue)
    return b"".join(out)


def render_entity(node, extra_headers=()):
    hs = list(extra_headers) + node.headers
    return "\n".join(hs).encode("ascii") + b"\n\n" + render_body(node)


def b64_lines(data, width=76):
    s = base64.b64encode(data)
    return b"\n".join(s[i:i + width] for i in range(0, len(s), width)) + b"\n"


def uuencode_block(name, data, mode="644"):
    lines = [f"begin {mode} {name}".encode()]
    for i in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[i:i + 45], backtick=True).rstrip(b"\n"))
    lines += [b"`", b"end"]
    return b"\n".join(lines) + b"\n"


def encode_cte(data, cte, b64w=76):
    c = cte.lower()
    if c == "base64":
        return b64_lines(data, b64w)
    if c == "quoted-printable":
        return quopri.encodestring(data)
    return data if data.endswith(b"\n") else data + b"\n"


def make_boundary(rng, style):
    if style == "oe":
        return f"----=_NextPart_000_{hexs(rng, 4)}_{hexs(rng, 8)}.{hexs(rng, 8)}"
    if style == "exchange":
        return f"----_=_NextPart_001_{hexs(rng, 8)}.{hexs(rng, 8)}"
    if style == "moz":
        return "------------" + digits(rng, 24)
    if style == "mutt":
        return alnum(rng, 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    if style == "apple":
        return f"Apple-Mail-{rng.randint(1, 30)}-{rng.randint(10**8, 10**9 - 1)}"
    if style == "kmail":
        return "Boundary-00=_" + alnum(rng, 15, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
    if style == "evo":
        return "=-" + alnum(rng, 20, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    if style == "notes":
        return f"=_mixed {hexs(rng, 16)}_="
    if style == "eudora":
        return "=====================_" + digits(rng, 8) + "==_"
    if style == "squirrel":
        return f"----=_{digits(rng, 14)}_{rng.randint(10000, 99999)}"
    if style == "javamail":
        return f"----=_Part_{rng.randint(1, 999)}_{rng.randint(10**6, 10**8)}.{digits(rng, 13)}"
    if style == "php":
        return "b1_" + hexs(rng, 32, upper=False)
    if style == "bagle":
        return "--------" + alnum(rng, 20, "abcdefghijklmnopqrstuvwxyz")
    if style == "mimail":
        return "----=_NextPart_" + hexs(rng, 8) + "_" + hexs(rng, 4)
    return "=_" + alnum(rng, 24)


def message_id(rng, style, domain, ms):
    t = time.strftime("%Y%m%d%H%M%S", time.gmtime(ms / 1000))
    if style == "oe":
        return f"<{hexs(rng, 12, False)}${hexs(rng, 8, False)}${hexs(rng, 8, False)}@{domain}>"
    if style == "moz":
        return f"<{hexs(rng, 8)}.{digits(rng, 7)}@{domain}>"
    if style == "mutt":
        return f"<{t}.GA{rng.randint(100, 32000)}@{rng.choice(['lap', 'box', 'ws'])}{rng.randint(1, 40)}.{domain}>"
    if style == "apple":
        return f"<{hexs(rng, 8)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 4)}-{hexs(rng, 12)}@{domain}>"
    if style == "notes":
        return f"<OF{hexs(rng, 8)}.{hexs(rng, 8)}-ON{hexs(rng, 8)}.{hexs(rng, 8)}@{domain}>"
    if style == "exchange":
        return f"<{hexs(rng, 32)}@exch{rng.randint(1, 4):02d}.{domain}>"
    if style == "javamail":
        return f"<{rng.randint(10**6, 10**8)}.{ms}.JavaMail.app@{domain}>"
    return f"<{t}.{hexs(rng, 10, False)}@{domain}>"


# =============================================================================
# Synthetic file contents.  None of it runs.
# =============================================================================

_SECT_FLAGS = {
    ".text": 0x60000020, "CODE": 0x60000020, ".rdata": 0x40000040, ".data": 0xC0000040,
    "DATA": 0xC0000040, ".rsrc": 0x40000040, ".idata": 0xC0000040, ".reloc": 0x42000040,
    "UPX0": 0xE0000080, "UPX1": 0xE0000040, ".aspack": 0xE0000040, ".adata": 0xE0000040,
    "": 0xE0000060,
}


def synthetic_pe(rng, size, sections=(".text", ".rdata", ".data", ".rsrc"), timestamp=None):
    """A file that *looks* like a 32-bit Windows PE to a parser but is not a program.

    DOS header with the usual field values and e_lfanew, the "This program cannot
    be run in DOS mode" text (the 16-bit stub instructions are replaced by zero
    bytes, so not even the DOS stub is code), a "PE\\0\\0" signature with a
    plausible COFF header, PE32 optional header and section table - then random
    filler.  The entry point points into that filler and the import directory at
    random bytes, so there is no code and a loader would reject the image.
    The result is exactly `size` bytes (minimum 0x600).
    """
    size = max(size, 0x600)
    e_lfanew = 0x80
    dos = struct.pack("<2s13H8s2H20sI", b"MZ", 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0,
                      0x40, 0, b"\0" * 8, 0, 0, b"\0" * 20, e_lfanew)
    stub = b"\0" * 14 + b"This program cannot be run in DOS mode.\r\r\n$"
    dos = (dos + stub).ljust(e_lfanew, b"\0")

    falign, salign, hdr_size = 0x200, 0x1000, 0x400
    body = size - hdr_size
    names = list(sections)
    # Raw sizes: UPX0 is virtual-only; the rest split the file by weights.
    weights = [0 if n == "UPX0" else (0.12 if n in (".rsrc", ".reloc", ".idata") else
                                      (0.6 if n in (".text", "CODE", "UPX1", "") else 0.25))
               for n in names]
    tot_w = sum(weights) or 1
    raw = []
    for w in weights:
        raw.append(int(body * w / tot_w) // falign * falign)
    # give rounding leftovers to the biggest section; the tail stays overlay
    big = max(range(len(names)), key=lambda i: weights[i])
    raw[big] += (body - sum(raw)) // falign * falign
    overlay = body - sum(raw)

    sect_hdrs, va, ptr = [], salign, hdr_size
    code_va = code_raw = None
    entry = 0
    layout = []
    for n, r in zip(names, raw):
        vsize = r if r else rng.randint(8, 24) * salign
        if n not in ("UPX0",) and r:
            vsize = r - rng.randrange(0, falign, 4)
        flags = _SECT_FLAGS.get(n, 0xC0000040)
        sect_hdrs.append(struct.pack("<8s6I2HI", n.encode()[:8], vsize, va, r, ptr if r else 0,
                                     0, 0, 0, 0, flags))
        layout.append((n, va, vsize, r, ptr))
        if flags & 0x20000000 and r and code_va is None:
            code_va, code_raw = va, r
            entry = va + rng.randrange(0, max(16, r - 16), 16)
        va += (vsize + salign - 1) // salign * salign
        ptr += r
    size_of_image = va
    if code_va is None:
        code_va, code_raw, entry = salign, raw[0], salign

    def find(*want):
        for n, v, vs, r, p in layout:
            if n in want:
                return v, min(vs, 0x200)
        return 0, 0
    imp = find(".idata", ".rdata", "UPX1", ".data", "")
    res = find(".rsrc")
    ddirs = [(0, 0)] * 16
    ddirs[1] = (imp[0] + rng.randrange(0, 0x100, 4), 0x3C + 0x14 * rng.randint(1, 6))
    if res[0]:
        ddirs[2] = res

    ts = timestamp if timestamp is not None else rng.randint(0x3E000000, 0x40200000)
    coff = struct.pack("<2sHHIIIHH", b"\0\0", 0x14C, len(names), ts, 0, 0, 0xE0, 0x010F)
    init_data = sum(r for n, _, _, r, _ in layout if not _SECT_FLAGS.get(n, 0) & 0x20)
    opt = struct.pack("<HBB9I6H4I2H6I", 0x10B, rng.choice([6, 7, 2]), rng.choice([0, 10, 25]),
                      code_raw, init_data, 0, entry, code_va, code_va + ((code_raw + salign - 1) // salign) * salign,
                      0x400000, salign, falign, 4, 0, 0, 0, 4, 0, 0, size_of_image, hdr_size, 0,
                      2, 0, 0x100000, 0x1000, 0x100000, 0x1000, 0, 16)
    opt += b"".join(struct.pack("<II", a, s) for a, s in ddirs)
    header = dos + b"PE" + coff + opt + b"".join(sect_hdrs)
    header = header.ljust(hdr_size, b"\0")
    filler = []
    for n, v, vs, r, p in layout:
        if not r:
            continue
        if n in (".rsrc", ".reloc", ".data", "DATA"):
            # partly sparse, like real data sections
            z = rng.randrange(r // 4, r // 2)
            filler.append(rng.randbytes(r - z) + b"\0" * z)
        else:
            filler.append(rng.randbytes(r))
    return header + b"".join(filler) + rng.randbytes(overlay)


def synthetic_script(rng, lang="vbs"):
    """Harmless text that only looks like the first lines of a dropper script."""
    tag = hexs(rng, 8)
    if lang == "js":
        return ("// %s\n// zerohour synthetic test sample - not functional, does nothing\n"
                "// var sh = ...   (intentionally absent)\n"
                'WScript.Echo("test");\n' % tag)
    return ("' %s\n' zerohour synthetic test sample - not functional, does nothing\n"
            "' Set fso = ...   (intentionally absent)\n"
            'WScript.Echo "test"\n' % tag)


def synthetic_pdf(rng, size, title="Report", lines=None):
    """A small but structurally valid PDF: one text page plus a noise image so
    the file reaches roughly `size` bytes."""
    lines = lines or [title]
    txt = ["BT /F1 16 Tf 72 740 Td (%s) Tj ET" % title.replace("(", "").replace(")", "")]
    y = 710
    for ln in lines[:40]:
        safe = ln.encode("ascii", "replace").decode().replace("\\", "").replace("(", "").replace(")", "")
        txt.append("BT /F1 10 Tf 72 %d Td (%s) Tj ET" % (y, safe[:90]))
        y -= 14
    content = "\n".join(txt).encode()
    w = 256
    h = max(1, (size - 1500 - len(content)) // (w * 3))
    img = zlib.compress(rng.randbytes(w * h * 3), 1)
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> /XObject << /Im1 6 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n" % (w, h, len(img))
        + img + b"\nendstream",
        b"<< /Producer (%s) /Title (%s) >>" % (
            rng.choice([b"Acrobat Distiller 5.0.5", b"GPL Ghostscript 8.01", b"OpenOffice.org 1.1"]),
            title.encode("ascii", "replace")),
    ]
    return pdf_assemble(objs, info=7)


def pdf_assemble(objs, version=b"1.4", info=None, trailer_extra=b""):
    """A PDF file of the objects objs (numbered from 1; object 1 is the
    catalog), a classic xref table and the trailer (with /Info when info
    names an object, and trailer_extra such as /Encrypt and /ID)."""
    out = bytearray(b"%PDF-" + version + b"\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, o in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R" % (len(objs) + 1)
    if info:
        out += b" /Info %d 0 R" % info
    out += trailer_extra + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def synthetic_png(rng, size):
    """Valid PNG of RGB noise, about `size` bytes."""
    w = 320
    h = max(1, size // (w * 3))
    row = w * 3
    raw = bytearray()
    noise = rng.randbytes(row * h)
    for y in range(h):
        raw += b"\0" + noise[y * row:(y + 1) * row]
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + _png_chunk(b"IDAT", zlib.compress(bytes(raw), 1)) + _png_chunk(b"IEND", b""))


def synthetic_jpeg(rng, size, model="EX-100"):
    """JPEG with correct markers (SOI, JFIF/Exif APPn, DQT, SOF0, SOS ... EOI);
    the scan data is random (byte-stuffed), so it is not a decodable photo."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\x01\x00\x48\x00\x48\x00\x00"
    tiff = b"II*\0\x08\0\0\0" + b"\0\0" + b"Example Camera " + model.encode() + b"\0"
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 6 + len(tiff)) + b"Exif\0\0" + tiff
    dqt = b"\xff\xdb\x00\x43\x00" + bytes(rng.randint(1, 64) for _ in range(64))
    w, h = rng.choice([(1600, 1200), (2048, 1536), (1280, 960), (640, 480)])
    sof = b"\xff\xc0\x00\x11\x08" + struct.pack(">HH", h, w) + b"\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sos = b"\xff\xda\x00\x0c\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    scan = rng.randbytes(max(100, size - 300)).replace(b"\xff", b"\xff\x00")
    return b"\xff\xd8" + app0 + app1 + dqt + sof + sos + scan + b"\xff\xd9"


_FONT = {
    "0": "01110 10001 10011 10101 11001 10001 01110", "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111", "3": "11110 00001 00001 01110 00001 00001 11110",
    "4": "00010 00110 01010 10010 11111 00010 00010", "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110", "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110", "9": "01110 10001 10001 01111 00001 00010 01100",
}


def digits_bmp(rng, text, scale=3):
    """24-bit BMP rendering `text` (digits) in a 5x7 font: an image of the zip
    password, the way Bagle.N/O hid it from scanners that read the body."""
    cw, ch, pad = 6 * scale, 7 * scale, 4 * scale
    w, h = pad * 2 + cw * len(text), pad * 2 + ch
    fg = (rng.randint(0, 80), rng.randint(0, 80), rng.randint(0, 80))
    bg = (rng.randint(200, 255), rng.randint(200, 255), rng.randint(200, 255))
    stride = (w * 3 + 3) // 4 * 4
    px = bytearray(stride * h)
    for y in range(h):           # BMP rows are bottom-up
        ty = h - 1 - y
        row = bytearray()
        for x in range(w):
            on = False
            gx, gy = x - pad, ty - pad
            if 0 <= gy < ch and 0 <= gx < cw * len(text):
                c, cx = divmod(gx, cw)
                fx, fy = cx // scale, gy // scale
                if fx < 5:
                    on = _FONT.get(text[c], "00000 " * 7).split()[fy][fx] == "1"
            row += bytes(fg[::-1] if on else bg[::-1])
        px[y * stride:y * stride + len(row)] = row
    hdr = struct.pack("<2sIHHI", b"BM", 54 + len(px), 0, 0, 54)
    dib = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(px), 2835, 2835, 0, 0)
    return hdr + dib + bytes(px)


def _zinfo(name, date_time, windows=False):
    zi = zipfile.ZipInfo(name, date_time=date_time)
    zi.compress_type = zipfile.ZIP_DEFLATED
    if windows:
        zi.create_system = 0
        zi.external_attr = 0x20
    else:
        zi.external_attr = 0o644 << 16
    return zi


def make_zip(members, date_time, windows=False, stored=False):
    """members: list of (name, bytes).  Deterministic (fixed date_time)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members:
            zi = _zinfo(name, date_time, windows)
            if stored:
                zi.compress_type = zipfile.ZIP_STORED
            z.writestr(zi, data)
    return buf.getvalue()


def zip_dt(ms):
    t = time.gmtime(ms / 1000)
    return (max(1980, t.tm_year), t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec // 2 * 2)


# --- Traditional PKWARE encryption ("ZipCrypto"), APPNOTE.TXT section 6.1 -----

_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0xEDB88320 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)
del _n, _c


def _zc_keys(password):
    k0, k1, k2 = 0x12345678, 0x23456789, 0x34567890
    t = _CRC_TABLE
    for c in password:
        k0 = (k0 >> 8) ^ t[(k0 ^ c) & 0xFF]
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = (k2 >> 8) ^ t[(k2 ^ (k1 >> 24)) & 0xFF]
    return k0, k1, k2


def zipcrypto_encrypt(plain, password):
    """Encrypt bytes with the traditional PKWARE stream cipher (6.1.5-6.1.6):
    keystream byte = ((t * (t ^ 1)) >> 8) & 0xff with t = (key2 | 2) & 0xffff,
    then update_keys(plaintext byte)."""
    k0, k1, k2 = _zc_keys(password)
    t = _CRC_TABLE
    out = bytearray(len(plain))
    for i, c in enumerate(plain):
        x = (k2 | 2) & 0xFFFF
        out[i] = c ^ (((x * (x ^ 1)) >> 8) & 0xFF)
        k0 = (k0 >> 8) ^ t[(k0 ^ c) & 0xFF]
        k1 = ((k1 + (k0 & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        k2 = (k2 >> 8) ^ t[(k2 ^ (k1 >> 24)) & 0xFF]
    return bytes(out)


def make_encrypted_zip(rng, members, password, date_time, deflate=True):
    """Write a zip whose members are ZipCrypto-encrypted (general purpose flag
    bit 0).  Python's zipfile can read these but not write them, so this is a
    small hand-rolled writer: local headers, 12-byte encryption header whose
    last byte is the CRC's high byte (6.1.6, bit 3 not set), central directory,
    end record."""
    pw = password.encode()
    y, mo, d, h, mi, s = date_time
    dtime = (h << 11) | (mi << 5) | (s // 2)
    ddate = ((y - 1980) << 9) | (mo << 5) | d
    out, central = bytearray(), bytearray()
    for name, data in members:
        fn = name.encode("cp437")
        crc = zlib.crc32(data) & 0xFFFFFFFF
        if deflate:
            co = zlib.compressobj(9, zlib.DEFLATED, -15)
            comp, method = co.compress(data) + co.flush(), 8
        else:
            comp, method = data, 0
        enc = zipcrypto_encrypt(rng.randbytes(11) + bytes([crc >> 24]) + comp, pw)
        off = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0001, method, dtime, ddate, crc,
                           len(enc), len(data), len(fn), 0) + fn + enc
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x0001, method, dtime,
                               ddate, crc, len(enc), len(data), len(fn), 0, 0, 0, 0, 0x20, off) + fn
    cd_off = len(out)
    out += central
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                       cd_off, 0)
    return bytes(out)


# --- Office documents (real OOXML zip containers) ---------------------------

_CT_HEAD = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Default Extension="png" ContentType="image/png"/>')
_RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
         '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="%s"/>'
         '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
         '</Relationships>')


def _xml_esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _core(author, title, ms):
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms / 1000))
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dc:title>{_xml_esc(title)}</dc:title><dc:creator>{_xml_esc(author)}</dc:creator>'
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{ts}</dcterms:created></cp:coreProperties>')


def synthetic_docx(rng, size, paras, author="", title="", ms=0):
    body = "".join(f"<w:p><w:r><w:t>{_xml_esc(p)}</w:t></w:r></w:p>" for p in paras)
    doc = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
           f'<w:body>{body}<w:sectPr/></w:body></w:document>')
    ct = (_CT_HEAD + '<Override PartName="/word/document.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
          '<Override PartName="/docProps/core.xml" ContentType="application/'
          'vnd.openxmlformats-package.core-properties+xml"/></Types>')
    members = [("[Content_Types].xml", ct.encode()), ("_rels/.rels", (_RELS % "word/document.xml").encode()),
               ("word/document.xml", doc.encode()), ("docProps/core.xml", _core(author, title, ms).encode())]
    if size > 12000:
        members.append(("word/media/image1.png", synthetic_png(rng, size - 6000)))
    return make_zip(members, zip_dt(ms))


def synthetic_xlsx(rng, size, author="", title="", ms=0):
    rows, n, target = [], 0, max(2000, size * 3)
    r = 1
    while n < target:
        cells = "".join(f'<c r="{chr(65 + i)}{r}"><v>{rng.getrandbits(17) / 100}</v></c>' for i in range(8))
        row = f'<row r="{r}">{cells}</row>'
        rows.append(row)
        n += len(row)
        r += 1
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData>{"".join(rows)}</sheetData></worksheet>')
    wb = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
          '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
          '<sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
    wbrels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
              '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
              '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
              'relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>')
    ct = (_CT_HEAD + '<Override PartName="/xl/workbook.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
          '<Override PartName="/docProps/core.xml" ContentType="application/'
          'vnd.openxmlformats-package.core-properties+xml"/></Types>')
    return make_zip([("[Content_Types].xml", ct.encode()), ("_rels/.rels", (_RELS % "xl/workbook.xml").encode()),
                     ("xl/workbook.xml", wb.encode()), ("xl/_rels/workbook.xml.rels", wbrels.encode()),
                     ("xl/worksheets/sheet1.xml", sheet.encode()),
                     ("docProps/core.xml", _core(author, title, ms).encode())], zip_dt(ms))


def synthetic_csv(rng, size):
    lines = ["date,region,product,units,revenue"]
    n = len(lines[0])
    while n < size:
        b = rng.getrandbits(40)
        ln = "2004-%02d-%02d,%s,%s,%d,%d.%02d" % (1 + b % 12, 1 + (b >> 4) % 28,
                                                  ("north", "south", "east", "west")[(b >> 9) & 3],
                                                  ("widget", "gadget", "gizmo", "sprocket")[(b >> 11) & 3],
                                                  1 + (b >> 13) % 500, (b >> 22) % 9000, (b >> 36) % 100)
        lines.append(ln)
        n += len(ln) + 1
    return ("\r\n".join(lines) + "\r\n").encode()


def synthetic_targz(rng, project, version, ms, size):
    """A real tar.gz of a harmless source tree (text only, no exec bits)."""
    buf = io.BytesIO()
    root = f"{project}-{version}"
    files = [("README", f"{project} {version}\n\nA small example library.\n\nSee INSTALL.\n"),
             ("INSTALL", "Build with your usual tools; see README.\n"),
             ("NEWS", "\n".join(f"* {s}" for s in rng.sample(TECH, 6)) + "\n")]
    n = 0
    i = 0
    while n < size * 3:
        src = "\n".join(f"/* {s} */\nint {project}_fn{i}_{j}(int x) {{ return x + {j}; }}\n"
                        for j, s in enumerate(rng.sample(TECH, 8)))
        files.append((f"src/{project}_{i}.c", src))
        n += len(src)
        i += 1
    files.append(("doc/logo.png", synthetic_png(rng, max(1000, size // 2))))
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in files:
            b = data if isinstance(data, bytes) else data.encode()
            ti = tarfile.TarInfo(f"{root}/{name}")
            ti.size, ti.mtime, ti.mode = len(b), int(ms / 1000), 0o644
            ti.uid = ti.gid = 1000
            ti.uname = ti.gname = "build"
            tf.addfile(ti, io.BytesIO(b))
    return gzip.compress(buf.getvalue(), 9, mtime=int(ms / 1000))


def sniff(data):
    if data[:2] == b"MZ":
        return "pe"
    if data[:4] == b"PK\x03\x04":
        return "zip"
    if data[:5] == b"%PDF-":
        return "pdf"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:2] == b"BM":
        return "bmp"
    if data[:2] == b"\x1f\x8b":
        return "gzip"
    if data[:15] == b"BEGIN:VCALENDAR":
        return "ics"
    head = data[:200].lower()
    if b"<html" in head or b"<!doctype html" in head:
        return "html"
    if b"wscript" in data[:400].lower():
        return "script"
    try:
        data[:4096].decode("utf-8")
        return "text"
    except UnicodeDecodeError:
        return "binary"


# =============================================================================
# Per-message context
# =============================================================================


class Ctx:
    """Everything one template needs: its own RNG, time, recipient, and the
    record of what was put in (attachments, traits) for the manifest."""

    def __init__(self, corpus, index, ms, label, family):
        self.corpus = corpus
        self.rng = random.Random(f"zh:{corpus.seed}:{index}")
        self.index, self.ms, self.label, self.family = index, ms, label, family
        self.our_domain, self.mx = self.rng.choice(OUR_DOMAINS)
        f, l = person(self.rng)
        self.rcpt_first, self.rcpt_last = f, l
        self.rcpt = f"{local_part(self.rng, f, l)}@{self.our_domain}"
        self.atts, self.traits = [], []
        self.hcase = None

    def trait(self, *names):
        self.traits.extend(names)

    def h(self, name):
        """Header name, in this message's (possibly worm-random) case."""
        if self.hcase == "lower":
            return name.lower()
        if self.hcase == "upper":
            return name.upper()
        if self.hcase == "mixed":
            return "".join(c.upper() if self.rng.random() < 0.5 else c.lower() for c in name)
        return name

    def date(self, ms=None, tz=None):
        return rfc_date(self.ms if ms is None else ms,
                        self.rng.choice(TZ_OFFSETS) if tz is None else tz)

    def record(self, name, ctype, data, encoding, **extra):
        a = {"name": name, "declared_type": ctype.split(";")[0].strip().lower(),
             "sniffed": sniff(data), "size": len(data), "encoding": encoding}
        a.update(extra)
        self.atts.append(a)
        return a


def members_info(members, encrypted=False):
    return [{"name": n, "sniffed": sniff(d), "size": len(d)} for n, d in members]


# --- MIME part helpers --------------------------------------------------------


def ct_params(ctx, ctype, params, sep=None):
    sep = sep if sep is not None else ctx.rng.choice([";\n\t", "; ", ";\n "])
    return f"{ctx.h('Content-Type')}: {ctype}" + "".join(f"{sep}{p}" for p in params)


def text_part(ctx, text, subtype="plain", charset="us-ascii", cte=None, extra_params=(), sep=None,
              headers_extra=()):
    data = text.replace("\r\n", "\n").encode(charset)
    if cte is None:
        ascii_ok = data.isascii()
        long_lines = any(len(x) > 900 for x in data.split(b"\n"))
        cte = "7bit" if ascii_ok and not long_lines else "quoted-printable"
    cs = charset if ctx.rng.random() < 0.5 else f'"{charset}"'
    hs = [ct_params(ctx, f"text/{subtype}", [f"charset={cs}"] + list(extra_params), sep),
          f"{ctx.h('Content-Transfer-Encoding')}: {cte}"] + list(headers_extra)
    return Leaf(hs, encode_cte(data, cte))


def filename_params(ctx, key, name, style, charset="utf-8"):
    """Parameters carrying a filename in one of the encodings mailers use."""
    if style == "rfc2047":
        return ['%s="%s"' % (key, " ".join(encode_words(name, charset, ctx.rng.choice("BQ"))))]
    if style == "rfc2231":
        return rfc2231_params(key, name, charset)
    if style == "rfc2231-cont":
        return rfc2231_params(key, name, charset, chunk=ctx.rng.randint(24, 40))
    return ['%s="%s"' % (key, name)]


def attachment(ctx, data, ctype, name, *, cte="base64", b64w=76, disposition="attachment",
               fname_style="plain", charset="utf-8", name_in_ct=True, sep=None, extra_headers=(),
               record=True, **rec):
    """One attachment leaf.  fname_style: plain | rfc2047 | rfc2231 | rfc2231-cont
    (for the RFC 2231 styles the Content-Type name= gets the RFC 2047 form, as
    Thunderbird/Outlook do)."""
    sep = sep if sep is not None else ctx.rng.choice([";\n\t", "; ", ";\n "])
    ct_style = "rfc2047" if fname_style.startswith("rfc2231") else fname_style
    if cte.lower() != "base64" and not data.endswith(b"\n"):
        data += b"\n"
    params = filename_params(ctx, "name", name, ct_style, charset) if name_in_ct else []
    hs = [ct_params(ctx, ctype, params, sep),
          f"{ctx.h('Content-Transfer-Encoding')}: {cte}"]
    if disposition:
        hs.append(f"{ctx.h('Content-Disposition')}: {disposition}" +
                  "".join(f"{sep}{p}" for p in filename_params(ctx, "filename", name, fname_style, charset)))
    hs += list(extra_headers)
    if record:
        # what a decoder gets back: text encodings travel with CRLF line breaks
        seen = data if cte.lower() == "base64" else data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        ctx.record(name, ctype, seen, cte.lower(), **rec)
        if fname_style != "plain":
            try:
                name.encode("ascii")
                ascii_name = True
            except UnicodeEncodeError:
                ascii_name = False
            if fname_style.startswith("rfc2231"):
                ctx.trait("rfc2231_filename")
            if ct_style == "rfc2047" and name_in_ct:
                ctx.trait("rfc2047_filename")
            if ascii_name and ctx.label == "worm":
                ctx.trait("encoded_ascii_filename")
    return Leaf(hs, encode_cte(data, cte, b64w))


def multipart(ctx, subtype, parts, style, preamble=True, params=()):
    b = make_boundary(ctx.rng, style)
    pre = b"This is a multi-part message in MIME format.\n" if preamble and ctx.rng.random() < 0.7 else b""
    hs = [ct_params(ctx, f"multipart/{subtype}", list(params) + [f'boundary="{b}"'])]
    return Multi(hs, b, parts, pre)


def html_from_paras(paras, title=""):
    body = "\n".join(f'<p class="MsoNormal">{_xml_esc(p)}</p>' for p in paras)
    return ("<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html; charset=us-ascii\">\n"
            "<style>\n<!--\n p.MsoNormal, li.MsoNormal {margin:0cm; margin-bottom:.0001pt;"
            " font-size:10.0pt; font-family:Arial;}\n-->\n</style>\n"
            f"<title>{_xml_esc(title)}</title>\n</head>\n<body lang=EN-US>\n<div class=Section1>\n{body}\n"
            "</div>\n</body>\n</html>\n")


# =============================================================================
# Envelope / transport headers
# =============================================================================


def mx_received(ctx, env, proto="ESMTP", rdns=None):
    ip = env["client_ip"]
    rd = rdns if rdns is not None else env["helo"]
    qid = hexs(ctx.rng, 10)
    return (f"Received: from {env['helo']} ({rd} {ip_literal(ip)})\n"
            f"\tby {ctx.mx} (Postfix) with {proto} id {qid}\n"
            f"\tfor <{env['rcpt_to'][0]}>; {rfc_date(env['received_at'], 0)}")


def sender_received(ctx, mta, ms, tz, client=None):
    rng = ctx.rng
    c = client or f"ws{rng.randint(1, 250)}.internal"
    ip = f"10.{rng.randint(0, 40)}.{rng.randint(0, 255)}.{rng.randint(2, 254)}"
    return (f"Received: from {c} ([{ip}])\n\tby {mta} ({rng.choice(MTA_SOFTWARE)}) with ESMTP id "
            f"{hexs(rng, 8)};\n\t{rfc_date(ms, tz)}")


def clean_envelope(ctx, mail_from, domain, rcpts, helo=None):
    return {"client_ip": domain_ip(domain), "helo": helo or f"mail.{domain}",
            "mail_from": mail_from, "rcpt_to": rcpts, "received_at": ctx.ms}


class Built:
    __slots__ = ("raw", "envelope", "kind")

    def __init__(self, raw, envelope, kind):
        self.raw, self.envelope, self.kind = raw, envelope, kind


def finish(ctx, headers, root, env, kind, received=None):
    """Prepend the receiving MX's Received header and render to CRLF bytes."""
    top = received if received is not None else mx_received(ctx, env)
    hs = [top] + headers + root.headers
    raw = "\n".join(hs).encode("ascii") + b"\n\n" + render_body(root)
    if ctx.rng.random() < 0.5 and not raw.endswith(b"\n"):
        raw += b"\n"
    return Built(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"), env, kind)


def clean_sender(ctx, domain=None, freemail=False):
    rng = ctx.rng
    f, l = person(rng)
    if domain is None:
        domain = rng.choice(FREEMAIL) if freemail else rng.choice(ORGS)[0]
    return display(f, l), f"{local_part(rng, f, l)}@{domain}", domain, f


def clean_common(ctx, from_name, from_addr, domain, subject, to_hdr, mailer=None, cc=None,
                 delay_s=None, extra=()):
    """Standard header block for clean mail plus a sender-side Received hop."""
    rng = ctx.rng
    hname, hval, mid_style, _ = mailer or rng.choice(MAILERS)
    tz = rng.choice(TZ_OFFSETS)
    sent = ctx.ms - int(1000 * (delay_s if delay_s is not None else rng.uniform(2, 240)))
    hs = [sender_received(ctx, f"mail.{domain}", sent + rng.randint(300, 3000), tz)]
    if rng.random() < 0.2:
        hs.insert(0, f"Received: from mail.{domain} (localhost [127.0.0.1])\n\tby mail.{domain} "
                     f"(Postfix) with ESMTP id {hexs(rng, 9)};\n\t{rfc_date(sent + 4000, tz)}")
    hs += [f"Message-ID: {message_id(rng, mid_style, domain, sent)}",
           f"Date: {rfc_date(sent, tz)}",
           f"From: {from_addr if not from_name else addr_hdr(from_name, from_addr)}",
           f"To: {to_hdr}"]
    if cc:
        hs.append(f"Cc: {cc}")
    hs += [f"Subject: {subject}"] + list(extra) + ["MIME-Version: 1.0", f"{hname}: {hval}"]
    return hs


# =============================================================================
# CLEAN TEMPLATES.  One function each; they return a Built.
# =============================================================================


def clean_personal(ctx):
    """Plain personal / short business mail, sometimes a reply with quoted text,
    sometimes HTML+text (multipart/alternative).  1-30 KB, no attachment."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx, freemail=rng.random() < 0.5)
    mailer = rng.choice(MAILERS)
    bank = PERSONAL if rng.random() < 0.5 else BUSINESS
    paras = paragraphs(rng, bank, lognorm(rng, 700, 0.8, 120, 6000))
    text = f"Hi {ctx.rcpt_first.title()},\n\n" + "\n\n".join(paras) + f"\n\n{first.title()}\n"
    subject = rng.choice(["Saturday", "quick question", "Re: weekend plans", "photos?", "lunch",
                          "Re: Re: the report", "Fwd: schedule", "Thanks!", "catching up",
                          "Re: your message", "Meeting notes", "next week"])
    if subject.startswith("Re:") or rng.random() < 0.3:
        quoted = "\n".join("> " + ln for ln in wrap(" ".join(paragraphs(rng, bank, lognorm(rng, 1500, 1.0, 200, 25000)))).split("\n"))
        text += f"\n\nOn {ctx.date(ctx.ms - rng.randint(3600, 9 * 86400) * 1000)}, {display(*person(rng))} wrote:\n{quoted}\n"
        ctx.trait("quoted_reply")
    text = wrap(text)
    hs = clean_common(ctx, name, addr, dom, subject, fmt_addr(display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt), mailer)
    if rng.random() < 0.35:
        root = multipart(ctx, "alternative", [text_part(ctx, text),
                                              text_part(ctx, html_from_paras(text.split("\n\n")), "html",
                                                        cte="quoted-printable")], mailer[3])
        ctx.trait("html_alternative")
    else:
        root = text_part(ctx, text, extra_params=(["format=flowed"] if rng.random() < 0.2 else []))
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "personal-plain")


def clean_thread(ctx):
    """Long business thread (Outlook style, HTML + text, many quoted levels):
    10-60 KB with no attachment -- keeps the size distribution honest."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx)
    mailer = rng.choice(MAILERS[:3])
    paras = paragraphs(rng, BUSINESS, lognorm(rng, 600, 0.6, 150, 3000))
    text = "\n\n".join(paras)
    for lvl in range(rng.randint(3, 8)):
        who = display(*person(rng))
        text += (f"\n\n-----Original Message-----\nFrom: {who}\nSent: "
                 f"{ctx.date(ctx.ms - (lvl + 1) * rng.randint(600, 86400) * 1000)}\nTo: {display(*person(rng))}\n"
                 f"Subject: RE: project status\n\n" + "\n\n".join(paragraphs(rng, BUSINESS, rng.randint(500, 3000))))
    text = wrap(text)
    html = html_from_paras(text.split("\n\n"), "project status") * rng.randint(1, 2)
    root = multipart(ctx, "alternative", [text_part(ctx, text, charset="us-ascii"),
                                          text_part(ctx, html, "html", cte="quoted-printable")], "oe")
    hs = clean_common(ctx, name, addr, dom, "RE: project status", fmt_addr(display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt),
                      mailer, cc=fmt_addr(display(*person(rng)), f"{rng.choice(FIRST)}@{dom}"),
                      extra=["Thread-Topic: project status", "X-MSMail-Priority: Normal"])
    ctx.trait("html_alternative", "quoted_reply")
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "business-thread")


def _doc_attachment(ctx, kind, name, size, author, fname_style="plain", charset="utf-8", octet=False):
    rng = ctx.rng
    if kind == "pdf":
        data = synthetic_pdf(rng, size, name.rsplit(".", 1)[0], paragraphs(rng, BUSINESS, 800, (1, 1)))
        ctype = "application/pdf"
    elif kind == "docx":
        data = synthetic_docx(rng, size, paragraphs(rng, BUSINESS, max(500, size // 4)), author, name, ctx.ms)
        ctype = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    elif kind == "xlsx":
        data = synthetic_xlsx(rng, size, author, name, ctx.ms)
        ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif kind == "csv":
        data, ctype = synthetic_csv(rng, size), "text/csv"
    else:
        raise ValueError(kind)
    if octet:
        ctype = "application/octet-stream"
        ctx.trait("octet_stream_document")
    ctx.trait({"pdf": "pdf", "docx": "office_document", "xlsx": "office_document", "csv": "csv"}[kind])
    return attachment(ctx, data, ctype, name, fname_style=fname_style, charset=charset,
                      b64w=rng.choice([76, 76, 72])), data


BUSINESS_FILES = [
    ("pdf", "Q3 report.pdf"), ("pdf", "invoice_2004-0117.pdf"), ("pdf", "contract draft.pdf"),
    ("pdf", "Product sheet.pdf"), ("docx", "Proposal v2.docx"), ("docx", "minutes.docx"),
    ("docx", "Agenda.docx"), ("xlsx", "Budget 2004.xlsx"), ("xlsx", "price list.xlsx"),
    ("xlsx", "forecast.xlsx"), ("csv", "export.csv"),
]


def clean_business(ctx):
    """Business mail with 1-3 pdf/docx/xlsx/csv attachments (Outlook style
    multipart/mixed around multipart/alternative)."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx)
    mailer = rng.choice(MAILERS)
    paras = paragraphs(rng, BUSINESS, lognorm(rng, 500, 0.6, 100, 3000))
    text = wrap(f"Dear {ctx.rcpt_first.title()},\n\n" + "\n\n".join(paras) +
                f"\n\nBest regards,\n{name}\n{dict(ORGS).get(dom, dom)}\n")
    body = text_part(ctx, text)
    if rng.random() < 0.5:
        body = multipart(ctx, "alternative", [body, text_part(ctx, html_from_paras(text.split("\n\n")),
                                                              "html", cte="quoted-printable")], mailer[3])
    parts = [body]
    budget = lognorm(rng, 55000, 0.6, 8000, 140000)
    files = rng.sample(BUSINESS_FILES, rng.choice([1, 1, 1, 2, 3]))
    for kind, fname in files:
        size = max(3000, budget // len(files))
        leaf, _ = _doc_attachment(ctx, kind, fname, size, name, octet=rng.random() < 0.1)
        parts.append(leaf)
    root = multipart(ctx, "mixed", parts, mailer[3])
    subject = rng.choice(["Q3 report", "Invoice", "Updated proposal", "Contract for review",
                          "Budget figures", "RE: documents you requested", "Price list 2004"])
    hs = clean_common(ctx, name, addr, dom, subject, fmt_addr(display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt), mailer)
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "business-attachments")


def clean_business_zip(ctx):
    """A zip of documents (pdf/docx/csv/jpg) -- legitimate archives must stay clean."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx)
    mailer = rng.choice(MAILERS)
    members = []
    for i in range(rng.randint(2, 5)):
        k = rng.choice(["pdf", "docx", "csv", "jpg"])
        sz = lognorm(rng, 20000, 0.6, 2000, 60000)
        if k == "pdf":
            members.append((f"scan_{i + 1:03d}.pdf", synthetic_pdf(rng, sz, f"Scan {i + 1}")))
        elif k == "docx":
            members.append((f"letter_{i + 1}.docx", synthetic_docx(rng, sz, paragraphs(rng, BUSINESS, 800), name, "letter", ctx.ms)))
        elif k == "csv":
            members.append((f"data_{i + 1}.csv", synthetic_csv(rng, sz)))
        else:
            members.append((f"IMG_{rng.randint(1000, 9999)}.JPG", synthetic_jpeg(rng, sz)))
    members = list(dict(members).items())
    zname = rng.choice(["documents.zip", "Scans_2004-01-26.zip", "project files.zip", "archive.zip"])
    while len(members) > 1 and sum(len(d) for _, d in members) > 130000:
        members.pop()
    data = make_zip(members, zip_dt(ctx.ms), windows=rng.random() < 0.6)
    text = wrap(f"Hi {ctx.rcpt_first.title()},\n\nI zipped everything up so it fits in one mail. " +
                " ".join(paragraphs(rng, BUSINESS, 300)) + f"\n\nRegards,\n{first.title()}\n")
    parts = [text_part(ctx, text),
             attachment(ctx, data, rng.choice(["application/zip", "application/x-zip-compressed"]), zname,
                        members=members_info(members))]
    root = multipart(ctx, "mixed", parts, mailer[3])
    hs = clean_common(ctx, name, addr, dom, "files", fmt_addr(display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt), mailer)
    ctx.trait("zip_of_documents")
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "business-zip")


DOTTED = [("pdf", "report.2004.final.pdf"), ("csv", "data.2004-01-26.csv"), ("docx", "minutes.2004.01.26.docx"),
          ("xlsx", "budget.v2.final.xlsx"), ("pdf", "J.Smith.CV.pdf"), ("jpg", "scan.001.jpg"),
          ("targz", "v1.2.3.tar.gz"), ("pdf", "spec.rev.B.pdf"), ("txt", "notes.txt.bak.txt")]


def clean_dotted(ctx):
    """Attachments whose names have several dots but no executable class
    (report.2004.final.pdf, v1.2.3.tar.gz ...): must NOT be double extensions."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx)
    mailer = rng.choice(MAILERS)
    parts = [text_part(ctx, wrap("Hi,\n\nattached as promised.\n\n" + " ".join(paragraphs(rng, BUSINESS, 300)) +
                                 f"\n\n{first.title()}\n"))]
    picks = rng.sample(DOTTED, rng.randint(1, 2))
    budget = lognorm(rng, 40000, 0.6, 3000, 130000)
    for kind, fname in picks:
        sz = max(2000, budget // len(picks))
        if kind in ("pdf", "docx", "xlsx", "csv"):
            leaf, _ = _doc_attachment(ctx, kind, fname, sz, name)
        elif kind == "jpg":
            leaf = attachment(ctx, synthetic_jpeg(rng, sz), "image/jpeg", fname)
        elif kind == "targz":
            leaf = attachment(ctx, synthetic_targz(rng, "widgetlib", "1.2.3", ctx.ms, sz // 2),
                              "application/x-gzip", fname)
        else:
            leaf = attachment(ctx, wrap(" ".join(paragraphs(rng, TECH, 2000))).encode(), "text/plain", fname,
                              cte="7bit")
        parts.append(leaf)
    ctx.trait("dotted_filename")
    root = multipart(ctx, "mixed", parts, mailer[3])
    hs = clean_common(ctx, name, addr, dom, "latest version", fmt_addr("", ctx.rcpt), mailer)
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "dotted-filenames")


def clean_dsn(ctx):
    """Genuine delivery status notification (RFC 3464): multipart/report;
    report-type=delivery-status with a human part, a message/delivery-status
    part and the returned message (message/rfc822) or its headers
    (text/rfc822-headers).  From MAILER-DAEMON, null envelope sender.  Its text
    legitimately says 'could not be delivered' -- the lure_text detector must
    not fire on a real bounce."""
    rng = ctx.rng
    org_dom = rng.choice(ORGS)[0]
    rmta = f"{rng.choice(['mx', 'mail', 'smtp'])}.{org_dom}"
    bad = [f"{local_part(rng, *person(rng))}@{org_dom}" for _ in range(rng.choice([1, 1, 1, 2]))]
    flavour = rng.choice(["postfix", "sendmail", "exim", "exchange"])
    action = "delayed" if rng.random() < 0.1 else "failed"
    status = "4.4.1" if action == "delayed" else rng.choice(["5.1.1", "5.2.2", "5.7.1", "5.4.4"])
    diag = {"5.1.1": "550 5.1.1 <{r}>: Recipient address rejected: User unknown in local recipient table",
            "5.2.2": "552 5.2.2 <{r}>: Mailbox full",
            "5.7.1": "554 5.7.1 <{r}>: Relay access denied",
            "5.4.4": "550 5.4.4 Host or domain name not found",
            "4.4.1": "421 4.4.1 connect to {h}: Connection timed out"}[status]
    # The original message our user sent.
    orig_ms = ctx.ms - rng.randint(5, 3600 * 4) * 1000
    om = rng.choice(MAILERS)
    orig_subject = rng.choice(["Meeting next week", "Re: invoice", "Hello", "Documents", "Status update"])
    ohs = [f"Received: from ws{rng.randint(1, 99)}.internal ([10.1.{rng.randint(0, 255)}.{rng.randint(2, 254)}])\n"
           f"\tby {ctx.mx} (Postfix) with ESMTP id {hexs(rng, 10)};\n\t{rfc_date(orig_ms, 0)}",
           f"Message-ID: {message_id(rng, om[2], ctx.our_domain, orig_ms)}",
           f"Date: {rfc_date(orig_ms, 1)}", f"From: {fmt_addr(display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt)}",
           f"To: {', '.join(bad)}", f"Subject: {orig_subject}", "MIME-Version: 1.0", f"{om[0]}: {om[1]}"]
    otext = wrap("Hello,\n\n" + "\n\n".join(paragraphs(rng, BUSINESS, rng.randint(300, 2500))) + "\n")
    with_att = rng.random() < 0.3
    if with_att:
        kind, fname = rng.choice(BUSINESS_FILES[:7])
        att, _ = _doc_attachment(ctx, kind, fname, lognorm(rng, 30000, 0.5, 5000, 80000), "")
        oroot = multipart(ctx, "mixed", [text_part(ctx, otext), att], om[3])
        ctx.atts[-1]["nested"] = True
    else:
        oroot = text_part(ctx, otext)
    orig = "\n".join(ohs + oroot.headers).encode() + b"\n\n" + render_body(oroot)
    arrival = rfc_date(orig_ms + 2000, 0)
    human = {
        "postfix": ("This is the mail system at host {h}.\n\nI'm sorry to have to inform you that your message could not\n"
                    "be delivered to one or more recipients. It's attached below.\n\nFor further assistance, please send "
                    "mail to postmaster.\n\nIf you do so, please include this problem report. You can\ndelete your own text "
                    "from the attached returned message.\n\n                   The mail system\n\n{r}: host {h} said: {d}\n"),
        "sendmail": ("The original message was received at {a}\nfrom {c}\n\n   ----- The following addresses had permanent "
                     "fatal errors -----\n{r}\n    (reason: {d})\n\n   ----- Transcript of session follows -----\n... while "
                     "talking to {h}.:\n>>> DATA\n<<< {d}\n"),
        "exim": ("This message was created automatically by mail delivery software.\n\nA message that you sent could not be "
                 "delivered to one or more of its\nrecipients. This is a permanent error. The following address(es) "
                 "failed:\n\n  {r}\n    SMTP error from remote mail server after RCPT TO:<{r}>:\n    host {h}: {d}\n"),
        "exchange": ("Your message did not reach some or all of the intended recipients.\n\n      Subject:\t{s}\n      "
                     "Sent:\t{a}\n\nThe following recipient(s) could not be reached:\n\n      {r} on {a}\n            {d}\n"),
    }[flavour]
    if action == "delayed":
        human = ("This is the mail system at host {h}.\n\n####################################################\n"
                 "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #\n"
                 "####################################################\n\nYour message could not be delivered for more "
                 "than 4 hour(s).\nIt will be retried until it is 5 day(s) old.\n\n{r}: {d}\n")
    dtext = diag.format(r=bad[0], h=rmta)
    human = human.format(h=rmta, r=", ".join(bad), d=dtext, a=arrival, c=f"{ctx.mx} [{domain_ip(org_dom)}]",
                         s=orig_subject)
    qid = hexs(rng, 10)
    ds = [f"Reporting-MTA: dns; {rmta}", f"X-Queue-ID: {qid}", f"Arrival-Date: {arrival}", ""]
    for r in bad:
        ds += [f"Final-Recipient: rfc822; {r}", f"Original-Recipient: rfc822;{r}", f"Action: {action}",
               f"Status: {status}", f"Remote-MTA: dns; {rmta}",
               f"Diagnostic-Code: smtp; {diag.format(r=r, h=rmta)}", ""]
    dsn_leaf = Leaf(["Content-Description: Delivery report", "Content-Type: message/delivery-status"],
                    "\n".join(ds).encode())
    if rng.random() < 0.6 or with_att:
        ret = Leaf(["Content-Description: Undelivered Message", "Content-Type: message/rfc822"], orig)
    else:
        ret = Leaf(["Content-Description: Undelivered Message Headers", "Content-Type: text/rfc822-headers"],
                   "\n".join(ohs).encode() + b"\n")
    parts = [Leaf(["Content-Description: Notification", "Content-Type: text/plain; charset=us-ascii"],
                  human.encode()), dsn_leaf, ret]
    b = f"{qid}.{ctx.ms // 1000}/{rmta}"
    root = Multi([f'Content-Type: multipart/report; report-type=delivery-status;\n\tboundary="{b}"',
                  "Content-Transfer-Encoding: 7bit"], b, parts,
                 b"This is a MIME-encapsulated message.\n")
    subj = {"postfix": "Undelivered Mail Returned to Sender", "sendmail": "Returned mail: see transcript for details",
            "exim": "Mail delivery failed: returning message to sender",
            "exchange": f"Undeliverable: {orig_subject}"}[flavour]
    if action == "delayed":
        subj = "Delayed Mail (still being retried)"
    daemon = {"postfix": "MAILER-DAEMON@%s (Mail Delivery System)", "sendmail": "Mail Delivery Subsystem <MAILER-DAEMON@%s>",
              "exim": "Mail Delivery System <Mailer-Daemon@%s>", "exchange": "System Administrator <postmaster@%s>"}[flavour] % rmta
    hs = [f"Message-ID: <{ctx.ms // 1000}.{hexs(rng, 8)}@{rmta}>", f"Date: {ctx.date()}", f"From: {daemon}",
          f"Subject: {subj}", f"To: {ctx.rcpt}", "Auto-Submitted: auto-replied", "MIME-Version: 1.0"]
    env = {"client_ip": domain_ip(org_dom), "helo": rmta, "mail_from": "", "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    ctx.trait("dsn", "null_sender", "innocent_lure_words")
    return finish(ctx, hs, root, env, "dsn-bounce")


NEWSLETTERS = [("Example Weekly", "news.example.com"), ("Northwind Deals", "northwind.example"),
               ("Contoso Tech Digest", "contoso.example"), ("Margie's Travel News", "margie.example"),
               ("Fourth Coffee Club", "fourthcoffee.example")]


def newsletter_content(rng, brand, dom, uid, target=None):
    """HTML and text of one newsletter issue (shared by clean_newsletter and the
    stream mode's bulk campaigns).  Returns (html, text, unsubscribe URL)."""
    track = lambda: f"https://click.{dom}/ls/click?upn={base64.urlsafe_b64encode(rng.randbytes(rng.randint(60, 180))).decode().rstrip('=')}"
    if target is None:
        target = lognorm(rng, 45000, 0.6, 8000, 150000)
    blocks, tblocks, n = [], [], 0
    while n < target:
        title = rng.choice(NEWS)
        paras = " ".join(rng.sample(NEWS, 3))
        link = track()
        blk = (f'<table width="600" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;'
               f'font-family:Helvetica,Arial,sans-serif;"><tr><td style="padding:12px 24px;">'
               f'<a href="{link}" style="color:#1a5490;text-decoration:none;font-size:18px;font-weight:bold;">{title}</a>'
               f'</td></tr><tr><td style="padding:0 24px 12px 24px;font-size:14px;line-height:20px;color:#333333;">'
               f'<img src="https://img.{dom}/p/{hexs(rng, 12, False)}.jpg" width="552" height="{rng.randint(120, 300)}" '
               f'alt="" style="display:block;border:0;"><br>{paras}<br><a href="{link}" style="color:#1a5490;">Read more'
               f' &raquo;</a></td></tr></table>\n')
        blocks.append(blk)
        tblocks.append(f"{title}\n{paras}\nRead more: {link}\n")
        n += len(blk) * 1.05 + len(tblocks[-1])
    unsub = f"https://{dom}/unsubscribe?u={uid}"
    html = ("<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\">\n<html><head><meta http-equiv="
            "\"Content-Type\" content=\"text/html; charset=utf-8\"><title>" + brand + "</title><style type=\"text/css\">"
            "body{margin:0;padding:0;} table td{border-collapse:collapse;} .footer{font-size:11px;color:#999999;}"
            "</style></head><body bgcolor=\"#f4f4f4\"><center>\n" + "".join(blocks) +
            f'<p class="footer">You are receiving this because you subscribed at {dom}. '
            f'<a href="{unsub}">Unsubscribe</a> | <a href="https://{dom}/privacy">Privacy</a></p>'
            f'<img src="https://open.{dom}/o/{uid}/{hexs(rng, 8, False)}.gif" width="1" height="1" alt="">'
            "</center></body></html>\n")
    text = f"{brand}\n{'=' * len(brand)}\n\n" + "\n".join(tblocks) + f"\nUnsubscribe: {unsub}\n"
    return html, text, unsub


def clean_newsletter(ctx):
    """Bulk newsletter: multipart/alternative text + heavy table HTML (QP),
    click-tracking links, open-tracking pixel, List-Unsubscribe, VERP bounce
    address as envelope sender.  15-150 KB, no attachment."""
    rng = ctx.rng
    brand, dom = rng.choice(NEWSLETTERS)
    uid = hexs(rng, 16, False)
    html, text, unsub = newsletter_content(rng, brand, dom, uid)
    root = multipart(ctx, "alternative", [text_part(ctx, wrap(text), charset="utf-8", cte=rng.choice(["7bit", "quoted-printable"])),
                                          text_part(ctx, html, "html", "utf-8", cte="quoted-printable")],
                     rng.choice(["php", "javamail"]), preamble=False)
    addr = f"news@{dom}"
    bounce = f"bounce-{hexs(rng, 10, False)}-{ctx.rcpt.replace('@', '=')}@bounces.{dom}"
    mid = message_id(rng, "javamail", dom, ctx.ms)
    out_host = f"out{rng.randint(1, 9)}.bounces.{dom}"
    hs = [sender_received(ctx, out_host, ctx.ms - 5000, 0, client=f"app{rng.randint(1, 20)}.{dom}"),
          f"Message-ID: {mid}", f"Date: {ctx.date(ctx.ms - 60000)}", f"From: {fmt_addr(brand, addr)}",
          f"Reply-To: no-reply@{dom}", f"To: {ctx.rcpt}", f"Subject: {rng.choice(NEWS)}", "MIME-Version: 1.0",
          f"List-Unsubscribe: <{unsub}>, <mailto:unsubscribe-{uid}@{dom}>", "Precedence: bulk",
          f"X-Campaign-ID: {rng.randint(10000, 99999)}"]
    env = {"client_ip": domain_ip(f"bounces.{dom}"), "helo": out_host,
           "mail_from": bounce, "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    ctx.trait("newsletter", "tracking_links", "html_alternative")
    return finish(ctx, hs, root, env, "newsletter")


LISTS = [("dev", "lists.example.org", "widgetlib development"), ("users", "lists.example.org", "widgetlib users"),
         ("announce", "lists.example.net", "project announcements"), ("discuss", "lists.example.net", "general discussion")]


def clean_mailing_list(ctx):
    """Mailman-style list post: List-* headers, Sender/envelope = list bounce
    address (differs from From), Precedence: list, footer; some carry a patch
    as a text/x-diff attachment."""
    rng = ctx.rng
    lname, ldom, ldesc = rng.choice(LISTS)
    name, addr, dom, first = clean_sender(ctx, freemail=rng.random() < 0.5)
    mailer = rng.choice(MAILERS[3:])
    topic = rng.choice(["segfault in parser with long headers", "build failure on sparc64", "[PATCH] fix off-by-one in decoder",
                        "proposal: drop support for old compilers", "release schedule for 1.3", "question about the API"])
    re = "Re: " if rng.random() < 0.6 else ""
    subject = f"[{lname}] {re}{topic}"
    body = "\n\n".join(paragraphs(rng, TECH, lognorm(rng, 2000, 0.9, 200, 25000)))
    if re:
        q = "\n".join("> " + ln for ln in wrap(" ".join(paragraphs(rng, TECH, lognorm(rng, 3000, 1.0, 300, 40000)))).split("\n"))
        body = f"On {ctx.date(ctx.ms - rng.randint(3600, 86400 * 3) * 1000)}, {display(*person(rng))} wrote:\n{q}\n\n{body}"
        ctx.trait("quoted_reply")
    body = wrap(body) + f"\n\n-- \n{name}\n"
    footer = (f"\n_______________________________________________\n{lname} mailing list\n{lname}@{ldom}\n"
              f"https://{ldom}/mailman/listinfo/{lname}\n")
    patch = ("PATCH" in topic and rng.random() < 0.5) or rng.random() < 0.03
    if patch:
        diff = ["diff --git a/src/parse.c b/src/parse.c", "--- a/src/parse.c", "+++ b/src/parse.c"]
        for _ in range(rng.randint(2, 12)):
            ln = rng.randint(10, 900)
            diff += [f"@@ -{ln},6 +{ln},7 @@", "     if (len == 0)", "         return -1;", "-    n = len;",
                     "+    n = len - 1;", "+    /* keep room for the terminator */", "     buf[n] = '\\0';"]
        dname = "0001-fix-off-by-one-in-decoder.patch"
        root = multipart(ctx, "mixed", [text_part(ctx, body), attachment(ctx, ("\n".join(diff) + "\n").encode(), "text/x-diff",
                                                                        dname, cte="7bit", disposition="inline"),
                                        text_part(ctx, footer)], mailer[3])
        kind = "mailing-list-patch"
    else:
        root = text_part(ctx, body + footer)
        kind = "mailing-list"
    bounce = f"{lname}-bounces+{ctx.rcpt.replace('@', '=')}@{ldom}"
    hs = clean_common(ctx, name, addr, dom, subject, f"{lname}@{ldom}", mailer)
    hs += [f"Sender: {lname}-bounces@{ldom}", f"Errors-To: {lname}-bounces@{ldom}", f"X-BeenThere: {lname}@{ldom}",
           "X-Mailman-Version: 2.1.4", "Precedence: list", f"List-Id: {ldesc} <{lname}.{ldom}>",
           f"List-Unsubscribe: <https://{ldom}/mailman/listinfo/{lname}>,\n\t<mailto:{lname}-request@{ldom}?subject=unsubscribe>",
           f"List-Archive: <https://{ldom}/pipermail/{lname}>", f"List-Post: <mailto:{lname}@{ldom}>"]
    # list server relays: add its own hop
    hs.insert(0, f"Received: from {ldom} (localhost [127.0.0.1])\n\tby {ldom} (Postfix) with ESMTP id {hexs(rng, 9)};\n\t{ctx.date(ctx.ms - 2000, 0)}")
    env = {"client_ip": domain_ip(ldom), "helo": ldom, "mail_from": bounce, "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    ctx.trait("mailing_list")
    return finish(ctx, hs, root, env, kind)


def clean_non_english(ctx):
    """German/French/Russian/Japanese/Chinese mail: legacy and UTF-8 charsets,
    RFC 2047 encoded Subject/From (B and Q), and -- for a third of them -- an
    attachment whose non-ASCII name is RFC 2231 encoded (or RFC 2047, the
    Outlook way)."""
    rng = ctx.rng
    lang = rng.choice(list(LANGS))
    L = LANGS[lang]
    cs = rng.choice(L["charsets"])
    name = rng.choice(L["names"])
    f, l = person(rng)
    addr = f"{f[0]}.{l}@{L['domain']}"
    dom = L["domain"]
    sents = L["sentences"]
    text = L["greet"].format(name=rng.choice(L["names"])) + "\n\n"
    paras = []
    for _ in range(lognorm(rng, 2, 0.6, 1, 8)):
        paras.append(("" if lang in ("ja", "zh") else " ").join(rng.sample(sents, rng.randint(2, len(sents)))))
    text += "\n\n".join(paras) + "\n\n" + L["close"] + "\n" + name + "\n"
    try:
        text.encode(cs)
    except UnicodeEncodeError:
        cs = "utf-8"
    hcs = cs if cs not in ("shift_jis", "big5", "windows-1251") else "utf-8"
    enc = rng.choice("BQ") if lang in ("de", "fr") else "B"
    subject = hdr_text(rng.choice(L["subjects"]), hcs, enc)
    cte = {"iso-2022-jp": "7bit"}.get(cs, rng.choice(["quoted-printable", "base64", "8bit"]))
    mailer = rng.choice(MAILERS)
    body = text_part(ctx, text, charset=cs, cte=cte)
    hs = clean_common(ctx, "", addr, dom, subject, fmt_addr("", ctx.rcpt), mailer)
    hs = [h if not h.startswith("From: ") else "From: " + addr_hdr(name, addr, hcs, enc) for h in hs]
    ctx.trait("non_english", "rfc2047_subject")
    if rng.random() < 0.28:
        fname = rng.choice(L["files"])
        kind = fname.rsplit(".", 1)[1]
        style = rng.choice(["rfc2231", "rfc2231", "rfc2231-cont", "rfc2047"])
        acs = "iso-8859-1" if lang in ("de", "fr") and rng.random() < 0.3 else "utf-8"
        leaf, _ = _doc_attachment(ctx, kind, fname, lognorm(rng, 30000, 0.6, 4000, 90000), name, fname_style=style, charset=acs)
        root = multipart(ctx, "mixed", [body, leaf], mailer[3])
    else:
        root = body
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), f"non-english-{lang}")


def clean_calendar(ctx):
    """Meeting request: multipart/alternative text + html + text/calendar;
    method=REQUEST, usually also an invite.ics attachment."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx)
    start = ctx.ms + rng.randint(1, 14) * 86400000
    st = time.strftime("%Y%m%dT%H0000Z", time.gmtime(start / 1000))
    en = time.strftime("%Y%m%dT%H3000Z", time.gmtime(start / 1000))
    summary = rng.choice(["Project review", "Weekly sync", "Budget planning", "Customer call", "Team lunch"])
    uid = f"{hexs(rng, 32)}@{dom}"
    ics = "\r\n".join(["BEGIN:VCALENDAR", "PRODID:-//Example Corp//Calendar 1.0//EN", "VERSION:2.0", "METHOD:REQUEST",
                       "BEGIN:VEVENT", f"DTSTART:{st}", f"DTEND:{en}", f"DTSTAMP:{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(ctx.ms / 1000))}",
                       f"ORGANIZER;CN={name}:MAILTO:{addr}",
                       f"ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:MAILTO:{ctx.rcpt}",
                       f"UID:{uid}", f"SUMMARY:{summary}", f"LOCATION:Room {rng.randint(100, 599)}",
                       "DESCRIPTION:" + " ".join(rng.sample(BUSINESS, 2)), "SEQUENCE:0", "STATUS:CONFIRMED",
                       "BEGIN:VALARM", "TRIGGER:-PT15M", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "END:VALARM",
                       "END:VEVENT", "END:VCALENDAR"]) + "\r\n"
    text = wrap(f"When: {rfc_date(start, 0)}\nWhere: Room\n\n*~*~*~*~*~*~*~*~*~*\n\n" + " ".join(rng.sample(BUSINESS, 3)))
    alt = multipart(ctx, "alternative", [text_part(ctx, text),
                                         text_part(ctx, html_from_paras(text.split("\n\n")), "html", cte="quoted-printable"),
                                         text_part(ctx, ics, "calendar", "utf-8", cte=rng.choice(["7bit", "base64"]),
                                                   extra_params=["method=REQUEST"])], "exchange", preamble=False)
    if rng.random() < 0.4:
        root = multipart(ctx, "mixed", [alt, attachment(ctx, ics.encode(), "application/ics", "invite.ics")], "exchange")
    else:
        root = alt
    mailer = ("X-Mailer", "Microsoft Office Outlook, Build 11.0.5510", "exchange", "exchange")
    hs = clean_common(ctx, name, addr, dom, summary, fmt_addr(display(ctx.rcpt_first, ctx.rcpt_last), ctx.rcpt), mailer)
    ctx.trait("calendar")
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "calendar-invite")


def clean_photos(ctx):
    """Personal mail with 1-4 photos (jpg, sometimes png) with correct magic."""
    rng = ctx.rng
    name, addr, dom, first = clean_sender(ctx, freemail=True)
    mailer = rng.choice(MAILERS)
    parts = [text_part(ctx, wrap(f"Hi {ctx.rcpt_first.title()},\n\nhere are the pictures from the weekend. "
                                 + " ".join(rng.sample(PERSONAL, 2)) + f"\n\n{first.title()}\n"))]
    n = rng.choice([1, 1, 2, 3, 4])
    budget = lognorm(rng, 60000, 0.5, 15000, 140000)
    for i in range(n):
        sz = max(5000, budget // n)
        if rng.random() < 0.8:
            fname = rng.choice([f"IMG_{rng.randint(1000, 9999)}.JPG", f"DSC{rng.randint(10000, 99999)}.jpg",
                                f"photo{i + 1}.jpg", "beach.jpeg"])
            parts.append(attachment(ctx, synthetic_jpeg(rng, sz), "image/jpeg", fname))
        else:
            parts.append(attachment(ctx, synthetic_png(rng, sz), "image/png", f"screenshot{i + 1}.png"))
    root = multipart(ctx, "mixed", parts, mailer[3])
    hs = clean_common(ctx, name, addr, dom, rng.choice(["photos", "pictures from Saturday", "pics!", "Fwd: photos"]),
                      ctx.rcpt, mailer)
    ctx.trait("image")
    return finish(ctx, hs, root, clean_envelope(ctx, addr, dom, [ctx.rcpt]), "personal-photos")


def clean_it_notice(ctx):
    """Internal IT notices that innocently use lure vocabulary: 'delivery
    failed', 'attachment', 'mail transaction', even quoting a worm's exact lure
    sentence in a virus warning.  No executable attachment: must stay clean."""
    rng = ctx.rng
    dom = ctx.our_domain
    addr = f"helpdesk@{dom}"
    warn = rng.random() < 0.4
    if warn:
        subject = rng.choice(["Virus warning: do not open unexpected attachments", "IMPORTANT: new e-mail virus"])
        lure = rng.choice(MYDOOM_LURES)
        text = ("Dear colleagues,\n\nA new e-mail virus is spreading today. The messages have subjects such as "
                f"\"Mail Transaction Failed\" or \"test\" and a text like:\n\n    {lure}\n\nThe attached file (often a "
                ".zip, .pif or .scr) is the virus. Do not open it; simply delete the message. Our mail gateway is "
                "already filtering most copies. If you opened such an attachment, please call the help desk.\n\n"
                "Thank you,\nIT Help Desk\n")
        ctx.trait("quotes_lure_phrase")
        kind = "it-virus-warning"
    else:
        subject = rng.choice(["Scheduled maintenance: mail server Saturday", "Reminder: attachment size limit",
                              "Mail delivery delays this morning", "New webmail service"])
        text = ("Hello,\n\nThis weekend we will upgrade the mail servers. During the maintenance window some messages "
                "may be delayed and you may receive \"delivery failed\" notices for mail sent to external addresses; "
                "please resend those messages after 10:00 on Sunday. Remember that the attachment size limit is "
                "10 MB per message; larger files should go on the shared drive. If a mail transaction fails "
                "repeatedly, please contact us.\n\n" + " ".join(rng.sample(BUSINESS, 3)) + "\n\nIT Help Desk\n")
        kind = "it-notice"
    text = wrap(text)
    hs = [f"Message-ID: {message_id(rng, 'exchange', dom, ctx.ms)}", f"Date: {ctx.date(ctx.ms - 3000)}",
          f"From: IT Help Desk <{addr}>", f"To: all-staff@{dom}", f"Subject: {subject}", "MIME-Version: 1.0",
          "X-Mailer: Microsoft Office Outlook, Build 11.0.5510", "Importance: High"]
    root = text_part(ctx, text)
    if rng.random() < 0.3:
        root = multipart(ctx, "mixed", [root, _doc_attachment(ctx, "pdf", "mail-policy.pdf", lognorm(rng, 25000, 0.4, 5000, 60000), "IT")[0]], "exchange")
    env = {"client_ip": f"10.0.{rng.randint(0, 3)}.{rng.randint(2, 30)}", "helo": f"exch01.{dom}",
           "mail_from": addr, "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}
    ctx.trait("innocent_lure_words", "internal")
    return finish(ctx, hs, root, env, kind)


def clean_software(ctx):
    """Release announcement with a real tar.gz (text sources, no exec bits) and
    sometimes a detached .asc signature look-alike."""
    rng = ctx.rng
    proj = rng.choice(["widgetlib", "gizmod", "sprocket", "libexample"])
    ver = f"{rng.randint(0, 3)}.{rng.randint(0, 12)}.{rng.randint(0, 20)}"
    dom = "lists.example.org"
    sdom = f"{proj}.example"
    name, addr, _, first = clean_sender(ctx, domain=sdom)
    tgz = synthetic_targz(rng, proj, ver, ctx.ms, lognorm(rng, 30000, 0.5, 5000, 90000))
    text = wrap(f"{proj} {ver} is now available.\n\nChanges in this release:\n\n" +
                "\n".join(f"  * {s}" for s in rng.sample(TECH, 5)) +
                f"\n\nThe source tarball is attached; checksums are on the web site.\n\n-- \n{name}, for the {proj} team\n")
    parts = [text_part(ctx, text), attachment(ctx, tgz, rng.choice(["application/x-gzip", "application/x-compressed-tar",
                                                                     "application/octet-stream"]), f"{proj}-{ver}.tar.gz")]
    if rng.random() < 0.5:
        sig = ("-----BEGIN PGP SIGNATURE-----\nVersion: GnuPG v1.2.4 (GNU/Linux)\n\n" +
               "\n".join(base64.b64encode(rng.randbytes(48)).decode() for _ in range(3)) +
               "\n=" + base64.b64encode(rng.randbytes(3)).decode() + "\n-----END PGP SIGNATURE-----\n")
        parts.append(attachment(ctx, sig.encode(), "application/pgp-signature", f"{proj}-{ver}.tar.gz.asc", cte="7bit"))
    mailer = rng.choice(MAILERS[3:])
    root = multipart(ctx, "mixed", parts, mailer[3])
    hs = clean_common(ctx, name, addr, sdom, f"[ANNOUNCE] {proj} {ver} released", f"announce@{dom}", mailer)
    hs += ["Precedence: list", f"List-Id: announcements <announce.{dom}>"]
    env = {"client_ip": domain_ip(dom), "helo": dom, "mail_from": f"announce-bounces@{dom}", "rcpt_to": [ctx.rcpt],
           "received_at": ctx.ms}
    ctx.trait("tar_gz", "mailing_list")
    return finish(ctx, hs, root, env, "software-release")


CLEAN_TEMPLATES = [  # (weight, function)
    (0.22, clean_personal),
    (0.11, clean_thread),
    (0.065, clean_business),
    (0.015, clean_business_zip),
    (0.016, clean_dotted),
    (0.04, clean_dsn),
    (0.17, clean_newsletter),
    (0.14, clean_mailing_list),
    (0.09, clean_non_english),
    (0.03, clean_calendar),
    (0.025, clean_photos),
    (0.04, clean_it_notice),
    (0.012, clean_software),
]

# =============================================================================
# WORMS.  Shared behaviour first, then one function per family.
# All worm "executables" come from synthetic_pe(); non-polymorphic variants
# reuse one binary per corpus (real copies of Mydoom.A etc. were byte-identical,
# which is what the outbreak detector's fingerprints key on).
# =============================================================================

HARVEST_DOMAINS = ["example.com", "example.net", "example.org", "isp.example", "mailbox.example", "uni.example.edu",
                   "home.example.net", "dsl.example.com"] + [d for d, _ in ORGS]
ISP_POOLS = ["dyn.example.net", "dsl.isp.example", "cable.example.com", "pool.broadband.example", "adsl.example.org"]
# Names Mydoom.A prepended to harvested domains to guess recipients/senders.
MYDOOM_NAMES = """john alex michael james mike kevin david george sam andrew jose leo maria jim brian serg mary
ray tom peter robert bob jane joe dan dave matt steve smith stan bill jack fred ted adam brent alice anna brenda
claudia debby helen jerry jimmy julie linda sandra""".split()


def worm_ip(rng):
    r = rng.random()
    if r < 0.4:
        return f"{rng.choice(DOC_NETS)}.{rng.randint(1, 254)}"
    if r < 0.7:   # RFC 6598 shared space: "home users behind an ISP"
        return f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    while True:   # any public-looking unicast address
        a = rng.randint(1, 223)
        if a not in (10, 100, 127, 169, 172, 192, 198, 203):
            return f"{a}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def worm_from(ctx, styles=("harvested", "random", "mydoom", "same_domain")):
    """Forged sender.  harvested: a person-like address from the victim's
    address book; random: generated local part ("kjhsdf83"); mydoom: a name
    from the worm's list + harvested domain; same_domain: someone at the
    recipient's own domain."""
    rng = ctx.rng
    style = rng.choice(styles)
    dom = rng.choice(HARVEST_DOMAINS)
    if style == "random":
        lp = alnum(rng, rng.randint(4, 10), "abcdefghijklmnopqrstuvwxyz") + (digits(rng, rng.randint(0, 3)))
        ctx.trait("random_local_part")
    elif style == "mydoom":
        lp = rng.choice(MYDOOM_NAMES)
    elif style == "same_domain":
        lp = local_part(rng, *person(rng))
        dom = ctx.our_domain
        ctx.trait("from_recipient_domain")
    else:
        lp = local_part(rng, *person(rng))
    addr = f"{lp}@{dom}"
    r = rng.random()
    if r < 0.65:
        name = ""
    elif r < 0.8:
        name = lp
    else:
        name = display(*person(rng))
        ctx.trait("forged_display_name")
    ctx.trait("forged_from")
    return name, addr


def worm_env(ctx, mail_from, helo_dom=None):
    """SMTP envelope of a worm's own SMTP engine: straight to our MX from a
    random (infected) host with a made-up HELO, no relay in between."""
    rng = ctx.rng
    ip = worm_ip(rng)
    host = getattr(ctx, "host", None)   # stream mode: one of the family's infected hosts
    if host:
        ip = host["ip"]
    r = rng.random()
    if r < 0.3:
        helo = alnum(rng, rng.randint(5, 10), "abcdefghijklmnopqrstuvwxyz")
        if host:
            helo = host["word"]
    elif r < 0.5:
        helo = ip_literal(ip)
    elif r < 0.7:
        helo = helo_dom or mail_from.split("@")[-1]
    elif r < 0.85:
        helo = f"{rng.choice(['HOME', 'USER', 'PC', 'DESKTOP', 'OFFICE'])}-{hexs(rng, 6)}"
        if host:
            helo = host["pc"]
    else:
        helo = ctx.our_domain
    if rng.random() < 0.1:
        mail_from = f"{local_part(rng, *person(rng))}@{rng.choice(HARVEST_DOMAINS)}"
        ctx.trait("envelope_from_mismatch")
    return {"client_ip": ip, "helo": helo, "mail_from": mail_from, "rcpt_to": [ctx.rcpt], "received_at": ctx.ms}


def worm_rdns(ctx, ip):
    if ":" in ip or ctx.rng.random() < 0.4:
        return "unknown"
    return f"{ip.replace('.', '-')}.{ctx.rng.choice(ISP_POOLS)}"


def worm_date(ctx):
    """The infected PC's clock and time zone: usually close, sometimes way off."""
    rng = ctx.rng
    skew = rng.randint(-300, 60) * 1000
    if rng.random() < 0.15:
        skew = rng.randint(-5 * 86400, 2 * 86400) * 1000
        ctx.trait("date_skew")
    return rfc_date(ctx.ms + skew, rng.choice(TZ_OFFSETS))


def worm_finish(ctx, headers, root, env, kind):
    return finish(ctx, headers, root, env, kind,
                  received=mx_received(ctx, env, proto=ctx.rng.choice(["SMTP", "ESMTP"]),
                                       rdns=worm_rdns(ctx, env["client_ip"])))


def worm_setup(ctx):
    """Per-copy variation all the worms share: header-name case."""
    r = ctx.rng.random()
    if r < 0.08:
        ctx.hcase = "lower"
    elif r < 0.12:
        ctx.hcase = "upper"
    elif r < 0.14:
        ctx.hcase = "mixed"
    if ctx.hcase:
        ctx.trait("random_header_case")


def worm_headers(ctx, from_name, from_addr, subject, *, oe=True, mid="none", xmailer=None, extra=()):
    """Header block of a worm's SMTP engine.  mid: none | odd | oe."""
    rng, h = ctx.rng, ctx.h
    hs = []
    if mid == "oe":
        hs.append(f"{h('Message-ID')}: {message_id(rng, 'oe', from_addr.split('@')[1], ctx.ms)}")
    elif mid == "odd":
        hs.append(f"{h('Message-ID')}: <{alnum(rng, rng.randint(6, 20), 'abcdefghijklmnopqrstuvwxyz0123456789')}"
                  f"@{rng.choice([ctx.our_domain, from_addr.split('@')[1], alnum(rng, 6)])}>")
        ctx.trait("odd_message_id")
    else:
        ctx.trait("no_message_id")
    hs += [f"{h('From')}: {fmt_addr(from_name, from_addr)}",
           f"{h('To')}: {ctx.rcpt}",
           f"{h('Subject')}: {subject}",
           f"{h('Date')}: {worm_date(ctx)}",
           f"{h('MIME-Version')}: 1.0"]
    hs += list(extra)
    if oe:
        hs += [f"{h('X-Priority')}: 3", f"{h('X-MSMail-Priority')}: Normal"]
    if xmailer:
        hs.append(f"{h('X-Mailer')}: {xmailer}")
        ctx.trait("forged_x_mailer")
    return hs


def worm_ctype(ctx, ext, lie_p=0.08):
    """Declared Content-Type for an executable/zip attachment.  Sometimes the
    Nimda/Klez-style lie (audio/x-wav, or an image type) instead of the truth."""
    rng = ctx.rng
    if rng.random() < lie_p:
        ctx.trait("declared_type_lie")
        return rng.choice(["audio/x-wav", "audio/x-wav", "image/jpeg", "text/plain"])
    if ext == "zip":
        return rng.choice(["application/octet-stream", "application/x-zip-compressed", "application/zip"])
    return rng.choice(["application/octet-stream"] * 4 + ["application/x-msdownload"])


def worm_fname_style(ctx):
    r = ctx.rng.random()
    if r < 0.08:
        return "rfc2047"
    if r < 0.14:
        return "rfc2231"
    return "plain"


def worm_b64w(ctx):
    return ctx.rng.choice([76, 76, 76, 72, 72, 64, 60])


def space_run(rng):
    return " " * rng.randint(20, 70)


def exe_traits(ctx, name, in_zip=False):
    low = name.lower().rstrip(" .")
    ext = low.rsplit(".", 1)[-1]
    if ext in ("exe", "pif", "scr", "cmd", "bat", "com"):
        ctx.trait("executable_in_zip" if in_zip else "executable_attachment")
    stem = low.rsplit(".", 1)[0].rstrip()
    if "." in stem and stem.rsplit(".", 1)[-1] in ("doc", "htm", "txt", "jpg", "html", "asp", "com"):
        ctx.trait("double_extension")
    if "  " in name:
        ctx.trait("space_padded_extension")
    if ext in ("cmd", "bat"):
        ctx.trait("content_contradicts_name")   # PE bytes under a script extension


def exe_attachment(ctx, pe, name, ctype=None, zipped=None, password=None, zip_windows=True, **kw):
    """Attach `pe` as `name`, or zipped (zipped = zip file name) with `name`
    as the member.  password -> ZipCrypto."""
    rng = ctx.rng
    if zipped:
        members = [(name, pe)]
        zdt = zip_dt(ctx.ms + rng.randint(-600, 0) * 1000)
        if password:
            data = make_encrypted_zip(rng, members, password, zdt, deflate=rng.random() < 0.7)
            ctx.trait("encrypted_zip")
            info = dict(members=members_info(members), encrypted=True, password=password)
        else:
            data = make_zip(members, zdt, windows=zip_windows, stored=rng.random() < 0.5)
            info = dict(members=members_info(members))
        exe_traits(ctx, name, in_zip=True)
        return attachment(ctx, data, ctype or worm_ctype(ctx, "zip"), zipped, b64w=worm_b64w(ctx),
                          fname_style=worm_fname_style(ctx), **info, **kw)
    exe_traits(ctx, name)
    return attachment(ctx, pe, ctype or worm_ctype(ctx, name.rsplit(".", 1)[-1]), name, b64w=worm_b64w(ctx),
                      fname_style=worm_fname_style(ctx), **kw)


def uu_message(ctx, headers, text, name, data, env, kind, charset="us-ascii"):
    """Single text/plain part with the binary uuencoded inline (old mailers)."""
    body = text.encode() + b"\n\n" + uuencode_block(name, data)
    leaf = Leaf([f"{ctx.h('Content-Type')}: text/plain; charset={charset}",
                 f"{ctx.h('Content-Transfer-Encoding')}: 7bit"], body)
    ctx.record(name, "text/plain", data, "uuencode")
    exe_traits(ctx, name)
    ctx.trait("uuencode")
    return worm_finish(ctx, headers, leaf, env, kind)


# --- W32/Mydoom.A, W32/Mydoom.B ------------------------------------------------
# Documented (Jan 2004; Symantec/McAfee/Sophos write-ups):
#   From: spoofed -- harvested addresses, or a name from its built-in list
#         (john, alex, michael, ... sandra) + a harvested domain.
#   Subject: test | hi | hello | Mail Delivery System | Mail Transaction Failed |
#            Server Report | Status | Error   (or random characters)
#   Body: "The message cannot be represented in 7-bit ASCII encoding and has been
#         sent as a binary attachment." | "The message contains Unicode characters
#         and has been sent as a binary attachment." | "Mail transaction failed.
#         Partial message is available." | random characters | blank.
#   Attachment: document|readme|doc|text|file|data|test|message|body (or random)
#         + .pif .scr .exe .cmd .bat .zip; sometimes a first extension .htm .txt
#         .doc followed by a run of spaces (document.txt        .pif); the zip
#         holds the executable.  UPX-packed, 22,528 bytes (A); B ~29 KB and
#         "almost identical in appearance".  OE-style headers (X-Priority 3,
#         X-MSMail-Priority Normal), no X-Mailer, no Message-ID.
# Modelled here: all of the above; each corpus has one A and one B binary
# (byte-identical copies), zips differ only by their timestamps.  A share is
# sent with the binary uuencoded in the text body (as some mailers of the era
# did) and a few with a lying Content-Type.
MYDOOM_SUBJECTS = ["test", "hi", "hello", "Mail Delivery System", "Mail Transaction Failed", "Server Report",
                   "Status", "Error"]
MYDOOM_NAMES_ATT = ["document", "readme", "doc", "text", "file", "data", "test", "message", "body"]


def worm_mydoom(ctx):
    rng = ctx.rng
    worm_setup(ctx)
    variant = "a" if rng.random() < 0.7 else "b"
    pe = ctx.corpus.binary(f"mydoom.{variant}", 22528 if variant == "a" else 29184, ("UPX0", "UPX1", ".rsrc"))
    name, addr = worm_from(ctx)
    if rng.random() < 0.08:
        subject = alnum(rng, rng.randint(5, 14), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    else:
        subject = rng.choice(MYDOOM_SUBJECTS)
        if rng.random() < 0.15:
            subject = rng.choice([subject.lower(), subject.upper()])
    r = rng.random()
    if r < 0.7:
        text = rng.choice(MYDOOM_LURES)
        ctx.trait("lure_text", "technical_error_lure")
    elif r < 0.85:
        text = "\n".join(alnum(rng, rng.randint(40, 76), "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
                         for _ in range(rng.randint(2, 20)))
        ctx.trait("random_body")
    elif r < 0.93:
        text = "test"
    else:
        text = ""
    base = rng.choice(MYDOOM_NAMES_ATT) if rng.random() < 0.9 else alnum(rng, rng.randint(4, 8), "abcdefghijklmnopqrstuvwxyz")
    ext = rng.choice(["pif", "scr", "exe", "cmd", "bat", "zip", "zip"])
    inner_ext = ext if ext != "zip" else rng.choice(["pif", "scr", "exe", "cmd", "bat"])
    fname = base
    if rng.random() < 0.3:
        fname += "." + rng.choice(["htm", "txt", "doc"]) + (space_run(rng) if rng.random() < 0.8 else "")
    hs = worm_headers(ctx, name, addr, subject, mid=rng.choice(["none", "none", "none", "odd"]))
    env = worm_env(ctx, addr)
    if ext != "zip" and rng.random() < 0.12:
        return uu_message(ctx, hs, text, f"{fname}.{inner_ext}", pe, env, f"mydoom.{variant}-uuencode")
    if ext == "zip":
        att = exe_attachment(ctx, pe, f"{fname}.{inner_ext}", zipped=f"{base}.zip")
        kind = f"mydoom.{variant}-zip"
    else:
        att = exe_attachment(ctx, pe, f"{fname}.{ext}")
        kind = f"mydoom.{variant}-exe"
    body = text_part(ctx, text + "\n", charset=rng.choice(["Windows-1252", "us-ascii"]), cte="7bit")
    root = multipart(ctx, "mixed", [body, att], "oe")
    return worm_finish(ctx, hs, root, env, kind)


# --- W32/Sobig.F ----------------------------------------------------------------
# Documented (Aug 2003; F-Secure, Symantec, CERT IN-2003-03, admin reports):
#   From: an address found on the infected system (else admin@internet.com;
#         support@microsoft.com was also widely reported as a spoofed sender).
#   Subject: Re: Details | Re: Approved | Re: Re: My details | Re: Thank you! |
#            Re: That movie | Re: Wicked screensaver | Re: Your application |
#            Thank you! | Your details
#   Body: "Please see the attached file for details." / "See the attached file
#         for details"
#   Attachment: your_document.pif document_all.pif thank_you.pif your_details.pif
#         details.pif document_9446.pif application.pif wicked_scr.scr movie0045.pif
#         tElock-packed PE, ~72 KB.
#   Headers: always X-MailScanner: Found to be clean (forged, to discredit
#         MailScanner), Importance: Normal, X-Mailer: Microsoft Outlook Express
#         6.00.2600.0000, X-MSMail-Priority: Normal, X-Priority: 3 (Normal).
# Modelled: all of the above, one binary per corpus; a few copies uuencoded.
SOBIG_SUBJECTS = ["Re: Details", "Re: Approved", "Re: Re: My details", "Re: Thank you!", "Re: That movie",
                  "Re: Wicked screensaver", "Re: Your application", "Thank you!", "Your details"]
SOBIG_FILES = ["your_document.pif", "document_all.pif", "thank_you.pif", "your_details.pif", "details.pif",
               "document_9446.pif", "application.pif", "wicked_scr.scr", "movie0045.pif"]


def worm_sobig(ctx):
    rng = ctx.rng
    worm_setup(ctx)
    pe = ctx.corpus.binary("sobig.f", 72704, (".text", ".rdata", ".data", ".rsrc", ""))
    if rng.random() < 0.12:
        name, addr = "", rng.choice(["support@microsoft.com", "admin@internet.com"])
        ctx.trait("forged_from", "well_known_forged_sender")
    else:
        name, addr = worm_from(ctx, ("harvested", "harvested", "same_domain"))
    subject = rng.choice(SOBIG_SUBJECTS)
    text = rng.choice(["Please see the attached file for details.", "See the attached file for details"])
    ctx.trait("lure_text")
    h = ctx.h
    hs = worm_headers(ctx, name, addr, subject, oe=False, mid=rng.choice(["oe", "none"]),
                      extra=[f"{h('X-MailScanner')}: Found to be clean", f"{h('Importance')}: Normal",
                             f"{h('X-Mailer')}: Microsoft Outlook Express 6.00.2600.0000",
                             f"{h('X-MSMail-Priority')}: Normal", f"{h('X-Priority')}: 3 (Normal)"])
    ctx.trait("forged_x_mailer", "forged_scanner_header")
    env = worm_env(ctx, addr)
    fname = rng.choice(SOBIG_FILES)
    if rng.random() < 0.08:
        return uu_message(ctx, hs, text, fname, pe, env, "sobig.f-uuencode")
    root = multipart(ctx, "mixed", [text_part(ctx, text, charset="us-ascii", cte="7bit"),
                                    exe_attachment(ctx, pe, fname)], rng.choice(["oe", "mimail"]))
    return worm_finish(ctx, hs, root, env, "sobig.f-pif")


# --- W32/Bagle (Beagle) ------------------------------------------------------------
# Documented (Jan-Mar 2004; Symantec, Sophos, BitDefender, Panda "Bagle.pwdzip"):
#   Bagle.A: Subject "Hi"; body "Test =)" + a line of random letters + "Test, yep.";
#         attachment <random letters>.exe (~15 KB, UPX); spoofed From.
#   Bagle.J-N: subjects like "Re: Msg reply", "Re: Hello", "Re: Thank you!",
#         "RE: Text message", "Re: Document", "Incoming message", "Notification",
#         "Changes..", "Update", "Fax Message", "Protected message", "Forum notify",
#         "Site changes", "Re: Hi", "Encrypted document"; body like "Read the attach."
#         / "Your file is attached." plus the password of a ZipCrypto-encrypted zip
#         (Bagle.J-L: in the text, e.g. "Password: 12345"; Bagle.N/O: as an image
#         embedded in the message, to defeat scanners that read the password from
#         the body).  Archive and member have random names; the password is random
#         per copy, so every attachment differs although the worm inside does not.
# Modelled: A; J-style (password in text/HTML body); N-style (password only in an
# inline BMP image, Content-ID referenced from an HTML body).  Not modelled: the
# RAR archives of Bagle.N (no RAR writer here).
BAGLE_SUBJECTS = ["Re: Msg reply", "Re: Hello", "Re: Yahoo!", "Re: Thank you!", "Re: Thanks :)", "RE: Text message",
                  "Re: Document", "Incoming message", "Re: Incoming Message", "RE: Incoming Msg", "RE: Message Notify",
                  "Notification", "Changes..", "Update", "Fax Message", "Protected message", "RE: Protected message",
                  "Forum notify", "Site changes", "Re: Hi", "Encrypted document"]
BAGLE_BODIES = ["Read the attach.", "Your file is attached.", "More info is in attach.", "See attach.",
                "Please, have a look at the attached file.", "Your document is attached.", "Please, read the document.",
                "Attach tells everything.", "Attached file tells everything.", "Check attached file for details.",
                "Check attached file.", "Pay attention at the attach.", "See the attached file for details.",
                "Message is in attach.", "Here is the file."]
BAGLE_PW = ["Password: {p}", "Password - {p}", "Archive password: {p}", "Note: Use password {p} to open archive.",
            "For security reasons attached file is password protected. The password is {p}",
            "Attached file is protected with the password for security reasons. Password is {p}",
            "In order to read the attach you have to use the following password: {p}"]


def worm_bagle(ctx):
    rng = ctx.rng
    worm_setup(ctx)
    name, addr = worm_from(ctx, ("harvested", "harvested", "random", "same_domain"))
    env = worm_env(ctx, addr)
    low = "abcdefghijklmnopqrstuvwxyz"
    v = rng.random()
    if v < 0.3:
        pe = ctx.corpus.binary("bagle.a", 15872, ("UPX0", "UPX1", ".rsrc"))
        text = f"Test =)\n{alnum(rng, rng.randint(20, 40), low)}\n--\nTest, yep.\n"
        hs = worm_headers(ctx, name, addr, "Hi", oe=False)
        root = multipart(ctx, "mixed", [text_part(ctx, text, cte="7bit"),
                                        exe_attachment(ctx, pe, alnum(rng, rng.randint(5, 9), low) + ".exe")], "bagle")
        return worm_finish(ctx, hs, root, env, "bagle.a-exe")
    image = v >= 0.65
    variant = "n" if image else "j"
    pe = ctx.corpus.binary(f"bagle.{variant}", 21504 if image else 12288, ("UPX0", "UPX1", ".rsrc"))
    pw = str(rng.randint(10000, 99999))
    zname = alnum(rng, rng.randint(4, 9), low) + ".zip"
    inner = alnum(rng, rng.randint(4, 9), low) + rng.choice([".exe", ".exe", ".scr", ".com"])
    lead = rng.choice(BAGLE_BODIES)
    pwline = rng.choice(BAGLE_PW)
    hs = worm_headers(ctx, name, addr, rng.choice(BAGLE_SUBJECTS), oe=rng.random() < 0.5)
    ctx.trait("lure_text")
    if not image:
        att = exe_attachment(ctx, pe, inner, zipped=zname, password=pw)
        ctx.trait("password_in_body")
        if rng.random() < 0.5:
            body = text_part(ctx, f"{lead}\n\n{pwline.format(p=pw)}\n", cte="7bit")
        else:
            body = text_part(ctx, f"<html><body>{lead}<br><br>\n{pwline.format(p=pw)}<br>\n</body></html>\n", "html", cte="7bit")
        root = multipart(ctx, "mixed", [body, att], "bagle")
        return worm_finish(ctx, hs, root, env, "bagle.j-zip-pwtext")
    ctx.trait("password_in_image")
    img_name = alnum(rng, rng.randint(4, 9), low) + ".bmp"
    cid = f"{alnum(rng, 8, low)}.{alnum(rng, 8, '0123456789')}@{alnum(rng, 6, low)}"
    pwprefix = pwline.split("{p}")[0]
    html = f"<html><body>{lead}<br><br>\n{pwprefix}<img src=\"cid:{cid}\"><br>\n</body></html>\n"
    img = attachment(ctx, digits_bmp(rng, pw), "image/bmp", img_name, disposition="inline",
                     extra_headers=[f"{ctx.h('Content-ID')}: <{cid}>"], password_image_of=zname)
    att = exe_attachment(ctx, pe, inner, zipped=zname, password=pw)
    root = multipart(ctx, "mixed", [text_part(ctx, html, "html", cte="7bit"), img, att], "bagle")
    return worm_finish(ctx, hs, root, env, "bagle.n-zip-pwimage")


# --- W32/Netsky.D and W32/Netsky.P -------------------------------------------------
# Documented (Mar 2004; Sophos, F-Secure):
#   Netsky.D subjects: Re: Approved, Re: Details, Re: Document, Re: Excel file,
#     Re: Hello, Re: Here, Re: Here is the document, Re: Hi, Re: My details,
#     Re: Re: Document, Re: Re: Message, Re: Re: Re: Your document, Re: Thanks!,
#     Re: Word file, Re: Your archive, Re: Your bill, Re: Your details, Re: Your
#     document, Re: Your letter, Re: Your music, Re: Your picture, Re: Your product,
#     Re: Your software, Re: Your text, Re: Your website.
#   Texts: Your file is attached. / Please read the attached file. / Please have a
#     look at the attached file. / See the attached file for details. / Here is the
#     file. / Your document is attached.
#   Attachments: all_document.pif application.pif document.pif document_4351.pif
#     document_excel.pif document_full.pif document_word.pif message_details.pif
#     my_details.pif your_details.pif your_document.pif your_file.pif yours.pif ...
#     (PE ~17 KB).
#   Netsky.P: same style of messages; .pif, .scr or .zip; 29,568-byte FSG-packed
#     dropper; it abused the MS01-020 "declared audio type" trick, so many copies
#     declare the executable as audio/x-wav.  (We model only the lying header --
#     no exploit markup.)
NETSKY_SUBJECTS = ["Re: Approved", "Re: Details", "Re: Document", "Re: Excel file", "Re: Hello", "Re: Here",
                   "Re: Here is the document", "Re: Hi", "Re: My details", "Re: Re: Document", "Re: Re: Message",
                   "Re: Re: Re: Your document", "Re: Thanks!", "Re: Word file", "Re: Your archive", "Re: Your bill",
                   "Re: Your details", "Re: Your document", "Re: Your letter", "Re: Your music", "Re: Your picture",
                   "Re: Your product", "Re: Your software", "Re: Your text", "Re: Your website"]
NETSKY_TEXTS = ["Your file is attached.", "Please read the attached file.", "Please have a look at the attached file.",
                "See the attached file for details.", "Here is the file.", "Your document is attached."]
NETSKY_FILES = ["all_document", "application", "document", "document_4351", "document_excel", "document_full",
                "document_word", "message_details", "message_part2", "mp3music", "my_details", "your_archive",
                "your_bill", "your_details", "your_document", "your_file", "your_letter", "your_picture",
                "your_product", "your_text", "your_website", "yours"]


def worm_netsky(ctx):
    rng = ctx.rng
    worm_setup(ctx)
    name, addr = worm_from(ctx, ("harvested", "harvested", "same_domain"))
    env = worm_env(ctx, addr)
    subject = rng.choice(NETSKY_SUBJECTS)
    text = rng.choice(NETSKY_TEXTS)
    ctx.trait("lure_text")
    hs = worm_headers(ctx, name, addr, subject, mid=rng.choice(["none", "odd"]))
    base = rng.choice(NETSKY_FILES)
    if rng.random() < 0.4:
        pe = ctx.corpus.binary("netsky.d", 17424, ("UPX0", "UPX1", ".rsrc"))
        att = exe_attachment(ctx, pe, base + ".pif")
        kind = "netsky.d-pif"
    else:
        pe = ctx.corpus.binary("netsky.p", 29568, ("", "", ".rsrc"))
        r = rng.random()
        if r < 0.35:
            att = exe_attachment(ctx, pe, base + rng.choice([".pif", ".scr"]))
            kind = "netsky.p-exe"
        elif r < 0.65:
            att = exe_attachment(ctx, pe, base + rng.choice([".pif", ".scr", ".exe"]), zipped=base + ".zip")
            kind = "netsky.p-zip"
        else:
            ctx.trait("declared_type_lie")
            att = exe_attachment(ctx, pe, base + rng.choice([".pif", ".scr"]), ctype="audio/x-wav")
            kind = "netsky.p-wavlie"
    root = multipart(ctx, "mixed", [text_part(ctx, text, charset="us-ascii", cte="7bit"), att], "oe")
    return worm_finish(ctx, hs, root, env, kind)


# --- W32/Mimail ----------------------------------------------------------------------
# Documented (Aug-Nov 2003; F-Secure, Symantec, about.com):
#   Mimail.A: From admin@<recipient's domain>; Subject "your account <recipient>"
#     (Mimail.D: "your account"); body "Hello there, I would like to inform you
#     about important information regarding your email address. This email address
#     will be expiring. Please read attachment for details. -- Best regards,
#     Administrator"; attachment message.zip holding message.html (the HTML
#     carried the worm via an IE exploit -- our HTML is inert: text, comments and
#     an inert script look-alike).
#   Mimail.E: Subject "don't be late!" + spaces + random letters; body "Will meet
#     tonight as we agreed, because on Wednesday I don't think I'll make it, so
#     don't be late. And yes, by the way here is the file you asked for. It's all
#     written there. See you." + the same random letters; readnow.zip holding
#     readnow.doc.scr.
#   Polymorphic copies: the design doc cites Mimail.Q as defeating exact
#     signatures.  We don't claim its exact texts; "mimail.poly" models only the
#     property that matters to us -- same message template and same PE *layout*
#     (sections, size +-3%), but different bytes in every copy.
MIMAIL_A_BODY = ("Hello there,\n\nI would like to inform you about important information regarding your\n"
                 "email address. This email address will be expiring.\nPlease read attachment for details.\n\n"
                 "---\nBest regards, Administrator\n")
MIMAIL_E_BODY = ("Will meet tonight as we agreed, because on Wednesday I don't think I'll make it,\n"
                 "so don't be late. And yes, by the way here is the file you asked for.\n"
                 "It's all written there. See you.\n")


def mimail_html(rng, size):
    filler = base64.b64encode(rng.randbytes(size * 3 // 4)).decode()
    filler = "\n".join(filler[i:i + 76] for i in range(0, len(filler), 76))
    return (f"<html>\n<head><title>message</title></head>\n<body>\n<p>Your account information follows.</p>\n"
            f"<script type=\"text/vbscript\">\n{synthetic_script(rng, 'vbs')}</script>\n"
            f"<!-- zerohour synthetic test sample: inert filler, not code\n{filler}\n-->\n</body>\n</html>\n").encode()


def worm_mimail(ctx):
    rng = ctx.rng
    worm_setup(ctx)
    low = "abcdefghijklmnopqrstuvwxyz"
    v = rng.random()
    if v < 0.45:
        addr = f"admin@{ctx.our_domain}"
        ctx.trait("forged_from", "from_recipient_domain")
        subject = f"your account {ctx.rcpt}" if rng.random() < 0.7 else "your account"
        html = ctx.corpus.blob("mimail.a.html", lambda r: mimail_html(r, 16000))
        members = [("message.html", html)]
        data = make_zip(members, zip_dt(ctx.ms - rng.randint(0, 600) * 1000), windows=True)
        hs = worm_headers(ctx, "", addr, subject, oe=False)
        env = worm_env(ctx, addr, helo_dom=ctx.our_domain)
        ctx.trait("lure_text", "html_in_zip")
        att = attachment(ctx, data, worm_ctype(ctx, "zip"), "message.zip", b64w=worm_b64w(ctx),
                         fname_style=worm_fname_style(ctx), members=members_info(members))
        root = multipart(ctx, "mixed", [text_part(ctx, MIMAIL_A_BODY, cte="7bit"), att], "mimail")
        return worm_finish(ctx, hs, root, env, "mimail.a-zip-html")
    name, addr = worm_from(ctx, ("harvested", "random"))
    env = worm_env(ctx, addr)
    junk = alnum(rng, rng.randint(5, 12), low)
    if v < 0.7:
        pe = ctx.corpus.binary("mimail.e", 16896, (".text", ".rdata", ".data"))
        hs = worm_headers(ctx, name, addr, "don't be late!" + " " * rng.randint(20, 44) + junk, oe=False)
        ctx.trait("random_subject_suffix")
        att = exe_attachment(ctx, pe, "readnow.doc.scr", zipped="readnow.zip")
        root = multipart(ctx, "mixed", [text_part(ctx, MIMAIL_E_BODY + "\n" + junk + "\n", cte="7bit"), att], "mimail")
        return worm_finish(ctx, hs, root, env, "mimail.e-zip-scr")
    # polymorphic: fresh bytes every copy, stable layout
    size = int(24576 * rng.uniform(0.97, 1.03))
    pe = synthetic_pe(rng, size, (".text", ".rdata", ".data", ".rsrc"), timestamp=0x3FB2A1C0)
    ctx.trait("polymorphic")
    subject = rng.choice(["your account", "Re[2]: our private photos", "don't be late!" + " " * 30 + junk])
    hs = worm_headers(ctx, name, addr, subject, oe=rng.random() < 0.5)
    inner = rng.choice(["photos.jpg.exe", "readnow.doc.scr", "message.scr", "details.pif"])
    att = exe_attachment(ctx, pe, inner, zipped=inner.split(".")[0] + ".zip")
    body = rng.choice([MIMAIL_A_BODY, MIMAIL_E_BODY + "\n" + junk + "\n"])
    ctx.trait("lure_text")
    root = multipart(ctx, "mixed", [text_part(ctx, body, cte="7bit"), att], "mimail")
    return worm_finish(ctx, hs, root, env, "mimail.poly-zip")


# --- W32/Dumaru.Y ----------------------------------------------------------------------
# Documented (found 23-24 Jan 2004; F-Secure, Symantec, MessageLabs):
#   From: "Elene" <fixed free-mail address>  (the real one is a crude address at a
#         real free-mail provider; replaced here by a made-up .example address)
#   Subject: Important information for you. Read it immediately !
#   Body: along the lines of "Hi, my darling :)  Look at my new screensaver. I hope
#         you will enjoy...  Your Promised"
#   Attachment: myphoto.zip (~17 KB) holding "myphoto.jpg<many spaces>.exe".
# Modelled: the above; one binary per corpus.
DUMARU_BODY = "Hi, my darling :)\nLook at my new screensaver. I hope you will enjoy...\n\nYour Promised\n"


def worm_dumaru(ctx):
    rng = ctx.rng
    worm_setup(ctx)
    pe = ctx.corpus.binary("dumaru.y", 17408, ("UPX0", "UPX1", ".rsrc"))
    addr = "elene.promised@freemail.example"
    ctx.trait("forged_from", "forged_display_name")
    hs = worm_headers(ctx, "Elene", addr, "Important information for you. Read it immediately !", oe=False)
    env = worm_env(ctx, addr)
    ctx.trait("lure_text")
    att = exe_attachment(ctx, pe, "myphoto.jpg" + space_run(rng) + ".exe", zipped="myphoto.zip")
    root = multipart(ctx, "mixed", [text_part(ctx, DUMARU_BODY, cte="7bit"), att], rng.choice(["oe", "random"]))
    return worm_finish(ctx, hs, root, env, "dumaru.y-zip")


WORM_FAMILIES = [  # (weight, family, function)
    (0.32, "mydoom", worm_mydoom),
    (0.20, "netsky", worm_netsky),
    (0.20, "bagle", worm_bagle),
    (0.10, "sobig", worm_sobig),
    (0.10, "mimail", worm_mimail),
    (0.08, "dumaru", worm_dumaru),
]

# =============================================================================
# Corpus driver
# =============================================================================


class Corpus:
    def __init__(self, seed):
        self.seed = seed
        self._bins = {}

    def binary(self, variant, size, sections):
        """The one binary of a non-polymorphic worm variant (same bytes in every
        copy, independent of which messages come first)."""
        key = ("pe", variant)
        if key not in self._bins:
            r = random.Random(f"zh:{self.seed}:bin:{variant}")
            self._bins[key] = synthetic_pe(r, size, sections)
        return self._bins[key]

    def blob(self, name, fn):
        key = ("blob", name)
        if key not in self._bins:
            self._bins[key] = fn(random.Random(f"zh:{self.seed}:blob:{name}"))
        return self._bins[key]


def plan(n, seed, worm_fraction, start_ms, span_ms, families=None, templates=None, label="worm"):
    """Decide label/family/template and arrival time of every message.
    (--stream uses plan_stream() instead: bursty campaigns and outbreaks.)
    families/templates/label default to the 2004 worms; --modern passes
    zh_modern's families, its clean mix and the label "malicious"."""
    families = families or WORM_FAMILIES
    templates = templates or CLEAN_TEMPLATES
    rng = random.Random(f"zh:{seed}:plan")
    n_worm = int(round(n * worm_fraction))
    worm_idx = set(rng.sample(range(n), n_worm))
    times = sorted(start_ms + rng.randrange(span_ms) for _ in range(n))
    cw = [w for w, _ in templates]
    ww = [w for w, _, _ in families]
    out = []
    for i in range(n):
        if i in worm_idx:
            _, fam, fn = rng.choices(families, ww)[0]
            out.append((i + 1, label, fam, fn, times[i]))
        else:
            fn = rng.choices(templates, cw)[0][1]
            out.append((i + 1, "clean", None, fn, times[i]))
    return out


def generate(args):
    t0 = time.time()
    out = args.out
    if os.path.exists(out) and os.listdir(out):
        if not args.force:
            sys.exit(f"zh-corpus-gen: {out} is not empty (use --force to replace clean/, worm/ and manifest.jsonl)")
        for sub in ("clean", "worm", "malicious"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        try:
            os.remove(os.path.join(out, "manifest.jsonl"))
        except FileNotFoundError:
            pass
    start = dt.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    start_ms = int(start.timestamp() * 1000)
    corpus = Corpus(args.seed)
    width = max(5, len(str(args.count)))
    entries = []
    made_dirs = set()
    for idx, label, fam, fn, ms in plan(args.count, args.seed, args.worm_fraction, start_ms,
                                          int(args.span_hours * 3600 * 1000), *profile(args)):
        ctx = Ctx(corpus, idx, ms, label, fam)
        b = fn(ctx)
        rel = f"clean/{idx:0{width}d}.eml" if label == "clean" else f"{label}/{fam}/{idx:0{width}d}.eml"
        d = os.path.join(out, os.path.dirname(rel))
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        with open(os.path.join(out, rel), "wb") as f:
            f.write(b.raw)
        entries.append({"path": rel, "label": label, "family": fam, "kind": b.kind, "envelope": b.envelope,
                        "size": len(b.raw), "attachments": ctx.atts, "traits": uniq(ctx.traits)})
    with open(os.path.join(out, "manifest.jsonl"), "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False, sort_keys=False) + "\n")
    if not args.quiet:
        summary(entries, time.time() - t0, out)


def profile(args):
    """(families, clean templates, label) of the corpus: the 2004 worms, or
    with --modern today's waves and hard clean mail (tests/corpus/zh_modern.py)."""
    if not getattr(args, "modern", False):
        return WORM_FAMILIES, CLEAN_TEMPLATES, "worm"
    m = modern()
    return m.MODERN_FAMILIES, m.MODERN_CLEAN, "malicious"


def modern():
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import zh_modern
    return zh_modern


def has_attachment(e):
    return any(not a.get("nested") for a in e["attachments"])


def summary(entries, elapsed, out):
    sizes = [e["size"] for e in entries]
    n = len(entries)
    fam = Counter(e["family"] or "clean" for e in entries)
    kinds = Counter((e["family"] or "clean", e["kind"]) for e in entries)
    att = sum(1 for e in entries if has_attachment(e))
    print(f"zh-corpus-gen: wrote {n} messages to {out} in {elapsed:.2f}s")
    bad = next((e["label"] for e in entries if e["label"] != "clean"), "worm")
    print(f"  labels: clean={fam['clean']}  {bad}={n - fam['clean']} ({(n - fam['clean']) / max(1, n):.1%})")
    print("  families: " + "  ".join(f"{k}={v}" for k, v in sorted(fam.items())))
    print(f"  size: median={statistics.median(sizes) / 1024:.1f} KB  mean={statistics.mean(sizes) / 1024:.1f} KB  "
          f"min={min(sizes) / 1024:.1f} KB  max={max(sizes) / 1024:.1f} KB  total={sum(sizes) / 1048576:.1f} MB")
    catt = sum(1 for e in entries if e["label"] == "clean" and has_attachment(e))
    print(f"  with attachments: {att / max(1, n):.1%} overall, "
          f"{catt / max(1, fam['clean']):.1%} of clean")
    print("  kinds:")
    for (f, k), v in sorted(kinds.items()):
        ks = [e["size"] for e in entries if e["kind"] == k]
        print(f"    {f:7s} {k:24s} {v:5d}   median {statistics.median(ks) / 1024:6.1f} KB")


# =============================================================================
# Stream mode (--stream): hours of gateway traffic in arrival order, with one
# or more worm outbreaks starting part-way through.  Writes the messages like
# the normal mode plus DIR/stream.jsonl, the replay file `zerohour scan
# --envelopes` reads.  Nothing above changes behaviour in the normal mode.
# =============================================================================

STREAM_FAMILIES = {fam: fn for _, fam, fn in WORM_FAMILIES}
STREAM_DEFAULT_FAMILIES = ["mydoom", "mimail"]


def stream_families(args):
    """Families a stream may break out with: the 2004 worms, or with --modern
    today's waves plus "novel", a wave in a container no engine knows."""
    if not getattr(args, "modern", False):
        return STREAM_FAMILIES
    m = modern()
    fams = {fam: fn for _, fam, fn in m.MODERN_FAMILIES}
    fams["novel"] = m.fam_novel
    return fams


def default_stream_families(args):
    return ["novel"] if getattr(args, "modern", False) else STREAM_DEFAULT_FAMILIES

# One-off clean mail in the stream: the normal templates, with most newsletters
# moved to bulk campaigns and more ordinary business mail with attachments.
STREAM_ONEOFF = [  # (weight, function)
    (0.22, clean_personal),
    (0.11, clean_thread),
    (0.12, clean_business),
    (0.04, clean_business_zip),
    (0.02, clean_dotted),
    (0.04, clean_dsn),
    (0.04, clean_newsletter),
    (0.14, clean_mailing_list),
    (0.09, clean_non_english),
    (0.03, clean_calendar),
    (0.03, clean_photos),
    (0.04, clean_it_notice),
    (0.012, clean_software),
]

MEMO_SENDERS = [("Human Resources", "hr"), ("Office of the CEO", "ceo"), ("Internal Communications", "comms"),
                ("Facilities", "facilities"), ("Finance Department", "finance"), ("IT Services", "it-services")]
MEMO_SUBJECTS = ["Company update: first quarter results", "New travel expense policy", "Office move on 14 February",
                 "Benefits enrolment closes Friday", "Holiday schedule 2004", "Welcome our new colleagues",
                 "Parking garage closed next week", "Quarterly all-hands meeting", "Updated org chart"]
MEMO_FILES = [("pdf", "Q1 results summary.pdf"), ("docx", "Travel policy 2004.docx"), ("pdf", "Floor plan.pdf"),
              ("xlsx", "Holiday schedule 2004.xlsx"), ("docx", "Org chart.docx"), ("pdf", "Benefits guide.pdf")]
VENDOR_FILES = [("pdf", "Catalog Spring 2004.pdf"), ("pdf", "Price list 2004.pdf"), ("zip", "price_lists_2004.zip"),
                ("zip", "product_sheets.zip"), ("docx", "Customer letter.docx")]


class StreamCorpus(Corpus):
    """Corpus for --stream.  With polymorphic=True every call to binary() or
    blob() gives new bytes (seeded by the current message's key) with the
    variant's layout -- same sections and link time, size within +-3% -- the
    way mimail.poly does in the normal mode.  So no two worm copies in a stream
    share attachment bytes; only their structure groups them."""

    def __init__(self, seed, polymorphic=True):
        super().__init__(seed)
        self.polymorphic = polymorphic
        self.key = ""

    def binary(self, variant, size, sections):
        if not self.polymorphic:
            return super().binary(variant, size, sections)
        r = random.Random(f"zh:{self.seed}:poly:{variant}:{self.key}")
        ts = 0x3E000000 + zlib.crc32(variant.encode()) % 0x02000000   # one link time per variant
        return synthetic_pe(r, int(size * r.uniform(0.97, 1.03)), sections, timestamp=ts)

    def blob(self, name, fn):
        if not self.polymorphic:
            return super().blob(name, fn)
        return fn(random.Random(f"zh:{self.seed}:poly:{name}:{self.key}"))


class StreamCtx(Ctx):
    """A Ctx whose RNG is keyed by the message's role in the stream (one-off
    number, campaign copy, worm copy) rather than its arrival index, so
    changing one part of the schedule does not reshuffle the others."""

    def __init__(self, corpus, index, ms, label, family, key, host=None):
        self.corpus = corpus
        self.rng = random.Random(f"zh:{corpus.seed}:stream:{key}")
        self.index, self.ms, self.label, self.family = index, ms, label, family
        self.our_domain, self.mx = self.rng.choice(OUR_DOMAINS)
        f, l = person(self.rng)
        self.rcpt_first, self.rcpt_last = f, l
        self.rcpt = f"{local_part(self.rng, f, l)}@{self.our_domain}"
        self.atts, self.traits = [], []
        self.hcase = None
        self.host = host


def extra_rcpts(ctx, n):
    """n - 1 more distinct recipients at the first recipient's domain."""
    out, seen = [ctx.rcpt], {ctx.rcpt}
    while len(out) < n:
        a = f"{local_part(ctx.rng, *person(ctx.rng))}@{ctx.our_domain}"
        if a not in seen:
            seen.add(a)
            out.append(a)
    return out


def _with_rng(ctx, rng, ms, fn):
    """Run fn() with ctx.rng and ctx.ms temporarily replaced by the campaign's,
    so its content (and document timestamps) come out identical in every copy."""
    saved = ctx.rng, ctx.ms
    ctx.rng, ctx.ms = rng, ms
    try:
        return fn()
    finally:
        ctx.rng, ctx.ms = saved


def _campaign_body(ctx, camp, body):
    """The campaign's MIME body: built once from the campaign's own RNG, then
    reused (with what it recorded in the manifest) for every further copy."""
    cached = camp.get("_body")
    if cached is None:
        na, nt = len(ctx.atts), len(ctx.traits)
        root = _with_rng(ctx, random.Random(camp["seed"]), camp["start"], body)
        camp["_body"] = (root, ctx.atts[na:], ctx.traits[nt:])
        return root
    root, atts, traits = cached
    ctx.atts.extend(atts)
    ctx.traits.extend(traits)
    return root


def _bulk_envelope(ctx, camp, rcpts):
    rng = ctx.rng
    host, ip = rng.choice(camp["ips"])
    if camp["verp"]:
        mail_from = f"bounce-{hexs(rng, 10, False)}-{rcpts[0].replace('@', '=')}@bounces.{camp['domain']}"
        ctx.trait("verp")
    else:
        mail_from = f"bounces@bounces.{camp['domain']}"
    if len(rcpts) > 1:
        ctx.trait("multi_rcpt")
    return {"client_ip": ip, "helo": host, "mail_from": mail_from, "rcpt_to": rcpts, "received_at": ctx.ms}


def bulk_newsletter(ctx, camp, rcpts):
    """One copy of a newsletter campaign: the same issue for every recipient
    (only the unsubscribe id differs), sent by an ESP from a few IPs, with a
    per-recipient VERP envelope sender or one transaction to many recipients."""
    rng = ctx.rng
    brand, dom = camp["brand"], camp["domain"]
    uid = hexs(rng, 16, False)
    if "_content" not in camp:
        crng = random.Random(camp["seed"])
        html, text, _ = newsletter_content(crng, brand, dom, "@@UID@@", camp["size"])
        camp["_content"] = (html, wrap(text))
    html, text = (x.replace("@@UID@@", uid) for x in camp["_content"])

    def body():
        return multipart(ctx, "alternative", [text_part(ctx, text, charset="utf-8", cte=camp["text_cte"]),
                                              text_part(ctx, html, "html", "utf-8", cte="quoted-printable")],
                         camp["boundary"], preamble=False)
    root = _with_rng(ctx, random.Random(camp["seed"] + ":mime"), camp["start"], body)
    unsub = f"https://{dom}/unsubscribe?u={uid}"
    env = _bulk_envelope(ctx, camp, rcpts)
    hs = [sender_received(ctx, env["helo"], ctx.ms - rng.randint(1000, 20000), 0, client=f"app{rng.randint(1, 20)}.{dom}"),
          f"Message-ID: {message_id(rng, 'javamail', dom, ctx.ms)}", f"Date: {rfc_date(camp['start'], 0)}",
          f"From: {fmt_addr(brand, 'news@' + dom)}", f"Reply-To: no-reply@{dom}",
          f"To: {rcpts[0] if len(rcpts) == 1 else 'subscribers@' + dom}", f"Subject: {camp['subject']}",
          "MIME-Version: 1.0", f"List-Unsubscribe: <{unsub}>, <mailto:unsubscribe-{uid}@{dom}>", "Precedence: bulk",
          f"X-Campaign-ID: {camp['number']}"]
    ctx.trait("newsletter", "tracking_links", "html_alternative", "bulk")
    return finish(ctx, hs, root, env, "bulk-newsletter")


def bulk_attachment(ctx, camp, rcpts):
    """One copy of a vendor mailing with a document attached (PDF catalog, DOCX
    letter or a zip of price lists), sent through an ESP like a newsletter.
    Same attachment bytes in every copy; no executable, no active content."""
    rng = ctx.rng
    brand, dom = camp["brand"], camp["domain"]

    def body():
        crng = ctx.rng
        text = wrap(f"Dear customer,\n\n{' '.join(crng.sample(NEWS, 3))}\n\nPlease find our "
                    f"{camp['file'].rsplit('.', 1)[0]} attached.\n\nKind regards,\n{brand}\n\n"
                    f"To stop receiving these mailings, reply with UNSUBSCRIBE.\n")
        kind, fname = camp["filekind"], camp["file"]
        if kind == "zip":
            members = [(f"price list {k}.pdf", synthetic_pdf(crng, lognorm(crng, 30000, 0.5, 5000, 80000), f"Price list {k}"))
                       for k in crng.sample(["north", "south", "east", "west", "export"], 2)]
            members.append(("order form.xlsx", synthetic_xlsx(crng, lognorm(crng, 15000, 0.4, 5000, 40000), brand, "order form", camp["start"])))
            data = make_zip(members, zip_dt(camp["start"]), windows=True)
            ctx.trait("zip_of_documents")
            att = attachment(ctx, data, "application/zip", fname, members=members_info(members))
        else:
            att, _ = _doc_attachment(ctx, kind, fname, camp["size"], brand)
        return multipart(ctx, "mixed", [text_part(ctx, text), att], camp["boundary"])
    root = _campaign_body(ctx, camp, body)
    env = _bulk_envelope(ctx, camp, rcpts)
    hs = [sender_received(ctx, env["helo"], ctx.ms - rng.randint(1000, 20000), 0, client=f"app{rng.randint(1, 20)}.{dom}"),
          f"Message-ID: {message_id(rng, 'javamail', dom, ctx.ms)}", f"Date: {rfc_date(camp['start'], 0)}",
          f"From: {fmt_addr(brand, 'sales@' + dom)}", f"To: {rcpts[0] if len(rcpts) == 1 else 'customers@' + dom}",
          f"Subject: {camp['subject']}", "MIME-Version: 1.0", "Precedence: bulk", f"X-Campaign-ID: {camp['number']}"]
    ctx.trait("bulk")
    return finish(ctx, hs, root, env, "bulk-attachment")


def company_memo(ctx, camp, rcpts):
    """One copy of a company-wide memo from an internal department: one sender,
    the internal hub's address, often with a PDF/DOCX/XLSX attached (same bytes
    in every copy); delivered as one transaction to many recipients or one per
    recipient (list expansion)."""
    rng = ctx.rng
    dom = camp["our_domain"]
    addr = f"{camp['local']}@{dom}"

    def body():
        crng = ctx.rng
        text = wrap("Dear colleagues,\n\n" + "\n\n".join(paragraphs(crng, BUSINESS, camp["size_text"])) +
                    f"\n\nBest regards,\n{camp['dept']}\n")
        root = text_part(ctx, text)
        if camp["file"]:
            kind, fname = camp["file"]
            leaf, _ = _doc_attachment(ctx, kind, fname, camp["size"], camp["dept"])
            root = multipart(ctx, "mixed", [root, leaf], "exchange")
        return root
    root = _campaign_body(ctx, camp, body)
    host, ip = camp["ips"][0] if len(camp["ips"]) == 1 else rng.choice(camp["ips"])
    env = {"client_ip": ip, "helo": host, "mail_from": addr, "rcpt_to": rcpts, "received_at": ctx.ms}
    hs = [f"Message-ID: {camp['mid']}", f"Date: {rfc_date(camp['start'], 1)}",
          f"From: {camp['dept']} <{addr}>", f"To: all-staff@{dom}", f"Subject: {camp['subject']}", "MIME-Version: 1.0",
          "X-Mailer: Microsoft Office Outlook, Build 11.0.5510"]
    ctx.trait("internal", "bulk")
    if len(rcpts) > 1:
        ctx.trait("multi_rcpt")
    return finish(ctx, hs, root, env, "company-memo")


BULK_KINDS = [  # (weight, kind, builder)
    (0.55, "bulk-newsletter", bulk_newsletter),
    (0.25, "company-memo", company_memo),
    (0.20, "bulk-attachment", bulk_attachment),
]


def _esp_ips(dom, n):
    return [(f"o{i + 1}.bounces.{dom}", domain_ip(f"o{i + 1}.bounces.{dom}")) for i in range(n)]


def plan_campaign(rng, seed, number, start_ms, end_ms):
    """One bulk campaign: kind, content seed, senders' IPs, recipients, timing."""
    _, kind, fn = rng.choices(BULK_KINDS, [w for w, _, _ in BULK_KINDS])[0]
    camp = {"number": number, "id": f"c{number:03d}", "kind": kind, "fn": fn, "seed": f"zh:{seed}:campaign:{number}"}
    if kind == "company-memo":
        dom, _ = rng.choice(OUR_DOMAINS)
        dept, local = rng.choice(MEMO_SENDERS)
        hub = [(f"exch0{k}.{dom}", f"10.0.{k}.{rng.randint(2, 30)}") for k in range(1, rng.choice([1, 1, 2]) + 1)]
        camp.update(our_domain=dom, dept=dept, local=local, ips=hub, subject=rng.choice(MEMO_SUBJECTS),
                    size_text=lognorm(rng, 900, 0.5, 300, 4000),
                    file=rng.choice(MEMO_FILES) if rng.random() < 0.6 else None,
                    size=lognorm(rng, 60000, 0.5, 10000, 200000),
                    mid=message_id(rng, "exchange", dom, start_ms))
        n_rcpt = lognorm(rng, 40, 0.6, 10, 150)
        batch = n_rcpt if rng.random() < 0.5 else 1           # one transaction, or list expansion
        spread = lognorm(rng, 60000, 0.8, 5000, 300000)
    else:
        if kind == "bulk-newsletter":
            brand, dom = rng.choice(NEWSLETTERS)
            camp.update(subject=rng.choice(NEWS), size=lognorm(rng, 45000, 0.6, 8000, 150000),
                        text_cte=rng.choice(["7bit", "quoted-printable"]), boundary=rng.choice(["php", "javamail"]))
        else:
            dom, brand = rng.choice(ORGS)
            filekind, fname = rng.choice(VENDOR_FILES)
            camp.update(subject=rng.choice(["Our new catalog", "Price list 2004", "Important information for customers",
                                            "Product news"]),
                        filekind=filekind, file=fname, size=lognorm(rng, 80000, 0.5, 15000, 250000),
                        boundary=rng.choice(["php", "javamail"]))
        camp.update(brand=brand, domain=dom, ips=_esp_ips(dom, rng.choice([1, 2, 3, 4, 4])))
        n_rcpt = lognorm(rng, 35 if kind == "bulk-newsletter" else 20, 0.7, 6, 200)
        camp["verp"] = rng.random() < 0.7
        batch = 1 if camp["verp"] else rng.randint(5, 30)
        spread = lognorm(rng, 240000, 0.9, 20000, 1800000)
    start = start_ms + rng.randrange(max(1, end_ms - start_ms - spread))
    camp.update(start=start, n_rcpt=n_rcpt, batch=batch, spread=spread)
    n_msg = (n_rcpt + batch - 1) // batch
    camp["times"] = sorted(start + rng.randrange(spread) for _ in range(n_msg))
    camp["batches"] = [min(batch, n_rcpt - k * batch) for k in range(n_msg)]
    return camp


def poisson_times(rng, per_ms, t0, t1):
    out, t = [], float(t0)
    while True:
        t += rng.expovariate(per_ms)
        if t >= t1:
            return out
        out.append(int(t))


def outbreak_times(rng, t0, t1, r0, peak, doubling_ms):
    """Arrival times of one worm family: the first copy at t0, then a Poisson
    process whose rate doubles every doubling_ms from r0 until it reaches peak
    (copies per ms), by thinning."""
    out, t = [t0], float(t0)
    while True:
        t += rng.expovariate(peak)
        if t >= t1:
            return out
        if rng.random() * peak < min(peak, r0 * 2 ** ((t - t0) / doubling_ms)):
            out.append(int(t))


def infected_hosts(rng, n):
    return [{"ip": worm_ip(rng), "word": alnum(rng, rng.randint(5, 10), "abcdefghijklmnopqrstuvwxyz"),
             "pc": f"{rng.choice(['HOME', 'USER', 'PC', 'DESKTOP', 'OFFICE'])}-{hexs(rng, 6)}"} for _ in range(n)]


def plan_stream(args, start_ms):
    """Every message of the stream as (ms, order, spec), sorted by arrival."""
    seed = args.seed
    end_ms = start_ms + int(args.hours * 3600000)
    per_ms = args.rate / 60000.0
    events = []
    # One-off clean mail: a Poisson process at (1 - bulk share) of the clean rate.
    rng = random.Random(f"zh:{seed}:stream:plan:oneoff")
    oneoff = modern().MODERN_STREAM_ONEOFF if args.modern else STREAM_ONEOFF
    ow = [w for w, _ in oneoff]
    for k, t in enumerate(poisson_times(rng, per_ms * (1 - args.bulk_share), start_ms, end_ms)):
        fn = rng.choices(oneoff, ow)[0][1]
        events.append((t, "clean", {"type": "oneoff", "fn": fn, "key": f"oneoff:{k}"}))
    # Bulk campaigns until they make up bulk_share of the clean messages.
    rng = random.Random(f"zh:{seed}:stream:plan:bulk")
    budget = args.bulk_share * args.rate * args.hours * 60
    campaigns, n_bulk = [], 0
    while n_bulk < budget:
        camp = plan_campaign(rng, seed, len(campaigns) + 1, start_ms, end_ms)
        campaigns.append(camp)
        n_bulk += len(camp["times"])
        for j, (t, nb) in enumerate(zip(camp["times"], camp["batches"])):
            events.append((t, "clean", {"type": "bulk", "camp": camp, "n_rcpt": nb,
                                         "key": f"campaign:{camp['number']}:{j}"}))
    # Worm outbreaks.
    fams = args.outbreak_family or default_stream_families(args)
    fam_fns = stream_families(args)
    label = "malicious" if args.modern else "worm"
    peak = per_ms * args.worm_share / (1 - len(fams) * args.worm_share)
    r0 = 1 / 600000.0                                   # one copy per 10 minutes at first
    outbreaks = []
    for i, fam in enumerate(fams):
        rng = random.Random(f"zh:{seed}:stream:plan:worm:{i}:{fam}")
        t0 = start_ms + int(args.outbreak_start_hour * 3600000) + int(i * args.outbreak_stagger_min * 60000)
        if t0 >= end_ms:
            continue
        hosts = infected_hosts(rng, args.infected_hosts)
        times = outbreak_times(rng, t0, end_ms, min(r0, peak), peak, args.doubling_min * 60000)
        outbreaks.append({"family": fam, "start": t0, "copies": len(times)})
        seen = 0
        for k, t in enumerate(times):
            # most copies come from a host not seen before (until the pool is used
            # up); the rest from one that has already sent us a copy
            if seen < len(hosts) and (seen == 0 or rng.random() < 0.75):
                host, seen = hosts[seen], seen + 1
            else:
                host = hosts[rng.randrange(seen)]
            events.append((t, label, {"type": "worm", "family": fam, "fn": fam_fns[fam], "host": host,
                                        "key": f"worm:{i}:{fam}:{k}"}))
    events.sort(key=lambda e: (e[0], e[2]["key"]))
    return events, campaigns, outbreaks


def generate_stream(args):
    t0 = time.time()
    out = args.out
    if os.path.exists(out) and os.listdir(out):
        if not args.force:
            sys.exit(f"zh-corpus-gen: {out} is not empty (use --force to replace clean/, worm/, manifest.jsonl "
                     f"and stream.jsonl)")
        for sub in ("clean", "worm", "malicious"):
            shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        for f in ("manifest.jsonl", "stream.jsonl"):
            try:
                os.remove(os.path.join(out, f))
            except FileNotFoundError:
                pass
    start = dt.datetime.fromisoformat(args.start.replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    start_ms = int(start.timestamp() * 1000)
    events, campaigns, outbreaks = plan_stream(args, start_ms)
    corpus = StreamCorpus(args.seed, polymorphic=not args.identical_binaries)
    width = max(5, len(str(len(events))))
    entries, lines, made_dirs = [], [], set()
    for idx, (ms, label, spec) in enumerate(events, 1):
        fam = spec.get("family")
        corpus.key = spec["key"]
        ctx = StreamCtx(corpus, idx, ms, label, fam, spec["key"], host=spec.get("host"))
        if spec["type"] == "bulk":
            camp = spec["camp"]
            if "our_domain" in camp:            # a memo goes to its own company's staff
                ctx.our_domain = camp["our_domain"]
                ctx.mx = dict(OUR_DOMAINS)[ctx.our_domain]
                ctx.rcpt = f"{local_part(ctx.rng, ctx.rcpt_first, ctx.rcpt_last)}@{ctx.our_domain}"
            b = camp["fn"](ctx, camp, extra_rcpts(ctx, spec["n_rcpt"]))
        else:
            b = spec["fn"](ctx)
        rel = f"clean/{idx:0{width}d}.eml" if label == "clean" else f"{label}/{fam}/{idx:0{width}d}.eml"
        d = os.path.join(out, os.path.dirname(rel))
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        with open(os.path.join(out, rel), "wb") as f:
            f.write(b.raw)
        e = {"path": rel, "label": label, "family": fam, "kind": b.kind, "envelope": b.envelope,
             "size": len(b.raw), "attachments": ctx.atts, "traits": uniq(ctx.traits)}
        line = {"path": rel}
        line.update(b.envelope)
        line.update(label=label, family=fam, kind=b.kind)
        if spec["type"] == "bulk":
            e["campaign"] = line["campaign"] = spec["camp"]["id"]
        entries.append(e)
        lines.append(line)
    with open(os.path.join(out, "manifest.jsonl"), "w", encoding="utf-8") as f:
        for e in entries:
            f.write(json.dumps(e, ensure_ascii=False) + "\n")
    with open(os.path.join(out, "stream.jsonl"), "w", encoding="utf-8") as f:
        for ln in lines:
            f.write(json.dumps(ln, ensure_ascii=False) + "\n")
    if not args.quiet:
        stream_summary(entries, campaigns, outbreaks, start_ms, args, time.time() - t0, out)


def volume_surge(es, window=600000, copies=5, senders=3, ips=3):
    """Do these messages (sorted by arrival) ever reach the volume thresholds
    within one window?"""
    lo = 0
    for hi, e in enumerate(es):
        while es[lo]["envelope"]["received_at"] <= e["envelope"]["received_at"] - window:
            lo += 1
        w = es[lo:hi + 1]
        if (len(w) >= copies and len({x["envelope"]["mail_from"] for x in w}) >= senders
                and len({x["envelope"]["client_ip"] for x in w}) >= ips):
            return True
    return False


def stream_summary(entries, campaigns, outbreaks, start_ms, args, elapsed, out):
    n = len(entries)
    fams = [o["family"] for o in outbreaks]
    worms = [e for e in entries if e["label"] != "clean"]
    bulk = [e for e in entries if "campaign" in e]
    sizes = [e["size"] for e in entries]
    print(f"zh-corpus-gen: wrote a {args.hours:g} h stream of {n} messages to {out} in {elapsed:.2f}s "
          f"({sum(sizes) / 1048576:.1f} MB)")
    print(f"  clean={n - len(worms)} ({len(bulk)} from {len(campaigns)} bulk campaigns)  worm={len(worms)} "
          f"({len(worms) / max(1, n):.1%})")
    ck = Counter(c["kind"] for c in campaigns)
    for kind in sorted(ck):
        cs = [c for c in campaigns if c["kind"] == kind]
        msgs = sum(len(c["times"]) for c in cs)
        rc = sum(c["n_rcpt"] for c in cs)
        print(f"  {kind}: {len(cs)} campaigns, {msgs} messages to {rc} recipients, "
              f"{sum(1 for c in cs if c.get('verp'))} with VERP senders, "
              f"{sum(1 for c in cs if c['batch'] > 1)} as multi-recipient transactions")
    surge = [c for c in campaigns if volume_surge([e for e in bulk if e["campaign"] == c["id"]])]
    print(f"  campaigns whose copies alone reach the default outbreak volume (>= 5 copies from >= 3 senders "
          f"and >= 3 client IPs within 10 min): {len(surge)} ({', '.join(c['id'] + ' ' + c['kind'] for c in surge)})")
    oneoff_att = Counter(e["kind"] for e in entries if e["label"] == "clean" and "campaign" not in e and has_attachment(e))
    print("  one-off clean mail with attachments: " + "  ".join(f"{k}={v}" for k, v in sorted(oneoff_att.items())))
    for o in outbreaks:
        fe = [e for e in worms if e["family"] == o["family"]]
        ips = len({e["envelope"]["client_ip"] for e in fe})
        senders = len({e["envelope"]["mail_from"] for e in fe})
        kinds = Counter(e["kind"] for e in fe)
        start = dt.datetime.fromtimestamp(o["start"] / 1000, dt.timezone.utc).strftime("%H:%M:%S")
        print(f"  outbreak {o['family']}: first copy {start}Z, {len(fe)} copies from {ips} client IPs and "
              f"{senders} envelope senders; " + ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))
    # timeline
    slot = 30 * 60000 if args.hours <= 12 else 3600000
    nslots = int(math.ceil(args.hours * 3600000 / slot))
    print(f"  timeline ({slot // 60000} min slots): messages, bulk, " + ", ".join(fams) + ", worm share")
    for s in range(nslots):
        lo, hi = start_ms + s * slot, start_ms + (s + 1) * slot
        es = [e for e in entries if lo <= e["envelope"]["received_at"] < hi]
        fc = [sum(1 for e in es if e["family"] == f) for f in fams]
        w = sum(fc)
        t = dt.datetime.fromtimestamp(lo / 1000, dt.timezone.utc).strftime("%H:%M")
        print(f"    {t}  {len(es):5d}  {sum(1 for e in es if 'campaign' in e):4d}  " +
              "  ".join(f"{c:4d}" for c in fc) + f"  {w / max(1, len(es)):6.1%}")


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="zh-corpus-gen.py",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate zerohour's labelled test corpus: clean mail (including the tricky kinds) and "
                    "copies of historical mass-mailing worms (Mydoom, Sobig.F, Bagle, Netsky, Mimail, Dumaru.Y) "
                    "modelled on their documented behaviour.  Nothing written is runnable: executables are "
                    "synthetic PE look-alikes with random filler.",
        epilog="""output layout:
  DIR/clean/NNNNN.eml             clean messages (CRLF line endings)
  DIR/worm/<family>/NNNNN.eml     worm copies, family = mydoom|sobig|bagle|netsky|mimail|dumaru
  DIR/manifest.jsonl              one JSON object per message:
      path, label ("clean"|"worm"), family (null for clean), kind (template),
      envelope {client_ip, helo, mail_from ("" = null sender), rcpt_to[], received_at (unix ms)},
      size, attachments [{name, declared_type, sniffed, size, encoding, members?, encrypted?, password?}],
      traits [...]  (the behaviours a detector should -- or for clean mail should not -- react to)
  DIR/stream.jsonl                (--stream only) one line per message in arrival order:
      {path, client_ip, helo, mail_from, rcpt_to, received_at} as `zerohour scan --envelopes`
      reads it, plus label, family, kind (and campaign for bulk copies), which the CLI ignores

The same --seed (and options) always gives byte-identical output.
Verify a corpus with zh-corpus-check.py DIR.""")
    ap.add_argument("--out", required=True, metavar="DIR", help="output directory (created; must be empty unless --force)")
    ap.add_argument("--count", type=int, default=1000, metavar="N", help="number of messages (default 1000)")
    ap.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    ap.add_argument("--modern", action="store_true",
                    help="today's waves instead of the 2004 worms: 17 families of 2019-2025 (Emotet, Qakbot, IcedID, "
                         "AgentTesla, Bumblebee, the OneNote wave, ...) delivered in ISO/IMG/VHD images, shortcuts, "
                         "OneNote, macro documents, HTML/SVG smuggling, PDFs and password zips, beside hard clean "
                         "mail; label \"malicious\", default --start " + "2025-03-03T08:00:00Z" + ", --worm-fraction 0.45 "
                         "(see tests/corpus/README.md, \"Today's families\")")
    ap.add_argument("--worm-fraction", type=float, default=None, metavar="F",
                    help="fraction of messages that are worm (--modern: malicious) copies, 0..1 (default 0.15; "
                         "0.45 with --modern)")
    ap.add_argument("--start", default=None, metavar="ISO8601",
                    help=f"arrival time of the first message (default {DEFAULT_START}; --modern: 2025-03-03T08:00:00Z)")
    ap.add_argument("--span-hours", type=float, default=24.0, metavar="H",
                    help="arrival times are spread over this many hours (default 24)")
    ap.add_argument("--force", action="store_true", help="replace an existing corpus in DIR")
    ap.add_argument("-q", "--quiet", action="store_true", help="no summary")
    st = ap.add_argument_group(
        "stream mode",
        "--stream writes hours of gateway traffic in arrival order instead: clean mail (one-off messages, "
        "newsletter and vendor campaigns sent to many recipients, company-wide memos) at --rate, and from "
        "--outbreak-start-hour on, each --outbreak-family appears and grows (doubling every --doubling-min) "
        "to --worm-share of all traffic, from a pool of infected hosts, with new attachment bytes in every "
        "copy.  Besides DIR/manifest.jsonl it writes DIR/stream.jsonl for `zerohour scan --envelopes` "
        "(see tests/corpus/README.md, \"Stream mode\").  --count, --worm-fraction and --span-hours do not "
        "apply.")
    st.add_argument("--stream", action="store_true", help="write an arrival-ordered stream with outbreaks")
    st.add_argument("--hours", type=float, default=6.0, metavar="H", help="length of the stream (default 6)")
    st.add_argument("--rate", type=float, default=10.0, metavar="MSGS_PER_MIN",
                    help="clean messages (SMTP transactions) per minute; worm copies come on top (default 10)")
    st.add_argument("--outbreak-family", action="append", metavar="FAMILY",
                    help="a worm family that breaks out (repeatable; " + "|".join(sorted(STREAM_FAMILIES)) +
                         "; default: " + " and ".join(STREAM_DEFAULT_FAMILIES) + "; with --modern any family of "
                         "zh_modern.py or novel, a wave in a made-up container no engine knows (the default))")
    st.add_argument("--outbreak-start-hour", type=float, default=None, metavar="X",
                    help="hours after --start when the first family appears (default H/2)")
    st.add_argument("--outbreak-stagger-min", type=float, default=20.0, metavar="M",
                    help="each further family appears M minutes after the previous one (default 20)")
    st.add_argument("--doubling-min", type=float, default=10.0, metavar="M",
                    help="a family's rate doubles every M minutes, from one copy per 10 minutes (default 10)")
    st.add_argument("--worm-share", type=float, default=1 / 12, metavar="F",
                    help="each family's share of all traffic at its peak (default 1/12, Mydoom.A's peak "
                         "as MessageLabs measured it)")
    st.add_argument("--infected-hosts", type=int, default=300, metavar="N",
                    help="client IPs (infected hosts) per family (default 300)")
    st.add_argument("--bulk-share", type=float, default=0.2, metavar="F",
                    help="share of clean messages that are campaign copies (default 0.2)")
    st.add_argument("--identical-binaries", action="store_true",
                    help="worm copies of one variant share one binary (default: new bytes in every copy)")
    args = ap.parse_args(argv)
    if args.start is None:
        args.start = "2025-03-03T08:00:00Z" if args.modern else DEFAULT_START
    if args.worm_fraction is None:
        args.worm_fraction = 0.45 if args.modern else 0.15
    if args.stream:
        for f in args.outbreak_family or []:
            if f not in stream_families(args):
                ap.error(f"--outbreak-family {f}: not one of " + ", ".join(sorted(stream_families(args))))
        if args.hours <= 0 or args.rate <= 0:
            ap.error("--hours and --rate must be > 0")
        if args.outbreak_start_hour is None:
            args.outbreak_start_hour = args.hours / 2
        if not 0 <= args.outbreak_start_hour < args.hours:
            ap.error("--outbreak-start-hour must be within [0, --hours)")
        nf = len(args.outbreak_family or default_stream_families(args))
        if not 0 < args.worm_share < 1 / nf:
            ap.error("--worm-share must be > 0 and below 1 / number of families")
        if not 0 <= args.bulk_share < 1:
            ap.error("--bulk-share must be within [0, 1)")
        if args.doubling_min <= 0 or args.infected_hosts < 1 or args.outbreak_stagger_min < 0:
            ap.error("--doubling-min and --infected-hosts must be positive, --outbreak-stagger-min >= 0")
        try:
            generate_stream(args)
        except BrokenPipeError:
            sys.stderr.close()
        return
    if args.count < 1:
        ap.error("--count must be >= 1")
    if not 0.0 <= args.worm_fraction <= 1.0:
        ap.error("--worm-fraction must be between 0 and 1")
    if args.span_hours <= 0:
        ap.error("--span-hours must be > 0")
    try:
        generate(args)
    except BrokenPipeError:      # summary piped into head(1)
        sys.stderr.close()


if __name__ == "__main__":
    main()
