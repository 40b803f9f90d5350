//! One scrape of one server: connect, run the selected scrapers on that one connection, report `mysql_up` and
//! per-scraper `mysql_exporter_collector_{success,duration_seconds}`, disconnect. `/metrics` and `/probe` both
//! come here (see [`crate::web`]), each with the server and credentials it resolved.
//!
//! # Where scrapes run
//!
//! [`Exporter::scrape`] is a future the web handlers spawn as a task on the HTTP runtime (one thread): the driver
//! (`mysql_async`) and the scrapers are async, so while one scrape waits for the server others go on, without a
//! thread per scrape. Extra threads would each get a malloc arena that keeps its peak size.
//!
//! # Failures and the deadline
//!
//! A scraper that fails is logged and reported with success 0; the others still run. A scraper whose oldest
//! supported server version is newer than the server is skipped and writes nothing, as upstream's `Version()`.
//! When the server cannot be reached (or the session settings are refused) only `mysql_up 0` is written, as
//! upstream does. A deadline (the Prometheus scrape timeout less `--timeout-offset`) bounds connecting and every
//! query: once it has passed, the remaining queries fail at once and their scrapers report success 0.

use std::time::{Duration, Instant};

use exposition::{Labels, MetricFamily, MetricType};
use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts, Value};

use crate::config::ClientConfig;
use crate::scraper::{Families, Query, QueryFuture, Rows, ScrapeError, Scraper, ServerInfo, Spec};

/// How long connecting (TCP, TLS, authentication, session settings and the version query) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Session settings applied on each connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// `--exporter.lock_wait_timeout` (seconds).
    pub lock_wait_timeout: u64,
    /// `--exporter.log_slow_filter`.
    pub log_slow_filter: bool,
}

impl SessionSettings {
    /// The statements run right after connecting.
    pub fn statements(&self) -> Vec<String> {
        let mut out = vec![format!("SET lock_wait_timeout={}", self.lock_wait_timeout)];
        if self.log_slow_filter {
            out.push("SET log_slow_filter='tmp_table_on_disk,filesort_on_disk'".to_string());
        }
        out
    }
}

/// The enabled scrapers with what every scrape shares.
#[derive(Debug)]
pub struct Exporter {
    session: SessionSettings,
    scrapers: Vec<(&'static Spec, Box<dyn Scraper>)>,
}

/// An open connection and what it told about the server.
struct Session {
    conn: Conn,
    server: ServerInfo,
}

impl Exporter {
    /// An exporter running `scrapers` (in this order).
    pub fn new(session: SessionSettings, scrapers: Vec<(&'static Spec, Box<dyn Scraper>)>) -> Self {
        Exporter { session, scrapers }
    }

    /// The enabled scrapers' names, in order.
    pub fn scraper_names(&self) -> Vec<&'static str> {
        self.scrapers.iter().map(|(s, _)| s.name).collect()
    }

    /// The scrapers `collect` selects, as upstream's `filterScrapers`: the enabled scrapers named in `collect`,
    /// unknown names ignored; all enabled scrapers when `collect` is empty or names none of them.
    pub fn select(&self, collect: &[String]) -> Vec<usize> {
        let picked: Vec<usize> = (0..self.scrapers.len())
            .filter(|&i| collect.iter().any(|c| c == self.scrapers[i].0.name))
            .collect();
        if picked.is_empty() {
            (0..self.scrapers.len()).collect()
        } else {
            picked
        }
    }

    /// Scrapes the server `client` names with the scrapers `collect` selects (see [`Exporter::select`]), within
    /// `deadline` if one is given. Families come sorted by name.
    pub async fn scrape(
        &self,
        client: &ClientConfig,
        collect: &[String],
        deadline: Option<Instant>,
    ) -> Vec<MetricFamily> {
        let mut out = Vec::new();
        let start = Instant::now();
        let mut fams = Families::new();
        let mut session = match self.connect(client, deadline).await {
            Ok(session) => session,
            Err(err) => {
                tracing::error!(target = %client.target(), err = %err, "Error opening connection to database");
                return down();
            }
        };
        add_timing(&mut fams, "connection", None, start.elapsed());
        fams.add("mysql_up", MetricType::Gauge, UP_HELP, Labels::new(), 1.0);
        fams.finish(&mut out);
        for i in self.select(collect) {
            let (spec, scraper) = &self.scrapers[i];
            if !spec.supports(&session.server) {
                continue;
            }
            let began = Instant::now();
            let mark = out.len();
            let mut db = LiveDb {
                conn: &mut session.conn,
                deadline,
            };
            let ok = match scraper.scrape(&mut db, &session.server, &mut out).await {
                Ok(()) => true,
                Err(err) => {
                    out.truncate(mark);
                    tracing::error!(scraper = spec.name, target = %client.target(), err = %err, "Error from scraper");
                    false
                }
            };
            let mut fams = Families::new();
            add_timing(&mut fams, &format!("collect.{}", spec.name), Some(ok), began.elapsed());
            fams.finish(&mut out);
        }
        let _ = tokio::time::timeout(Duration::from_secs(2), session.conn.disconnect()).await;
        merge_sorted(out)
    }

