//! The differential test's data: a deterministic OpenMetrics file with explicit timestamps, four hours of
//! counters, gauges and classic histograms over a few label dimensions, with gaps, a counter reset, series that
//! stop and series that start late.
//!
//! Sample times are chosen so that no evaluation boundary lands on a sample: every series' samples sit at
//! `START + offset + k * interval` seconds with `offset` in 1..=14 and intervals that are multiples of 15s, while
//! the queries evaluate at multiples of 15s (or at half seconds) with ranges, offsets and subquery steps that are
//! multiples of 15s. That keeps 3.x's left-open range windows and 2.x's closed ones selecting the same samples.

use std::fmt::Write;

/// First second of the data (a multiple of 60).
pub const START: i64 = 1_600_000_020;
/// Length of the data in seconds (4h).
pub const SPAN: i64 = 4 * 3600;

/// A small deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// One series' sampling: its first and last second (inclusive) and interval.
struct Sampling {
    offset: i64,
    interval: i64,
    from: i64,
    to: i64,
    /// Probability (per mille) of a missing sample.
    gaps: u64,
}

impl Sampling {
    fn times(&self, rng: &mut Rng) -> Vec<i64> {
        let mut out = Vec::new();
        let mut t = START + self.offset;
        while t <= START + SPAN {
            if t >= self.from && t <= self.to && rng.below(1000) >= self.gaps {
                out.push(t);
            }
            t += self.interval;
        }
        out
    }
}

fn labels_text(labels: &[(&str, String)]) -> String {
    if labels.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{{{}}}", parts.join(","))
}

fn sampling(rng: &mut Rng, interval: i64) -> Sampling {
    Sampling {
        offset: 1 + rng.below(14) as i64,
        interval,
        from: START,
        to: START + SPAN,
        gaps: 15,
    }
}

const INSTANCES: [&str; 3] = ["a:9100", "b:9100", "c:9100"];
const JOBS: [&str; 2] = ["api", "web"];

