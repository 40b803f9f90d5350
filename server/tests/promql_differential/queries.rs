//! The generated query set and the table of known semantic differences between Prometheus 2.x (the reference
//! binary here is Debian's 2.42) and 3.x (what our engine implements).
//!
//! Queries are built from templates over the data's metrics; `@A` and `@B` stand for two absolute times inside
//! the data (multiples of 15s, like every time here, see `data.rs`).

use super::data::START;
use super::result::Order;

/// Known 2.x/3.x differences: (query, reason). These queries run on both sides and their results are printed, but
/// they are not counted; if one stops differing the test reports the entry as stale so the table stays true.
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "increase(request_duration_seconds_count[1h]) > 1000",
        "the same extrapolation change as increase(jobs_started_total[30m]): the 1h window of the range query's \
         first steps covers the start of the data, where the histogram's small first count makes 2.x and 3.x \
         extrapolate differently",
    ),
    (
        "sum(temperature_celsius) / count(temperature_celsius) - avg(temperature_celsius)",
        "3.x sums with Kahan compensation in sum and avg, so this difference cancels to exactly 0 (or a residue \
         of the other sign) where 2.42 leaves a residue of a few 1e-15, beyond any relative tolerance",
    ),
    (
        "predict_linear(memory_bytes[1h] @ @A, 600)",
        "predict_linear depends on the step time, so an @-pinned window is evaluated at every step; 2.42 returns \
         only the first 40 of the range query's 121 steps (the last of them off) while 3.x returns all; both agree \
         on the instants and on the steps 2.42 returns",
    ),
    (
        "increase(jobs_started_total[30m])",
        "3.0 clamps the extrapolation towards the window start at the counter's zero point after choosing between \
         full and half-interval extrapolation; 2.x clamps first, so a start just past the zero point extrapolates \
         differently (changed in 2.51, prometheus/prometheus#13725)",
    ),
    (
        "holt_winters(temperature_celsius[30m], 0.5, 0.5)",
        "3.0 renamed holt_winters to double_exponential_smoothing behind --enable-feature=promql-experimental-functions",
    ),
    (
        "holt_winters(memory_bytes[1h], 0.1, 0.9)",
        "3.0 renamed holt_winters to double_exponential_smoothing behind --enable-feature=promql-experimental-functions",
    ),
];

/// Templates with `X` standing for a counter and `G` for a gauge selection.
const COUNTERS: &[&str] = &[
    "http_requests_total",
    "http_requests_total{job=\"api\",code=\"200\"}",
    "cpu_seconds_total{mode!=\"idle\"}",
];
const GAUGES: &[&str] = &[
    "temperature_celsius",
    "queue_length",
    "memory_bytes{instance=~\"a.*|b.*\"}",
    "ephemeral_job_progress",
];

const COUNTER_TEMPLATES: &[&str] = &[
    "X",
    "rate(X[1m])",
    "rate(X[5m])",
    "rate(X[1h])",
    "irate(X[5m])",
    "increase(X[10m])",
    "resets(X[1h])",
    "sum by (instance) (rate(X[5m]))",
    "sum without (instance) (increase(X[15m]))",
    "topk(3, X)",
    "bottomk(2, X)",
    "max_over_time(rate(X[5m])[30m:1m])",
    "rate(X[5m] offset 30m)",
    "rate(X[5m] @ @A)",
    "deriv(rate(X[5m])[20m:])",
    "X / ignoring(mode) group_left sum without (mode) (X)",
];

