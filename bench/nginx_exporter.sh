#!/usr/bin/env bash
# Side-by-side benchmark: our nginx_exporter against Debian's prometheus-nginx-exporter (Go, 0.11), all scraping
# the same real nginx's stub_status on loopback. Ours runs twice: with its default output (nginx families, build
# info, process_* and promhttp_* self metrics, like upstream 1.x) and with --web.disable-exporter-metrics (nginx
# families and build info only: the same content as Debian's 0.11, which has no process or Go metrics).
#
# For each exporter: a warm-up, N sequential scrapes over one keep-alive connection (median and p99 latency,
# scrapes/s), then a concurrent run with C clients for D seconds (wrk: p50/p99 latency, scrapes/s). CPU time per
# scrape comes from /proc/<pid>/stat (utime+stime, in clock ticks: N is large enough for ticks to resolve a few
# percent) around each run; peak RSS is VmHWM at the end.
# ROUNDS (default 3) repeats both runs for every exporter, alternating exporters and rotating which goes first, so
# a change in the machine's load lands on all of them; the table shows each figure's median over the rounds and
# the CPU ratios of every round.
#
# Needs: nginx (nginx-light), prometheus-nginx-exporter, wrk, python3, curl (all Debian packages).
# Usage: [ROUNDS=3] bench/nginx_exporter.sh [N=10000] [C=4] [D=10]
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-10000}
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

declare -A R PORT=([ours]=$OURS_PORT [min]=$MIN_PORT [go]=$GO_PORT) PID=([ours]=$OURS_PID [min]=$MIN_PID [go]=$GO_PID)
WHO=(ours min go)
measure_rounds "nginx_up 1" 100

echo
echo "nginx_exporter vs prometheus-nginx-exporter ($("$GO_EXPORTER" -version 2>&1 | head -1 | tr -d '\n')), $(nproc) CPUs, N=$N sequential, C=$C clients for ${D}s, median of $ROUNDS rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours = default output; ours-min = --web.disable-exporter-metrics (same families as Debian's 0.11)"
print_rounds
