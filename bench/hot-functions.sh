#!/usr/bin/env bash
# Writes <crate>/hot-functions.txt for the shipped build's code layout (bench/link-ordered.py): the functions the
# exporter executes from start through a few scrapes (4 at once, then 2 in a row), as callgrind lists them,
# demangled and without hashes. Runs the shipped build under valgrind's callgrind with the given arguments; the
# exporter's peers (nginx, MariaDB) must be running.
# Needs: valgrind, curl, python3.
# Usage: bench/hot-functions.sh <exporter> <free port> [exporter arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
NAME=$1
PORT=$2
shift 2
BIN=$(bench/build-exporter.sh "$NAME")
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out" "$BIN" --web.listen-address="127.0.0.1:$PORT" "$@" \
  >"$OUT/log" 2>&1 &
VG=$!
for _ in $(seq 1 600); do
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/"; then break; fi
  sleep 0.1
done
CURLS=()
for _ in 1 2 3 4; do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics" &
  CURLS+=($!)
done
wait "${CURLS[@]}"
for _ in 1 2; do curl -s -o /dev/null "http://127.0.0.1:$PORT/metrics"; done
kill -TERM "$VG"
wait "$VG" || true
python3 - "$OUT/callgrind.out" "$NAME/hot-functions.txt" "$NAME" <<'PY'
import re, sys
src, dst, name = sys.argv[1:]
seen, names = set(), []
for line in open(src, encoding="utf-8", errors="replace"):
    m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
    if m and m.group(1) not in seen and not m.group(1).startswith("0x"):
        seen.add(m.group(1))
        names.append(m.group(1))
with open(dst, "w", encoding="utf-8") as f:
    f.write(f"# Functions {name} executes from start through six scrapes (as callgrind lists them): the code\n")
    f.write("# layout of the shipped build (bench/link-ordered.py). Written by bench/hot-functions.sh; regenerate\n")
    f.write("# after larger changes (stale names are skipped, missing ones only cost resident memory).\n")
    f.write("\n".join(names) + "\n")
print(f"{dst}: {len(names)} functions")
PY
