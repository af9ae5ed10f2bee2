#!/usr/bin/env python3
"""Makes the fuzzers' seed corpora (Fuzz/Corpus) from the pilots' sample and an export of the demo store:
one file per seed, a few of each command and event type. Run again only when the formats change:

    Scripts/fuzz-corpus.py EXPORT.ndjson     # EXPORT from `linli export --store ./linli-demo.store`
"""
import json, os, struct, sys

root = os.path.join(os.path.dirname(__file__), "..")
corpus = os.path.join(root, "Fuzz", "Corpus")

def cbor(value, out):
    """Linli's payload CBOR (docs/FORMAT.md): shortest heads, definite lengths, keys in the order written."""
    def head(major, n):
        if n < 24: out.append(major << 5 | n)
        elif n < 1 << 8: out.extend([major << 5 | 24, n])
        elif n < 1 << 16: out.append(major << 5 | 25); out.extend(struct.pack(">H", n))
        elif n < 1 << 32: out.append(major << 5 | 26); out.extend(struct.pack(">I", n))
        else: out.append(major << 5 | 27); out.extend(struct.pack(">Q", n))
    if value is None: out.append(0xF6)
    elif value is True: out.append(0xF5)
    elif value is False: out.append(0xF4)
    elif isinstance(value, int): head(0, value) if value >= 0 else head(1, -1 - value)
    elif isinstance(value, str): b = value.encode(); head(3, len(b)); out.extend(b)
    elif isinstance(value, list):
        head(4, len(value))
        for item in value: cbor(item, out)
    elif isinstance(value, dict):
        head(5, len(value))
        for key, item in value.items(): cbor(key, out); cbor(item, out)
    else: raise ValueError(value)

def seeds(lines, kind, key, limit=3):
    """At most `limit` lines of each value of `key`."""
    seen = {}
    for line in lines:
        item = json.loads(line)
        name = item.get(key)
        if seen.get(name, 0) < limit:
            seen[name] = seen.get(name, 0) + 1
            yield line, item

def write(kind, index, data):
    with open(os.path.join(corpus, kind, "seed-%03d" % index), "wb") as f: f.write(data)

commands = []
for pilot in ("jiangshan", "hexi", "zigang"):
    with open(os.path.join(root, "Fixtures", "sample", pilot + ".ndjson"), encoding="utf-8") as f:
        commands += [l.rstrip("\n") for l in f if l.strip()]
for index, (line, _) in enumerate(seeds(commands, "json", "command", 2)):
    write("json", index, line.encode())
    write("apply", index, line.encode())
with open(sys.argv[1], encoding="utf-8") as f:
    events = [l.rstrip("\n") for l in f if l.strip()]
for index, (_, event) in enumerate(seeds(events, "record", "type", 2)):
    write("record", index, bytes.fromhex(event["record"]))
    out = bytearray(); cbor(event["payload"], out); write("cbor", index, bytes(out))
for kind in ("json", "apply", "record", "cbor"):
    print(kind, len(os.listdir(os.path.join(corpus, kind))))
