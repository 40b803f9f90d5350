#!/usr/bin/env bash
# TSDB write benchmark against Debian's Prometheus, one after the other in one run, on the same input:
# `promtool tsdb bench write` and `server tsdb bench-write` ingest SCRAPES scrapes (30 s apart, one commit per 1000
# series, counters growing by 1000) of the same METRICS node_exporter-shaped series (one JSON object per line, the
# format promtool reads). Then each server restarts on the data directory its tool left (WAL and head chunks, no
# blocks): the head is rebuilt by replaying them. Reported per side: ns per sample ingested (the tool's own timing
# of the ingestion), CPU time (user + system, all threads) of the whole tool run per sample (what the ingestion
# costs whatever else runs on the machine; it includes each tool's start and reading of the series file), peak RSS
# per series during ingestion, the replay time the server reports
# (prometheus_tsdb_data_replay_duration_seconds), the time from start to /-/ready, and RSS per series after the
# replay; then ratios (ours / Prometheus: below 1 is better for us).
#
#   bench/tsdb_write.sh                           # 20k series x 1000 scrapes
#   METRICS=100000 SCRAPES=200 bench/tsdb_write.sh
#   SERVER=/tmp/server-old bench/tsdb_write.sh   # another server binary (no build), e.g. to compare two versions
#
# Needs: cargo, python3, curl, promtool and prometheus (Debian's prometheus package, 2.42).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

METRICS=${METRICS:-20000}
SCRAPES=${SCRAPES:-1000}
PROMTOOL=${PROMTOOL:-promtool}
PROMETHEUS=${PROMETHEUS:-prometheus}
# promtool ingests in rounds of 100 scrapes; use the same count on both sides.
SCRAPES=$(( (SCRAPES + 99) / 100 * 100 ))

SERVER=${SERVER:-}
if [ -z "$SERVER" ]; then
  cargo build --release -q -p server --bin server
  SERVER=target/release/server
fi
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# node_exporter-shaped series: per host 32 CPU mode counters, 18 network, 9 filesystem and 12 single series.
python3 - "$METRICS" > "$WORK/series.json" <<'PY'
import json, sys
n = int(sys.argv[1])
out, host = [], 0
while len(out) < n:
    base = {"instance": "host-%05d.example.org" % host, "job": "node"}
    def add(name, **kw):
        out.append(dict(base, __name__=name, **kw))
    for cpu in range(4):
        for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"]:
            add("node_cpu_seconds_total", cpu=str(cpu), mode=mode)
    for dev in ["eth0", "eth1", "lo"]:
        for m in ["receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets", "receive_errs",
                  "transmit_errs"]:
            add("node_network_%s_total" % m, device=dev)
    for dev, mp in [("/dev/sda1", "/"), ("/dev/sda2", "/home"), ("tmpfs", "/run")]:
        for m in ["avail_bytes", "size_bytes", "files_free"]:
            add("node_filesystem_" + m, device=dev, mountpoint=mp, fstype="tmpfs" if dev == "tmpfs" else "ext4")
    for m in ["memory_MemAvailable_bytes", "memory_MemFree_bytes", "memory_Cached_bytes", "memory_Buffers_bytes",
              "load1", "load5", "load15", "boot_time_seconds", "context_switches_total", "forks_total",
              "intr_total", "procs_running"]:
        add("node_" + m)
    host += 1
for labels in out[:n]:
    print(json.dumps(dict(sorted(labels.items())), separators=(",", ":")))
PY

