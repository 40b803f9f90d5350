//! Instrumented metrics gathered from a registry and encoded: exact text 0.0.4 and OpenMetrics output.

use std::time::{Duration, UNIX_EPOCH};

use exposition::Registry;
use exposition::encode::{Format, encode};
use exposition::instrument::{
    CounterVec, Gauge, HistogramOpts, HistogramVec, ManualClock, Opts, Summary, SummaryOpts, linear_buckets,
};

fn scrape(registry: &Registry, format: Format) -> String {
    let mut out = Vec::new();
    encode(&registry.gather(&[]).unwrap(), format, &mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn registered_metrics_encode_to_the_exact_text() {
    let clock = ManualClock::shared(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    let registry = Registry::new();
    let requests = CounterVec::new(
        Opts::new("requests_total", "Requests served.\nBy code.")
            .namespace("app")
            .with_created()
            .clock(clock.clone()),
        &["code", "method"],
    )
    .unwrap();
    let temperature = Gauge::new(Opts::new("temperature_celsius", "Temperature.").unit("celsius")).unwrap();
    let latency = HistogramVec::new(
        HistogramOpts::new(
            Opts::new("latency_seconds", "Latency.")
                .const_label("zone", "eu")
                .unit("seconds")
                .clock(clock.clone()),
        )
        .buckets(linear_buckets(0.25, 0.25, 2).unwrap()),
        &["route"],
    )
    .unwrap();
    let sizes = Summary::new(
        SummaryOpts::new(Opts::new("size_bytes", "Sizes.").clock(clock.clone()))
            .objective(0.5, 0.05)
            .objective(0.9, 0.01),
    )
    .unwrap();
    registry.register(requests.clone());
    registry.register(temperature.clone());
    registry.register(latency.clone());
    registry.register(sizes.clone());

    requests.with_label_values(&["200", "GET"]).unwrap().inc_by(1027.0);
    clock.advance(Duration::from_millis(1500));
    requests
        .with_labels(&[("code", "500"), ("method", "POST")])
        .unwrap()
        .inc_by_with_exemplar(0.5, &[("trace_id", "4bf9")])
        .unwrap();
    temperature.set(-3.5);
    let api = latency.with_label_values(&["/api"]).unwrap();
    for v in [0.1, 0.25, 0.3, 2.0] {
        api.observe(v);
    }
    api.observe_with_exemplar(0.2, &[("trace_id", "77")]).unwrap();
    for v in 1..=10 {
        sizes.observe(f64::from(v));
    }

    assert_eq!(
        scrape(&registry, Format::Text),
        r#"# HELP app_requests_total Requests served.\nBy code.
# TYPE app_requests_total counter
app_requests_total{code="200",method="GET"} 1027
app_requests_total{code="500",method="POST"} 0.5
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
latency_seconds_bucket{route="/api",zone="eu",le="0.25"} 3
latency_seconds_bucket{route="/api",zone="eu",le="0.5"} 4
latency_seconds_bucket{route="/api",zone="eu",le="+Inf"} 5
latency_seconds_sum{route="/api",zone="eu"} 2.85
latency_seconds_count{route="/api",zone="eu"} 5
# HELP size_bytes Sizes.
# TYPE size_bytes summary
size_bytes{quantile="0.5"} 5
size_bytes{quantile="0.9"} 9
size_bytes_sum 55
size_bytes_count 10
# HELP temperature_celsius Temperature.
# TYPE temperature_celsius gauge
temperature_celsius -3.5
"#
    );

    assert_eq!(
        scrape(&registry, Format::OpenMetrics),
        r#"# HELP app_requests Requests served.\nBy code.
# TYPE app_requests counter
app_requests_total{code="200",method="GET"} 1027.0
app_requests_created{code="200",method="GET"} 1.7e+09
app_requests_total{code="500",method="POST"} 0.5 # {trace_id="4bf9"} 0.5 1700000001.5
app_requests_created{code="500",method="POST"} 1.7000000015e+09
# HELP latency_seconds Latency.
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_bucket{route="/api",zone="eu",le="0.25"} 3 # {trace_id="77"} 0.2 1700000001.5
latency_seconds_bucket{route="/api",zone="eu",le="0.5"} 4
latency_seconds_bucket{route="/api",zone="eu",le="+Inf"} 5
latency_seconds_sum{route="/api",zone="eu"} 2.85
latency_seconds_count{route="/api",zone="eu"} 5
# HELP size_bytes Sizes.
# TYPE size_bytes summary
size_bytes{quantile="0.5"} 5.0
size_bytes{quantile="0.9"} 9.0
size_bytes_sum 55.0
size_bytes_count 10
# HELP temperature_celsius Temperature.
# TYPE temperature_celsius gauge
# UNIT temperature_celsius celsius
temperature_celsius -3.5
# EOF
"#
    );
}
