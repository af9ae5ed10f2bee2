#!/usr/bin/python3
"""Decodes every event of a Linli store with nothing but LMDB's mdb_dump, docs/FORMAT.md's machine-readable
`linli-format` block and an independent CBOR decoder (Python's cbor2, which Scripts/install-deps.sh
installs). It follows the block literally, so it proves that the block alone is enough to read every
event: the record's fields and its payload.

usage: decode-events.py STORE [FORMAT.md]
prints one JSON object per event: the record's fields by the block's names, and the payload decoded.
Exits 1 naming the position when a record does not follow the block or a payload is not what it says.
"""
import json
import os
import sys

import cbor2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from importlib import import_module

chain = import_module("verify-chain")

WIDTHS = {"u8": (1, False), "u16be": (2, False), "i16be": (2, True), "u32be": (4, False), "u64be": (8, False), "i64be": (8, True)}


def number(raw, kind):
    size, signed = WIDTHS[kind]
    assert len(raw) == size
    return int.from_bytes(raw, "big", signed=signed)


def field(raw, kind):
    if kind == "bytes":
        return raw
    if kind == "utf8":
        return raw.decode("utf-8")
    return number(raw, kind)


def plain(value, position):
    """The payload as JSON, checking that it uses only what the block allows."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, bytes):
        return {"bytes": value.hex()}
    if isinstance(value, list):
        return [plain(item, position) for item in value]
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise ValueError(f"position {position}: a map key is not a text string")
        return {key: plain(item, position) for key, item in value.items()}
    raise ValueError(f"position {position}: {type(value).__name__} is not among the block's types")


def decode(value, layout):
    record = {}
    for spec in layout["fixed"]:
        record[spec["name"]] = field(value[spec["offset"]:spec["offset"] + spec["size"]], spec["type"])
        if "value" in spec and record[spec["name"]] != spec["value"]:
            raise ValueError(f"{spec['name']} is {record[spec['name']]}, not {spec['value']}")
    at = layout["thenFrom"]
    for spec in layout["then"]:
        size, _ = WIDTHS[spec["length"]]
        length = number(value[at:at + size], spec["length"])
        at += size
        record[spec["name"]] = field(value[at:at + length], spec["type"])
        at += length
    last = layout["last"]
    if at != len(value) + last["offset"]:
        raise ValueError(f"{len(value) + last['offset'] - at} bytes between the fields and the hash")
    record[last["name"]] = value[last["offset"]:]
    return record


def main():
    store = sys.argv[1]
    here = os.path.dirname(os.path.abspath(__file__))
    fmt = chain.load_format(sys.argv[2] if len(sys.argv) > 2 else os.path.join(here, "..", "docs", "FORMAT.md"))
    payload_spec = fmt["payload"]
    assert payload_spec["encoding"] == "cbor"
    failures = 0
    for key, value in chain.dump(os.path.join(store, fmt["environment"]), fmt["eventsDatabase"]):
        position = int.from_bytes(key, "big")
        try:
            record = decode(value, fmt["record"])
            if record["position"] != position:
                raise ValueError(f"holds position {record['position']}")
            payload = cbor2.loads(record[payload_spec["field"]])
            if not isinstance(payload, dict):
                raise ValueError("the payload is not a map")
            record["payload"] = plain(payload, position)
        except Exception as error:  # every failure names its position, and the run goes on
            print(f"position {position}: {error}", file=sys.stderr)
            failures += 1
            continue
        for name in ("prevHash", "hash"):
            record[name] = record[name].hex()
        print(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
