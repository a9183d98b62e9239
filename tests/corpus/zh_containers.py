"""zh_containers.py -- byte-exact writers for the containers today's mail waves use.

Used by zh-corpus-gen.py --modern (tests/corpus/zh_modern.py).  Every writer is
written from the format's public specification, takes its timestamps and
random bytes from the caller (so the output is deterministic per seed) and
returns bytes.  Real tools read what they write (tests/corpus/zh-corpus-check.py
checks that: bsdtar and isoinfo for ISO 9660, mtools for FAT images and VHDs,
lnkinfo for shortcuts, gsf and gsf-vba-dump for OLE2 and VBA projects):

  iso9660()     ISO 9660 level 1 names + a Joliet tree (ECMA-119, Joliet spec)
  fat_image()   FAT12/FAT16 volume, long file names (Microsoft FAT spec)
  vhd_fixed()   MBR + FAT16 partition + 512-byte "conectix" footer (VHD spec)
  lnk()         Windows shortcut (MS-SHLLINK)
  onenote()     a minimal .one: header + FileDataStoreObjects (MS-ONESTORE 2.6.13)
  cfb()         OLE2 compound file, v3, with mini stream (MS-CFB)
  ovba_compress(), vba_storage()  VBA project streams (MS-OVBA 2.3, 2.4.1)

Python 3 standard library only.  Nothing here is executable content.
"""

from __future__ import annotations

import struct
import time
import uuid
import zlib

# =============================================================================
# ISO 9660 + Joliet
# =============================================================================

_ISO_SECTOR = 2048


def _both16(v):
    return struct.pack("<H", v) + struct.pack(">H", v)


def _both32(v):
    return struct.pack("<I", v) + struct.pack(">I", v)


def _iso_dirdate(ms):
    t = time.gmtime(ms / 1000)
    return bytes([t.tm_year - 1900, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, 0])


def _iso_voldate(ms):
    if ms is None:
        return b"0" * 16 + b"\0"
    return time.strftime("%Y%m%d%H%M%S00", time.gmtime(ms / 1000)).encode() + b"\0"


def _iso_d_name(name, used, is_dir):
    """ISO 9660 level 1 name: 8.3 d-characters, unique within its directory."""
    up = name.upper()
    stem, _, ext = up.rpartition(".") if ("." in up and not is_dir) else (up, "", "")
    clean = lambda s: "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in s)
    stem, ext = clean(stem)[:8] or "_", clean(ext)[:3]
    for n in range(1000):
        s = stem if n == 0 else stem[:8 - len(str(n)) - 1] + "_" + str(n)
        cand = s if is_dir else f"{s}.{ext};1"
        if cand not in used:
            used.add(cand)
            return cand
    raise ValueError("too many names")


def _iso_record(ident, lba, size, ms, is_dir, hidden=False):
    flags = (2 if is_dir else 0) | (1 if hidden else 0)
    n = len(ident)
    rec = struct.pack("<BB", 0, 0) + _both32(lba) + _both32(size) + _iso_dirdate(ms) + \
        bytes([flags, 0, 0]) + _both16(1) + bytes([n]) + ident
    if len(rec) % 2:
        rec += b"\0"
    return bytes([len(rec)]) + rec[1:]


