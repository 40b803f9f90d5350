#!/usr/bin/env bash
# Side-by-side benchmark: our mysql_exporter against Debian's prometheus-mysqld-exporter (Go, 0.14), both scraping
# the same real MariaDB on loopback with their default scrapers (global_status, global_variables, slave_status,
# info_schema.innodb_cmp, info_schema.innodb_cmpmem, info_schema.query_response_time). Ours runs twice: with its
# default output and with --web.disable-exporter-metrics (no process_* / promhttp_* self metrics).
#
# For each exporter: a warm-up, N sequential scrapes over one keep-alive connection (median and p99 latency,
# scrapes/s), then a concurrent run with C clients for D seconds (wrk: p50/p99 latency, scrapes/s). Exporter CPU
# time per scrape comes from /proc/<pid>/stat (utime+stime) around each run (MariaDB's own work is not counted);
# peak RSS is VmHWM at the end. Every scrape opens a fresh MySQL connection in both exporters. ROUNDS (default 3)
# repeats both runs for every exporter, alternating exporters and rotating which goes first; the table shows
# medians over the rounds and the CPU ratios of every round.
#
# Needs: mariadb-server, prometheus-mysqld-exporter, wrk, python3, curl (all Debian packages).
# Usage: [ROUNDS=3] bench/mysql_exporter.sh [N=500] [C=4] [D=10]
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-500}
C=${2:-4}
D=${3:-10}
ROUNDS=${ROUNDS:-3}
GO_EXPORTER=${GO_EXPORTER:-/usr/bin/prometheus-mysqld-exporter}
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}

for bin in "$MARIADBD" "$GO_EXPORTER" mariadb-install-db mariadb wrk python3 curl; do
  command -v "$bin" >/dev/null 2>&1 || {
    echo "missing $bin (apt-get install mariadb-server prometheus-mysqld-exporter wrk curl)" >&2
    exit 1
  }
done

source bench/lib.sh
OURS=$(build_exporter mysql_exporter)

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

DB_PORT=$(free_port)
mariadb-install-db --no-defaults --datadir="$WORK/data" --auth-root-authentication-method=normal --skip-test-db \
  --user=root >"$WORK/install.log" 2>&1
"$MARIADBD" --no-defaults --datadir="$WORK/data" --socket="$WORK/mysqld.sock" --pid-file="$WORK/mysqld.pid" \
  --port="$DB_PORT" --bind-address=127.0.0.1 --user=root --skip-name-resolve --max-connections=500 \
  2>"$WORK/mariadb.log" &
PIDS+=($!)
for _ in $(seq 1 600); do
  if mariadb --no-defaults --socket="$WORK/mysqld.sock" -uroot -e 'SELECT 1' >/dev/null 2>&1; then break; fi
  sleep 0.1
done
mariadb --no-defaults --socket="$WORK/mysqld.sock" -uroot -e \
  "CREATE USER 'exporter'@'%' IDENTIFIED BY 'bench-pw'; GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'%';"
cat > "$WORK/my.cnf" <<CNF
[client]
user = exporter
password = bench-pw
host = 127.0.0.1
port = $DB_PORT
CNF

OURS_PORT=$(free_port)
"$OURS" --web.listen-address="127.0.0.1:$OURS_PORT" --config.my-cnf="$WORK/my.cnf" --log.level=warn \
  2>"$WORK/ours.log" &
OURS_PID=$!
PIDS+=($OURS_PID)
MIN_PORT=$(free_port)
"$OURS" --web.listen-address="127.0.0.1:$MIN_PORT" --config.my-cnf="$WORK/my.cnf" --log.level=warn \
  --web.disable-exporter-metrics 2>"$WORK/min.log" &
MIN_PID=$!
PIDS+=($MIN_PID)
GO_PORT=$(free_port)
"$GO_EXPORTER" --web.listen-address="127.0.0.1:$GO_PORT" --config.my-cnf="$WORK/my.cnf" --log.level=warn \
  >"$WORK/go.log" 2>&1 &
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
  sequential "$port" 20 "mysql_up 1" >/dev/null   # warm-up
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
    read -r med p99 rps bytes _ < <(sequential "$port" "$N" "mysql_up 1")
    c1=$(cpu_ticks "$pid")
    R[$who,seq_med]+=" $med"; R[$who,seq_p99]+=" $p99"; R[$who,seq_rps]+=" $rps"; R[$who,bytes]=$bytes
    R[$who,seq_cpu]+=" $(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / $N * 1e6))")"
    c0=$(cpu_ticks "$pid")
    read -r med p99 rps reqs < <(concurrent "$port")
    c1=$(cpu_ticks "$pid")
    R[$who,con_med]+=" $med"; R[$who,con_p99]+=" $p99"; R[$who,con_rps]+=" $rps"
    R[$who,con_cpu]+=" $(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / max($reqs, 1) * 1e6))")"
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
echo "mysql_exporter vs prometheus-mysqld-exporter ($("$GO_EXPORTER" --version 2>&1 | head -1 | tr -d '\n')), MariaDB $(mariadb --no-defaults --socket="$WORK/mysqld.sock" -uroot -N -e 'SELECT @@version'), $(nproc) CPUs, N=$N sequential, C=$C clients for ${D}s, median of $ROUNDS rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours = default output; ours-min = --web.disable-exporter-metrics"
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
