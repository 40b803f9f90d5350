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

declare -A R PORT=([ours]=$OURS_PORT [min]=$MIN_PORT [go]=$GO_PORT) PID=([ours]=$OURS_PID [min]=$MIN_PID [go]=$GO_PID)
WHO=(ours min go)
measure_rounds "mysql_up 1" 20

echo
echo "mysql_exporter vs prometheus-mysqld-exporter ($("$GO_EXPORTER" --version 2>&1 | head -1 | tr -d '\n')), MariaDB $(mariadb --no-defaults --socket="$WORK/mysqld.sock" -uroot -N -e 'SELECT @@version'), $(nproc) CPUs, N=$N sequential, C=$C clients for ${D}s, median of $ROUNDS rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours = default output; ours-min = --web.disable-exporter-metrics"
print_rounds
