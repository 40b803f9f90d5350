//! `collect.slave_status`: the replication status as `mysql_slave_status_<column>` (untyped) with the labels
//! `master_host`, `master_uuid`, `channel_name`, `connection_name`, one series per replication channel.
//!
//! The statement depends on the server: MariaDB 10.0+ `SHOW ALL SLAVES STATUS` (every named connection), MySQL
//! 8.0.22+ `SHOW REPLICA STATUS`, older servers `SHOW SLAVE STATUS`; when the chosen statement fails the others
//! are tried in turn. MariaDB's `Gtid_IO_Pos` list (`domain-server-sequence,...`) becomes
//! `mysql_slave_status_gtid_io_pos{domain_id,server_id}` gauges of the sequence number.

use exposition::{Labels, MetricFamily, MetricType};

use super::{
    Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, fq_name, metric_name_part, parse_go_float,
    parse_status,
};

/// MariaDB: all named replication connections.
pub const MARIADB_QUERY: &str = "SHOW ALL SLAVES STATUS";
/// MySQL 8.0.22 and later.
pub const REPLICA_QUERY: &str = "SHOW REPLICA STATUS";
/// Older MySQL.
pub const SLAVE_QUERY: &str = "SHOW SLAVE STATUS";

const SUBSYSTEM: &str = "slave_status";

/// The `slave_status` scraper.
#[derive(Debug, Default)]
pub struct SlaveStatus;

/// The statements to try for `server`, preferred first.
pub fn statements(server: &ServerInfo) -> [&'static str; 3] {
    if server.mariadb {
        [MARIADB_QUERY, SLAVE_QUERY, REPLICA_QUERY]
    } else if (server.version, server.patch) >= ((8, 0), 22) {
        [REPLICA_QUERY, SLAVE_QUERY, MARIADB_QUERY]
    } else {
        [SLAVE_QUERY, MARIADB_QUERY, REPLICA_QUERY]
    }
}

impl Scraper for SlaveStatus {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        server: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let mut last_err = None;
            for sql in statements(server) {
                match db.query(sql).await {
                    Ok(rows) => {
                        map_rows(&rows.columns, &rows.rows, out);
                        return Ok(());
                    }
                    Err(e) => last_err = Some(e),
                }
            }
            Err(last_err.unwrap_or_else(|| ScrapeError::Query {
                query: SLAVE_QUERY.to_string(),
                message: "no statement to run".to_string(),
            }))
        })
    }
}

