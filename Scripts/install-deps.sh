#!/usr/bin/env bash
# Installs what Linli needs on a fresh Debian machine, only when it is missing:
# LMDB's headers and library (liblmdb-dev), its tools (lmdb-utils: mdb_dump, used by the format test)
# pkg-config (SwiftPM finds LMDB through it) and Python's cbor2 (python3-cbor2: the format test's
# independent CBOR decoder). Swift itself is expected on the PATH.
set -euo pipefail
missing=()
dpkg -s liblmdb-dev >/dev/null 2>&1 || missing+=(liblmdb-dev)
command -v mdb_dump >/dev/null 2>&1 || missing+=(lmdb-utils)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# An independent CBOR decoder for Scripts/decode-events.py (the format test reads every payload with it);
# Debian's package lives in the system Python, /usr/bin/python3.
/usr/bin/python3 -c "import cbor2" >/dev/null 2>&1 || missing+=(python3-cbor2)
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "installing: ${missing[*]}" >&2
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null 2>&1 || { echo "swift is not on the PATH; install Swift 6 first" >&2; exit 1; }
