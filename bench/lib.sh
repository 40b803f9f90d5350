# Shared measuring functions of the side-by-side benchmarks (sourced, not run). Needs python3, curl and wrk.
# The caller sets WORK (a temp dir) and C, D (concurrent clients and seconds) before calling `concurrent`.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 200); do
    if curl -s -o /dev/null "http://127.0.0.1:$1/"; then return 0; fi
    sleep 0.05
  done
  echo "port $1 did not open" >&2; exit 1
}

# Builds an exporter the way it ships (bench/build-exporter.sh) and prints the binary's path.
build_exporter() { bench/build-exporter.sh "$1"; }

TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hwm_kib() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }

# N sequential scrapes of /metrics on one keep-alive connection, each checked to contain MARKER;
# prints "median_ms p99_ms scrapes_per_s bytes samples".
sequential() {
  python3 - "$1" "$2" "${3:-}" <<'PY'
import http.client, statistics, sys, time
port, n, marker = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
lat = []
size = 0
start = time.perf_counter()
for _ in range(n):
    t = time.perf_counter()
    conn.request("GET", "/metrics")
    r = conn.getresponse()
    body = r.read()
    lat.append(time.perf_counter() - t)
    if r.status != 200 or marker not in body:
        sys.exit("bad scrape: %d %r" % (r.status, body[:200]))
    size = len(body)
total = time.perf_counter() - start
lat.sort()
p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
samples = sum(1 for l in body.splitlines() if l and not l.startswith(b"#"))
print("%.3f %.3f %.0f %d %d" % (statistics.median(lat) * 1e3, p99 * 1e3, n / total, size, samples))
PY
}

# wrk with C connections for D seconds; prints "p50_ms p99_ms scrapes_per_s requests".
concurrent() {
  wrk -t "$C" -c "$C" -d "${D}s" --latency "http://127.0.0.1:$1/metrics" > "$WORK/wrk.txt"
  python3 - "$WORK/wrk.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    x = float(m.group(1))
    return {"us": x / 1e3, "ms": x, "s": x * 1e3}[m.group(2)]
p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M).group(1)
p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M).group(1)
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
reqs = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
if bad:
    sys.exit("non-2xx responses: " + bad.group(1))
print("%.3f %.3f %.0f %d" % (ms(p50), ms(p99), rps, reqs))
PY
}


ratio() { python3 -c "a, b = float('$1'), float('$2'); print('%.2f' % (a / b) if b else '-')"; }

# The median of its arguments (numbers).
median() { python3 -c "import statistics, sys; print('%g' % statistics.median(map(float, sys.argv[1:])))" "$@"; }

# Per-round ratios of metric $1 between exporters $2 and $3 of the associative array R (R[who,metric_all] holds
# the rounds' values, space separated), printed space separated.
round_ratios() {
  python3 -c "import sys; a, b = sys.argv[1].split(), sys.argv[2].split(); print(' '.join('%.2f' % (float(x) / float(y)) for x, y in zip(a, b)))" \
    "${R[$2,$1_all]}" "${R[$3,$1_all]}"
}

# Runs the side-by-side measurement: the exporters named in WHO (ports in PORT[who], processes in PID[who]) get
# WARMUP sequential scrapes, then ROUNDS rounds of N sequential scrapes and a concurrent run each, alternating the
# exporters and rotating which goes first. Every scrape must contain MARKER. Fills R[who,metric] with medians over
# the rounds and R[who,metric_all] with every round's values.
# Usage: measure_rounds MARKER WARMUP
measure_rounds() {
  local marker=$1 warmup=$2 who r i c0 c1 med p99 rps bytes reqs k
  for who in "${WHO[@]}"; do
    sequential "${PORT[$who]}" "$warmup" "$marker" >/dev/null
  done
  for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < ${#WHO[@]}; i++)); do
      who=${WHO[$(((i + r) % ${#WHO[@]}))]}
      c0=$(cpu_ticks "${PID[$who]}")
      read -r med p99 rps bytes _ < <(sequential "${PORT[$who]}" "$N" "$marker")
      c1=$(cpu_ticks "${PID[$who]}")
      R[$who,seq_med]+=" $med"; R[$who,seq_p99]+=" $p99"; R[$who,seq_rps]+=" $rps"; R[$who,bytes]=$bytes
      R[$who,seq_cpu]+=" $(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / $N * 1e6))")"
      c0=$(cpu_ticks "${PID[$who]}")
      read -r med p99 rps reqs < <(concurrent "${PORT[$who]}")
      c1=$(cpu_ticks "${PID[$who]}")
      R[$who,con_med]+=" $med"; R[$who,con_p99]+=" $p99"; R[$who,con_rps]+=" $rps"
      R[$who,con_cpu]+=" $(python3 -c "print('%.1f' % (($c1 - $c0) / $TICKS / max($reqs, 1) * 1e6))")"
    done
  done
  for who in "${WHO[@]}"; do
    R[$who,hwm]=$(python3 -c "print('%.1f' % ($(hwm_kib "${PID[$who]}") / 1024))")
    for k in seq_med seq_p99 seq_rps seq_cpu con_med con_p99 con_rps con_cpu; do
      R[$who,${k}_all]=${R[$who,$k]}
      R[$who,$k]=$(median ${R[$who,$k]})
    done
  done
}

# Prints the table of measure_rounds' results for ours, ours-min and go, then every round's CPU ratios.
print_rounds() {
  printf '%-36s %10s %10s %10s %9s %12s\n' metric ours ours-min go ours/go ours-min/go
  while IFS='|' read -r title key; do
    printf '%-36s %10s %10s %10s %9s %12s\n' "$title" "${R[ours,$key]}" "${R[min,$key]}" "${R[go,$key]}" \
      "$(ratio "${R[ours,$key]}" "${R[go,$key]}")" "$(ratio "${R[min,$key]}" "${R[go,$key]}")"
  done <<ROWS
sequential median latency (ms)|seq_med
sequential p99 latency (ms)|seq_p99
sequential scrapes/s|seq_rps
sequential CPU per scrape (us)|seq_cpu
concurrent($C) p50 latency (ms)|con_med
concurrent($C) p99 latency (ms)|con_p99
concurrent($C) scrapes/s|con_rps
concurrent($C) CPU per scrape (us)|con_cpu
peak RSS VmHWM (MiB)|hwm
response size (bytes)|bytes
ROWS
  echo "CPU per scrape ratios of each round (ours / go, ours-min / go):"
  echo "  sequential: $(round_ratios seq_cpu ours go) / $(round_ratios seq_cpu min go)"
  echo "  concurrent: $(round_ratios con_cpu ours go) / $(round_ratios con_cpu min go)"
}
