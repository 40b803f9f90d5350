//! The collectors the registry runs on each scrape: connect, run every enabled scraper on that one connection,
//! report `mysql_up` and per-scraper `mysql_exporter_collector_{success,duration_seconds}`, disconnect.
//!
//! # One connection per scrape, selectable scrapers
//!
//! [`register`] adds three kinds of collectors to a [`Registry`], in this order: an unnamed *opener* that
//! connects (and writes `mysql_up` and the `connection` duration), one collector *named after each enabled
//! scraper* (so `collect[]=global_status` selects scrapers as upstream's handler does), and an unnamed *closer*
//! that disconnects. The opener leaves the connection in a thread-local slot that the scraper collectors and the
//! closer use: [`Registry::gather`] runs collectors one after the other, in registration order, on the calling
//! thread, and unnamed collectors always run, so the slot always holds this scrape's connection. A scraper
//! collector that finds no connection (the server was down) writes nothing, as upstream writes nothing but
//! `mysql_up 0` then.
//!
//! # Async bridge
//!
//! The driver (`mysql_async`) is async; [`Collector::collect`] is sync. The HTTP runtime calls the registry from
//! `tokio::task::spawn_blocking`, i.e. on one of the runtime's blocking threads, where blocking is allowed and no
//! async task is running. Each collector keeps a [`tokio::runtime::Handle`] taken at start-up and drives the
//! driver with `Handle::block_on` from that thread; the I/O itself runs on the runtime's reactor. `block_on` must
//! never be called from an async context (it would panic), which `spawn_blocking` guarantees.
//!
//! A scraper that fails is logged and reported with success 0; the others still run. When the server cannot be
//! reached (or the session settings are refused) only `mysql_up 0` is written, as upstream does.

use std::cell::RefCell;
use std::time::{Duration, Instant};

use exposition::registry::RegistryError;
use exposition::{CollectError, Collector, Labels, MetricFamily, MetricType, Registry};
use mysql_async::prelude::Queryable;
use mysql_async::{ClientIdentity, Conn, OptsBuilder, SslOpts, Value};
use tokio::runtime::Handle;

use crate::config::ClientConfig;
use crate::scraper::{Families, Query, Rows, ScrapeError, Scraper, ServerInfo, Spec};

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

/// What every collector of one exporter shares.
#[derive(Debug, Clone)]
struct Shared {
    runtime: Handle,
    client: ClientConfig,
    session: SessionSettings,
}

/// This thread's connection for the scrape in progress (see the module docs).
struct Session {
    conn: Conn,
    server: ServerInfo,
}

thread_local! {
    static SESSION: RefCell<Option<Session>> = const { RefCell::new(None) };
}

/// Registers the opener, one collector per scraper (named after it) and the closer on `registry`.
pub fn register(
    registry: &Registry,
    runtime: Handle,
    client: ClientConfig,
    session: SessionSettings,
    scrapers: Vec<(&'static Spec, Box<dyn Scraper>)>,
) -> Result<(), RegistryError> {
    let shared = Shared {
        runtime,
        client,
        session,
    };
    registry.register(Opener(shared.clone()));
    for (spec, scraper) in scrapers {
        registry.register_named(
            spec.name,
            ScraperCollector {
                shared: shared.clone(),
                spec,
                scraper,
            },
        )?;
    }
    registry.register(Closer(shared));
    Ok(())
}

impl Shared {
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
    fn connect(&self) -> Result<Session, String> {
        let opts = self.opts();
        self.runtime.block_on(async {
            let work = async {
                let mut conn = Conn::new(opts).await.map_err(|e| e.to_string())?;
                let version: Option<String> = conn.query_first("SELECT @@version").await.map_err(|e| e.to_string())?;
                let version = version.unwrap_or_default();
                let server =
                    ServerInfo::parse(&version).ok_or_else(|| format!("could not parse version from {version:?}"))?;
                Ok(Session { conn, server })
            };
            tokio::time::timeout(CONNECT_TIMEOUT, work)
                .await
                .map_err(|_| format!("timed out after {CONNECT_TIMEOUT:?}"))?
        })
    }

    fn disconnect(&self, session: Session) {
        let _ = self
            .runtime
            .block_on(tokio::time::timeout(Duration::from_secs(2), session.conn.disconnect()));
    }
}

/// Connects at the start of a scrape; writes `mysql_up` and the connection time.
#[derive(Debug)]
struct Opener(Shared);

impl Collector for Opener {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        // A slot left over from an interrupted scrape on this thread is closed first.
        if let Some(stale) = SESSION.with(|s| s.borrow_mut().take()) {
            self.0.disconnect(stale);
        }
        let start = Instant::now();
        let mut fams = Families::new();
        match self.0.connect() {
            Ok(session) => {
                add_timing(&mut fams, "connection", None, start.elapsed());
                fams.add("mysql_up", MetricType::Gauge, UP_HELP, Labels::new(), 1.0);
                SESSION.with(|s| *s.borrow_mut() = Some(session));
            }
            Err(err) => {
                tracing::error!(target = %self.0.client.target(), err = %err, "Error opening connection to database");
                fams.add("mysql_up", MetricType::Gauge, UP_HELP, Labels::new(), 0.0);
            }
        }
        fams.finish(out);
        Ok(())
    }
}

