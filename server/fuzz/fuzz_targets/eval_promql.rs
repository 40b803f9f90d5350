#![no_main]
//! PromQL evaluation: whatever query the parser accepts, the engine must evaluate (or refuse) without panicking,
//! within a small sample limit and a short timeout, as an instant query and as a short range query over a small
//! fixed data set (a counter, a gauge with a gap, a classic histogram, a series that stops).

use std::sync::OnceLock;
use std::time::Duration;

use server::model::labels::Labels;
use server::promql::engine::{Engine, EngineOptions};
use server::promql::{ParseOptions, parse_with};
use server::storage::Appendable;
use server::storage::mem::MemStorage;

fn storage() -> &'static MemStorage {
    static STORAGE: OnceLock<MemStorage> = OnceLock::new();
    STORAGE.get_or_init(|| {
        let s = MemStorage::new();
        let mut app = s.appender();
        let series = |name: &str, extra: &[(&str, &str)]| -> Labels {
            let mut l: Labels = extra.iter().map(|(k, v)| (*k, *v)).collect();
            l.set("__name__", name);
            l
        };
        for job in ["a", "b"] {
            let counter = series("requests_total", &[("job", job)]);
            let gauge = series("temperature", &[("job", job), ("room", "1")]);
            let stops = series("short_lived", &[("job", job)]);
            for k in 0..120i64 {
                let t = k * 15_000 + 1_000;
                let _ = app.append(0, &counter, t, (k * 3 + (k % 7)) as f64);
                if !(40..60).contains(&k) {
                    let _ = app.append(0, &gauge, t, ((k * 37) % 23) as f64 - 5.5);
                }
                if k < 50 {
                    let _ = app.append(0, &stops, t, k as f64);
                }
                let mut cumulative = 0.0;
                for le in ["0.1", "1.0", "10.0", "+Inf"] {
                    cumulative += (k % 5 + 1) as f64;
                    let b = series("latency_seconds_bucket", &[("job", job), ("le", le)]);
                    let _ = app.append(0, &b, t, cumulative * k as f64);
                }
            }
        }
        let _ = app.commit();
        s
    })
}

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::new(EngineOptions {
            max_samples: 20_000,
            timeout: Duration::from_millis(500),
            enable_experimental_functions: true,
            ..EngineOptions::default()
        })
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else { return };
    if query.len() > 512 {
        return;
    }
    let Ok(expr) = parse_with(query, &ParseOptions::all()) else {
        return;
    };
    let (storage, engine) = (storage(), engine());
    let _ = engine.instant_query(storage, query, &expr, 1_200_000);
    let _ = engine.range_query(storage, query, &expr, 300_000, 1_800_000, 60_000);
});
