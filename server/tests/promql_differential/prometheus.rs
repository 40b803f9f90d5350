//! The reference side: Debian's `prometheus` serving blocks that `promtool tsdb create-blocks-from openmetrics`
//! built from the test data, queried over its HTTP API with a minimal HTTP/1.0 client.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::result::{Outcome, Point, Row};

/// A running `prometheus`; killed on drop.
pub struct Prometheus {
    child: Child,
    port: u16,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e} (Debian's prometheus package provides it)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

impl Prometheus {
    /// Builds blocks from `openmetrics_file` under `dir` and starts `prometheus` on them, waiting until ready.
    pub fn start(dir: &Path, openmetrics_file: &Path) -> Prometheus {
        let data = dir.join("data");
        run(Command::new("promtool")
            .args(["tsdb", "create-blocks-from", "openmetrics"])
            .arg(openmetrics_file)
            .arg(&data));
        let config = dir.join("prometheus.yml");
        std::fs::write(&config, "global:\n  scrape_interval: 1m\nscrape_configs: []\n").expect("write config");
        let port = free_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--storage.tsdb.retention.time=100y")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting prometheus: {e} (Debian's prometheus package provides it)"));
        let p = Prometheus { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok((200, _)) = p.get("/-/ready") {
                return p;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus on port {port} not ready after 30s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET path` → (status, body).
    pub fn get(&self, path: &str) -> Result<(u16, String), String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").ok_or("no header end")?;
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no status")?;
        Ok((status, body.to_owned()))
    }

    /// An instant query at `t` (seconds).
    pub fn instant(&self, query: &str, t: f64) -> Outcome {
        self.api(&format!("/api/v1/query?query={}&time={t}", encode(query)))
    }

    /// A range query.
    pub fn range(&self, query: &str, start: f64, end: f64, step: f64) -> Outcome {
        self.api(&format!(
            "/api/v1/query_range?query={}&start={start}&end={end}&step={step}",
            encode(query)
        ))
    }

    fn api(&self, path: &str) -> Outcome {
        let (_, body) = match self.get(path) {
            Ok(r) => r,
            Err(e) => return Outcome::Error(format!("http: {e}")),
        };
        decode(&body)
    }
}

/// Percent-encodes a query parameter.
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn value(v: &serde_json::Value) -> Option<Point> {
    let pair = v.as_array()?;
    let t = pair.first()?.as_f64()?;
    let s = pair.get(1)?.as_str()?;
    let f = match s {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        s => s.parse().ok()?,
    };
    Some(Point {
        t: (t * 1000.0).round() as i64,
        f,
    })
}

fn metric(v: &serde_json::Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = v
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// Decodes an API response body.
fn decode(body: &str) -> Outcome {
    let bad = |what: &str| Outcome::Error(format!("undecodable response ({what}): {body}"));
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return bad("json");
    };
    if json["status"] != "success" {
        return Outcome::Error(format!(
            "{}: {}",
            json["errorType"].as_str().unwrap_or("?"),
            json["error"].as_str().unwrap_or("?")
        ));
    }
    let result = &json["data"]["result"];
    match json["data"]["resultType"].as_str() {
        Some("scalar") => value(result).map(Outcome::Scalar).unwrap_or_else(|| bad("scalar")),
        Some("string") => {
            let t = result[0].as_f64().unwrap_or(f64::NAN);
            Outcome::String(
                (t * 1000.0).round() as i64,
                result[1].as_str().unwrap_or_default().to_owned(),
            )
        }
        Some("vector") => {
            let mut rows = Vec::new();
            for s in result.as_array().into_iter().flatten() {
                let Some(p) = value(&s["value"]) else {
                    return bad("vector sample");
                };
                rows.push(Row {
                    labels: metric(&s["metric"]),
                    points: vec![p],
                });
            }
            Outcome::Vector(rows)
        }
        Some("matrix") => {
            let mut rows = Vec::new();
            for s in result.as_array().into_iter().flatten() {
                let mut points = Vec::new();
                for v in s["values"].as_array().into_iter().flatten() {
                    let Some(p) = value(v) else {
                        return bad("matrix point");
                    };
                    points.push(p);
                }
                rows.push(Row {
                    labels: metric(&s["metric"]),
                    points,
                });
            }
            Outcome::Matrix(rows)
        }
        _ => bad("resultType"),
    }
}
