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
