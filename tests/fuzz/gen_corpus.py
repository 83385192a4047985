#!/usr/bin/env python3
"""Writes the seed corpora under tests/fuzz/corpus/<name>/ (the seeds are
checked in; rerun after changing an input format).  Each seed is a valid,
meaningful input: requests a well-behaved frontend sends, the keys it
writes, the calls sidecorectl makes, a config file an admin writes.
Layouts: the harnesses' headers (blkif_drive.h, fuzz_netif.c) and
<xen/io/blkif.h>, <xen/io/netif.h>, blkback/blk_abi.h."""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
PAGE = 4096


def put(name, seed, data):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, seed), "wb") as f:
        f.write(data.rstrip(b"\0") if name != "fe_keys" else data)  # the harnesses zero-fill


def page(buf):
    assert len(buf) <= PAGE
    return bytes(buf) + bytes(PAGE - len(buf))


# ---- blkif -------------------------------------------------------------
# per ABI: entry size and the offsets of (id, sector, segs / nr_sectors /
# handle+grefs) in a request (blk_abi.h; native = x86_64 here)
ABIS = {
    0: dict(entry=112, id=8, sector=16, seg=24, nr=24, ihandle=24, igrefs=28),
    1: dict(entry=108, id=4, sector=12, seg=20, nr=20, ihandle=20, igrefs=24),
    2: dict(entry=112, id=8, sector=16, seg=24, nr=24, ihandle=24, igrefs=28),
}
OP_READ, OP_WRITE, OP_BARRIER, OP_FLUSH, OP_DISCARD, OP_INDIRECT = 0, 1, 2, 3, 5, 6


def rw(a, op, rid, sector, segs):
    L = ABIS[a]
    b = bytearray(L["entry"])
    struct.pack_into("<BBH", b, 0, op, len(segs), 0)
    struct.pack_into("<QQ", b, L["id"], rid, 0)
    struct.pack_into("<Q", b, L["sector"], sector)
    for i, (gref, first, last) in enumerate(segs):
        struct.pack_into("<IBB", b, L["seg"] + 8 * i, gref, first, last)
    return b


def discard(a, rid, sector, nr, secure=0):
    L = ABIS[a]
    b = bytearray(L["entry"])
    struct.pack_into("<BBH", b, 0, OP_DISCARD, secure, 0)
    struct.pack_into("<Q", b, L["id"], rid)
    struct.pack_into("<Q", b, L["sector"], sector)
    struct.pack_into("<Q", b, L["nr"], nr)
    return b


def indirect(a, iop, rid, sector, nseg, grefs):
    L = ABIS[a]
    b = bytearray(L["entry"])
    struct.pack_into("<BBH", b, 0, OP_INDIRECT, iop, nseg)
    struct.pack_into("<Q", b, L["id"], rid)
    struct.pack_into("<Q", b, L["sector"], sector)
    struct.pack_into("<H", b, L["ihandle"], 0)
    for i, g in enumerate(grefs):
        struct.pack_into("<I", b, L["igrefs"] + 4 * i, g)
    return b


