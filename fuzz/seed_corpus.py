#!/usr/bin/env python3
"""Writes the seed corpus for the fuzz targets.

Usage: python3 fuzz/seed_corpus.py [--only=TARGET,...] [VECTOR_DIR]
(default: ../vectors; every target unless --only is given)

Each input is stored as fuzz/corpus/<target>/<sha1 of the bytes>, the naming
libFuzzer itself uses, so re-running the script (or fuzzing) never creates
duplicates. The decoder targets take byte strings from the vectors as they
are; `wire_json` gets JSON bodies built here around vector AUMs and
signatures; `tailchonk_decode` gets Go's store files from the vectors plus
hand-made entries; `machine_events` and `control_handle` get small event
programs in the byte encoding their drivers read (src/fuzzing/machine.rs and
src/fuzzing/control.rs; the op numbers below must match them).
"""
import base64
import glob
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = [a for a in sys.argv[1:] if not a.startswith("--only=")]
ONLY = [a[len("--only="):].split(",") for a in sys.argv[1:] if a.startswith("--only=")]
VECTORS = ARGS[0] if ARGS else os.path.join(HERE, "..", "vectors")
# Per chains/sync case, at most this many AUMs (they repeat the same shapes).
PER_SCENARIO = 6


def cases(name):
    with open(os.path.join(VECTORS, name + ".json")) as f:
        return json.load(f)["cases"]


def write(target, data):
    if ONLY and target not in ONLY[0]:
        return 0
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)
        return 1
    return 0


def h(s):
    return bytes.fromhex(s)


def main():
    n = {"aum_decode": 0, "nks_decode_verify": 0, "key_decode": 0}

    def add(target, hexstr):
        if isinstance(hexstr, str):
            n[target] += write(target, h(hexstr))

    for c in cases("decode"):
        target = "aum_decode" if c["kind"] == "aum" else "nks_decode_verify"
        add(target, c["input"])
        add(target, c.get("canonical"))
    for c in cases("aum"):
        add("aum_decode", c["cbor"])
    for c in cases("ed25519"):
        if c["type"] == "tka_bootstrap":
            add("aum_decode", c["genesis"])
        elif c["type"] == "tka_nks":
            add("nks_decode_verify", c["cbor"])
    for name in ("chains", "sync"):
        for c in cases(name):
            for a in c["aums"][:PER_SCENARIO]:
                add("aum_decode", a["cbor"])
    for name in ("sig", "hardening"):
        for c in cases(name):
            if c["type"] in ("verify", "tka_nks"):
                add("nks_decode_verify", c["cbor"])
                add("nks_decode_verify", c.get("canonical_cbor"))
            elif c["type"] == "resign":
                add("nks_decode_verify", c["old_nks"])
                add("nks_decode_verify", c.get("result"))
            elif c["type"] == "wrapped_authkey":
                n["nks_decode_verify"] += write("nks_decode_verify", c["input"].encode())
    for c in cases("key"):
        add("key_decode", c.get("cbor"))
    extra_seeds(n)
    for t, k in sorted(n.items()):
        print(f"{t}: {k} new files")


# --- wire_json -------------------------------------------------------------

# Selector order of tka::fuzzing::WIRE_TYPES.
WIRE_TYPES = [
    "InitBeginRequest", "InitBeginResponse", "InitFinishRequest",
    "InitFinishResponse", "BootstrapRequest", "BootstrapResponse",
    "SyncOfferRequest", "SyncOfferResponse", "SyncSendRequest",
    "SyncSendResponse", "DisableRequest", "DisableResponse",
    "SubmitSignatureRequest", "SubmitSignatureResponse",
    "SignaturesUsingKeyRequest", "SignaturesUsingKeyResponse", "TkaInfo",
    "MapResponseTka", "MapRequestTka", "NodeTka",
]


def b64(b):
    return base64.b64encode(b).decode()


def hash_text(cbor):
    return base64.b32encode(hashlib.blake2s(cbor).digest()).decode().rstrip("=")


