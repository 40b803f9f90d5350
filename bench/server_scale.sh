#!/usr/bin/env bash
# Scale benchmark of the server against Debian's Prometheus on the same work, one after the other in one run:
# a target simulator serves TARGETS node_exporter-shaped targets of PER_TARGET series each; each server scrapes
# all of them every INTERVAL for WARMUP+MEASURE seconds. Reported per server: active series, samples ingested
# per second, CPU seconds per million samples, RSS (current and peak), and the mean scrape duration; then ratios.
#
#   bench/server_scale.sh                       # 100k series (40 targets x 2500)
#   TARGETS=400 bench/server_scale.sh           # 1M series
#
# Needs: cargo, python3, curl, prometheus (Debian package), the corpus at ../shared/conformance (CONFORMANCE_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

TARGETS=${TARGETS:-40}
PER_TARGET=${PER_TARGET:-2500}
INTERVAL=${INTERVAL:-10s}
WARMUP=${WARMUP:-40}
MEASURE=${MEASURE:-120}
CORPUS=${CONFORMANCE_DIR:-../shared/conformance}
TEMPLATE="$CORPUS/node_exporter/e2e-output.txt"
PROMETHEUS=${PROMETHEUS:-prometheus}

cargo build --release -q -p server --bin server --example target_simulator
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

SIM_PORT=$(free_port)
target/release/examples/target_simulator --listen "127.0.0.1:$SIM_PORT" --template "$TEMPLATE" \
  --series "$PER_TARGET" 2>"$WORK/sim.log" &
PIDS+=($!)
sleep 0.5

{
  echo "global:"
  echo "  scrape_interval: $INTERVAL"
  echo "  scrape_timeout: $INTERVAL"
  echo "scrape_configs:"
  echo "- job_name: sim"
  echo "  static_configs:"
  for i in $(seq 0 $((TARGETS - 1))); do
    echo "  - targets: ['127.0.0.1:$SIM_PORT']"
    echo "    labels: {sim: '$i', __param_id: '$i'}"
  done
} > "$WORK/prometheus.yml"

# query PORT EXPR: the first value of an instant query.
query() {
  curl -s --data-urlencode "query=$2" "http://127.0.0.1:$1/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "nan")'
}

# metric PORT NAME: the sum of a metric's samples on the server's own /metrics.
metric() {
  curl -s "http://127.0.0.1:$1/metrics" | python3 -c '
import sys
name, total = sys.argv[1], 0.0
for line in sys.stdin:
    if line.startswith(name) and line[len(name)] in " {":
        total += float(line.rsplit(" ", 1)[1])
print(total)' "$2"
}

# measure NAME CMD...: runs one server, prints "series samples_per_s cpu_s_per_M rss_mib hwm_mib scrape_ms".
measure() {
  local name=$1; shift
  local port; port=$(free_port)
  mkdir -p "$WORK/$name"
  "$@" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/$name/data" \
    --web.listen-address="127.0.0.1:$port" >"$WORK/$name/log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_port "$port"
  sleep "$WARMUP"
  local t0 a0 s0
  t0=$(cpu_ticks "$pid")
  s0=$(metric "$port" prometheus_tsdb_head_samples_appended_total)
  a0=$(date +%s.%N)
  sleep "$MEASURE"
  local t1 a1 s1 series rss hwm scrape
  t1=$(cpu_ticks "$pid")
  s1=$(metric "$port" prometheus_tsdb_head_samples_appended_total)
  a1=$(date +%s.%N)
  series=$(metric "$port" prometheus_tsdb_head_series)
  scrape=$(query "$port" 'avg(scrape_duration_seconds{job="sim"})')
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  hwm=$(hwm_kib "$pid")
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  python3 - "$t0" "$t1" "$s0" "$s1" "$a0" "$a1" "$series" "$rss" "$hwm" "$scrape" "$TICKS" <<'PY'
import sys
t0, t1, s0, s1, a0, a1, series, rss, hwm, scrape, ticks = map(float, sys.argv[1:])
samples = s1 - s0
cpu = (t1 - t0) / ticks
print("%d %.0f %.3f %.1f %.1f %.2f" % (series, samples / (a1 - a0), cpu / (samples / 1e6) if samples else float("nan"),
                                       rss / 1024, hwm / 1024, scrape * 1e3))
PY
}

echo "targets=$TARGETS series/target=$PER_TARGET interval=$INTERVAL warmup=${WARMUP}s measure=${MEASURE}s"
OURS=$(measure ours target/release/server)
THEIRS=$(measure prometheus "$PROMETHEUS")
python3 - "$OURS" "$THEIRS" <<'PY'
import sys
ours, theirs = (list(map(float, s.split())) for s in sys.argv[1:3])
names = ["active series", "samples/s ingested", "CPU s per 1M samples", "RSS MiB", "peak RSS MiB", "scrape ms (mean)"]
print("%-22s %14s %14s %10s" % ("", "ours", "prometheus", "ours/prom"))
for n, a, b in zip(names, ours, theirs):
    print("%-22s %14.2f %14.2f %10.2f" % (n, a, b, a / b if b else float("nan")))
PY