def blk_ring(a, reqs, rsp_prod=0, order=0):
    L = ABIS[a]
    n_ents = 1 << ((PAGE * (1 << order) - 64) // L["entry"]).bit_length() - 1
    ring = bytearray(PAGE * (1 << order))
    struct.pack_into("<IIII", ring, 0, (rsp_prod + len(reqs)) & 0xffffffff, 1, rsp_prod, 1)
    for i, r in enumerate(reqs):
        slot = (rsp_prod + i) % n_ents
        ring[64 + slot * L["entry"]: 64 + slot * L["entry"] + len(r)] = r
    return bytes(ring)


def blk_hdr(a, order=0, backwards=False, limits=0x2e, ss_shift=0, max_ind=256,
            disk=1 << 20, batch=8):
    return struct.pack("<BBBBHIBB", a, order | (8 if backwards else 0), limits, ss_shift,
                       max_ind, disk, batch - 1, 0)


def indirect_page(nseg):
    b = bytearray(PAGE)
    for i in range(nseg):
        struct.pack_into("<IBB", b, 8 * i, 100 + i, 0, 7)
    return bytes(b)


def blkif_seeds():
    seeds = {}
    for a, an in ((0, "native"), (1, "x86_32"), (2, "x86_64")):
        seeds[f"{an}-rw"] = blk_hdr(a) + blk_ring(a, [
            rw(a, OP_READ, 1, 0, [(10, 0, 7)]),
            rw(a, OP_WRITE, 2, 8, [(11, 0, 7), (12, 0, 3)]),
            rw(a, OP_READ, 3, 2048, [(13 + i, 0, 7) for i in range(11)]),
        ])
        seeds[f"{an}-flush-discard"] = blk_hdr(a, limits=0x1e) + blk_ring(a, [
            rw(a, OP_FLUSH, 4, 0, []),
            rw(a, OP_BARRIER, 5, 16, [(20, 0, 7)]),
            discard(a, 6, 4096, 2048, secure=1),
        ])
        seeds[f"{an}-indirect"] = blk_hdr(a) + blk_ring(a, [
            indirect(a, OP_READ, 7, 64, 32, [50]),
            indirect(a, OP_WRITE, 8, 128, 16, [51]),
        ]) + indirect_page(32)
        seeds[f"{an}-wrap-order1"] = blk_hdr(a, order=1, backwards=True, ss_shift=3,
                                             disk=1 << 24) + blk_ring(a, [
            rw(a, OP_READ, 9 + i, 8 * i, [(30 + i, 0, 7)]) for i in range(6)
        ], rsp_prod=0xfffffffd, order=1)
    # a read-only 4 KiB-sector disk refusing writes and misaligned reads
    seeds["native-readonly-4k"] = blk_hdr(0, limits=0x01, ss_shift=3) + blk_ring(0, [
        rw(0, OP_WRITE, 1, 0, [(10, 0, 7)]),
        rw(0, OP_READ, 2, 3, [(11, 1, 2)]),
        rw(0, OP_READ, 3, 8, [(12, 0, 7)]),
    ])
    for k, v in seeds.items():
        put("blkif", k, v)
    # the race harness: the same, with a writer's script appended (3-byte
    # steps: rewrite req_prod, a request's nr_segments and an indirect
    # descriptor while they are read)
    for k in ("native-rw", "x86_32-indirect", "x86_64-flush-discard"):
        v = seeds[k]
        script = bytearray()
        for off, val in ((0, 3), (64 + 1, 200), (1, 0xff), (64 + 2, 0xff), (PAGE + 5, 0x40),
                         (64 + 112 + 1, 11), (0, 2)):
            script += struct.pack("<HB", off, val)
        # the harness takes the last min(size / 4, 768) bytes as the script
        n = next(n for n in range(len(v)) if n == min((len(v) + n) // 4, 768))
        script = (bytes(script) * (n // len(script) + 1))[:n]
        put("blkif_race", k, v + script)


# ---- netif --------------------------------------------------------------
MORE, EXTRA = 1 << 2, 1 << 3


def tx_req(gref, offset, flags, rid, size):
    return struct.pack("<IHHHH", gref, offset, flags, rid, size)


def tx_extra(etype, flags, payload):
    return struct.pack("<BB", etype, flags) + payload.ljust(10, b"\0")


def tx_ring(slots, start=0):
    ring = bytearray(PAGE)
    struct.pack_into("<IIII", ring, 0, (start + len(slots)) & 0xffffffff, 1, start, 1)
    for i, s in enumerate(slots):
        o = 64 + ((start + i) % 256) * 12
        ring[o:o + len(s)] = s
    return bytes(ring)


def rx_ring(n, start=0):
    ring = bytearray(PAGE)
    struct.pack_into("<IIII", ring, 0, (start + n) & 0xffffffff, 1, start, 1)
    for i in range(n):
        struct.pack_into("<HHI", ring, 64 + ((start + i) % 256) * 8, i, 0, 500 + i)
    return bytes(ring)


def netif_seeds():
    gso = tx_extra(1, 0, struct.pack("<HBBH", 1448, 1, 0, 0))
    mcast = tx_extra(2, 0, bytes([0x01, 0x00, 0x5e, 0x00, 0x00, 0x01]))
    put("netif", "one-frame", b"\x00\x04\x00\x00" + tx_ring([tx_req(7, 0, 0, 1, 60)]) + rx_ring(4))
    put("netif", "gso-frags", b"\x02\x10\x55\x55" + tx_ring([
        tx_req(8, 0, MORE | EXTRA, 2, 9000), gso,
        tx_req(9, 0, MORE, 3, 4096), tx_req(10, 0, 0, 4, 2000),
        tx_req(11, 128, 0, 5, 1514),
    ]) + rx_ring(16, start=250))
    put("netif", "mcast-and-drops", b"\x00\x08\x00\x00" + tx_ring([
        tx_req(12, 0, EXTRA, 6, 0), mcast,             # a multicast op, no frame
        tx_req(13, 0, 0, 7, 10),                       # a runt
        tx_req(14, 0, MORE, 8, 100), tx_req(15, 0, 0, 9, 0),  # a zero fragment
    ], start=0xfffffffe) + rx_ring(0))


# ---- control ring ------------------------------------------------------------
def ctrl(rid, rtype, *d):
    d = list(d) + [0] * (3 - len(d))
    return struct.pack("<HHIII", rid, rtype, *d)


def ipv4_tcp_frame():
    eth = bytes(6) + bytes([2, 0, 0, 0, 0, 1]) + b"\x08\x00"
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 40, 1, 0, 64, 6, 0, bytes([10, 0, 0, 1]),
                     bytes([10, 0, 0, 2]))
    tcp = struct.pack(">HHIIBBHHH", 40000, 80, 1, 0, 0x50, 0x02, 8192, 0, 0)
    f = eth + ip + tcp
    return bytes([len(f)]) + f


def netctrl_seeds():
    # what Linux netfront sends: algorithm, flags, key, mapping size, mapping
    reqs = [ctrl(1, 7, 1), ctrl(2, 1), ctrl(3, 2, 0xf), ctrl(4, 3, 77, 40),
            ctrl(5, 4), ctrl(6, 5, 64), ctrl(7, 6, 78, 0, 64)]
    table = b"".join(struct.pack("<I", i % 4) for i in range(128))
    put("netctrl", "netfront-setup", bytes([3, len(reqs)]) + b"".join(reqs) + ipv4_tcp_frame()
        + table)
    bad = [ctrl(1, 7, 9), ctrl(2, 3, 77, 41), ctrl(3, 5, 129), ctrl(4, 6, 78, 0, 200),
           ctrl(5, 6, 0x80000001, 0, 4), ctrl(6, 8), ctrl(7, 0)]
    put("netctrl", "refused", bytes([0, len(bad)]) + b"".join(bad) + bytes([0]) + table)


# ---- frontend keys ---------------------------------------------------------
def fe_keys_seeds():
    # value i goes to reader i % 10: event-channel, ring-page-order,
    # xdp-headroom, request-rx-copy, feature-*, num-queues (max 4, max 1),
    # protocol, state, a signed value; 0x7f alone = absent
    put("fe_keys", "blkfront", b"\n".join([b"12", b"4", b"\x7f", b"1", b"1", b"4", b"\x7f",
                                           b"x86_32-abi", b"4", b"0"]))
    put("fe_keys", "netfront", b"\n".join([b"7", b"\x7f", b"256", b"1", b"0", b"2", b"1",
                                           b"x86_64-abi", b"3", b"-1"]))
    put("fe_keys", "hostile", b"\n".join([b"4294967296", b"+1", b"2048", b"2", b"01", b"0",
                                          b"5", b"x86_32-abi\0x", b" 4", b"-9223372036854775808"]))


# ---- control socket ---------------------------------------------------------
def ctl_seeds():
    put("ctl", "calls", b"\n".join([
        b'{"jsonrpc":"2.0","id":1,"method":"status"}',
        b'{"jsonrpc":"2.0","id":"a","method":"set-tenant","params":{"domid":5,"weight":200}}',
        b'{"jsonrpc":"2.0","method":"echo","params":[1,2,3]}',
        b'{"jsonrpc":"2.0","id":2,"method":"fail","params":{}}',
    ]) + b"\n")
    put("ctl", "errors", b"\n".join([
        b'{"jsonrpc":"2.0","id":3,"method":"nope"}',
        b'[{"jsonrpc":"2.0","id":1,"method":"status"}]',
        b'{"jsonrpc":"1.0","id":4,"method":"status"}',
        b'{"jsonrpc":"2.0","id":{},"method":"status"}',
        b'{"jsonrpc":"2.0","id":5,"method":"echo","params":7}',
        b'{"jsonrpc":"2.0","id":6,"id":7,"method":"status"}',
        b'{"jsonrpc":"2.0","id":8,"method":',
    ]) + b"\n")
    put("ctl", "unicode", '{"jsonrpc":"2.0","id":"\u00e9","method":"echo","params":{"k":"\u2603"}}\n'
        .encode())


# ---- config file ------------------------------------------------------------
def config_seeds():
    put("config", "full.conf", b"""# sidecored.conf
mode = poll
cores = 2
cpus = 0,1
poll-idle-us = 200
log-level = info
ctl = /run/sidecore/sidecored.sock
types = vbd,vif
vbd.max-queues = 4
vbd.max-ring-order = 4
vbd.max-indirect = 256
vbd.max-persistent = 1056
vbd.discard = yes
vif.max-queues = 2
vif.tap = yes
tenant.5.weight = 200
tenant.5.lim_iops = 5000
tenant = 9:weight=50,res_bps=1048576
""")
    put("config", "event.conf", b"mode=event   # trailing comment\nplatform = sim\n"
        b"no-discard = 1\nmax-queues = 3\n")
    put("config", "bad.conf", b"cores = 65\n")


if __name__ == "__main__":
    blkif_seeds()
    netif_seeds()
    netctrl_seeds()
    fe_keys_seeds()
    ctl_seeds()
    config_seeds()
    sys.exit(0)
