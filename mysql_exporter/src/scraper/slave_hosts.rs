//! `collect.slave_hosts`: the replicas registered with this server (`SHOW SLAVE HOSTS`, `SHOW REPLICAS` on MySQL
//! 8.0.22+) as `mysql_heartbeat_mysql_slave_hosts_info{server_id,slave_host,port,master_id,slave_uuid}` 1 (the
//! name is upstream's, subsystem included). Columns are found by name, so MariaDB's four-column output (no UUID)
//! and MySQL's `Source_Id` / `Replica_UUID` spellings all work.

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeFuture, Scraper, ServerInfo};

/// The statement before MySQL 8.0.22 and on MariaDB.
pub const SLAVE_QUERY: &str = "SHOW SLAVE HOSTS";
/// The statement on MySQL 8.0.22 and later.
pub const REPLICA_QUERY: &str = "SHOW REPLICAS";

/// The `slave_hosts` scraper.
#[derive(Debug, Default)]
pub struct SlaveHosts;

impl Scraper for SlaveHosts {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        server: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let sql = if !server.mariadb && (server.version, server.patch) >= ((8, 0), 22) {
                REPLICA_QUERY
            } else {
                SLAVE_QUERY
            };
            let rows = db.query(sql).await?;
            let col = |names: &[&str]| names.iter().find_map(|n| rows.column(n));
            let server_id = col(&["Server_id"]);
            let host = col(&["Host"]);
            let port = col(&["Port"]);
            let master_id = col(&["Master_id", "Source_Id"]);
            let uuid = col(&["Slave_UUID", "Replica_UUID"]);
            let mut fams = Families::new();
            for row in &rows.rows {
                let get = |i: Option<usize>| i.and_then(|i| row.get(i)).and_then(|v| v.as_deref()).unwrap_or("");
                fams.add(
                    "mysql_heartbeat_mysql_slave_hosts_info",
                    MetricType::Gauge,
                    "Information about running slaves",
                    Labels::from_pairs([
                        ("server_id", get(server_id)),
                        ("slave_host", get(host)),
                        ("port", get(port)),
                        ("master_id", get(master_id)),
                        ("slave_uuid", get(uuid)),
                    ]),
                    1.0,
                );
            }
            fams.finish(out);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scraper::fake::FakeDb;
    use crate::scraper::fake::Ready as _;
    use crate::scraper::global_status::tests::samples;

    #[test]
    fn mysql_and_mariadb_layouts() {
        let g = MetricType::Gauge;
        let name = "mysql_heartbeat_mysql_slave_hosts_info".to_string();
        let mut db = FakeDb::default().with(
            REPLICA_QUERY,
            &["Server_Id", "Host", "Port", "Source_Id", "Replica_UUID"],
            &[&[
                Some("192168011"),
                Some("iconnect2"),
                Some("3306"),
                Some("192168012"),
                Some("14cb6624-7f93-11e0-b2c0-c80aa9429562"),
            ]],
        );
        let mut out = Vec::new();
        SlaveHosts
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("mysql");
        assert_eq!(
            samples(&out),
            vec![(
                name.clone(),
                "master_id=\"192168012\",port=\"3306\",server_id=\"192168011\",slave_host=\"iconnect2\",\
                 slave_uuid=\"14cb6624-7f93-11e0-b2c0-c80aa9429562\""
                    .into(),
                g,
                1.0
            )]
        );
        let mut db = FakeDb::default().with(
            SLAVE_QUERY,
            &["Server_id", "Host", "Port", "Master_id"],
            &[&[Some("2"), Some("replica1"), Some("3307"), Some("1")]],
        );
        let mut out = Vec::new();
        SlaveHosts
            .scrape(&mut db, &ServerInfo::parse("10.11.6-MariaDB").expect("v"), &mut out)
            .ready()
            .expect("mariadb");
        assert_eq!(
            samples(&out),
            vec![(
                name,
                "master_id=\"1\",port=\"3307\",server_id=\"2\",slave_host=\"replica1\",slave_uuid=\"\"".into(),
                g,
                1.0
            )]
        );
    }
}
