#!/usr/bin/env bash
# Side-by-side benchmark: PromQL range queries on our server against Debian's prometheus (2.42), both serving the
# same data and both measured the same way, over HTTP (/api/v1/query_range) from one Python client.
#
# Data and queries are upstream's `promql/bench_test.go` range-query benchmark: 1,443 series at 10s (a_X, b_X,
# h_X for X in one/ten/hundred; see server/benches/promql_shape), written once as an OpenMetrics file with
# timestamps, then loaded into Prometheus through `promtool tsdb create-blocks-from openmetrics` and into our
# TSDB through `server tsdb import-openmetrics` (which also writes 2h blocks). Both servers are given time to
# compact the blocks as they would in production (until neither block count changes for 30s).
#
# For every case (upstream's expressions and step counts, range ending at the newest sample, 10s step): one
# warm-up request per server, then N timed requests per server, alternating; prints the medians and the ratio
# (Prometheus / ours, so above 1 means we are faster), checking that both return the same number of series.
#
# Needs: prometheus and promtool (Debian package prometheus), python3, curl.
# Usage: bench/promql.sh [N=3] [INTERVALS=18640] [FILTER=regex on the expression]
# Environment: KEEP=dir keeps both servers' data in dir (prom-data, ours-data) and reuses it when both are there
# (generated with the same INTERVALS, already compacted: the wait for compaction is skipped); OURS=path measures
# another build of our server (e.g. an older one) instead of target/release/server; BASE=path measures a second
# build of our server in the same run (on a copy of our data), printing its times and ratios too (before/after).
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-3}
INTERVALS=${2:-18640}
FILTER=${3:-}

for bin in prometheus promtool python3 curl; do
  command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin (apt-get install prometheus python3 curl)" >&2; exit 1; }
done

cargo build --release -q -p server --bin server --example promql_bench_data
OURS=${OURS:-$PWD/target/release/server}
GEN=$PWD/target/release/examples/promql_bench_data

WORK=$(mktemp -d)
DATA=${KEEP:-$WORK}
mkdir -p "$DATA"
REUSE=0
if [ -n "${KEEP:-}" ] && [ -d "$KEEP/prom-data" ] && [ -d "$KEEP/ours-data" ]; then REUSE=1; fi
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

source bench/lib.sh

elapsed() { python3 -c "import time; print('%.1f' % (time.time() - $1))"; }

if [ "$REUSE" = 1 ]; then
  echo "reusing the data in $KEEP"
else
  rm -rf "$DATA/prom-data" "$DATA/ours-data"
  t0=$(date +%s.%N)
  "$GEN" "$WORK/data.om.txt" "$INTERVALS"
  echo "data: $(du -h "$WORK/data.om.txt" | cut -f1) OpenMetrics, $INTERVALS samples x 1443 series, written in $(elapsed "$t0")s"

  t0=$(date +%s.%N)
  promtool tsdb create-blocks-from openmetrics -q "$WORK/data.om.txt" "$DATA/prom-data" >/dev/null
  echo "promtool create-blocks-from openmetrics: $(elapsed "$t0")s"

  t0=$(date +%s.%N)
  "$OURS" tsdb import-openmetrics "$WORK/data.om.txt" --storage.tsdb.path "$DATA/ours-data" >/dev/null
  echo "server tsdb import-openmetrics: $(elapsed "$t0")s"
  rm "$WORK/data.om.txt"
fi

printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' > "$WORK/empty.yml"

PROM_PORT=$(free_port)
prometheus --config.file="$WORK/empty.yml" --storage.tsdb.path="$DATA/prom-data" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn 2>"$WORK/prom.log" &
PIDS+=($!)
OURS_PORT=$(free_port)
t0=$(date +%s.%N)
"$OURS" --config.file="$WORK/empty.yml" --storage.tsdb.path="$DATA/ours-data" \
  --web.listen-address="127.0.0.1:$OURS_PORT" --log.level=warn 2>"$WORK/ours.log" &
OURS_PID=$!
PIDS+=($OURS_PID)

ready() {
  for _ in $(seq 1 1200); do
    if [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/-/ready")" = 200 ]; then return 0; fi
    sleep 0.1
  done
  echo "port $1 not ready after 120s" >&2; exit 1
}
BASE_PORT=0
if [ -n "${BASE:-}" ]; then
  rm -rf "$WORK/base-data" && cp -a "$DATA/ours-data" "$WORK/base-data" && rm -f "$WORK/base-data/lock"
  BASE_PORT=$(free_port)
  "$BASE" --config.file="$WORK/empty.yml" --storage.tsdb.path="$WORK/base-data" \
    --web.listen-address="127.0.0.1:$BASE_PORT" --log.level=warn 2>"$WORK/base.log" &
  PIDS+=($!)
  ready "$BASE_PORT"
fi
ready "$OURS_PORT"
echo "our server ready (WAL replayed) after $(elapsed "$t0")s, RSS $(( $(awk '/VmRSS/ {print $2}' "/proc/$OURS_PID/status") / 1024 )) MiB"
ready "$PROM_PORT"

