#!/usr/bin/env python3
"""Writes the seed corpus for the fuzz targets from the crate's vector files.

Usage: python3 fuzz/seed_corpus.py [VECTOR_DIR]   (default: ../vectors)

Each input is stored as fuzz/corpus/<target>/<sha1 of the bytes>, the naming
libFuzzer itself uses, so re-running the script (or fuzzing) never creates
duplicates. Only byte strings are taken from the vectors; nothing is derived.
"""
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "vectors")
# Per chains/sync case, at most this many AUMs (they repeat the same shapes).
PER_SCENARIO = 6


def cases(name):
    with open(os.path.join(VECTORS, name + ".json")) as f:
        return json.load(f)["cases"]


def write(target, data):
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
    for t, k in sorted(n.items()):
        print(f"{t}: {k} new files")


if __name__ == "__main__":
    main()
