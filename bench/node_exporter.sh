#!/usr/bin/env bash
# Side-by-side benchmark: our node_exporter against Debian's prometheus-node-exporter (Go), both with default
# flags on this host, scraped over loopback.
#
# For each exporter: a warm-up, N sequential scrapes over one keep-alive connection (samples per scrape, median and
# p99 latency, scrapes/s), then C concurrent clients for D seconds (wrk: p50/p99 latency, scrapes/s). CPU time per
# scrape comes from /proc/<pid>/stat (utime+stime) around each run; peak RSS is VmHWM at the end.
#
# Needs: prometheus-node-exporter, wrk, python3, curl (Debian packages).
# Usage: bench/node_exporter.sh [N=500] [C=4] [D=10]
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-500}
C=${2:-4}
D=${3:-10}
GO_EXPORTER=${GO_EXPORTER:-/usr/bin/prometheus-node-exporter}

for bin in "$GO_EXPORTER" wrk python3 curl; do
  command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin (apt-get install prometheus-node-exporter wrk curl)" >&2; exit 1; }
done

OURS=$(bench/build-exporter.sh node_exporter)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

source bench/lib.sh

OURS_PORT=$(free_port)
"$OURS" --web.listen-address="127.0.0.1:$OURS_PORT" --log.level=warn 2>"$WORK/ours.log" &
OURS_PID=$!
PIDS+=($OURS_PID)
GO_PORT=$(free_port)
"$GO_EXPORTER" --web.listen-address="127.0.0.1:$GO_PORT" --log.level=warn >"$WORK/go.log" 2>&1 &
GO_PID=$!
PIDS+=($GO_PID)
wait_port "$OURS_PORT"
wait_port "$GO_PORT"

declare -A R
for who in ours go; do
  case $who in
    ours) port=$OURS_PORT; pid=$OURS_PID ;;
    go) port=$GO_PORT; pid=$GO_PID ;;
  esac
  sequential "$port" 20 "node_load1" >/dev/null   # warm-up
  c0=$(cpu_ticks "$pid")
  read -r med p99 rps bytes samples < <(sequential "$port" "$N" "node_load1")
  c1=$(cpu_ticks "$pid")
  R[$who,seq_med]=$med; R[$who,seq_p99]=$p99; R[$who,seq_rps]=$rps; R[$who,bytes]=$bytes; R[$who,samples]=$samples
  R[$who,seq_cpu]=$(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / $N * 1e6))")
  c0=$(cpu_ticks "$pid")
  read -r med p99 rps reqs < <(concurrent "$port")
  c1=$(cpu_ticks "$pid")
  R[$who,con_med]=$med; R[$who,con_p99]=$p99; R[$who,con_rps]=$rps
  R[$who,con_cpu]=$(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / $reqs * 1e6))")
  R[$who,hwm]=$(python3 -c "print('%.1f' % ($(hwm_kib "$pid") / 1024))")
done

echo
echo "node_exporter vs $("$GO_EXPORTER" --version 2>&1 | head -1), $(nproc) CPUs, N=$N sequential, C=$C clients for ${D}s"
printf '%-36s %10s %10s %9s\n' metric ours go ours/go
row() { printf '%-36s %10s %10s %9s\n' "$1" "${R[ours,$2]}" "${R[go,$2]}" "$(ratio "${R[ours,$2]}" "${R[go,$2]}")"; }
row "samples per scrape" samples
row "response size (bytes)" bytes
row "sequential median latency (ms)" seq_med
row "sequential p99 latency (ms)" seq_p99
row "sequential scrapes/s" seq_rps
row "sequential CPU per scrape (us)" seq_cpu
row "concurrent($C) p50 latency (ms)" con_med
row "concurrent($C) p99 latency (ms)" con_p99
row "concurrent($C) scrapes/s" con_rps
row "concurrent($C) CPU per scrape (us)" con_cpu
row "peak RSS VmHWM (MiB)" hwm
