//! The collector the registry runs on each scrape: connect, run every enabled scraper on that one connection,
//! report `mysql_up` and per-scraper `mysql_exporter_collector_{success,duration_seconds}`, disconnect.
//!
//! # Async bridge
//!
//! The driver (`mysql_async`) is async; [`Collector::collect`] is sync. The HTTP runtime calls the registry from
//! `tokio::task::spawn_blocking`, i.e. on one of the runtime's blocking threads, where blocking is allowed and no
//! async task is running. The collector keeps a [`tokio::runtime::Handle`] taken at start-up and drives each
//! query with `Handle::block_on` from that thread; the I/O itself runs on the runtime's reactor. `block_on` must
//! never be called from an async context (it would panic), which `spawn_blocking` guarantees.
//!
//! A scraper that fails is logged and reported with success 0; the others still run. When the server cannot be
//! reached (or the session settings are refused) only `mysql_up 0` is written, as upstream does.

use std::time::{Duration, Instant};

use exposition::{CollectError, Collector, Labels, MetricFamily, MetricType};
use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts, Value};
use tokio::runtime::Handle;

use crate::config::ClientConfig;
use crate::scraper::{Families, Query, Rows, ScrapeError, ServerInfo, Spec};

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

/// The exporter's collector.
#[derive(Debug)]
pub struct MysqlCollector {
    runtime: Handle,
    client: ClientConfig,
    session: SessionSettings,
    scrapers: Vec<&'static Spec>,
}

impl MysqlCollector {
    /// A collector for `client` running `scrapers`; `runtime` drives the driver's I/O (see the module docs).
    pub fn new(
        runtime: Handle,
        client: ClientConfig,
        session: SessionSettings,
        scrapers: Vec<&'static Spec>,
    ) -> MysqlCollector {
        MysqlCollector {
            runtime,
            client,
            session,
            scrapers,
        }
    }

    fn opts(&self) -> OptsBuilder {
        let c = &self.client;
        let mut opts = OptsBuilder::default()
            .user(Some(c.user.clone()))
            .pass((!c.password.is_empty()).then(|| c.password.clone()))
            .prefer_socket(false)
            .stmt_cache_size(0)
            .init(self.session.statements());
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

    /// Connects, applies the session settings and reads the server version.
    fn connect(&self) -> Result<(Conn, ServerInfo), String> {
        let opts = self.opts();
        self.runtime.block_on(async {
            let work = async {
                let mut conn = Conn::new(opts).await.map_err(|e| e.to_string())?;
                let version: Option<String> = conn.query_first("SELECT @@version").await.map_err(|e| e.to_string())?;
                let version = version.unwrap_or_default();
                let info =
                    ServerInfo::parse(&version).ok_or_else(|| format!("could not parse version from {version:?}"))?;
                Ok((conn, info))
            };
            tokio::time::timeout(CONNECT_TIMEOUT, work)
                .await
                .map_err(|_| format!("timed out after {CONNECT_TIMEOUT:?}"))?
        })
    }
}

/// [`Query`] on a live connection, blocking on the runtime handle.
struct LiveDb<'a> {
    runtime: &'a Handle,
    conn: &'a mut Conn,
}

impl Query for LiveDb<'_> {
    fn query(&mut self, sql: &str) -> Result<Rows, ScrapeError> {
        let err = |e: mysql_async::Error| ScrapeError::Query {
            query: sql.to_string(),
            message: e.to_string(),
        };
        let conn = &mut *self.conn;
        self.runtime.block_on(async move {
            let mut result = conn.query_iter(sql).await.map_err(err)?;
            let columns: Vec<String> = result.columns_ref().iter().map(|c| c.name_str().into_owned()).collect();
            let rows: Vec<mysql_async::Row> = result.collect().await.map_err(err)?;
            // Drain any further result sets so the connection stays usable.
            result.drop_result().await.map_err(err)?;
            let rows = rows
                .into_iter()
                .map(|r| r.unwrap().into_iter().map(text_value).collect())
                .collect();
            Ok(Rows { columns, rows })
        })
    }
}

/// A text-protocol value as text (`None` for NULL).
fn text_value(v: Value) -> Option<String> {
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

impl Collector for MysqlCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let start = Instant::now();
        let mut fams = Families::new();
        let (mut conn, server) = match self.connect() {
            Ok(c) => c,
            Err(err) => {
                tracing::error!(target = %self.client.target(), err = %err, "Error opening connection to database");
                fams.add("mysql_up", MetricType::Gauge, UP_HELP, Labels::new(), 0.0);
                fams.finish(out);
                return Ok(());
            }
        };
        add_timing(&mut fams, "connection", None, start.elapsed());
        let mut db = LiveDb {
            runtime: &self.runtime,
            conn: &mut conn,
        };
        for spec in &self.scrapers {
            if server.version < spec.min_version {
                continue;
            }
            let label = format!("collect.{}", spec.name);
            let began = Instant::now();
            let mark = out.len();
            let ok = match spec.scraper.scrape(&mut db, &server, out) {
                Ok(()) => true,
                Err(err) => {
                    out.truncate(mark);
                    tracing::error!(scraper = spec.name, target = %self.client.target(), err = %err, "Error from scraper");
                    false
                }
            };
            add_timing(&mut fams, &label, Some(ok), began.elapsed());
        }
        let _ = self
            .runtime
            .block_on(tokio::time::timeout(Duration::from_secs(2), conn.disconnect()));
        fams.add("mysql_up", MetricType::Gauge, UP_HELP, Labels::new(), 1.0);
        fams.finish(out);
        Ok(())
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

    #[test]
    fn unreachable_server_is_up_zero() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
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
        let c = MysqlCollector::new(
            rt.handle().clone(),
            client,
            SessionSettings {
                lock_wait_timeout: 2,
                log_slow_filter: false,
            },
            crate::scraper::SCRAPERS.iter().collect(),
        );
        let mut out = Vec::new();
        c.collect(&mut out).expect("collect never fails");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].name, "mysql_up");
        assert_eq!(out[0].help.as_deref(), Some(UP_HELP));
        assert_eq!(out[0].metrics[0].value, exposition::Value::Gauge(0.0));
    }
}
