//! A scrape target simulator for the server scale benchmark (`bench/server_scale.sh`): one HTTP listener that
//! serves any number of node_exporter-shaped targets. `GET /metrics?id=<n>` returns target `n`'s exposition: the
//! template's sample lines (a real node_exporter output) repeated with a `replica` label until the body has
//! `--series` series, every value moving on each scrape the way counters and gauges do.
//!
//! ```text
//! cargo run --release -p server --example target_simulator -- \
//!     --listen 127.0.0.1:9999 --template node.txt --series 2500
//! ```

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

struct Template {
    /// `(series text up to the value, base value)`, HELP/TYPE lines kept as they are (value NaN marks them).
    lines: Vec<(String, f64)>,
    scrapes: AtomicU64,
}

fn build_template(text: &str, series: usize) -> Template {
    let mut samples: Vec<(String, String, f64)> = Vec::new();
    let mut meta: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            if line.starts_with("# HELP") || line.starts_with("# TYPE") {
                meta.push(line.to_string());
            }
            continue;
        }
        let Some((series_text, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else { continue };
        let (name, labels) = match series_text.split_once('{') {
            Some((n, rest)) => (n.to_string(), rest.trim_end_matches('}').to_string()),
            None => (series_text.to_string(), String::new()),
        };
        samples.push((name, labels, if v.is_finite() { v } else { 0.0 }));
    }
    let mut lines: Vec<(String, f64)> = meta.into_iter().map(|m| (m, f64::NAN)).collect();
    let mut replica = 0;
    'fill: loop {
        for (name, labels, v) in &samples {
            if lines.iter().filter(|(_, v)| !v.is_nan()).count() >= series {
                break 'fill;
            }
            let mut l = labels.clone();
            if replica > 0 {
                if !l.is_empty() {
                    l.push(',');
                }
                l.push_str(&format!("replica=\"{replica}\""));
            }
            let text = if l.is_empty() {
                name.clone()
            } else {
                format!("{name}{{{l}}}")
            };
            lines.push((text, *v));
        }
        replica += 1;
        if samples.is_empty() {
            break;
        }
    }
    Template {
        lines,
        scrapes: AtomicU64::new(0),
    }
}

fn render(t: &Template, id: u64) -> Vec<u8> {
    let n = t.scrapes.fetch_add(1, Ordering::Relaxed);
    let mut out = Vec::with_capacity(t.lines.len() * 64);
    for (text, base) in &t.lines {
        out.extend_from_slice(text.as_bytes());
        if base.is_nan() {
            out.push(b'\n');
            continue;
        }
        out.push(b' ');
        let v = base + (n as f64) * 0.25 + (id % 7) as f64;
        let _ = write!(out, "{v}");
        out.push(b'\n');
    }
    out
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let listen = arg(&args, "--listen").unwrap_or_else(|| "127.0.0.1:9999".into());
    let template_path = arg(&args, "--template").expect("--template FILE is required");
    let series: usize = arg(&args, "--series").and_then(|s| s.parse().ok()).unwrap_or(2500);
    let text = std::fs::read_to_string(&template_path).expect("readable template");
    let template = Arc::new(build_template(&text, series));
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    eprintln!("serving {series} series per target on {listen}");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let template = template.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                let template = template.clone();
                async move {
                    let id = req
                        .uri()
                        .query()
                        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("id=")))
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let body = render(&template, id);
                    let resp = Response::builder()
                        .header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                        .body(Full::new(Bytes::from(body)))
                        .expect("valid response");
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
