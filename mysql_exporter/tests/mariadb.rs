//! End-to-end: a real MariaDB (Debian package `mariadb-server`) initialised in a temp datadir and listening on a
//! free loopback port, a monitoring user with a password, our exporter binary scraping it, and statements in
//! between whose effect must show in the counters. Then the server is stopped and the exporter must keep serving
//! `mysql_up 0`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `SELECT 1` statements run between two scrapes.
const SELECTS: usize = 25;

const PASSWORD: &str = "s3cret-Pw";

/// A program: `$<env>`, else the first existing candidate path, else the bare name (looked up on `PATH`).
fn program(env: &str, candidates: &[&str]) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    for c in candidates {
        if Path::new(c).exists() {
            return PathBuf::from(c);
        }
    }
    PathBuf::from(Path::new(candidates[0]).file_name().expect("name"))
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process killed when dropped.
struct Proc {
    child: Child,
    name: &'static str,
}

impl Proc {
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited: {status}", self.name);
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A MariaDB server in its own temp dir.
struct Mariadb {
    proc: Option<Proc>,
    dir: tempfile::TempDir,
    port: u16,
}

impl Mariadb {
    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    fn start(extra: &[&str]) -> Mariadb {
        let dir = tempfile::tempdir().expect("temp dir");
        let data = dir.path().join("data");
        let install = program(
            "MARIADB_INSTALL_DB",
            &["/usr/bin/mariadb-install-db", "/usr/bin/mysql_install_db"],
        );
        // Bootstrapping several servers at once on a loaded machine fails now and then: retry on a fresh datadir.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let out = Command::new(&install)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--user=root",
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run {} (install mariadb-server): {e}", install.display()));
            if out.status.success() {
                break;
            }
            assert!(
                attempt < 3,
                "{} failed: {}\n{}",
                install.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let _ = std::fs::remove_dir_all(&data);
            std::thread::sleep(Duration::from_secs(1));
        }
        let port = free_port();
        let server = program("MARIADBD", &["/usr/sbin/mariadbd", "/usr/sbin/mysqld"]);
        let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
        let child = Command::new(&server)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", dir.path().join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=16M",
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", server.display()));
        let mut db = Mariadb {
            proc: Some(Proc {
                child,
                name: "mariadbd",
            }),
            dir,
            port,
        };
        wait_until("mariadbd to accept connections", Duration::from_secs(60), || {
            if let Some(p) = db.proc.as_mut() {
                p.assert_running();
            }
            db.sql_status("SELECT 1").is_ok()
        });
        db.sql(&format!(
            "CREATE USER 'exporter'@'%' IDENTIFIED BY '{PASSWORD}'; \
             GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* TO 'exporter'@'%';"
        ));
        db
    }