def wire_bodies(aums, sigs):
    """(type name, body) pairs: typical, empty, null and edge-case bodies."""
    nk = "nodekey:" + "ab" * 32
    h = [hash_text(a) for a in aums[:4]]
    a64 = [b64(a) for a in aums[:3]]
    s64 = [b64(x) for x in sigs[:3]]
    out = []
    for t in WIRE_TYPES:
        out += [(t, "{}"), (t, "null")]
    out += [
        ("InitBeginRequest", {"Version": 145, "NodeKey": nk, "GenesisAUM": a64[0]}),
        ("InitBeginRequest", {"Version": 1, "NodeKey": nk, "GenesisAUM": None}),
        ("InitBeginResponse", {"NeedSignatures": [
            {"NodeID": 7, "NodePublic": nk, "RotationPubkey": b64(b"\x01" * 32)},
            {"NodeID": -1, "NodePublic": nk, "RotationPubkey": None}]}),
        ("InitBeginResponse", {"NeedSignatures": None}),
        ("InitFinishRequest", {"Version": 145, "NodeKey": nk,
                               "Signatures": {"12345": s64[0], "7": s64[1]},
                               "SupportDisablement": b64(b"secret")}),
        ("InitFinishRequest", {"Version": 145, "NodeKey": nk, "Signatures": None}),
        ("InitFinishResponse", {"Unknown": [1, 2, {"x": None}]}),
        ("BootstrapRequest", {"Version": 145, "NodeKey": nk, "Head": ""}),
        ("BootstrapRequest", {"Version": 145, "NodeKey": nk, "Head": h[0]}),
        ("BootstrapResponse", {"GenesisAUM": a64[0]}),
        ("BootstrapResponse", {"DisablementSecret": b64(b"\x00\x01\x02")}),
        ("SyncOfferRequest", {"Version": 145, "NodeKey": nk, "Head": h[1],
                              "Ancestors": h[:3]}),
        ("SyncOfferResponse", {"Head": h[2], "Ancestors": h[:2],
                               "MissingAUMs": a64}),
        ("SyncOfferResponse", {"Head": h[2], "Ancestors": None, "MissingAUMs": None}),
        ("SyncSendRequest", {"Version": 145, "NodeKey": nk, "Head": h[3],
                             "MissingAUMs": a64[:2], "Interactive": True}),
        ("SyncSendResponse", {"Head": h[0]}),
        ("SyncSendResponse", {"head": h[0], "HEAD": h[1]}),
        ("DisableRequest", {"Version": 145, "NodeKey": nk, "Head": h[0],
                            "DisablementSecret": b64(b"secret")}),
        ("DisableResponse", {}),
        ("SubmitSignatureRequest", {"Version": 145, "NodeKey": nk, "Signature": s64[0]}),
        ("SubmitSignatureResponse", {}),
        ("SignaturesUsingKeyRequest", {"Version": 145, "NodeKey": nk,
                                       "KeyID": b64(b"\x02" * 32)}),
        ("SignaturesUsingKeyResponse", {"Signatures": s64}),
        ("SignaturesUsingKeyResponse", {"Signatures": [None, ""]}),
        ("TkaInfo", {"Head": h[0], "Disabled": True}),
        ("TkaInfo", {"Head": "not a hash"}),
        ("MapResponseTka", {"TKAInfo": {"Head": h[0]}, "Peers": [{"ID": 1}]}),
        ("MapResponseTka", {"TKAInfo": None}),
        ("MapRequestTka", {"Version": 145, "NodeKey": nk, "TKAHead": h[1],
                           "Hostinfo": {"OS": "linux"}}),
        ("NodeTka", {"ID": 9, "Key": nk, "KeySignature": s64[0],
                     "UnsignedPeerAPIOnly": True, "Name": "x"}),
        # Go's folding of field names, a repeated field, a nested repeat.
        ("SyncSendResponse", '{"\u017fync":1,"Head":"%s","Head":"%s"}' % (h[0], h[1])),
        ("MapResponseTka", '{"TKAInfo":{"Head":"%s"},"tkainfo":{"Disabled":true}}' % h[0]),
        ("BootstrapResponse", '{"GenesisAUM":"%s\\n"}' % a64[0][:8]),
    ]
    return out


# --- machine_events and control_handle --------------------------------------
# Machine ops (first byte: bit 0 starts with genesis A installed):
#  0 control state [enabled, has_head, head]; 1 raw response [blob];
#  2 bootstrap response [flags, genesis pick, secret]; 3 sync/offer response
#  [head, n ancestors, ancestors..., aum list]; 4 sync/send response [head];
#  each response is followed by [stale, (id if stale)], and every event by a
#  time step; 5 request failed; 6 time passes [sel]; 7 peer upserted;
#  8 peer removed [id]; 9 peers replaced [n, peers...]; 10 self signature;
#  11 local disable; 12 mode [observe]; 13 build AUM; 14 variant; 15 restart.
# Pool: 0 = genesis A (keys 0 and 1), 1 = genesis B (key 2), then built AUMs.


def build(parent, kind, key, signers, flags=0, extra=b""):
    """Op 13: an AUM on pool[parent]; kind 0 add, 1 remove, 2 update,
    3 checkpoint, 4 no-op; key 0..3; signers a bit set of keys."""
    body = bytes([13, parent, kind, key, 0])
    if kind == 2:
        body += bytes([1, 0])
    if kind == 3:
        body += bytes([0b110])
    return body + extra + bytes([signers, flags])


def peer(node_id, key, sig_kind, signer, wrapper=1, extra=b"", api=0):
    return bytes([node_id, key, sig_kind, signer, wrapper]) + extra + bytes([api])


