#!/usr/bin/env bash
# Side-by-side benchmark: our nginx_exporter against Debian's prometheus-nginx-exporter (Go, 0.11), all scraping
# the same real nginx's stub_status on loopback. Ours runs twice: with its default output (nginx families, build
# info, process_* and promhttp_* self metrics, like upstream 1.x) and with --web.disable-exporter-metrics (nginx
# families and build info only: the same content as Debian's 0.11, which has no process or Go metrics).
#
# For each exporter: a warm-up, N sequential scrapes over one keep-alive connection (median and p99 latency,
# scrapes/s), then a concurrent run with C clients for D seconds (wrk: p50/p99 latency, scrapes/s). CPU time per
# scrape comes from /proc/<pid>/stat (utime+stime) around each run; peak RSS is VmHWM at the end.
# ROUNDS (default 3) repeats both runs for every exporter, alternating exporters and rotating which goes first, so
# a change in the machine's load lands on all of them; the table shows each figure's median over the rounds and
# the CPU ratios of every round.
#
# Needs: nginx (nginx-light), prometheus-nginx-exporter, wrk, python3, curl (all Debian packages).
# Usage: [ROUNDS=3] bench/nginx_exporter.sh [N=2000] [C=4] [D=10]
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-2000}
C=${2:-4}
D=${3:-10}
ROUNDS=${ROUNDS:-3}
GO_EXPORTER=${GO_EXPORTER:-/usr/bin/prometheus-nginx-exporter}
NGINX=${NGINX:-/usr/sbin/nginx}

for bin in "$NGINX" "$GO_EXPORTER" wrk python3 curl; do
  command -v "$bin" >/dev/null 2>&1 || { echo "missing $bin (apt-get install nginx-light prometheus-nginx-exporter wrk curl)" >&2; exit 1; }
done

source bench/lib.sh
OURS=$(build_exporter nginx_exporter)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT


NGINX_PORT=$(free_port)
cat > "$WORK/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $WORK/body;
    proxy_temp_path $WORK/proxy;
    fastcgi_temp_path $WORK/fastcgi;
    uwsgi_temp_path $WORK/uwsgi;
    scgi_temp_path $WORK/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location = /stub_status { stub_status; }
    }
}
CONF
"$NGINX" -p "$WORK" -e "$WORK/error.log" -c "$WORK/nginx.conf" 2>/dev/null &
PIDS+=($!)
wait_port "$NGINX_PORT"
SCRAPE_URI="http://127.0.0.1:$NGINX_PORT/stub_status"

OURS_PORT=$(free_port)
"$OURS" --web.listen-address="127.0.0.1:$OURS_PORT" --nginx.scrape-uri="$SCRAPE_URI" --log.level=warn 2>"$WORK/ours.log" &
OURS_PID=$!
PIDS+=($OURS_PID)
MIN_PORT=$(free_port)
"$OURS" --web.listen-address="127.0.0.1:$MIN_PORT" --nginx.scrape-uri="$SCRAPE_URI" --log.level=warn \
  --web.disable-exporter-metrics 2>"$WORK/min.log" &
MIN_PID=$!
PIDS+=($MIN_PID)
GO_PORT=$(free_port)
"$GO_EXPORTER" -web.listen-address="127.0.0.1:$GO_PORT" -nginx.scrape-uri="$SCRAPE_URI" >"$WORK/go.log" 2>&1 &
GO_PID=$!
PIDS+=($GO_PID)
wait_port "$OURS_PORT"
wait_port "$MIN_PORT"
wait_port "$GO_PORT"

declare -A R
WHO=(ours min go)
for who in "${WHO[@]}"; do
  case $who in
    ours) port=$OURS_PORT ;;
    min) port=$MIN_PORT ;;
    go) port=$GO_PORT ;;
  esac
  sequential "$port" 100 "nginx_up 1" >/dev/null   # warm-up
done
for ((r = 0; r < ROUNDS; r++)); do
  for ((i = 0; i < ${#WHO[@]}; i++)); do
    who=${WHO[$(((i + r) % ${#WHO[@]}))]}
    case $who in
      ours) port=$OURS_PORT; pid=$OURS_PID ;;
      min) port=$MIN_PORT; pid=$MIN_PID ;;
      go) port=$GO_PORT; pid=$GO_PID ;;
    esac
    c0=$(cpu_ticks "$pid")
    read -r med p99 rps bytes _ < <(sequential "$port" "$N" "nginx_up 1")
    c1=$(cpu_ticks "$pid")
    R[$who,seq_med]+=" $med"; R[$who,seq_p99]+=" $p99"; R[$who,seq_rps]+=" $rps"; R[$who,bytes]=$bytes
    R[$who,seq_cpu]+=" $(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / $N * 1e6))")"
    c0=$(cpu_ticks "$pid")
    read -r med p99 rps reqs < <(concurrent "$port")
    c1=$(cpu_ticks "$pid")
    R[$who,con_med]+=" $med"; R[$who,con_p99]+=" $p99"; R[$who,con_rps]+=" $rps"
    R[$who,con_cpu]+=" $(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / $reqs * 1e6))")"
  done
done
for who in "${WHO[@]}"; do
  case $who in
    ours) pid=$OURS_PID ;;
    min) pid=$MIN_PID ;;
    go) pid=$GO_PID ;;
  esac
  R[$who,hwm]=$(python3 -c "print('%.1f' % ($(hwm_kib "$pid") / 1024))")
  for k in seq_med seq_p99 seq_rps seq_cpu con_med con_p99 con_rps con_cpu; do
    R[$who,${k}_all]=${R[$who,$k]}
    R[$who,$k]=$(median ${R[$who,$k]})
  done
done

echo
echo "nginx_exporter vs prometheus-nginx-exporter ($("$GO_EXPORTER" -version 2>&1 | head -1 | tr -d '\n')), $(nproc) CPUs, N=$N sequential, C=$C clients for ${D}s, median of $ROUNDS rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours = default output; ours-min = --web.disable-exporter-metrics (same families as Debian's 0.11)"
printf '%-36s %10s %10s %10s %9s %12s\n' metric ours ours-min go ours/go ours-min/go
row() {
  printf '%-36s %10s %10s %10s %9s %12s\n' "$1" "${R[ours,$2]}" "${R[min,$2]}" "${R[go,$2]}" \
    "$(ratio "${R[ours,$2]}" "${R[go,$2]}")" "$(ratio "${R[min,$2]}" "${R[go,$2]}")"
}
row "sequential median latency (ms)" seq_med
row "sequential p99 latency (ms)" seq_p99
row "sequential scrapes/s" seq_rps
row "sequential CPU per scrape (us)" seq_cpu
row "concurrent($C) p50 latency (ms)" con_med
row "concurrent($C) p99 latency (ms)" con_p99
row "concurrent($C) scrapes/s" con_rps
row "concurrent($C) CPU per scrape (us)" con_cpu
row "peak RSS VmHWM (MiB)" hwm
row "response size (bytes)" bytes
echo "CPU per scrape ratios of each round (ours / go, ours-min / go):"
echo "  sequential: $(round_ratios seq_cpu ours go) / $(round_ratios seq_cpu min go)"
echo "  concurrent: $(round_ratios con_cpu ours go) / $(round_ratios con_cpu min go)"