const GAUGE_TEMPLATES: &[&str] = &[
    "G",
    "G offset 10m",
    "G offset -15m",
    "G @ @B",
    "delta(G[10m])",
    "idelta(G[5m])",
    "deriv(G[15m])",
    "predict_linear(G[30m], 3600)",
    "changes(G[30m])",
    "avg_over_time(G[10m])",
    "min_over_time(G[10m])",
    "max_over_time(G[10m])",
    "sum_over_time(G[10m])",
    "count_over_time(G[10m])",
    "stddev_over_time(G[30m])",
    "stdvar_over_time(G[30m])",
    "last_over_time(G[10m])",
    "present_over_time(G[10m])",
    "quantile_over_time(0.9, G[30m])",
    "absent_over_time(G[5m])",
    "timestamp(G)",
    "sum(G)",
    "avg(G)",
    "min(G)",
    "max(G)",
    "count(G)",
    "stddev(G)",
    "stdvar(G)",
    "group(G)",
    "avg by (instance) (G)",
    "max without (instance) (G)",
    "quantile(0.5, G)",
    "quantile by (instance) (0.9, G)",
    "topk by (instance) (1, G)",
    "count_values(\"value\", G)",
    "G * 2",
    "2 - G",
    "G / 0",
    "-G % 7",
    "G ^ 2",
    "-G",
    "G > 15",
    "G <= bool 15",
    "G == 3",
    "G != bool 3",
    "abs(G - 20)",
    "ceil(G)",
    "floor(G)",
    "round(G)",
    "round(G, 0.3)",
    "clamp(G, 10, 25)",
    "clamp_min(G, 20)",
    "clamp_max(G, 20)",
    "sqrt(abs(G))",
    "exp(G / 100)",
    "ln(G)",
    "log2(G)",
    "log10(G)",
    "sgn(G - 20)",
    "sin(G)",
    "atan2(G, 3)",
    "deg(G)",
    "sort(G)",
    "sort_desc(G)",
    "avg_over_time(G[1h:5m])",
    "min_over_time(sum(G)[20m:])",
    "avg_over_time(G[45m:15s] offset 15m)",
];

/// Queries standing alone.
const SINGLE: &[&str] = &[
    "{__name__=~\"http_.*\",job=\"web\",code=\"500\"}",
    "{__name__=\"up\"}",
    "http_requests_total{handler=~\"/|/metrics\",method!~\"P.*\"}",
    "http_requests_total{code=~\"4..|5..\",job!=\"web\"} offset 1h",
    "temperature_celsius[10m]",
    "temperature_celsius[10m] offset 30m",
    "queue_length[5m] @ @B",
    "up[2m]",
    "histogram_quantile(0.9, rate(request_duration_seconds_bucket[5m]))",
    "histogram_quantile(0.5, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.99, sum by (job, le) (rate(request_duration_seconds_bucket[10m])))",
    "histogram_quantile(0.25, sum without (instance) (increase(request_duration_seconds_bucket[15m])))",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    "sum by (job) (rate(request_duration_seconds_count[5m]))",
    "label_replace(up, \"host\", \"$1\", \"instance\", \"(.*):.*\")",
    "label_replace(up, \"host\", \"$1\", \"instance\", \"nomatch(.*)\")",
    "label_replace(up, \"job\", \"\", \"job\", \".*\")",
    "label_join(up, \"ji\", \"/\", \"job\", \"instance\")",
    "label_join(build_info, \"all\", \",\", \"version\", \"goversion\", \"missing\")",
    "up * on(instance) group_left(version) build_info",
    "build_info * on(instance) group_right(version) up",
    "sum by (job, instance) (rate(http_requests_total[5m])) / on(job, instance) group_left up",
    "rate(http_requests_total[5m]) / on(job, instance) group_left sum by (job, instance) (rate(http_requests_total[5m]))",
    "rate(http_requests_total{code=\"500\"}[5m]) / ignoring(code) rate(http_requests_total{code=\"200\"}[5m])",
    "rate(http_requests_total{code=\"500\"}[5m]) > bool on(job, instance, method, handler) \
     rate(http_requests_total{code=\"404\"}[5m])",
    "memory_bytes - on(job, instance) queue_length",
    "up == 0",
    "up and queue_length",
    "queue_length and on(instance) up",
    "queue_length or up",
    "http_requests_total{code=\"200\"} or http_requests_total{code=\"500\"}",
    "queue_length unless on(instance) (up == 0)",
    "up unless memory_bytes",
    "count_values by (job) (\"v\", queue_length)",
    "count_values(\"le\", request_duration_seconds_count)",
    "topk(2, memory_bytes) by (job)",
    "sum(up) * scalar(count(up))",
    "scalar(sum(up))",
    "scalar(up)",
    "vector(1)",
    "vector(time())",
    "time()",
    "time() - timestamp(up)",
    "1 + 2 * 3",
    "2 > bool 1",
    "\"hello\"",
    "hour()",
    "minute(timestamp(queue_length))",
    "day_of_week()",
    "day_of_month(vector(time()))",
    "day_of_year()",
    "days_in_month()",
    "month()",
    "year(timestamp(up))",
    "absent(nonexistent_metric)",
    "absent(http_requests_total{job=\"nope\",code=\"200\"})",
    "absent(up)",
    "absent_over_time(ephemeral_job_progress{id=\"3\"}[10m])",
    "count(count by (instance) (up))",
    "sum(rate(cpu_seconds_total[5m])) by (instance) / on(instance) group_left count by (instance) (cpu_seconds_total{mode=\"idle\"})",
    "max(rate(http_requests_total[5m] @ @A))",
    "rate(http_requests_total[5m] @ @A offset 10m)",
    "sum_over_time(up[1h]) / count_over_time(up[1h])",
    "max_over_time(deriv(temperature_celsius[10m])[30m:30s])",
    "rate(http_requests_total{job=\"api\",code=\"200\"}[5m:30s])",
    "min_over_time(queue_length[10m:15s] @ @B)",
    "sum by (le) (request_duration_seconds_bucket)",
    "sort(sum by (instance) (rate(http_requests_total[5m])))",
    "sort_desc(count by (code) (http_requests_total))",
    "{__name__=~\"up|build_info\"}",
    "rate({__name__=~\"http_requests_total|cpu_seconds_total\",instance=\"a:9100\"}[5m])",
    "sum by (__name__) ({__name__=~\"up|queue_length\"})",
    "changes(up[1h]) > 0",
    "histogram_quantile(0.9, request_duration_seconds_bucket)",
    "histogram_quantile(1.5, rate(request_duration_seconds_bucket[5m]))",
    "histogram_quantile(-1, rate(request_duration_seconds_bucket[5m]))",
    "histogram_quantile(0.5, rate(request_duration_seconds_bucket{le!=\"+Inf\"}[5m]))",
    "quantile(2, temperature_celsius)",
    "quantile(-0.5, temperature_celsius)",
    "topk(0, up)",
    "count_values(\"x\", -temperature_celsius)",
    "absent(sum(nonexistent_metric))",
    "clamp(temperature_celsius, 30, 10)",
    "round(-2.5 * up)",
    "vector(1) unless on() up",
    "scalar(vector(1)) + up",
    "timestamp(up offset 5m)",
    "timestamp(rate(cpu_seconds_total[5m]))",
    "-up ^ 2",
    "1 / (up - up)",
    "last_over_time(ephemeral_job_progress[1h])",
    "stddev by (instance) (cpu_seconds_total)",
    "up * on(job) memory_bytes",
    "sum(up) by (job) == bool 3",
    "avg(memory_bytes) without (job)",
    "group by (version) (build_info)",
    "max by (job) (up) unless on(job) min by (job) (up)",
    "rate(http_requests_total[5m]) * on(instance) group_left(version) build_info",
    "sum(rate(http_requests_total[2m])) by (method, code)",
    "irate(http_requests_total{job=\"web\"}[45s])",
];