    /// Connects, applies the session settings and reads the server version.
    async fn connect(&self, client: &ClientConfig, deadline: Option<Instant>) -> Result<Session, String> {
        let opts = opts(client, &self.session);
        let mut limit = CONNECT_TIMEOUT;
        if let Some(d) = deadline {
            limit = limit.min(d.saturating_duration_since(Instant::now()));
        }
        let work = async {
            let mut conn = Conn::new(opts).await.map_err(|e| e.to_string())?;
            let version: Option<String> = conn.query_first("SELECT @@version").await.map_err(|e| e.to_string())?;
            let version = version.unwrap_or_default();
            let server =
                ServerInfo::parse(&version).ok_or_else(|| format!("could not parse version from {version:?}"))?;
            Ok(Session { conn, server })
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| format!("timed out after {limit:?}"))?
    }
}

/// What a scrape writes when there is no server to talk to: `mysql_up 0` alone.
pub fn down() -> Vec<MetricFamily> {
    let mut out = Vec::new();
    let mut fams = Families::new();
    fams.add("mysql_up", MetricType::Gauge, UP_HELP, Labels::new(), 0.0);
    fams.finish(&mut out);
    out
}

/// Connection options for `c`.
fn opts(c: &ClientConfig, session: &SessionSettings) -> OptsBuilder {
    let mut opts = OptsBuilder::default()
        .user(Some(c.user.clone()))
        .pass((!c.password.is_empty()).then(|| c.password.clone()))
        .prefer_socket(false)
        .stmt_cache_size(0)
        .init(session.statements());
    opts = match &c.socket {
        Some(path) => opts.socket(Some(path.to_string_lossy().into_owned())),
        None => opts.ip_or_hostname(c.host.clone()).tcp_port(c.port),
    };
    if c.uses_tls() {
        let mut ssl = SslOpts::default().with_danger_accept_invalid_certs(c.tls_skip_verify);
        if c.tls_skip_verify {
            ssl = ssl.with_danger_skip_domain_validation(true);
        }
        if let Some(ca) = &c.ssl_ca {
            ssl = ssl.with_root_certs(vec![ca.clone().into()]);
        }
        if let (Some(cert), Some(key)) = (&c.ssl_cert, &c.ssl_key) {
            ssl = ssl.with_client_identity(Some(ClientIdentity::new(cert.clone().into(), key.clone().into())));
        }
        opts = opts.ssl_opts(Some(ssl));
    }
    opts
}

/// Merges families of the same name and sorts them by name, labels by name and samples as the Go client does
/// (fewer labels first, then label values position by position).
pub fn merge_sorted(families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    let mut out = merge_by_name(families);
    for fam in &mut out {
        for m in &mut fam.metrics {
            m.labels.sort();
        }
        fam.metrics.sort_by(|a, b| {
            a.labels
                .len()
                .cmp(&b.labels.len())
                .then_with(|| a.labels.iter().map(|l| &l.value).cmp(b.labels.iter().map(|l| &l.value)))
        });
    }
    out
}

/// Sorts families by name (stable) and merges neighbours with the same name; samples keep their order.
pub fn merge_by_name(mut families: Vec<MetricFamily>) -> Vec<MetricFamily> {
    families.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out: Vec<MetricFamily> = Vec::with_capacity(families.len());
    for fam in families {
        match out.last_mut() {
            Some(last) if last.name == fam.name => last.metrics.extend(fam.metrics),
            _ => out.push(fam),
        }
    }
    out
}

/// [`Query`] on a live connection.
struct LiveDb<'a> {
    conn: &'a mut Conn,
    deadline: Option<Instant>,
}