/// Maps replication status rows to families.
pub fn map_rows(columns: &[String], rows: &[Vec<Option<String>>], out: &mut Vec<MetricFamily>) {
    let mut fams = Families::new();
    let col = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| columns.iter().position(|c| c.eq_ignore_ascii_case(n)))
    };
    let host = col(&["Master_Host", "Source_Host"]);
    let uuid = col(&["Master_UUID", "Source_UUID"]);
    let channel = col(&["Channel_Name"]);
    let connection = col(&["Connection_name"]);
    for row in rows {
        let get = |i: Option<usize>| i.and_then(|i| row.get(i)).and_then(|v| v.as_deref()).unwrap_or("");
        let base = [
            ("master_host", get(host)),
            ("master_uuid", get(uuid)),
            ("channel_name", get(channel)),
            ("connection_name", get(connection)),
        ];
        for (name, value) in columns.iter().zip(row) {
            let Some(value) = value.as_deref() else { continue };
            if name.eq_ignore_ascii_case("Gtid_IO_Pos") {
                for gtid in value.split(',') {
                    let parts: Vec<&str> = gtid.trim().split('-').collect();
                    if let [domain, server, seq] = parts[..]
                        && let Some(seq) = parse_go_float(seq)
                    {
                        let mut labels = Labels::from_pairs(base);
                        labels.push("domain_id", domain);
                        labels.push("server_id", server);
                        fams.add(
                            &fq_name(SUBSYSTEM, "gtid_io_pos"),
                            MetricType::Gauge,
                            "MariaDB Gtid_IO_Pos: sequence number by replication domain and server.",
                            labels,
                            seq,
                        );
                    }
                }
                continue;
            }
            if let Some(v) = parse_status(value) {
                fams.add(
                    &fq_name(SUBSYSTEM, &metric_name_part(name)),
                    MetricType::Unknown,
                    "Generic metric from SHOW SLAVE STATUS.",
                    Labels::from_pairs(base),
                    v,
                );
            }
        }
    }
    fams.finish(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;
    use crate::scraper::global_status::tests::{kind, samples, split_labels};

    fn upstream_row() -> (Vec<String>, Vec<Vec<Option<String>>>) {
        let columns = [
            "Master_Host",
            "Read_Master_Log_Pos",
            "Slave_IO_Running",
            "Slave_SQL_Running",
            "Seconds_Behind_Master",
            "Gtid_IO_Pos",
        ];
        let row = ["127.0.0.1", "1", "Connecting", "Yes", "2", "0-1-2,3-4-5"];
        (
            columns.iter().map(|s| s.to_string()).collect(),
            vec![row.iter().map(|s| Some(s.to_string())).collect()],
        )
    }

    /// The slave status rows of the upstream vectors.
    #[test]
    fn upstream_vectors() {
        let Some(dir) = exposition::conformance::corpus_dir() else {
            return;
        };
        let text = std::fs::read_to_string(dir.join("mysqld/show_global_status_vectors.tsv")).expect("vectors");
        let std_labels =
            "channel_name=\"\",connection_name=\"\",master_host=\"127.0.0.1\",master_uuid=\"\"".to_string();
        let mut want = Vec::new();
        let mut in_section = false;
        for line in text.lines() {
            if line.starts_with("# From collector/slave_status") {
                in_section = true;
            }
            if !in_section || line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split('\t').collect();
            let mut labels: Vec<String> = std_labels.split(',').map(str::to_string).collect();
            let extra = cols[3].trim_start_matches("(4 std labels)");
            labels.extend(split_labels(extra).into_iter().map(|(k, v)| format!("{k}=\"{v}\"")));
            labels.sort();
            want.push((
                cols[2].to_string(),
                labels.join(","),
                kind(cols[4]),
                cols[5].parse::<f64>().expect("v"),
            ));
        }
        assert!(!want.is_empty(), "no slave status vectors");
        crate::scraper::global_status::tests::sort_samples(&mut want);
        let (columns, rows) = upstream_row();
        let mut out = Vec::new();
        map_rows(&columns, &rows, &mut out);
        // One case per expected sample, so the count follows the corpus.
        let got = samples(&out);
        let mut tally = exposition::conformance::Tally::new("mysqld-slave-status");
        for w in &want {
            tally.record(format!("{} {}", w.0, w.1), got.contains(w));
        }
        if got.len() != want.len() {
            tally.fail("sample count", format!("got {got:?}, want {want:?}"));
        }
        tally.finish();
    }

    #[test]
    fn statement_choice_by_server() {
        let cases = [
            ("10.11.6-MariaDB-0+deb12u1", MARIADB_QUERY),
            ("8.0.36", REPLICA_QUERY),
            ("8.0.21", SLAVE_QUERY),
            ("5.7.44-log", SLAVE_QUERY),
        ];
        for (v, want) in cases {
            let info = ServerInfo::parse(v).expect(v);
            let (columns, rows) = upstream_row();
            let mut db = FakeDb::default();
            db.answers
                .push((want.to_string(), crate::scraper::Rows { columns, rows }));
            let mut out = Vec::new();
            SlaveStatus.scrape(&mut db, &info, &mut out).ready().expect(v);
            assert_eq!(db.asked[0], want, "{v}");
            assert!(!out.is_empty());
        }
    }

    #[test]
    fn fallback_then_error() {
        let info = ServerInfo::parse("10.11.6-MariaDB").expect("v");
        let mut db = FakeDb::default().with(SLAVE_QUERY, &["Master_Host"], &[]);
        let mut out = Vec::new();
        SlaveStatus.scrape(&mut db, &info, &mut out).ready().expect("fallback");
        assert_eq!(db.asked, [MARIADB_QUERY, SLAVE_QUERY]);
        assert!(out.is_empty());
        let mut db = FakeDb::default();
        assert!(SlaveStatus.scrape(&mut db, &info, &mut out).ready().is_err());
    }
}