# peak CMD...: runs CMD (output to $WORK/out.txt), prints its peak RSS in bytes and its CPU time (user + system) in
# seconds.
peak() {
  python3 - "$WORK/out.txt" "$@" <<'PY'
import resource, subprocess, sys
with open(sys.argv[1], "w") as out:
    subprocess.run(sys.argv[2:], stdout=out, stderr=subprocess.STDOUT, check=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(u.ru_maxrss * 1024, "%.3f" % (u.ru_utime + u.ru_stime))
PY
}

# ns_per_sample TOOL: from the tool's own report of the ingestion in $WORK/out.txt.
ns_per_sample() {
  python3 - "$1" "$WORK/out.txt" <<'PY'
import re, sys
tool, text = sys.argv[1], open(sys.argv[2]).read()
if tool == "promtool":
    d = re.search(r"completed stage=ingestScrapes duration=(\S+)", text).group(1)
    secs = sum(float(v) * {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "µs": 1e-6}[u]
               for v, u in re.findall(r"([\d.]+)(h|ms|µs|m|s)", d))
    samples = float(re.search(r"total samples: (\d+)", text).group(1))
    print("%.1f" % (secs * 1e9 / samples))
else:
    print(re.search(r"([\d.]+) ns/sample", text).group(1))
PY
}

# restart NAME DATA CMD...: starts a server on DATA, prints "replay_s ready_s rss_bytes cpu_s" once it is ready
# (cpu_s: the process' CPU time, user + system, from its start to ready).
echo 'scrape_configs: []' > "$WORK/prometheus.yml"
restart() {
  local name=$1 data=$2; shift 2
  local port; port=$(free_port)
  local start; start=$(date +%s.%N)
  "$@" --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$data" \
    --web.listen-address="127.0.0.1:$port" >"$WORK/$name.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/-/ready")" = 200 ]; do
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/$name.log" >&2; exit 1; }
    sleep 0.01
  done
  local ready; ready=$(python3 -c "import time; print('%.3f' % (time.time() - $start))")
  local rss; rss=$(awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status")
  local cpu; cpu=$(python3 -c "print('%.3f' % ($(cpu_ticks "$pid") / $TICKS))")
  local replay
  replay=$(curl -s "http://127.0.0.1:$port/metrics" |
    awk '/^prometheus_tsdb_data_replay_duration_seconds / {printf "%.3f", $2}')
  kill "$pid"; wait "$pid" 2>/dev/null || true
  echo "$replay $ready $rss $cpu"
}

echo ">> $METRICS series x $SCRAPES scrapes, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"
read -r P_PEAK P_CPU < <(peak "$PROMTOOL" tsdb bench write --out "$WORK/prom" --metrics "$METRICS" \
  --scrapes "$SCRAPES" "$WORK/series.json")
P_NS=$(ns_per_sample promtool)
read -r O_PEAK O_CPU < <(peak "$SERVER" tsdb bench-write --out "$WORK/ours" --metrics "$METRICS" \
  --scrapes "$SCRAPES" --metrics-file "$WORK/series.json")
O_NS=$(ns_per_sample ours)
read -r P_REPLAY P_READY P_RSS P_RCPU < <(restart prometheus "$WORK/prom/storage" "$PROMETHEUS")
read -r O_REPLAY O_READY O_RSS O_RCPU < <(restart ours "$WORK/ours" "$SERVER")

per_series() { python3 -c "print('%.0f' % ($1 / $METRICS))"; }
P_PEAK_S=$(per_series "$P_PEAK"); O_PEAK_S=$(per_series "$O_PEAK")
P_RSS_S=$(per_series "$P_RSS"); O_RSS_S=$(per_series "$O_RSS")
cpu_ns() { python3 -c "print('%.1f' % ($1 * 1e9 / ($METRICS * $SCRAPES)))"; }
P_CPU_NS=$(cpu_ns "$P_CPU"); O_CPU_NS=$(cpu_ns "$O_CPU")
printf '%-34s %12s %12s %8s\n' "" "prometheus" "ours" "ratio"
printf '%-34s %12s %12s %8s\n' "ns/sample (ingestion)" "$P_NS" "$O_NS" "$(ratio "$O_NS" "$P_NS")"
printf '%-34s %12s %12s %8s\n' "CPU ns/sample (whole tool run)" "$P_CPU_NS" "$O_CPU_NS" \
  "$(ratio "$O_CPU_NS" "$P_CPU_NS")"
printf '%-34s %12s %12s %8s\n' "peak RSS bytes/series (ingestion)" "$P_PEAK_S" "$O_PEAK_S" \
  "$(ratio "$O_PEAK_S" "$P_PEAK_S")"
printf '%-34s %12s %12s %8s\n' "replay s (reported)" "$P_REPLAY" "$O_REPLAY" "$(ratio "$O_REPLAY" "$P_REPLAY")"
printf '%-34s %12s %12s %8s\n' "CPU s from start to /-/ready" "$P_RCPU" "$O_RCPU" "$(ratio "$O_RCPU" "$P_RCPU")"
printf '%-34s %12s %12s %8s\n' "restart to /-/ready s" "$P_READY" "$O_READY" "$(ratio "$O_READY" "$P_READY")"
printf '%-34s %12s %12s %8s\n' "RSS bytes/series after replay" "$P_RSS_S" "$O_RSS_S" "$(ratio "$O_RSS_S" "$P_RSS_S")"