    /// Runs statements as root over the socket.
    fn sql_status(&self, statements: &str) -> Result<String, String> {
        let client = program("MARIADB", &["/usr/bin/mariadb", "/usr/bin/mysql"]);
        let out = Command::new(&client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-uroot", "--batch", "--skip-column-names", "-e", statements])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", client.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn sql(&self, statements: &str) -> String {
        self.sql_status(statements)
            .unwrap_or_else(|e| panic!("{statements}: {e}\n{}", self.log()))
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A root client running `SELECT SLEEP(seconds)`, killed when dropped.
    fn sleeping_client(&self, seconds: u32) -> Proc {
        let client = program("MARIADB", &["/usr/bin/mariadb", "/usr/bin/mysql"]);
        let child = Command::new(&client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args(["-uroot", "-e", &format!("SELECT SLEEP({seconds})")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start client");
        Proc {
            child,
            name: "mariadb client",
        }
    }

    fn stop(&mut self) {
        self.proc = None;
    }
}

/// Our exporter binary on a free port.
struct Exporter {
    proc: Proc,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Exporter {
    /// Password from `MYSQLD_EXPORTER_PASSWORD`, user from the file.
    fn start(db_port: u16, extra: &[&str]) -> Exporter {
        Exporter::start_with(
            db_port,
            extra,
            "[client]\nuser = exporter\n",
            ("MYSQLD_EXPORTER_PASSWORD", PASSWORD),
        )
    }

    fn start_with(db_port: u16, extra: &[&str], my_cnf: &str, env: (&str, &str)) -> Exporter {
        let dir = tempfile::tempdir().expect("temp dir");
        let cnf = dir.path().join("my.cnf");
        std::fs::write(&cnf, my_cnf).expect("write my.cnf");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_mysql_exporter"))
            .arg(format!("--config.my-cnf={}", cnf.display()))
            .arg(format!("--mysqld.address=127.0.0.1:{db_port}"))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(extra)
            .env_remove("MYSQLD_EXPORTER_PASSWORD")
            .env(env.0, env.1)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("exporter.log")).expect("log file"))
            .spawn()
            .expect("start exporter");
        let mut e = Exporter {
            proc: Proc {
                child,
                name: "mysql_exporter",
            },
            port,
            _dir: dir,
        };
        wait_until("the exporter to listen", Duration::from_secs(15), || {
            e.proc.assert_running();
            TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        e
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("exporter.log")).unwrap_or_default()
    }

    /// Scrapes `/metrics`: (series -> value, body).
    fn scrape(&mut self) -> (BTreeMap<String, f64>, String) {
        self.scrape_path("/metrics")
    }

    /// The `.my.cnf` the exporter reads.
    fn my_cnf(&self) -> PathBuf {
        self._dir.path().join("my.cnf")
    }

    /// Sends one request: (status code, body).
    fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        self.proc.assert_running();
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if method != "GET" {
            head.push_str("Content-Length: 0\r\n");
        }
        write!(s, "{head}\r\n").expect("write");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("read");
        let (head, body) = raw.split_once("\r\n\r\n").expect("http response");
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("status line: {head}"));
        (status, dechunk(body))
    }

    /// Scrapes `path` (with a query string, say): (series -> value, body).
    fn scrape_path(&mut self, path: &str) -> (BTreeMap<String, f64>, String) {
        self.scrape_with(path, &[])
    }

    /// Scrapes `path` with extra request headers: (series -> value, body).
    fn scrape_with(&mut self, path: &str, headers: &[(&str, &str)]) -> (BTreeMap<String, f64>, String) {
        let (status, body) = self.request("GET", path, headers);
        assert_eq!(status, 200, "{path}: {body}");
        let mut series = BTreeMap::new();
        for line in body.lines().filter(|l| !l.starts_with('#')) {
            if let Some((k, v)) = line.rsplit_once(' ') {
                series.insert(k.to_string(), v.parse::<f64>().unwrap_or(f64::NAN));
            }
        }
        (series, body)
    }
}

/// Decodes a chunked body (or returns it as is when it is not chunked).
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    loop {
        let Some((size, after)) = rest.split_once("\r\n") else {
            return body.to_string();
        };
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 {
            return out;
        }
        if after.len() < n {
            return body.to_string();
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
}

fn get(series: &BTreeMap<String, f64>, name: &str) -> f64 {
    *series.get(name).unwrap_or_else(|| {
        panic!(
            "no series {name}; have: {:?}",
            series.keys().take(60).collect::<Vec<_>>()
        )
    })
}

#[test]
fn scrapes_a_real_mariadb_then_reports_it_down() {
    let mut db = Mariadb::start(&["--skip-log-bin"]);
    let mut exporter = Exporter::start(db.port, &[]);

    let (before, body) = exporter.scrape();
    assert_eq!(get(&before, "mysql_up"), 1.0, "{body}\n{}", db.log());
    for scraper in [
        "global_status",
        "global_variables",
        "slave_status",
        "info_schema.innodb_cmp",
        "info_schema.innodb_cmpmem",
        "info_schema.query_response_time",
    ] {
        let key = format!("mysql_exporter_collector_success{{collector=\"collect.{scraper}\"}}");
        assert_eq!(get(&before, &key), 1.0, "{scraper}:\n{body}\n{}", exporter.log());
    }
    assert!(before.contains_key("mysql_exporter_collector_duration_seconds{collector=\"connection\"}"));

    // Version labels agree with what the server says about itself.
    let version = db.sql("SELECT @@version").trim().to_string();
    let info = body
        .lines()
        .find(|l| l.starts_with("mysql_version_info{"))
        .unwrap_or_else(|| panic!("no mysql_version_info:\n{body}"));
    assert!(info.contains(&format!("version=\"{version}\"")), "{info} vs {version}");
    assert!(info.contains("innodb_version=\""), "{info}");
    assert!(info.ends_with(" 1"), "{info}");
    assert!(
        body.contains("# TYPE mysql_global_status_commands_total counter"),
        "{body}"
    );
    assert!(
        body.contains("# HELP mysql_up Whether the MySQL server is up."),
        "{body}"
    );
    assert!(
        body.contains("mysql_transaction_isolation{level=\"REPEATABLE-READ\"} 1"),
        "{body}"
    );
    assert!(body.contains("mysqld_exporter_build_info{"), "{body}");
    let max_conn: f64 = db.sql("SELECT @@max_connections").trim().parse().expect("number");
    assert_eq!(get(&before, "mysql_global_variables_max_connections"), max_conn);
    assert!(get(&before, "mysql_global_status_uptime") >= 0.0);
    assert!(get(&before, "mysql_global_status_buffer_pool_pages{state=\"free\"}") >= 0.0);

    // Statements between two scrapes move the counter by at least their number.
    let select = "mysql_global_status_commands_total{command=\"select\"}";
    db.sql(&"SELECT 1;".repeat(SELECTS));
    let (after, _) = exporter.scrape();
    let moved = get(&after, select) - get(&before, select);
    assert!(
        moved >= SELECTS as f64,
        "select counter moved by {moved}, want >= {SELECTS}"
    );
    assert!(get(&after, "mysql_global_status_queries") > get(&before, "mysql_global_status_queries"));

    // collect[] selects scrapers, as upstream's handler does; the connection and mysql_up are always there.
    let (picked, body) = exporter.scrape_path("/metrics?collect%5B%5D=global_status");
    assert_eq!(get(&picked, "mysql_up"), 1.0, "{body}");
    assert!(picked.contains_key(select), "{body}");
    assert!(!body.contains("mysql_version_info"), "{body}");
    let collectors: Vec<&str> = body
        .lines()
        .filter(|l| l.starts_with("mysql_exporter_collector_success"))
        .collect();
    assert_eq!(
        collectors,
        ["mysql_exporter_collector_success{collector=\"collect.global_status\"} 1"],
        "{body}"
    );

    // The server goes away: the exporter keeps serving, with mysql_up 0 and no server families.
    db.stop();
    let (down, body) = exporter.scrape();
    assert_eq!(get(&down, "mysql_up"), 0.0, "{body}");
    assert!(!body.contains("mysql_global_status_"), "{body}");
    assert!(!body.contains("mysql_exporter_collector_success"), "{body}");
    let (again, _) = exporter.scrape();
    assert_eq!(get(&again, "mysql_up"), 0.0);

    // The mysql_up lines are those of the Go exporter with MySQL down (the 0.14 capture; 0.15 dropped its
    // mysql_exporter_scrapes_total and mysql_exporter_last_scrape_error).
    if let Some(dir) = exposition::conformance::corpus_dir() {
        let go = std::fs::read_to_string(dir.join("mysqld/debian-0.14.0-metrics-mysql-down.txt")).expect("capture");
        let ours: Vec<&str> = body.lines().filter(|l| is_family(l, "mysql_up")).collect();
        let theirs: Vec<&str> = go.lines().filter(|l| is_family(l, "mysql_up")).collect();
        assert_eq!(ours, theirs);
        assert!(body.contains("# TYPE mysqld_exporter_build_info gauge"), "{body}");
        assert!(go.contains("# TYPE mysqld_exporter_build_info gauge"));
    }
}

/// Whether `line` is a sample or HELP/TYPE line of the family `name`.
fn is_family(line: &str, name: &str) -> bool {
    let rest = line
        .strip_prefix("# HELP ")
        .or_else(|| line.strip_prefix("# TYPE "))
        .unwrap_or(line);
    rest.strip_prefix(name).is_some_and(|r| r.starts_with([' ', '{']))
}

#[test]
fn optional_and_disabled_scrapers_and_wrong_password() {
    let db = Mariadb::start(&["--log-bin=mysql-bin", "--userstat=1", "--performance-schema=ON"]);
    // The password comes from the file, through environment expansion.
    let mut exporter = Exporter::start_with(
        db.port,
        &[
            "--no-collect.global_variables",
            "--no-collect.slave_status",
            "--collect.binlog_size",
            "--collect.info_schema.innodb_metrics",
            "--collect.info_schema.processlist",
            "--no-collect.info_schema.processlist.processes_by_host",
            "--collect.info_schema.tables",
            "--collect.info_schema.tables.databases=shop",
            "--collect.engine_innodb_status",
            "--collect.info_schema.tablestats",
            "--collect.perf_schema.tableiowaits",
            "--collect.perf_schema.indexiowaits",
            "--collect.perf_schema.tablelocks",
            "--collect.info_schema.schemastats",
            "--collect.heartbeat",
            "--collect.heartbeat.database=ops",
            "--collect.perf_schema.eventswaits",
            "--collect.perf_schema.file_events",
            "--collect.info_schema.innodb_tablespaces",
            "--collect.mysql.user",
            "--collect.mysql.user.privileges",
        ],
        "[client]\nuser = exporter\npassword = \"${TEST_DB_PW}\"\n",
        ("TEST_DB_PW", PASSWORD),
    );
    db.sql(
        "CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, note TEXT) ENGINE=InnoDB; \
         INSERT INTO shop.orders VALUES (1, 'a'), (2, 'b'), (3, 'c'); ANALYZE TABLE shop.orders; \
         CREATE DATABASE ops; CREATE TABLE ops.heartbeat (ts VARCHAR(26) NOT NULL, server_id INT UNSIGNED NOT NULL \
         PRIMARY KEY); INSERT INTO ops.heartbeat VALUES ('2020-01-02 03:04:05.250000', 7); \
         SELECT COUNT(*) FROM shop.orders;",
    );
    db.sql("FLUSH BINARY LOGS");
    // A client sleeping in a query while the exporter scrapes.
    let _sleeper = db.sleeping_client(60);
    wait_until("the sleeping query to show", Duration::from_secs(15), || {
        db.sql("SELECT COUNT(*) FROM information_schema.processlist WHERE state = 'User sleep'")
            .trim()
            == "1"
    });
    let (series, body) = exporter.scrape();
    assert_eq!(get(&series, "mysql_up"), 1.0, "{body}");
    assert!(!body.contains("mysql_global_variables_"), "{body}");
    assert!(!body.contains("collect.slave_status"), "{body}");
    assert!(body.contains("collect.global_status"), "{body}");
    for scraper in [
        "binlog_size",
        "info_schema.innodb_metrics",
        "info_schema.processlist",
        "info_schema.tables",
        "engine_innodb_status",
        "info_schema.tablestats",
        "perf_schema.tableiowaits",
        "perf_schema.indexiowaits",
        "perf_schema.tablelocks",
        "info_schema.schemastats",
        "heartbeat",
        "perf_schema.eventswaits",
        "perf_schema.file_events",
        "info_schema.innodb_tablespaces",
        "mysql.user",
    ] {
        let key = format!("mysql_exporter_collector_success{{collector=\"collect.{scraper}\"}}");
        assert_eq!(get(&series, &key), 1.0, "{scraper}:\n{}", exporter.log());
    }
    // Two files after one flush; the size is what the server lists.
    let logs = db.sql("SHOW BINARY LOGS");
    let files: Vec<&str> = logs.lines().collect();
    assert_eq!(get(&series, "mysql_binlog_files"), files.len() as f64, "{logs}");
    let size: f64 = files
        .iter()
        .filter_map(|l| l.split('\t').nth(1)?.parse::<f64>().ok())
        .sum();
    assert_eq!(get(&series, "mysql_binlog_size_bytes"), size, "{logs}");
    let last = files.last().and_then(|l| l.split('\t').next()).unwrap_or("");
    let number: f64 = last
        .rsplit_once('.')
        .and_then(|(_, n)| n.parse().ok())
        .expect("file number");
    assert_eq!(get(&series, "mysql_binlog_file_number"), number);
    assert!(body.contains("# TYPE mysql_info_schema_innodb_metrics_"), "{body}");
    let threads = "mysql_info_schema_processlist_threads{command=\"query\",state=\"user_sleep\"}";
    assert_eq!(get(&series, threads), 1.0, "{body}");
    assert!(
        get(
            &series,
            "mysql_info_schema_processlist_processes_by_user{mysql_user=\"root\"}"
        ) >= 1.0
    );
    assert!(!body.contains("processes_by_host"), "{body}");
    // The read view count is parsed from the server's status text.
    let innodb = db.sql("SHOW ENGINE INNODB STATUS");
    if innodb.contains(" read views open inside InnoDB") {
        assert!(
            series.contains_key("mysql_engine_innodb_read_views_open_inside_innodb"),
            "{body}"
        );
    }
    // User statistics: the exporter's counters are the server's.
    let stats = db.sql(
        "SELECT ROWS_READ, ROWS_CHANGED FROM information_schema.table_statistics \
         WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders'",
    );
    let stats: Vec<f64> = stats.split_whitespace().map(|v| v.parse().expect("number")).collect();
    let t = "schema=\"shop\",table=\"orders\"";
    assert!(stats[0] >= 3.0 && stats[1] >= 3.0, "{stats:?}");
    assert_eq!(
        get(
            &series,
            &format!("mysql_info_schema_table_statistics_rows_read_total{{{t}}}")
        ),
        stats[0]
    );
    assert_eq!(
        get(
            &series,
            &format!("mysql_info_schema_table_statistics_rows_changed_total{{{t}}}")
        ),
        stats[1]
    );
    // The stored heartbeat, read back through the server's own clock conversion.
    let stored: f64 = db
        .sql("SELECT UNIX_TIMESTAMP(ts) FROM ops.heartbeat")
        .trim()
        .parse()
        .expect("timestamp");
    assert_eq!(
        get(&series, "mysql_heartbeat_stored_timestamp_seconds{server_id=\"7\"}"),
        stored
    );
    assert!(get(&series, "mysql_heartbeat_now_timestamp_seconds{server_id=\"7\"}") > stored);
    // The table's tablespace size is what the server reports.
    let space = db.sql("SELECT FILE_SIZE FROM information_schema.INNODB_SYS_TABLESPACES WHERE NAME = 'shop/orders'");
    let size: f64 = space.trim().parse().expect("file size");
    assert_eq!(
        get(
            &series,
            "mysql_info_schema_innodb_tablespace_file_size_bytes{tablespace_name=\"shop/orders\"}"
        ),
        size
    );
    // The exporter account: SELECT granted, INSERT not, no limits.
    let account = "hostmask=\"%\",mysql_user=\"exporter\"";
    assert_eq!(
        get(&series, &format!("mysql_mysql_select_priv{{{account}}}")),
        1.0,
        "{body}"
    );
    assert_eq!(get(&series, &format!("mysql_mysql_insert_priv{{{account}}}")), 0.0);
    assert_eq!(
        get(&series, &format!("mysql_mysql_max_user_connections{{{account}}}")),
        0.0
    );
    // One table in the schema: the schema sums are the table's.
    assert_eq!(
        get(
            &series,
            "mysql_info_schema_schema_statistics_rows_read_total{schema=\"shop\"}"
        ),
        stats[0]
    );
    // Performance schema I/O counts for the table are the server's.
    let pfs = db.sql(
        "SELECT COUNT_FETCH, COUNT_INSERT FROM performance_schema.table_io_waits_summary_by_table \
         WHERE OBJECT_SCHEMA = 'shop' AND OBJECT_NAME = 'orders'",
    );
    let pfs: Vec<f64> = pfs.split_whitespace().map(|v| v.parse().expect("number")).collect();
    assert!(pfs[1] >= 3.0, "{pfs:?}");
    let io = |op: &str| {
        format!("mysql_perf_schema_table_io_waits_total{{name=\"orders\",operation=\"{op}\",schema=\"shop\"}}")
    };
    assert_eq!(get(&series, &io("fetch")), pfs[0]);
    assert_eq!(get(&series, &io("insert")), pfs[1]);
    assert!(
        body.contains("mysql_perf_schema_index_io_waits_total{index=\"PRIMARY\",name=\"orders\""),
        "{body}"
    );
    assert!(
        body.contains("mysql_perf_schema_events_waits_total{event_name=\"wait/"),
        "{body}"
    );
    assert!(
        body.contains("mysql_perf_schema_file_events_bytes_total{event_name=\"wait/io/file/"),
        "{body}"
    );
    assert!(
        body.contains("mysql_perf_schema_sql_lock_waits_total{name=\"orders\",operation=\"read_normal\""),
        "{body}"
    );
    // Table figures are what the server reports about the table.
    let report = db.sql(
        "SELECT TABLE_ROWS, DATA_LENGTH, ENGINE, ROW_FORMAT FROM information_schema.tables \
         WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders'",
    );
    let fields: Vec<&str> = report.trim().split('\t').collect();
    let table = "schema=\"shop\",table=\"orders\"";
    assert_eq!(
        get(&series, &format!("mysql_info_schema_table_rows{{{table}}}")),
        fields[0].parse::<f64>().expect("rows")
    );
    assert_eq!(
        get(
            &series,
            &format!("mysql_info_schema_table_size{{component=\"data_length\",{table}}}")
        ),
        fields[1].parse::<f64>().expect("size")
    );
    let version = body
        .lines()
        .find(|l| l.starts_with("mysql_info_schema_table_version{"))
        .unwrap_or_else(|| panic!("no table version:\n{body}"));
    assert!(version.contains(&format!("engine=\"{}\"", fields[2])), "{version}");
    assert!(version.contains(&format!("row_format=\"{}\"", fields[3])), "{version}");

    // The server refuses the credentials: down, not an HTTP error.
    db.sql(&format!("ALTER USER 'exporter'@'%' IDENTIFIED BY 'other-{PASSWORD}'"));
    let (series, body) = exporter.scrape();
    assert_eq!(get(&series, "mysql_up"), 0.0, "{body}");
}

#[test]
fn replica_status_from_a_real_replication_pair() {
    let primary = Mariadb::start(&["--log-bin=mysql-bin", "--server-id=1"]);
    let replica = Mariadb::start(&["--server-id=2", "--skip-log-bin", "--report-host=replica.test"]);
    primary.sql("CREATE USER 'repl'@'%' IDENTIFIED BY 'repl-pw'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';");
    // The replica already has everything the primary did so far (both made their own exporter user): start after it.
    let position = primary.sql("SELECT @@gtid_binlog_pos").trim().to_string();
    replica.sql(&format!(
        "SET GLOBAL gtid_slave_pos = '{position}'; \
         CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, MASTER_USER = 'repl', \
         MASTER_PASSWORD = 'repl-pw', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1; START SLAVE;",
        primary.port
    ));
    primary.sql("CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY); INSERT INTO app.t VALUES (1), (2);");
    wait_until("the replica to catch up", Duration::from_secs(30), || {
        replica
            .sql_status("SELECT COUNT(*) FROM app.t")
            .is_ok_and(|n| n.trim() == "2")
    });

    let mut exporter = Exporter::start(replica.port, &[]);
    let (series, body) = exporter.scrape();
    assert_eq!(
        get(
            &series,
            "mysql_exporter_collector_success{collector=\"collect.slave_status\"}"
        ),
        1.0,
        "{}",
        exporter.log()
    );
    let labels = "channel_name=\"\",connection_name=\"\",master_host=\"127.0.0.1\",master_uuid=\"\"";
    let status = |column: &str| get(&series, &format!("mysql_slave_status_{column}{{{labels}}}"));
    assert_eq!(status("slave_io_running"), 1.0, "{body}");
    assert_eq!(status("slave_sql_running"), 1.0, "{body}");
    assert_eq!(status("master_port"), f64::from(primary.port));
    assert_eq!(status("master_server_id"), 1.0);
    assert!(status("seconds_behind_master") >= 0.0);
    assert!(
        body.contains("# TYPE mysql_slave_status_slave_io_running untyped"),
        "{body}"
    );
    // Gtid_IO_Pos is `0-1-<n>`: domain 0, server 1, the primary's last sequence number.
    let sequence: f64 = primary
        .sql("SELECT @@gtid_binlog_pos")
        .trim()
        .rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("sequence number");
    let gtid = "mysql_slave_status_gtid_io_pos{channel_name=\"\",connection_name=\"\",domain_id=\"0\",\
                master_host=\"127.0.0.1\",master_uuid=\"\",server_id=\"1\"}";
    assert_eq!(get(&series, gtid), sequence, "{body}");

    // The primary lists the replica (SHOW SLAVE HOSTS needs REPLICATION MASTER ADMIN on MariaDB 10.5+).
    primary.sql("GRANT REPLICATION MASTER ADMIN ON *.* TO 'exporter'@'%'");
    let mut on_primary = Exporter::start(primary.port, &["--collect.slave_hosts"]);
    let (hosts, hosts_body) = on_primary.scrape();
    assert_eq!(
        get(
            &hosts,
            "mysql_exporter_collector_success{collector=\"collect.slave_hosts\"}"
        ),
        1.0,
        "{}",
        on_primary.log()
    );
    let info = hosts_body
        .lines()
        .find(|l| l.starts_with("mysql_heartbeat_mysql_slave_hosts_info{"))
        .unwrap_or_else(|| panic!("no slave hosts:\n{hosts_body}"));
    assert!(
        info.contains("server_id=\"2\"") && info.contains("master_id=\"1\""),
        "{info}"
    );
    assert!(info.contains("slave_host=\"replica.test\""), "{info}");
}

/// The success gauge of one scraper.
fn success(series: &BTreeMap<String, f64>, scraper: &str) -> f64 {
    get(
        series,
        &format!("mysql_exporter_collector_success{{collector=\"collect.{scraper}\"}}"),
    )
}

#[test]
fn statistics_and_performance_schema_scrapers() {
    let db = Mariadb::start(&[
        "--skip-log-bin",
        "--userstat=1",
        "--performance-schema=ON",
        "--performance-schema-instrument=memory/%=ON",
    ]);
    let datadir = format!("{}/", db.dir.path().join("data").display());
    let mut exporter = Exporter::start(
        db.port,
        &[
            "--no-collect.global_status",
            "--no-collect.global_variables",
            "--no-collect.slave_status",
            "--no-collect.info_schema.innodb_cmp",
            "--no-collect.info_schema.innodb_cmpmem",
            "--no-collect.info_schema.query_response_time",
            "--collect.auto_increment.columns",
            "--collect.info_schema.userstats",
            "--collect.info_schema.clientstats",
            "--collect.perf_schema.file_instances",
            &format!("--collect.perf_schema.file_instances.remove_prefix={datadir}"),
            "--collect.perf_schema.memory_events",
            "--collect.sys.user_summary",
            "--collect.perf_schema.eventsstatements",
            "--collect.perf_schema.eventsstatements.digest_text_limit=20",
            "--collect.perf_schema.eventsstatementssum",
            "--collect.perf_schema.replication_group_members",
            "--collect.perf_schema.replication_group_member_stats",
            "--collect.perf_schema.replication_applier_status_by_worker",
            "--collect.engine_tokudb_status",
            "--collect.info_schema.replica_host",
        ],
    );
    // Digests are kept for statements with a default database (upstream's statement skips NULL schemas).
    db.sql(
        "CREATE DATABASE shop; USE shop; CREATE TABLE orders (id SMALLINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, \
         note TEXT); INSERT INTO orders (note) VALUES ('a'), ('b'), ('c'); SELECT COUNT(*) FROM orders;",
    );
    // Statements by the exporter's own user, so its user and client statistics rows exist.
    let (_, first) = exporter.scrape();
    let (series, body) = exporter.scrape();
    assert_eq!(get(&series, "mysql_up"), 1.0, "{first}");
    let log = exporter.log();

    // What MariaDB has: these succeed.
    for scraper in [
        "auto_increment.columns",
        "info_schema.userstats",
        "info_schema.clientstats",
        "perf_schema.file_instances",
        "perf_schema.memory_events",
        "perf_schema.eventsstatements",
        "perf_schema.eventsstatementssum",
        "sys.user_summary",
        "info_schema.replica_host",
    ] {
        assert_eq!(success(&series, scraper), 1.0, "{scraper}:\n{log}");
    }
    // What it lacks (group replication, MySQL 8's applier worker columns, TokuDB): those fail alone, logged,
    // and the others above still ran.
    for scraper in [
        "perf_schema.replication_applier_status_by_worker",
        "perf_schema.replication_group_members",
        "perf_schema.replication_group_member_stats",
        "engine_tokudb_status",
    ] {
        assert_eq!(success(&series, scraper), 0.0, "{scraper}:\n{body}");
    }
    assert!(log.contains("Error from scraper"), "{log}");

    // The next value and the maximum of a SMALLINT UNSIGNED.
    let next: f64 = db
        .sql("SELECT AUTO_INCREMENT FROM information_schema.tables WHERE TABLE_SCHEMA='shop' AND TABLE_NAME='orders'")
        .trim()
        .parse()
        .expect("number");
    let col = "column=\"id\",schema=\"shop\",table=\"orders\"";
    assert_eq!(
        get(&series, &format!("mysql_info_schema_auto_increment_column{{{col}}}")),
        next
    );
    assert_eq!(
        get(
            &series,
            &format!("mysql_info_schema_auto_increment_column_max{{{col}}}")
        ),
        65535.0
    );

    // User statistics of the exporter's account: it has connected (twice by now) and sent SELECTs.
    let user = |m: &str| {
        get(
            &series,
            &format!("mysql_info_schema_user_statistics_{m}{{user=\"exporter\"}}"),
        )
    };
    assert!(user("total_connections") >= 1.0, "{body}");
    assert!(user("select_commands_total") >= 1.0, "{body}");
    assert!(
        body.contains("# TYPE mysql_info_schema_user_statistics_concurrent_connections gauge"),
        "{body}"
    );
    assert!(
        body.contains("mysql_info_schema_client_statistics_total_connections{client=\""),
        "{body}"
    );

    // File instances under the data directory lose its prefix.
    assert!(
        body.contains("mysql_perf_schema_file_instances_bytes{event_name=\"wait/io/file/innodb/innodb_data_file\",file_name=\"ibdata1\",mode=\"read\"}"),
        "{body}"
    );
    assert!(!body.contains(&format!("file_name=\"{datadir}")), "{body}");
    // Memory events without the `memory/` prefix.
    assert!(
        body.contains("mysql_perf_schema_memory_events_alloc_bytes_total{event_name=\"sql/"),
        "{body}"
    );
    // The digest of the INSERT, its text cut to 20 characters, counted once.
    let insert = body
        .lines()
        .find(|l| {
            l.starts_with("mysql_perf_schema_events_statements_total{")
                && l.contains("schema=\"shop\"")
                && l.contains("INSERT")
        })
        .unwrap_or_else(|| panic!("no INSERT digest:\n{body}"));
    let text = insert
        .split("digest_text=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("digest_text");
    assert_eq!(text.chars().count(), 20, "{insert}");
    assert!(insert.ends_with(" 1"), "{insert}");
    assert!(
        body.contains("# TYPE mysql_perf_schema_events_statements_latency summary"),
        "{body}"
    );
    let total = get(&series, "mysql_perf_schema_events_statements_sum_total");
    assert!(total >= 3.0, "{total}");
    // sys.x$user_summary: root ran the statements above.
    assert!(
        get(&series, "mysql_sys_statements_total{user=\"root\"}") >= 4.0,
        "{body}"
    );
    assert!(
        get(&series, "mysql_sys_connections_total{user=\"root\"}") >= 1.0,
        "{body}"
    );
}

#[test]
fn probe_reload_and_scrape_timeout() {
    let db = Mariadb::start(&["--skip-log-bin"]);
    db.sql(
        "CREATE DATABASE ops; CREATE TABLE ops.heartbeat (ts VARCHAR(26) NOT NULL, server_id INT UNSIGNED NOT NULL \
         PRIMARY KEY); INSERT INTO ops.heartbeat VALUES ('2020-01-02 03:04:05.250000', 7);",
    );
    let mut exporter = Exporter::start_with(
        db.port,
        &[
            "--collect.heartbeat",
            "--collect.heartbeat.database=ops",
            "--exporter.lock_wait_timeout=30",
            "--web.max-requests=1",
        ],
        "[client]\nuser = exporter\n[client.wrong]\npassword = nope\n",
        ("MYSQLD_EXPORTER_PASSWORD", PASSWORD),
    );
    let target = format!("127.0.0.1:{}", db.port);

    // /probe: the scrape alone, with the [client] credentials by default.
    let (status, body) = exporter.request("GET", "/probe", &[]);
    assert_eq!((status, body.trim()), (400, "target is required"));
    let (series, body) = exporter.scrape_path(&format!("/probe?target={target}"));
    assert_eq!(get(&series, "mysql_up"), 1.0, "{body}");
    assert_eq!(success(&series, "global_status"), 1.0);
    assert!(
        !body.contains("mysqld_exporter_build_info") && !body.contains("process_"),
        "{body}"
    );
    // A section inheriting the user but not the password from [client].
    let (series, _) = exporter.scrape_path(&format!("/probe?target={target}&auth_module=client.wrong"));
    assert_eq!(get(&series, "mysql_up"), 0.0);
    let (status, body) = exporter.request("GET", &format!("/probe?target={target}&auth_module=client.nope"), &[]);
    assert_eq!(
        (status, body.trim()),
        (400, "Could not find config section [client.nope]")
    );
    let (status, _) = exporter.request("GET", "/probe?target=no-port", &[]);
    assert_eq!(status, 400);
    // A target on /metrics too; there the exporter's own families are added.
    let (series, body) = exporter.scrape_path(&format!("/metrics?target={target}&collect[]=global_variables"));
    assert_eq!(get(&series, "mysql_up"), 1.0);
    assert!(body.contains("mysqld_exporter_build_info{"), "{body}");
    assert!(!body.contains("collect.global_status"), "{body}");
    // A target that is not host:port on /metrics: nothing to connect to.
    let (series, body) = exporter.scrape_path("/metrics?target=no-port");
    assert_eq!(get(&series, "mysql_up"), 0.0, "{body}");
    assert!(!body.contains("mysql_exporter_collector_success"), "{body}");
    // collect[] names nothing enabled: every enabled scraper runs, as upstream.
    let (series, _) = exporter.scrape_path("/metrics?collect[]=nope&collect[]=perf_schema.eventswaits");
    assert_eq!(success(&series, "global_status"), 1.0);
    assert_eq!(success(&series, "heartbeat"), 1.0);

    // Reload: a new section is picked up; a broken file keeps the previous sections.
    std::fs::write(
        exporter.my_cnf(),
        "[client]\nuser = exporter\n[client.added]\nuser = exporter\n",
    )
    .expect("write");
    let (status, body) = exporter.request("GET", &format!("/probe?target={target}&auth_module=client.added"), &[]);
    assert_eq!(status, 400, "{body}");
    let (status, body) = exporter.request("POST", "/-/reload", &[]);
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (series, _) = exporter.scrape_path(&format!("/probe?target={target}&auth_module=client.added"));
    assert_eq!(get(&series, "mysql_up"), 1.0);
    std::fs::write(exporter.my_cnf(), "[client\nuser = x\n").expect("write");
    let (status, body) = exporter.request("POST", "/-/reload", &[]);
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("line 1"), "{body}");
    assert!(
        exporter.log().contains("Error reloading host config"),
        "{}",
        exporter.log()
    );
    let (series, _) = exporter.scrape_path(&format!("/probe?target={target}&auth_module=client.added"));
    assert_eq!(get(&series, "mysql_up"), 1.0);

    // An offset not below the scrape timeout is logged and the scrape runs unbounded.
    let (series, _) = exporter.scrape_with("/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "0.2")]);
    assert_eq!(get(&series, "mysql_up"), 1.0);
    assert!(
        exporter
            .log()
            .contains("timeout offset (0.25) should be lower than prometheus scrape timeout (0.2)"),
        "{}",
        exporter.log()
    );
    // A client holds a write lock on the heartbeat table: the heartbeat query waits (lock_wait_timeout is 30 s)
    // until the scrape deadline, 1.5 s - 0.25 s after the request; the scrapers before it have succeeded.
    let client = program("MARIADB", &["/usr/bin/mariadb", "/usr/bin/mysql"]);
    let _locker = Proc {
        child: Command::new(&client)
            .arg("--no-defaults")
            .arg(format!("--socket={}", db.socket().display()))
            .args(["-uroot", "-e", "LOCK TABLES ops.heartbeat WRITE; SELECT SLEEP(60)"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start client"),
        name: "locking client",
    };
    wait_until("the table lock", Duration::from_secs(15), || {
        db.sql("SHOW OPEN TABLES FROM ops WHERE In_use > 0")
            .contains("heartbeat")
    });
    // Meanwhile a second scrape is over --web.max-requests=1.
    let port = exporter.port;
    let second = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        write!(
            s,
            "GET /probe?target=127.0.0.1:1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .expect("write");
        let mut raw = String::new();
        s.read_to_string(&mut raw).expect("read");
        raw
    });
    let began = Instant::now();
    let (series, body) = exporter.scrape_with("/metrics", &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")]);
    let took = began.elapsed();
    let second = second.join().expect("second request");
    assert!(second.starts_with("HTTP/1.1 503"), "{second}");
    assert!(second.contains("Limit of concurrent requests reached (1)"), "{second}");
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(took >= Duration::from_millis(1200), "took {took:?}");
    assert_eq!(get(&series, "mysql_up"), 1.0, "{body}");
    assert_eq!(success(&series, "global_status"), 1.0);
    assert_eq!(success(&series, "heartbeat"), 0.0, "{body}");
    assert!(
        exporter.log().contains("scrape deadline exceeded"),
        "{}",
        exporter.log()
    );
}