/// Disconnects at the end of a scrape.
#[derive(Debug)]
struct Closer(Shared);

impl Collector for Closer {
    fn collect(&self, _: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        if let Some(session) = SESSION.with(|s| s.borrow_mut().take()) {
            self.0.disconnect(session);
        }
        Ok(())
    }
}

/// One scraper on the scrape's connection, with its success and duration.
#[derive(Debug)]
struct ScraperCollector {
    shared: Shared,
    spec: &'static Spec,
    scraper: Box<dyn Scraper>,
}

impl Collector for ScraperCollector {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let Some(mut session) = SESSION.with(|s| s.borrow_mut().take()) else {
            return Ok(());
        };
        if session.server.version >= self.spec.min_version {
            let began = Instant::now();
            let mark = out.len();
            let mut db = LiveDb {
                runtime: &self.shared.runtime,
                conn: &mut session.conn,
            };
            let ok = match self.scraper.scrape(&mut db, &session.server, out) {
                Ok(()) => true,
                Err(err) => {
                    out.truncate(mark);
                    tracing::error!(
                        scraper = self.spec.name,
                        target = %self.shared.client.target(),
                        err = %err,
                        "Error from scraper"
                    );
                    false
                }
            };
            let mut fams = Families::new();
            add_timing(
                &mut fams,
                &format!("collect.{}", self.spec.name),
                Some(ok),
                began.elapsed(),
            );
            fams.finish(out);
        }
        SESSION.with(|s| *s.borrow_mut() = Some(session));
        Ok(())
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
        let registry = Registry::new();
        let matches = crate::cli::command("test")
            .try_get_matches_from(["mysql_exporter"])
            .expect("args");
        let all: Vec<(&'static Spec, Box<dyn Scraper>)> = crate::scraper::SCRAPERS
            .iter()
            .map(|s| (s, (s.build)(&matches)))
            .collect();
        let names: Vec<String> = all.iter().map(|(s, _)| s.name.to_string()).collect();
        let settings = SessionSettings {
            lock_wait_timeout: 2,
            log_slow_filter: false,
        };
        register(&registry, rt.handle().clone(), client, settings, all).expect("register");
        assert_eq!(registry.collector_names(), names);
        // Whole scrape and a collect[] selection: only mysql_up, nothing from the scrapers.
        for filter in [vec![], vec!["global_status".to_string()]] {
            let out = registry.gather(&filter).expect("gather");
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].name, "mysql_up");
            assert_eq!(out[0].help.as_deref(), Some(UP_HELP));
            assert_eq!(out[0].metrics[0].value, exposition::Value::Gauge(0.0));
        }
        assert!(SESSION.with(|s| s.borrow().is_none()));
    }
}