# Both servers compact the imported 2h blocks (each one's compaction loop first runs a minute after start): wait
# until neither is writing a block and neither block count has changed for 30s, with at least 90s given, so that
# no compaction runs during the measurements.
blocks() { find "$1" -mindepth 1 -maxdepth 1 -type d -name '01*' ! -name '*.tmp*' | wc -l; }
writing() { find "$1" -mindepth 1 -maxdepth 1 -name '*.tmp*' | wc -l; }
state() { echo "$(blocks "$DATA/prom-data") $(blocks "$DATA/ours-data") $(writing "$DATA/prom-data") $(writing "$DATA/ours-data")"; }
t0=$(date +%s)
first_prom=$(blocks "$DATA/prom-data"); first_ours=$(blocks "$DATA/ours-data")
last=$(state); stable_since=$t0
while [ "$REUSE" = 0 ]; do
  sleep 5
  now=$(date +%s); cur=$(state)
  case "$cur" in *" 0 0") busy=0 ;; *) busy=1 ;; esac
  if [ "$cur" != "$last" ] || [ "$busy" = 1 ]; then last=$cur; stable_since=$now; fi
  if [ $((now - t0)) -ge 90 ] && [ $((now - stable_since)) -ge 30 ]; then break; fi
done
[ "$REUSE" = 1 ] || echo "compaction settled after $(( $(date +%s) - t0 - 30 ))s: prometheus $first_prom blocks to $(blocks "$DATA/prom-data"), ours $first_ours to $(blocks "$DATA/ours-data")"

"$GEN" --cases > "$WORK/cases.tsv"
python3 - "$PROM_PORT" "$OURS_PORT" "$N" "$INTERVALS" "$FILTER" "$WORK/cases.tsv" "$BASE_PORT" <<'PY'
import http.client, json, math, re, statistics, sys, time, urllib.parse
prom_port, ours_port, n, intervals, flt, cases_file, base_port = sys.argv[1:8]
n, intervals = int(n), int(intervals)
ports = {"prometheus": int(prom_port), "ours": int(ours_port)}
if int(base_port):
    ports["base"] = int(base_port)
conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=600) for name, port in ports.items()}
def request(name, path):
    # Either server may close a keep-alive connection that sat idle while the other one worked: reconnect once.
    for attempt in (0, 1):
        try:
            t = time.perf_counter()
            conns[name].request("GET", path)
            r = conns[name].getresponse()
            return r, r.read(), time.perf_counter() - t
        except (http.client.RemoteDisconnected, ConnectionError):
            conns[name].close()
            conns[name] = http.client.HTTPConnection("127.0.0.1", ports[name], timeout=600)
            if attempt:
                raise
def run(name, expr, steps):
    end = intervals * 10
    q = urllib.parse.urlencode({"query": expr, "start": end - steps * 10, "end": end, "step": 10})
    r, body, dt = request(name, "/api/v1/query_range?" + q)
    doc = json.loads(body)
    if r.status != 200 or doc.get("status") != "success":
        raise RuntimeError("%s failed: %s" % (name, body[:300]))
    return dt, len(doc["data"]["result"])
rows = []
for line in open(cases_file):
    steps, expr = line.rstrip("\n").split("\t", 1)
    steps = int(steps)
    if flt and not re.search(flt, expr):
        continue
    times = {name: [] for name in ports}
    series = {}
    try:
        for name in times:
            _, series[name] = run(name, expr, steps)
        for _ in range(n):
            for name in times:
                dt, _ = run(name, expr, steps)
                times[name].append(dt)
    except RuntimeError as e:
        print("%-70s %5d  FAILED: %s" % (expr, steps, e), flush=True)
        continue
    p, o = statistics.median(times["prometheus"]), statistics.median(times["ours"])
    note = "" if series["prometheus"] == series["ours"] else "  SERIES DIFFER: %d vs %d" % (series["prometheus"], series["ours"])
    b = statistics.median(times["base"]) if "base" in times else None
    if b is not None and series["base"] != series["ours"]:
        note += "  BASE SERIES DIFFER: %d vs %d" % (series["base"], series["ours"])
    rows.append((expr, steps, p, o, p / o, p / b if b else None))
    extra = "  base %9.3f ms  ratio %6.2fx" % (b * 1e3, p / b) if b else ""
    print("%-70s %5d  prometheus %9.3f ms  ours %9.3f ms  ratio %6.2fx%s%s" % (expr, steps, p * 1e3, o * 1e3, p / o, extra, note), flush=True)
if not rows:
    sys.exit(0)
ratios = [r[4] for r in rows]
print()
print("cases %d, geometric mean ratio %.2fx, min %.2fx (%s, %d steps), max %.2fx; >=2x: %d, 1x-2x: %d, slower: %d" % (
    len(rows), math.exp(sum(math.log(r) for r in ratios) / len(ratios)), min(ratios),
    min(rows, key=lambda r: r[4])[0], min(rows, key=lambda r: r[4])[1], max(ratios),
    sum(r >= 2 for r in ratios), sum(1 <= r < 2 for r in ratios), sum(r < 1 for r in ratios)))
if "base" in ports:
    base = [r[5] for r in rows]
    print("base: geometric mean ratio %.2fx; >=2x: %d, 1x-2x: %d, slower: %d" % (
        math.exp(sum(math.log(r) for r in base) / len(base)),
        sum(r >= 2 for r in base), sum(1 <= r < 2 for r in base), sum(r < 1 for r in base)))
for lo, hi, label in ((1, 10, "1-10 steps"), (100, 100, "100 steps"), (1000, 10 ** 9, "1000+ steps")):
    part = [r for r in rows if lo <= r[1] <= hi]
    if part:
        line = "%s: %d cases, geometric mean %.2fx, slower %d" % (label, len(part),
            math.exp(sum(math.log(r[4]) for r in part) / len(part)), sum(r[4] < 1 for r in part))
        if "base" in ports:
            line += "; base %.2fx, slower %d" % (math.exp(sum(math.log(r[5]) for r in part) / len(part)),
                sum(r[5] < 1 for r in part))
        print(line)
PY