/// The two absolute times substituted for `@A` and `@B` (seconds).
pub fn at_a() -> i64 {
    START + 3600 + 900
}

pub fn at_b() -> i64 {
    START + 2 * 3600 + 45 * 60
}

/// Every query of the set, with `@A`/`@B` substituted, in a stable order.
pub fn all() -> Vec<String> {
    let mut out = Vec::new();
    for t in COUNTER_TEMPLATES {
        for c in COUNTERS {
            out.push(t.replace('X', c));
        }
    }
    for t in GAUGE_TEMPLATES {
        for g in GAUGES {
            out.push(t.replace('G', g));
        }
    }
    out.extend(SINGLE.iter().map(|s| s.to_string()));
    out.extend(KNOWN_DIFFERENCES.iter().map(|(q, _)| q.to_string()));
    out.into_iter().map(|q| substitute(&q)).collect()
}

/// How the query's results compare: in order under a top-level sort; by values only where `topk`/`bottomk`
/// choose among equal values (upstream leaves that choice unspecified, and the data has such ties).
pub fn order(query: &str) -> Order {
    if query.starts_with("sort(") || query.starts_with("sort_desc(") {
        Order::Ordered
    } else if query.starts_with("topk") || query.starts_with("bottomk") {
        Order::ValuesOnly
    } else {
        Order::Unordered
    }
}

/// The reason a query (after substitution) is a known difference, if it is one.
pub fn known_difference(query: &str) -> Option<&'static str> {
    KNOWN_DIFFERENCES
        .iter()
        .find(|(q, _)| substitute(q) == query)
        .map(|(_, r)| *r)
}

fn substitute(q: &str) -> String {
    q.replace("@A", &at_a().to_string()).replace("@B", &at_b().to_string())
}