impl Query for LiveDb<'_> {
    fn query<'a>(&'a mut self, sql: &'a str) -> QueryFuture<'a> {
        let err = |e: mysql_async::Error| ScrapeError::Query {
            query: sql.to_string(),
            message: e.to_string(),
        };
        let conn = &mut *self.conn;
        let deadline = self.deadline;
        let work = async move {
            let mut result = conn.query_iter(sql).await.map_err(err)?;
            let columns: Vec<String> = result.columns_ref().iter().map(|c| c.name_str().into_owned()).collect();
            // Rows are converted as they arrive, so the driver's rows and ours are not all held at once.
            let mut rows = Vec::new();
            result
                .for_each(|r: mysql_async::Row| rows.push(r.unwrap().into_iter().map(text_value).collect()))
                .await
                .map_err(err)?;
            // Drain any further result sets so the connection stays usable.
            result.drop_result().await.map_err(err)?;
            Ok(Rows { columns, rows })
        };
        Box::pin(async move {
            match deadline {
                None => work.await,
                Some(d) => tokio::time::timeout_at(d.into(), work)
                    .await
                    .map_err(|_| ScrapeError::Deadline { query: sql.to_string() })?,
            }
        })
    }
}

/// A text-protocol value as text (`None` for NULL).
fn text_value(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        // Text is kept in the driver's buffer when it is valid UTF-8 (it nearly always is).
        Value::Bytes(b) => {
            Some(String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
        }
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

const UP_HELP: &str = "Whether the MySQL server is up.";

fn add_timing(fams: &mut Families, label: &str, ok: Option<bool>, elapsed: Duration) {
    let labels = Labels::from_pairs([("collector", label)]);
    if let Some(ok) = ok {
        fams.add(
            "mysql_exporter_collector_success",
            MetricType::Gauge,
            "mysqld_exporter: Whether a collector succeeded.",
            labels.clone(),
            if ok { 1.0 } else { 0.0 },
        );
    }
    fams.add(
        "mysql_exporter_collector_duration_seconds",
        MetricType::Gauge,
        "Collector time duration.",
        labels,
        elapsed.as_secs_f64(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_statements() {
        let s = SessionSettings {
            lock_wait_timeout: 2,
            log_slow_filter: false,
        };
        assert_eq!(s.statements(), ["SET lock_wait_timeout=2"]);
        let s = SessionSettings {
            lock_wait_timeout: 5,
            log_slow_filter: true,
        };
        assert_eq!(
            s.statements(),
            [
                "SET lock_wait_timeout=5",
                "SET log_slow_filter='tmp_table_on_disk,filesort_on_disk'"
            ]
        );
    }

    fn exporter(args: &[&str]) -> Exporter {
        let matches = crate::cli::command("test")
            .try_get_matches_from(std::iter::once("mysql_exporter").chain(args.iter().copied()))
            .expect("args");
        let settings = crate::cli::session_settings(&matches);
        Exporter::new(settings, crate::cli::scrapers(&matches))
    }

    #[test]
    fn collect_selection_as_upstream() {
        let e = exporter(&["--no-collect.info_schema.query_response_time"]);
        let names = e.scraper_names();
        let all: Vec<usize> = (0..names.len()).collect();
        let pick = |c: &[&str]| -> Vec<&str> {
            let c: Vec<String> = c.iter().map(|s| s.to_string()).collect();
            e.select(&c).into_iter().map(|i| names[i]).collect()
        };
        let cases: &[(&[&str], &[&str])] = &[
            (&["global_status"], &["global_status"]),
            (
                &["slave_status", "global_status", "nope"],
                &["global_status", "slave_status"],
            ),
            // A scraper that is not enabled cannot be selected.
            (
                &["global_status", "info_schema.query_response_time"],
                &["global_status"],
            ),
        ];
        for (collect, want) in cases {
            assert_eq!(pick(collect), *want, "{collect:?}");
        }
        // Nothing known selected: every enabled scraper runs.
        for collect in [&[][..], &["nope"][..], &["info_schema.query_response_time"][..]] {
            let c: Vec<String> = collect.iter().map(|s| s.to_string()).collect();
            assert_eq!(e.select(&c), all, "{collect:?}");
        }
    }

    #[tokio::test]
    async fn unreachable_server_is_up_zero() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let client = crate::config::resolve(
            None,
            std::path::Path::new("none"),
            &crate::config::Overrides {
                address: format!("127.0.0.1:{port}"),
                username: Some("u".into()),
                ..Default::default()
            },
        )
        .expect("config");
        let e = exporter(&[]);
        // Whole scrape and a collect[] selection: only mysql_up, nothing from the scrapers.
        for filter in [vec![], vec!["global_status".to_string()]] {
            let out = e.scrape(&client, &filter, None).await;
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].name, "mysql_up");
            assert_eq!(out[0].help.as_deref(), Some(UP_HELP));
            assert_eq!(out[0].metrics[0].value, exposition::Value::Gauge(0.0));
        }
        // A deadline already past: down at once.
        let began = Instant::now();
        let out = e.scrape(&client, &[], Some(Instant::now())).await;
        assert_eq!(out[0].metrics[0].value, exposition::Value::Gauge(0.0));
        assert!(began.elapsed() < Duration::from_secs(2));
    }
}