/// The OpenMetrics text of the whole data set.
pub fn openmetrics() -> String {
    let mut rng = Rng::new(0x5eed_0001);
    let mut out = String::new();

    // Counters: http_requests_total over job x instance x method x code x handler, 15s; one series resets.
    out.push_str("# TYPE http_requests counter\n");
    for job in JOBS {
        for inst in INSTANCES {
            for method in ["GET", "POST"] {
                for code in ["200", "404", "500"] {
                    for handler in ["/", "/api/v1/query", "/metrics"] {
                        let labels = [
                            ("code", code.to_string()),
                            ("handler", handler.to_string()),
                            ("instance", inst.to_string()),
                            ("job", job.to_string()),
                            ("method", method.to_string()),
                        ];
                        let s = sampling(&mut rng, 15);
                        let rate = 1 + rng.below(if code == "200" { 40 } else { 5 });
                        let reset = job == "web" && inst == "b:9100" && code == "200" && method == "GET";
                        // Counters that have run a while: extrapolation towards zero never applies.
                        let mut v = 5000.0 + rng.below(1000) as f64;
                        for (k, t) in s.times(&mut rng).into_iter().enumerate() {
                            if reset && k == 400 {
                                v = 0.0;
                            }
                            v += rng.below(rate + 1) as f64;
                            let _ = writeln!(out, "http_requests_total{} {v} {t}", labels_text(&labels));
                        }
                    }
                }
            }
        }
    }

    // Float counters: cpu_seconds_total over instance x cpu x mode, 30s.
    out.push_str("# TYPE cpu_seconds counter\n");
    for inst in INSTANCES {
        for cpu in ["0", "1"] {
            for mode in ["idle", "system", "user"] {
                let labels = [
                    ("cpu", cpu.to_string()),
                    ("instance", inst.to_string()),
                    ("mode", mode.to_string()),
                ];
                let s = sampling(&mut rng, 30);
                let mut v = 40_000.0 + rng.below(100_000) as f64 / 4.0;
                for t in s.times(&mut rng) {
                    v += rng.below(120) as f64 / 4.0;
                    let _ = writeln!(out, "cpu_seconds_total{} {v} {t}", labels_text(&labels));
                }
            }
        }
    }

    // A counter born an hour in, starting at 1 and growing by about one per scrape: the window of a rate that
    // covers its start ends up extrapolated towards zero, where 2.x and 3.x differ.
    out.push_str("# TYPE jobs_started counter\n");
    for inst in INSTANCES {
        let labels = [("instance", inst.to_string())];
        let mut s = sampling(&mut rng, 15);
        s.from = START + 3600;
        s.gaps = 0;
        let mut v = 1.0;
        for t in s.times(&mut rng) {
            let _ = writeln!(out, "jobs_started_total{} {v} {t}", labels_text(&labels));
            v += rng.below(3) as f64;
        }
    }

    // Gauges: temperature_celsius over instance x sensor, 60s, a random walk with two decimals.
    out.push_str("# TYPE temperature_celsius gauge\n");
    for inst in INSTANCES {
        for sensor in ["1", "2", "3", "4"] {
            let labels = [("instance", inst.to_string()), ("sensor", sensor.to_string())];
            let s = sampling(&mut rng, 60);
            let mut cents = 1500 + rng.below(2000) as i64;
            for t in s.times(&mut rng) {
                cents += rng.below(201) as i64 - 100;
                let _ = writeln!(
                    out,
                    "temperature_celsius{} {} {t}",
                    labels_text(&labels),
                    cents as f64 / 100.0
                );
            }
        }
    }

    // Gauges with churn: queue_length per job x instance; instance c stops after 2h, instance d starts at 2h30m,
    // and one series has a 20 minute hole.
    out.push_str("# TYPE queue_length gauge\n");
    for job in JOBS {
        for inst in ["a:9100", "b:9100", "c:9100", "d:9100"] {
            let labels = [("instance", inst.to_string()), ("job", job.to_string())];
            let mut s = sampling(&mut rng, 15);
            if inst == "c:9100" {
                s.to = START + 2 * 3600;
            }
            if inst == "d:9100" {
                s.from = START + 2 * 3600 + 1800;
            }
            let hole = (job == "api" && inst == "a:9100").then_some((START + 5400, START + 6600));
            for t in s.times(&mut rng) {
                if hole.is_some_and(|(a, b)| t > a && t < b) {
                    continue;
                }
                let _ = writeln!(out, "queue_length{} {} {t}", labels_text(&labels), rng.below(20));
            }
        }
    }

    // Short-lived series: ephemeral_job_progress{id}, each alive for a random window.
    out.push_str("# TYPE ephemeral_job_progress gauge\n");
    for id in 0..20 {
        let labels = [("id", id.to_string())];
        let mut s = sampling(&mut rng, 15);
        s.from = START + rng.below(SPAN as u64 - 1800) as i64;
        s.to = s.from + 300 + rng.below(3000) as i64;
        let mut v = 0.0;
        for t in s.times(&mut rng) {
            v += rng.below(5) as f64 * 0.5;
            let _ = writeln!(out, "ephemeral_job_progress{} {v} {t}", labels_text(&labels));
        }
    }

    // Large values: memory_bytes per job x instance.
    out.push_str("# TYPE memory_bytes gauge\n");
    for job in JOBS {
        for inst in INSTANCES {
            let labels = [("instance", inst.to_string()), ("job", job.to_string())];
            let s = sampling(&mut rng, 30);
            let base = 1_000_000_000 + rng.below(4_000_000_000);
            for t in s.times(&mut rng) {
                let _ = writeln!(
                    out,
                    "memory_bytes{} {} {t}",
                    labels_text(&labels),
                    base + rng.below(50_000_000)
                );
            }
        }
    }

    // up (mostly 1, sometimes 0) and build_info (constant 1 with a version label), per job x instance.
    out.push_str("# TYPE up gauge\n");
    for job in JOBS {
        for inst in INSTANCES {
            let labels = [("instance", inst.to_string()), ("job", job.to_string())];
            let s = sampling(&mut rng, 15);
            for t in s.times(&mut rng) {
                let v = u64::from(rng.below(100) >= 5);
                let _ = writeln!(out, "up{} {v} {t}", labels_text(&labels));
            }
        }
    }
    out.push_str("# TYPE build_info gauge\n");
    for (i, inst) in INSTANCES.iter().enumerate() {
        let labels = [
            ("goversion", "go1.19".to_string()),
            ("instance", inst.to_string()),
            ("version", format!("2.{}.0", 40 + i)),
        ];
        let s = sampling(&mut rng, 60);
        for t in s.times(&mut rng) {
            let _ = writeln!(out, "build_info{} 1 {t}", labels_text(&labels));
        }
    }

    // Classic histogram: request_duration_seconds per job x instance, 15s.
    const BUCKETS: [(&str, f64); 7] = [
        ("0.05", 0.05),
        ("0.1", 0.1),
        ("0.25", 0.25),
        ("0.5", 0.5),
        ("1.0", 1.0),
        ("2.5", 2.5),
        ("+Inf", f64::INFINITY),
    ];
    out.push_str("# TYPE request_duration_seconds histogram\n");
    for job in JOBS {
        for inst in INSTANCES {
            let s = sampling(&mut rng, 15);
            let mut counts = [0u64; BUCKETS.len()];
            let mut sum_ms = 0u64;
            let scale = 50 + rng.below(1000);
            for t in s.times(&mut rng) {
                for _ in 0..rng.below(30) {
                    let ms = rng.below(scale) + rng.below(scale) * rng.below(3);
                    sum_ms += ms;
                    for (i, (_, le)) in BUCKETS.iter().enumerate() {
                        if ms as f64 / 1000.0 <= *le {
                            counts[i] += 1;
                        }
                    }
                }
                for (i, (le, _)) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "request_duration_seconds_bucket{{instance=\"{inst}\",job=\"{job}\",le=\"{le}\"}} {} {t}",
                        counts[i]
                    );
                }
                let count = counts[BUCKETS.len() - 1];
                let _ = writeln!(
                    out,
                    "request_duration_seconds_count{{instance=\"{inst}\",job=\"{job}\"}} {count} {t}"
                );
                let _ = writeln!(
                    out,
                    "request_duration_seconds_sum{{instance=\"{inst}\",job=\"{job}\"}} {} {t}",
                    sum_ms as f64 / 1000.0
                );
            }
        }
    }
    out.push_str("# EOF\n");
    out
}