def iso9660(files, volume_id, ms, publisher="", application="", joliet=True):
    """An ISO 9660 image.  files: list of (path, data[, hidden]) with "/" between
    directory and name (one level of directories is enough for what waves ship:
    "Invoice.lnk" beside "files/data.dll").  hidden sets the ISO 9660 existence
    bit, which Windows shows as the hidden attribute, as the Bumblebee and
    IcedID ISOs used for their DLLs.  Every name gets an ISO 9660 level 1 name
    and, with joliet, its full Unicode name in a Joliet tree (what Windows
    shows)."""
    # tree: {dir: [(name, data, hidden)]}, "" = root
    tree = {"": []}
    for f in files:
        path, data = f[0], f[1]
        hidden = f[2] if len(f) > 2 else False
        d, _, name = path.rpartition("/")
        if d and d not in tree:
            tree[d] = []
            tree[""].append((d, None, False))
        tree[d].append((name, data, hidden))
    dirs = [""] + sorted(d for d in tree if d)

    trees = [("primary", None)] + ([("joliet", None)] if joliet else [])
    lba = 19  # 16 system area sectors, PVD, SVD, terminator
    layout = {}
    for kind, _ in trees:
        layout[kind] = {"ptl": lba, "ptm": lba + 1}
        lba += 2
    # names per tree
    names = {}
    for kind, _ in trees:
        for d in dirs:
            used = set()
            for (name, data, hidden) in tree[d]:
                if kind == "primary":
                    ident = _iso_d_name(name, used, data is None).encode("ascii")
                else:
                    ident = name[:64].encode("utf-16-be")
                names[(kind, d, name)] = ident
    # directory extents (one sector each is enough for our few entries; grow if needed)
    def dir_size(kind, d):
        n = 34 * 2
        for (name, data, hidden) in tree[d]:
            ident = names[(kind, d, name)]
            n += 33 + len(ident) + (1 if (33 + len(ident)) % 2 else 0)
        return (n + _ISO_SECTOR - 1) // _ISO_SECTOR * _ISO_SECTOR
    for kind, _ in trees:
        for d in dirs:
            sz = dir_size(kind, d)
            layout[kind][d] = (lba, sz)
            lba += sz // _ISO_SECTOR
    # file data, shared by both trees
    data_lba = {}
    for d in dirs:
        for (name, data, hidden) in tree[d]:
            if data is None:
                continue
            data_lba[(d, name)] = lba
            lba += max(1, (len(data) + _ISO_SECTOR - 1) // _ISO_SECTOR)
    total = lba

    img = bytearray(total * _ISO_SECTOR)

    def put(sector, blob):
        img[sector * _ISO_SECTOR:sector * _ISO_SECTOR + len(blob)] = blob

    for kind, _ in trees:
        for d in dirs:
            dl, dsz = layout[kind][d]
            parent = layout[kind][""] if d else (dl, dsz)
            recs = _iso_record(b"\0", dl, dsz, ms, True) + _iso_record(b"\1", parent[0], parent[1], ms, True)
            entries = sorted(tree[d], key=lambda e: names[(kind, d, e[0])])
            for (name, data, hidden) in entries:
                ident = names[(kind, d, name)]
                if data is None:
                    sl, ssz = layout[kind][name]
                    recs += _iso_record(ident, sl, ssz, ms, True)
                else:
                    recs += _iso_record(ident, data_lba[(d, name)], len(data), ms, False, hidden)
            put(dl, recs)
        # path tables: root, then each directory (parent 1)
        ptl, ptm = bytearray(), bytearray()
        for i, d in enumerate(dirs):
            ident = b"\0" if not d else names[(kind, "", d)]
            dl = layout[kind][d][0]
            pad = b"\0" if len(ident) % 2 else b""
            ptl += bytes([len(ident), 0]) + struct.pack("<IH", dl, 1) + ident + pad
            ptm += bytes([len(ident), 0]) + struct.pack(">IH", dl, 1) + ident + pad
        put(layout[kind]["ptl"], ptl)
        put(layout[kind]["ptm"], ptm)
        layout[kind]["ptsize"] = len(ptl)
    for d in dirs:
        for (name, data, hidden) in tree[d]:
            if data is not None:
                put(data_lba[(d, name)], data)

    def vd(kind):
        joliet_vd = kind == "joliet"

        def field(s, n, dchars=False):
            if joliet_vd:
                b = s.encode("utf-16-be")[:n - (n % 2)]
                while len(b) < n - (n % 2):
                    b += b"\0 "
                return b.ljust(n, b" ")
            s = s.upper() if dchars else s
            return s.encode("ascii", "replace")[:n].ljust(n, b" ")
        rl, rsz = layout[kind][""]
        v = bytearray()
        v += bytes([2 if joliet_vd else 1]) + b"CD001" + b"\1" + b"\0"
        v += field("", 32) + field(volume_id, 32, True)
        v += b"\0" * 8 + _both32(total)
        v += (b"%/E" + b"\0" * 29) if joliet_vd else b"\0" * 32
        v += _both16(1) + _both16(1) + _both16(_ISO_SECTOR) + _both32(layout[kind]["ptsize"])
        v += struct.pack("<I", layout[kind]["ptl"]) + struct.pack("<I", 0)
        v += struct.pack(">I", layout[kind]["ptm"]) + struct.pack(">I", 0)
        v += _iso_record(b"\0", rl, rsz, ms, True)
        v += field("", 128) + field(publisher, 128) + field("", 128) + field(application, 128)
        v += field("", 37) + field("", 37) + field("", 37)
        v += _iso_voldate(ms) + _iso_voldate(ms) + _iso_voldate(None) + _iso_voldate(ms)
        v += b"\1\0"
        return bytes(v).ljust(_ISO_SECTOR, b"\0")
    put(16, vd("primary"))
    if joliet:
        put(17, vd("joliet"))
        put(18, b"\xffCD001\1".ljust(_ISO_SECTOR, b"\0"))
    else:
        put(17, b"\xffCD001\1".ljust(_ISO_SECTOR, b"\0"))
    return bytes(img)


# =============================================================================
# FAT12 / FAT16 volumes and fixed VHDs
# =============================================================================


def _fat_dostime(ms):
    t = time.gmtime(ms / 1000)
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((max(t.tm_year, 1980) - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)


def _fat_short(name, used):
    up = name.upper()
    stem, _, ext = up.rpartition(".") if "." in up else (up, "", "")
    ok = lambda s: "".join(c if c.isascii() and (c.isalnum() or c in "$%'-_@~`!(){}^#&") else "_" for c in s)
    s, e = ok(stem.replace(" ", "").replace(".", "")), ok(ext)[:3]
    lossy = s != stem or len(s) > 8 or ok(ext) != ext or len(ext) > 3
    if not lossy and (s.ljust(8) + e.ljust(3)) not in used:
        cand = s.ljust(8) + e.ljust(3)
        used.add(cand)
        return cand.encode("ascii"), False
    for n in range(1, 100000):
        tail = f"~{n}"
        cand = (s[:8 - len(tail)] + tail).ljust(8) + e.ljust(3)
        if cand not in used:
            used.add(cand)
            return cand.encode("ascii"), True
    raise ValueError("too many names")


def _lfn_entries(name, short):
    csum = 0
    for b in short:
        csum = (((csum & 1) << 7) + (csum >> 1) + b) & 0xFF
    u = name.encode("utf-16-le")
    units = [u[i:i + 2] for i in range(0, len(u), 2)]
    units.append(b"\0\0")
    while len(units) % 13:
        units.append(b"\xff\xff")
    pieces = [units[i:i + 13] for i in range(0, len(units), 13)]
    # drop a piece that is only padding after the terminator landed at a boundary
    if len(pieces) > 1 and all(p == b"\xff\xff" for p in pieces[-1]):
        pieces.pop()
    out = []
    for i, p in enumerate(pieces):
        seq = i + 1 | (0x40 if i == len(pieces) - 1 else 0)
        out.append(bytes([seq]) + b"".join(p[0:5]) + bytes([0x0F, 0, csum]) + b"".join(p[5:11]) +
                   b"\0\0" + b"".join(p[11:13]))
    return list(reversed(out))


def fat_image(files, label, ms, serial, min_bytes=0, hidden_sectors=0):
    """A FAT12 or FAT16 volume (whichever its cluster count makes it, as the
    FAT specification decides) holding files in its root directory, with long
    file names.  files: list of (name, data[, hidden]).  Sized to the content,
    as the tools that made .img attachments do."""
    bps, spc = 512, 4 if sum(len(f[1]) for f in files) > 1 << 20 else 1
    root_entries = 224 if spc == 1 else 512
    csize = bps * spc
    clusters_needed = sum(max(1, (len(f[1]) + csize - 1) // csize) for f in files)
    data_sectors = max(clusters_needed * spc + 64 * spc, (min_bytes // bps))
    while True:
        ncl = data_sectors // spc
        fat16 = ncl >= 4085
        fat_bytes = (ncl + 2) * 2 if fat16 else ((ncl + 2) * 3 + 1) // 2
        spf = (fat_bytes + bps - 1) // bps
        root_secs = root_entries * 32 // bps
        total = 1 + 2 * spf + root_secs + data_sectors
        if fat16 or ncl < 4085:
            break
    fat16 = (data_sectors // spc) >= 4085
    serial_b = struct.pack("<I", serial)
    bpb = struct.pack("<3s8sHBHBHHBHHHII", b"\xeb\x3c\x90", b"MSDOS5.0", bps, spc, 1, 2, root_entries,
                      total if total < 65536 else 0, 0xF8, spf, 63, 255, hidden_sectors,
                      total if total >= 65536 else 0)
    bpb += struct.pack("<BBB", 0x80, 0, 0x29) + serial_b + label.upper().encode("ascii")[:11].ljust(11) + \
        (b"FAT16   " if fat16 else b"FAT12   ")
    boot = bytearray(bpb.ljust(510, b"\0") + b"\x55\xaa")
    fat = {0: 0xFFF8 if fat16 else 0xFF8, 1: 0xFFFF if fat16 else 0xFFF}
    eoc = 0xFFFF if fat16 else 0xFFF
    data = bytearray(data_sectors * bps)
    root = bytearray()
    used = set()
    t, d = _fat_dostime(ms)
    vol = label.upper().encode("ascii")[:11].ljust(11) + bytes([0x08]) + b"\0" * 10 + struct.pack("<HHHI", t, d, 0, 0)
    root += vol
    cl = 2
    for f in files:
        name, blob = f[0], f[1]
        hidden = f[2] if len(f) > 2 else False
        short, _ = _fat_short(name, used)
        stem, ext = short[:8].decode().rstrip(), short[8:].decode().rstrip()
        if name != (f"{stem}.{ext}" if ext else stem):
            for e in _lfn_entries(name, short):
                root += e
        n = max(1, (len(blob) + csize - 1) // csize) if blob else 0
        first = cl if n else 0
        for i in range(n):
            fat[cl + i] = cl + i + 1 if i < n - 1 else eoc
        off = (cl - 2) * csize
        data[off:off + len(blob)] = blob
        cl += n
        attr = 0x20 | (0x02 if hidden else 0)
        root += short + bytes([attr, 0, 0]) + struct.pack("<HHHHHHHI", t, d, d, 0, t, d, first, len(blob))
    if len(root) > root_entries * 32:
        raise ValueError("root directory full")
    fatb = bytearray(spf * bps)
    for k, v in fat.items():
        if fat16:
            struct.pack_into("<H", fatb, k * 2, v)
        else:
            o = k * 3 // 2
            if k & 1:
                fatb[o] = (fatb[o] & 0x0F) | ((v << 4) & 0xF0)
                fatb[o + 1] = (v >> 4) & 0xFF
            else:
                fatb[o] = v & 0xFF
                fatb[o + 1] = (fatb[o + 1] & 0xF0) | ((v >> 8) & 0x0F)
    return bytes(boot) + bytes(fatb) * 2 + bytes(root).ljust(root_entries * 32, b"\0") + bytes(data)


def _chs(lba):
    c, r = divmod(lba, 63 * 255)
    h, s = divmod(r, 63)
    c = min(c, 1023)
    return bytes([h, ((c >> 2) & 0xC0) | (s + 1), c & 0xFF])


def mbr_disk(volume, ptype=0x06, start=2048, signature=0):
    """An MBR disk with one partition holding `volume` (a FAT image whose
    hidden_sectors should equal start)."""
    n = len(volume) // 512
    mbr = bytearray(512)
    struct.pack_into("<I", mbr, 440, signature)
    mbr[446:462] = bytes([0x00]) + _chs(start) + bytes([ptype]) + _chs(start + n - 1) + struct.pack("<II", start, n)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr) + b"\0" * ((start - 1) * 512) + volume


def vhd_fixed(disk, ms, unique_id):
    """A fixed VHD: the raw disk followed by the 512-byte hard disk footer
    (cookie "conectix", disk type 2, checksum = one's complement of the byte
    sum), geometry by the VHD specification's CHS algorithm."""
    disk = disk + b"\0" * (-len(disk) % 512)
    size = len(disk)
    sectors = min(size // 512, 65535 * 16 * 255)
    if sectors >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = sectors // spt
    else:
        spt = 17
        cth = sectors // spt
        heads = max(4, (cth + 1023) // 1024)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = sectors // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = sectors // spt
    cyl = cth // heads
    ts = int(ms / 1000) - 946684800
    f = bytearray(struct.pack(">8sIIQI4sI4sQQHBBII16sB", b"conectix", 2, 0x00010000, 0xFFFFFFFFFFFFFFFF, ts,
                              b"win ", 0x000A0000, b"Wi2k", size, size, cyl, heads, spt, 2, 0, unique_id, 0))
    f = f.ljust(512, b"\0")
    csum = (~sum(f)) & 0xFFFFFFFF
    struct.pack_into(">I", f, 64, csum)
    return disk + bytes(f)


# =============================================================================
# Windows shortcuts (MS-SHLLINK)
# =============================================================================

_LNK_CLSID = uuid.UUID("00021401-0000-0000-C000-000000000046").bytes_le
_MY_COMPUTER = uuid.UUID("20D04FE0-3AEA-1069-A2D8-08002B30309D").bytes_le


def _filetime(ms):
    return (ms * 10000 + 116444736000000000) if ms else 0


def _lnk_string(s):
    u = s.encode("utf-16-le")
    return struct.pack("<H", len(u) // 2) + u


def _shell_item(kind, name, size, ms, is_dir):
    t, d = _fat_dostime(ms)
    short = name.encode("ascii", "replace") + b"\0"
    if len(short) % 2:
        short += b"\0"
    body = bytes([kind, 0]) + struct.pack("<IHHH", size, d, t, 0x10 if is_dir else 0x20) + short
    return struct.pack("<H", len(body) + 2) + body


def lnk(target, arguments="", working_dir="", icon="", icon_index=0, show=7, ms=0, description="",
        relative_path=None, drive_serial=0, file_size=0, machine_id=""):
    """A shell link to `target` (a Windows path such as
    C:\\Windows\\System32\\cmd.exe): LinkTargetIDList (My Computer, drive,
    one item per path component), LinkInfo with the local base path and a
    volume id, StringData (description, relative path, working directory,
    arguments, icon location) and, when machine_id is set, a
    TrackerDataBlock.  show 7 = SW_SHOWMINNOACTIVE, as droppers use."""
    flags = 0x01 | 0x02 | 0x80  # HasLinkTargetIDList, HasLinkInfo, IsUnicode
    strings = b""
    # StringData in the order MS-SHLLINK 2.4 fixes, each with its LinkFlags bit
    for bit, value in ((0x04, description), (0x08, relative_path or ""), (0x10, working_dir),
                       (0x20, arguments), (0x40, icon)):
        if value:
            flags |= bit
            strings += _lnk_string(value)
    ft = _filetime(ms)
    header = struct.pack("<I16sII3QIIIHHII", 0x4C, _LNK_CLSID, flags, 0x20, ft, ft, ft, file_size, icon_index,
                         show, 0, 0, 0, 0)
    assert len(header) == 76
    parts = target.split("\\")
    drive = parts[0] + "\\"
    items = struct.pack("<H", 20) + bytes([0x1F, 0x50]) + _MY_COMPUTER
    dv = bytes([0x2F]) + drive.encode("ascii") + b"\0" * (23 - len(drive))
    items += struct.pack("<H", len(dv) + 2) + dv
    for i, p in enumerate(parts[1:]):
        last = i == len(parts) - 2
        items += _shell_item(0x32 if last else 0x31, p, file_size if last else 0, ms, not last)
    items += b"\0\0"
    idlist = struct.pack("<H", len(items)) + items
    label = b"\0"
    volid = struct.pack("<IIII", 16 + len(label), 3, drive_serial, 16) + label
    base = target.encode("ascii", "replace") + b"\0"
    suffix = b"\0"
    hdr_size = 28
    vol_off = hdr_size
    base_off = vol_off + len(volid)
    suffix_off = base_off + len(base)
    info_size = suffix_off + len(suffix)
    linkinfo = struct.pack("<IIIIIII", info_size, hdr_size, 1, vol_off, base_off, 0, suffix_off) + volid + base + suffix
    extra = b""
    if machine_id:
        mid = machine_id.encode("ascii")[:15].ljust(16, b"\0")
        droid = uuid.UUID(int=(drive_serial << 64) | 0x1234).bytes_le * 2
        blk = struct.pack("<IIII", 0x60, 0xA0000003, 0x58, 0) + mid + droid + droid
        extra += blk
    extra += b"\0\0\0\0"
    return header + idlist + linkinfo + strings + extra


# =============================================================================
# OneNote (MS-ONESTORE): a header and FileDataStoreObjects
# =============================================================================

ONE_FILE_TYPE = uuid.UUID("7B5C52E4-D88C-4DA7-AEB1-5378D02996D3").bytes_le
ONE_FILE_FORMAT = uuid.UUID("109ADD3F-911B-49F5-A5D0-1791EDC8AED8").bytes_le
FDSO_HEADER = uuid.UUID("BDE316E7-2665-4511-A4C4-8D4D0B7A9EAC").bytes_le
FDSO_FOOTER = uuid.UUID("71FBA722-0F79-4A0B-BB13-899256426B24").bytes_le


def onenote(rng, files, page_title):
    """A minimal .one section: the 1024-byte header (file type, file and
    format GUIDs, the ffv* version fields of OneNote 2010+), some page data
    holding the page title and each embedded file's name as UTF-16LE
    strings, then one FileDataStoreObject per file: header GUID, cbLength,
    unused and reserved fields, the bytes, padding to 8, footer GUID.
    files: list of (name, data)."""
    hdr = bytearray(1024)
    hdr[0:16] = ONE_FILE_TYPE
    hdr[16:32] = uuid.UUID(bytes=rng.randbytes(16)).bytes_le
    hdr[48:64] = ONE_FILE_FORMAT
    struct.pack_into("<IIII", hdr, 64, 0x2A, 0x2A, 0x2A, 0x2A)
    page = bytearray()
    page += rng.randbytes(rng.randint(200, 600))
    page += page_title.encode("utf-16-le") + b"\0\0"
    for name, _ in files:
        page += rng.randbytes(rng.randint(40, 120)) + name.encode("utf-16-le") + b"\0\0"
        page += ("." + name.rsplit(".", 1)[-1]).encode("utf-16-le") + b"\0\0"
    page += b"\0" * (-len(page) % 8)
    blocks = bytearray()
    for _, data in files:
        pad = b"\0" * (-len(data) % 8)
        blocks += FDSO_HEADER + struct.pack("<QIQ", len(data), 0, 0) + data + pad + FDSO_FOOTER
    out = bytes(hdr) + bytes(page) + bytes(blocks) + rng.randbytes(64)
    struct.pack_into("<Q", hdr, 0x90, len(out))
    return bytes(hdr) + out[1024:]


# =============================================================================
# OLE2 compound files (MS-CFB), version 3
# =============================================================================

_FREE, _EOC, _FATSECT, _NOSTREAM = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF


def _cfb_key(name):
    return (len(name), name.upper())


def cfb(tree, root_clsid=b"\0" * 16, ms=0):
    """An OLE2 compound file.  tree: dict name -> bytes (a stream) or dict (a
    storage).  Streams under 4096 bytes live in the mini stream, as MS-CFB
    requires.  Siblings form a balanced binary tree in the specification's
    order (length, then upper-case name); all nodes are black."""
    entries = [{"name": "Root Entry", "type": 5, "children": [], "data": b"", "clsid": root_clsid}]

    def add(node, parent):
        for name in sorted(node, key=_cfb_key):
            v = node[name]
            e = {"name": name, "type": 1 if isinstance(v, dict) else 2, "children": [],
                 "data": b"" if isinstance(v, dict) else v, "clsid": b"\0" * 16}
            entries.append(e)
            parent["children"].append(len(entries) - 1)
            if isinstance(v, dict):
                add(v, e)
    add(tree, entries[0])

    # mini stream
    mini = bytearray()
    minifat = []
    big = []
    for i, e in enumerate(entries):
        if e["type"] != 2:
            continue
        if len(e["data"]) < 4096:
            n = (len(e["data"]) + 63) // 64
            e["start"] = len(mini) // 64 if n else _EOC
            for k in range(n):
                minifat.append(len(mini) // 64 + k + 1 if k < n - 1 else _EOC)
            mini += e["data"] + b"\0" * (-len(e["data"]) % 64)
        else:
            big.append(i)
    # sector layout: big streams, mini stream container, minifat, directory, FAT
    sectors = []  # list of (bytes-of-512)
    fat = []

    def chain(blob):
        if not blob:
            return _EOC
        n = (len(blob) + 511) // 512
        first = len(sectors)
        for k in range(n):
            sectors.append(blob[k * 512:(k + 1) * 512].ljust(512, b"\0"))
            fat.append(first + k + 1 if k < n - 1 else _EOC)
        return first
    for i in big:
        entries[i]["start"] = chain(entries[i]["data"])
    entries[0]["start"] = chain(bytes(mini)) if mini else _EOC
    entries[0]["size"] = len(mini)
    mf = b"".join(struct.pack("<I", v) for v in minifat)
    mf += b"\xff" * (-len(mf) % 512)
    minifat_start = chain(mf) if minifat else _EOC
    n_minifat = len(mf) // 512 if minifat else 0

    def tree_of(ids):
        """Balanced BST over sorted ids; returns root id and sets left/right."""
        if not ids:
            return _NOSTREAM
        mid = len(ids) // 2
        root = ids[mid]
        entries[root]["left"] = tree_of(ids[:mid])
        entries[root]["right"] = tree_of(ids[mid + 1:])
        return root
    for e in entries:
        e.setdefault("left", _NOSTREAM)
        e.setdefault("right", _NOSTREAM)
    for e in entries:
        kids = sorted(e["children"], key=lambda i: _cfb_key(entries[i]["name"]))
        e["child"] = tree_of(kids)
    ft = _filetime(ms)
    d = bytearray()
    for e in entries:
        nm = e["name"].encode("utf-16-le")[:62]
        size = e.get("size", len(e["data"])) if e["type"] != 1 else 0
        start = e.get("start", 0) if e["type"] != 1 else 0
        times = (0, 0) if e["type"] == 2 else (ft if e["type"] == 1 else 0, ft)
        d += struct.pack("<64sHBBIII16sIQQIII", nm + b"\0\0", len(nm) + 2, e["type"], 1, e["left"], e["right"],
                         e["child"], e["clsid"], 0, times[0], times[1], start, size, 0)
    d += (b"\0" * 64 + struct.pack("<HBBIII", 0, 0, 0, _NOSTREAM, _NOSTREAM, _NOSTREAM) + b"\0" * 52) * \
        ((-len(entries)) % 4)
    dir_start = chain(bytes(d))
    # FAT sectors: enough to describe all sectors including themselves
    n_fat = 1
    while (len(sectors) + n_fat) > n_fat * 128:
        n_fat += 1
    if n_fat > 109:
        raise ValueError("compound file too large for this writer")
    fat_first = len(sectors)
    fat.extend([_FATSECT] * n_fat)
    fat.extend([_FREE] * (n_fat * 128 - len(fat)))
    fatb = b"".join(struct.pack("<I", v) for v in fat)
    for k in range(n_fat):
        sectors.append(fatb[k * 512:(k + 1) * 512])
    difat = [fat_first + k for k in range(n_fat)] + [_FREE] * (109 - n_fat)
    hdr = struct.pack("<8s16sHHHHH6sIIIIIIIII", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"\0" * 16, 0x3E, 3, 0xFFFE,
                      9, 6, b"\0" * 6, 0, n_fat, dir_start, 0, 4096, minifat_start, n_minifat, _EOC, 0)
    hdr += b"".join(struct.pack("<I", v) for v in difat)
    assert len(hdr) == 512
    return hdr + b"".join(sectors)


# =============================================================================
# VBA projects (MS-OVBA)
# =============================================================================


def ovba_compress(data):
    """MS-OVBA 2.4.1 compression: a CompressedContainer (signature 0x01) of
    chunks of up to 4096 decompressed bytes, each a sequence of flag bytes
    and literal or copy tokens whose offset/length split depends on the
    position within the chunk; a chunk that would not shrink is stored raw."""
    out = bytearray(b"\x01")
    for cs in range(0, max(len(data), 1), 4096):
        chunk = data[cs:cs + 4096]
        body = bytearray()
        i = 0
        index = {}
        while i < len(chunk):
            fpos = len(body)
            body.append(0)
            flags = 0
            for bit in range(8):
                if i >= len(chunk):
                    break
                bitcount = max(4, (i - 1).bit_length()) if i > 0 else 4
                max_len = (0xFFFF >> bitcount) + 3
                max_off = 1 << bitcount
                best_len, best_off = 0, 0
                key = bytes(chunk[i:i + 3])
                if i > 0 and len(key) == 3:
                    for p in reversed(index.get(key, [])[-24:]):
                        off = i - p
                        if off > max_off:
                            break
                        n = 0
                        lim = min(max_len, len(chunk) - i)
                        while n < lim and chunk[p + n] == chunk[i + n]:
                            n += 1
                        if n > best_len:
                            best_len, best_off = n, off
                            if n == lim:
                                break
                step = best_len if best_len >= 3 else 1
                if best_len >= 3:
                    body += struct.pack("<H", ((best_off - 1) << (16 - bitcount)) | (best_len - 3))
                    flags |= 1 << bit
                else:
                    body.append(chunk[i])
                for k in range(i, i + step):
                    index.setdefault(bytes(chunk[k:k + 3]), []).append(k)
                i += step
            body[fpos] = flags
        if len(body) + 2 > 4098 or (len(chunk) == 4096 and len(body) >= 4096):
            if len(chunk) != 4096:
                raise ValueError("incompressible short chunk")
            out += struct.pack("<H", 0x3FFF & (4096 + 2 - 3) | 0x3000) + chunk
        else:
            out += struct.pack("<H", ((len(body) + 2 - 3) & 0x0FFF) | 0x3000 | 0x8000) + body
    return bytes(out)


def ovba_decompress(blob):
    """The inverse, for the checker and the tests."""
    if not blob or blob[0] != 1:
        raise ValueError("no CompressedContainer signature")
    out = bytearray()
    p = 1
    while p < len(blob):
        hdr = struct.unpack_from("<H", blob, p)[0]
        size = (hdr & 0x0FFF) + 3
        end = min(p + size, len(blob))
        start = len(out)
        if not hdr & 0x8000:
            out += blob[p + 2:p + 2 + 4096]
            p += 4098
            continue
        q = p + 2
        while q < end:
            flags = blob[q]
            q += 1
            for bit in range(8):
                if q >= end:
                    break
                if flags >> bit & 1:
                    tok = struct.unpack_from("<H", blob, q)[0]
                    q += 2
                    diff = len(out) - start
                    bc = max(4, (diff - 1).bit_length())
                    length = (tok & (0xFFFF >> bc)) + 3
                    off = (tok >> (16 - bc)) + 1
                    for _ in range(length):
                        out.append(out[-off])
                else:
                    out.append(blob[q])
                    q += 1
        p = end
    return bytes(out)


def _rec(rid, data):
    return struct.pack("<HI", rid, len(data)) + data


def vba_storage(rng, modules, project="VBAProject", codepage=1252):
    """The streams of a VBA project: a dict for cfb() holding storage "VBA"
    (dir, _VBA_PROJECT, one stream per module) and the PROJECT and PROJECTwm
    streams.  modules: list of (name, source, kind) with kind "document"
    (ThisDocument, ThisWorkbook, Sheet1) or "module".  Source lines end in
    CRLF and start with the Attribute lines the VBA editor writes."""
    enc = lambda s: s.encode("cp1252", "replace")
    d = b""
    d += _rec(0x0001, struct.pack("<I", 1)) + _rec(0x004A, struct.pack("<I", 3))
    d += _rec(0x0002, struct.pack("<I", 0x409)) + _rec(0x0014, struct.pack("<I", 0x409))
    d += _rec(0x0003, struct.pack("<H", codepage)) + _rec(0x0004, enc(project))
    d += _rec(0x0005, b"") + _rec(0x0040, b"")
    d += _rec(0x0006, b"") + _rec(0x003D, b"")
    d += _rec(0x0007, struct.pack("<I", 0)) + _rec(0x0008, struct.pack("<I", 0))
    d += struct.pack("<HIIH", 0x0009, 4, rng.randint(0x40000000, 0x7FFFFFFF), rng.randint(1, 30))
    d += _rec(0x000C, b"") + _rec(0x003C, b"")
    # a reference to stdole, as every project has
    libid = enc("*\\G{00020430-0000-0000-C000-000000000046}#2.0#0#C:\\Windows\\System32\\stdole2.tlb#OLE Automation")
    d += _rec(0x0016, b"stdole") + _rec(0x003E, "stdole".encode("utf-16-le"))
    d += struct.pack("<HII", 0x000D, 4 + len(libid) + 6, len(libid)) + libid + struct.pack("<IH", 0, 0)
    d += _rec(0x000F, struct.pack("<H", len(modules))) + _rec(0x0013, struct.pack("<H", 0xFFFF))
    vba = {}
    for name, source, kind in modules:
        # the performance cache of a compiled module starts 01 16 03 00 (VBA7);
        # readers such as libgsf 1.14.50 check that first byte
        cache = b"\x01\x16\x03\x00" + rng.randbytes(rng.randint(300, 900))
        d += _rec(0x0019, enc(name)) + _rec(0x0047, name.encode("utf-16-le"))
        d += _rec(0x001A, enc(name)) + _rec(0x0032, name.encode("utf-16-le"))
        d += _rec(0x001C, b"") + _rec(0x0048, b"")
        d += _rec(0x0031, struct.pack("<I", len(cache)))
        d += _rec(0x001E, struct.pack("<I", 0)) + _rec(0x002C, struct.pack("<H", 0xFFFF))
        d += struct.pack("<HI", 0x0022 if kind == "document" else 0x0021, 0)
        d += struct.pack("<HI", 0x002B, 0)
        vba[name] = cache + ovba_compress(enc(source.replace("\r\n", "\n").replace("\n", "\r\n")))
    d += struct.pack("<HI", 0x0010, 0)
    vba["dir"] = ovba_compress(d)
    vba["_VBA_PROJECT"] = b"\xcc\x61\xff\xff\x00\x00\x00"
    gid = "{" + str(uuid.UUID(bytes=rng.randbytes(16))).upper() + "}"
    lines = [f'ID="{gid}"']
    for name, _, kind in modules:
        lines.append(f"Document={name}/&H00000000" if kind == "document" else f"Module={name}")
    hexbytes = lambda n: rng.randbytes(n).hex().upper()
    lines += [f'Name="{project}"', 'HelpContextID="0"', 'VersionCompatible32="393222000"',
              f'CMG="{hexbytes(19)}"', f'DPB="{hexbytes(21)}"', f'GC="{hexbytes(13)}"', "",
              "[Host Extender Info]", "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000", "",
              "[Workspace]"] + [f"{name}=0, 0, 0, 0, C" for name, _, _ in modules]
    wm = b"".join(enc(n) + b"\0" + n.encode("utf-16-le") + b"\0\0" for n, _, _ in modules) + b"\0\0"
    return {"VBA": vba, "PROJECT": ("\r\n".join(lines) + "\r\n").encode("cp1252"), "PROJECTwm": wm}
