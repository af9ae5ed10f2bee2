#!/usr/bin/env python3
"""Recomputes a Linli store's hash chain with nothing but LMDB's mdb_dump and docs/FORMAT.md.

It reads the machine-readable `linli-format` block of docs/FORMAT.md and follows it literally, so it
proves that the format document is enough to verify a store without Linli's code.

usage: verify-chain.py STORE [FORMAT.md]
prints `events N head HEX` and exits 0 when the chain holds; prints each failure and exits 1 otherwise.
"""
import hashlib
import json
import os
import re
import subprocess
import sys


def load_format(path):
    text = open(path, encoding="utf-8").read()
    match = re.search(r"```linli-format\n(.*?)\n```", text, re.S)
    if not match:
        sys.exit("no linli-format block in " + path)
    return json.loads(match.group(1))


def dump(store, database):
    """Yields (key, value) byte pairs of one database, via mdb_dump's hex format."""
    out = subprocess.run(["mdb_dump", "-s", database, store], check=True, capture_output=True).stdout.decode()
    lines = out.split("\n")
    start = lines.index("HEADER=END") + 1
    data = [line[1:] for line in lines[start:] if line.startswith(" ")]
    for index in range(0, len(data), 2):
        yield bytes.fromhex(data[index]), bytes.fromhex(data[index + 1])


def piece(value, spec, prev_hash, key):
    if spec == "prevHash":
        return prev_hash
    if spec == "key":
        return key
    if "literal" in spec:
        return bytes.fromhex(spec["literal"])
    start = spec["from"]
    end = spec.get("to")
    return value[start:end] if end is not None else value[start:]


def main():
    store = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    fmt = load_format(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "docs", "FORMAT.md"))
    assert fmt["hash"] == "sha256" and fmt["key"] == "u64be"
    prev = bytes.fromhex(fmt["genesisPrevHash"])
    expected = fmt["firstPosition"]
    failures = []
    count = 0
    for key, value in dump(os.path.join(store, fmt["environment"]), fmt["eventsDatabase"]):
        position = int.from_bytes(key, "big")
        count += 1
        if position != expected:
            failures.append(f"position {position}: expected {expected}")
        sp = fmt["storedPrevHash"]
        stored_prev = value[sp["offset"]:sp["offset"] + sp["length"]]
        sh = fmt["storedHash"]
        stored_hash = value[sh["offset"]:] if sh["offset"] + sh["length"] == 0 else value[sh["offset"]:sh["offset"] + sh["length"]]
        if stored_prev != prev:
            failures.append(f"position {position}: previous hash does not link")
        digest = hashlib.sha256(b"".join(piece(value, s, stored_prev, key) for s in fmt["hashInput"])).digest()
        if digest != stored_hash:
            failures.append(f"position {position}: hash mismatch")
        prev = stored_hash
        expected = position + 1
    head = dict(dump(store, fmt["headDatabase"])).get(fmt["headKey"].encode())
    if head is not None and (int.from_bytes(head[:8], "big") != expected - 1 or head[8:] != prev):
        failures.append("stored head is not the last record")
    for failure in failures:
        print(failure)
    print(f"events {count} head {prev.hex()}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