def machine_programs():
    T = 10  # a time step byte after each event
    enable = bytes([0, 1, 1, 0, T])              # control: on, head = genesis A
    boot = bytes([2, 1, 0, 0, T])                # bootstrap with genesis A
    settle = bytes([3, 0, 0, 3, 0, T])           # offer: control's head = ours
    peers_ok = bytes([9, 3]) + peer(1, 1, 1, 0) + peer(2, 2, 1, 1) + peer(3, 3, 1, 2) + bytes([T])
    add2 = build(0, 0, 2, 0b0001)                # pool 2: add key 2, signed by key 0
    rm2 = build(2, 1, 2, 0b0001)                 # pool 3: remove key 2
    sync_to3 = bytes([0, 1, 1, 3, T, 3, 3, 1, 0, 0, 3, 0, T, 4, 3, 0, T])
    progs = [
        bytes([0]) + enable + boot + settle,
        bytes([0]) + enable + boot + settle + peers_ok,
        bytes([1]) + peers_ok + add2 + rm2 + sync_to3 + bytes([7]) + peer(4, 4, 1, 2) + bytes([T]),
        bytes([1]) + add2 + rm2 + sync_to3 + bytes([14, 2, 0]) + bytes([14, 2, 1])
        + bytes([0, 1, 1, 4, T, 3, 4, 1, 0, 2, 2, 4, 5, 0, T, 4, 4, 0, T, 15]),
        bytes([1]) + peers_ok + bytes([0, 0, 0, T, 2, 4, 0, 0, T]),          # disable, valid secret
        bytes([1]) + peers_ok + bytes([0, 0, 0, T, 2, 8, 0, T]),             # disable, wrong secret
        bytes([1]) + peers_ok + bytes([11, T, 15, 0, 1, 1, 0, T]),           # local disable, restart
        bytes([1, 0, 1, 1, 0, T, 1, 4]) + b"junk" + bytes([0, T, 5, T, 6, 0, 6, 1]),
        bytes([1]) + peers_ok + bytes([12, 1, 12, 0, 10, 1, 0, 0, T, 8, 2, T]),
        bytes([1, 7, 5, 9, 3, 2, 1, 0, 0, T, 7, 6, 10, 6, 0, 1, 3, 0xaa, 0xbb, 0, T]),
        bytes([1]) + build(0, 3, 0, 0b0001) + bytes([0, 1, 1, 2, T, 3, 2, 1, 0, 0, 2, 0, T, 4, 2, 0, T, 15]),
    ]
    return progs


# Control ops (first byte: 7 mod 8 = lock off): 0 raw [path, blob];
# 1 bootstrap [version, has_head, head]; 2 sync/offer [head, n, hashes...];
# 3, 4 sync/send [head, aum list, interactive]; 5 build AUM; 6 variant;
# 7 disable [0xd1, which secret] (any other byte: no-op).


def control_programs():
    add2 = build(0, 0, 2, 0b0001)
    rm2 = build(2, 1, 2, 0b0001)
    return [
        bytes([0, 1, 145, 0]),
        bytes([0, 2, 0, 1, 0]),
        bytes([0]) + add2 + rm2 + bytes([3, 3, 0, 3, 0, 2, 0, 0]),
        bytes([0]) + add2 + bytes([3, 2, 1, 2, 1, 0, 2, 2, 1, 3]),
        bytes([0]) + add2 + bytes([6, 2, 0, 3, 2, 0, 2, 0, 6, 2, 1, 3, 3, 2, 4, 0]),
        bytes([0, 7, 0xD1, 0, 1, 0, 0]),
        bytes([0, 7, 0xD1, 3, 3, 0, 3, 0, 2, 0, 0]),
        bytes([7, 1, 0, 0, 2, 0, 0, 3, 0, 3]),
        bytes([0, 0, 3, 13]) + b'{"Head":"AA"}' + bytes([0, 4, 5]) + b"{}\n \n",
        bytes([0, 3, 0, 16, 1]) + bytes([3, 0xa1, 0x00, 0x61]),
    ]


def extra_seeds(n):
    for k in ("wire_json", "tailchonk_decode", "machine_events", "control_handle"):
        n.setdefault(k, 0)
    aums = [h(c["cbor"]) for c in cases("aum")][:6]
    sigs = [h(c["cbor"]) for c in cases("sig") if c["type"] == "verify"][:3]
    for t, body in wire_bodies(aums, sigs):
        if not isinstance(body, str):
            body = json.dumps(body, separators=(",", ":"))
        sel = bytes([WIRE_TYPES.index(t)])
        n["wire_json"] += write("wire_json", sel + body.encode())
    # Go's own store files, then hand-made entries around vector AUMs.
    for f in sorted(glob.glob(os.path.join(VECTORS, "tailchonk", "*", "*", "*")))[:24]:
        with open(f, "rb") as fh:
            n["tailchonk_decode"] += write("tailchonk_decode", fh.read())
    for a in aums[:3]:
        for entry in (
            b"\xa1\x02" + a,
            b"\xa2\x02" + a + b"\x03\x1a\x65\x5f\x00\x00",
            b"\xa3\x02" + a + b"\x03\x01\x04\x1a\x65\x5f\x00\x00",
            b"\xa2\x01\x80\x02" + a,
            b"\xa1\x02" + a + b"trailing",
        ):
            n["tailchonk_decode"] += write("tailchonk_decode", entry)
    n["tailchonk_decode"] += write("tailchonk_decode", b"\xa1\x02\xf6")
    for p in machine_programs():
        n["machine_events"] += write("machine_events", p)
    for p in control_programs():
        n["control_handle"] += write("control_handle", p)


if __name__ == "__main__":
    main()
