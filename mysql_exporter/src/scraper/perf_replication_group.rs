//! Group replication (MySQL 5.7+):
//!
//! - `collect.perf_schema.replication_group_members`: one
//!   `mysql_perf_schema_replication_group_member_info` gauge (value 1) per row of
//!   `performance_schema.replication_group_members`, every column a label named after it in lower case;
//! - `collect.perf_schema.replication_group_member_stats`: this member's row of
//!   `performance_schema.replication_group_member_stats` as unlabelled gauges and counters (the columns the
//!   server has: four in 5.7, eight in 8.0).

use exposition::{Labels, MetricFamily, MetricType};

use super::{Families, Query, ScrapeError, ScrapeFuture, Scraper, ServerInfo, fq_name, parse_go_float};

/// The members statement.
pub const MEMBERS_QUERY: &str = "SELECT * FROM performance_schema.replication_group_members";
/// The statistics statement.
pub const STATS_QUERY: &str =
    "SELECT * FROM performance_schema.replication_group_member_stats WHERE MEMBER_ID=@@server_uuid";

const MEMBER_HELP: &str = "Information about the replication group member: channel_name, member_id, member_host, \
                           member_port, member_state. (member_role and member_version where available)";

/// The `perf_schema.replication_group_members` scraper.
#[derive(Debug, Default)]
pub struct GroupMembers;

impl Scraper for GroupMembers {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(MEMBERS_QUERY).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                let labels = Labels::from_pairs(
                    rows.columns
                        .iter()
                        .enumerate()
                        .map(|(i, c)| (c.to_lowercase(), row.get(i).cloned().flatten().unwrap_or_default())),
                );
                fams.add(
                    &fq_name("perf_schema", "replication_group_member_info"),
                    MetricType::Gauge,
                    MEMBER_HELP,
                    labels,
                    1.0,
                );
            }
            fams.finish(out);
            Ok(())
        })
    }
}

const C: MetricType = MetricType::Counter;
const G: MetricType = MetricType::Gauge;

/// (column, metric, type, help).
const STATS: [(&str, &str, MetricType, &str); 8] = [
    (
        "COUNT_TRANSACTIONS_IN_QUEUE",
        "transactions_in_queue",
        G,
        "The number of transactions in the queue pending conflict detection checks.",
    ),
    (
        "COUNT_TRANSACTIONS_CHECKED",
        "transactions_checked_total",
        C,
        "The number of transactions that have been checked for conflicts.",
    ),
    (
        "COUNT_CONFLICTS_DETECTED",
        "conflicts_detected_total",
        C,
        "The number of transactions that have not passed the conflict detection check.",
    ),
    (
        "COUNT_TRANSACTIONS_ROWS_VALIDATING",
        "transactions_rows_validating_total",
        C,
        "Number of transaction rows which can be used for certification, but have not been garbage collected.",
    ),
    (
        "COUNT_TRANSACTIONS_REMOTE_IN_APPLIER_QUEUE",
        "transactions_remote_in_applier_queue",
        G,
        "The number of transactions that this member has received from the replication group which are waiting to be applied.",
    ),
    (
        "COUNT_TRANSACTIONS_REMOTE_APPLIED",
        "transactions_remote_applied_total",
        C,
        "Number of transactions this member has received from the group and applied.",
    ),
    (
        "COUNT_TRANSACTIONS_LOCAL_PROPOSED",
        "transactions_local_proposed_total",
        C,
        "Number of transactions which originated on this member and were sent to the group.",
    ),
    (
        "COUNT_TRANSACTIONS_LOCAL_ROLLBACK",
        "transactions_local_rollback_total",
        C,
        "Number of transactions which originated on this member and were rolled back by the group.",
    ),
];

/// The `perf_schema.replication_group_member_stats` scraper.
#[derive(Debug, Default)]
pub struct GroupMemberStats;

impl Scraper for GroupMemberStats {
    fn scrape<'a>(
        &'a self,
        db: &'a mut dyn Query,
        _: &'a ServerInfo,
        out: &'a mut Vec<MetricFamily>,
    ) -> ScrapeFuture<'a> {
        Box::pin(async move {
            let rows = db.query(STATS_QUERY).await?;
            let mut fams = Families::new();
            for row in &rows.rows {
                for (i, column) in rows.columns.iter().enumerate() {
                    let Some((_, name, kind, help)) = STATS.iter().find(|(c, ..)| c == column) else {
                        continue;
                    };
                    let raw = row.get(i).cloned().flatten();
                    let value = raw
                        .as_deref()
                        .and_then(parse_go_float)
                        .ok_or_else(|| ScrapeError::Value {
                            query: STATS_QUERY.to_string(),
                            column: column.clone(),
                            value: raw.clone().unwrap_or_else(|| "NULL".to_string()),
                        })?;
                    fams.add(&fq_name("perf_schema", name), *kind, help, Labels::new(), value);
                }
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
    fn member_info_labels() {
        let mut db = FakeDb::default().with(
            MEMBERS_QUERY,
            &[
                "CHANNEL_NAME",
                "MEMBER_ID",
                "MEMBER_HOST",
                "MEMBER_PORT",
                "MEMBER_STATE",
                "MEMBER_ROLE",
            ],
            &[&[
                Some("group_replication_applier"),
                Some("uuid-1"),
                Some("db1"),
                Some("3306"),
                Some("ONLINE"),
                None,
            ]],
        );
        let mut out = Vec::new();
        GroupMembers
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        assert_eq!(
            samples(&out),
            vec![(
                "mysql_perf_schema_replication_group_member_info".into(),
                "channel_name=\"group_replication_applier\",member_host=\"db1\",member_id=\"uuid-1\",member_port=\"3306\",\
                 member_role=\"\",member_state=\"ONLINE\""
                    .into(),
                G,
                1.0
            )]
        );
    }

    #[test]
    fn stats_known_columns_only() {
        let mut db = FakeDb::default().with(
            STATS_QUERY,
            &[
                "CHANNEL_NAME",
                "MEMBER_ID",
                "COUNT_TRANSACTIONS_IN_QUEUE",
                "COUNT_TRANSACTIONS_CHECKED",
                "COUNT_CONFLICTS_DETECTED",
            ],
            &[&[
                Some("group_replication_applier"),
                Some("uuid-1"),
                Some("2"),
                Some("40"),
                Some("1"),
            ]],
        );
        let mut out = Vec::new();
        GroupMemberStats
            .scrape(&mut db, &ServerInfo::parse("8.0.36").expect("v"), &mut out)
            .ready()
            .expect("scrape");
        let p = "mysql_perf_schema_";
        assert_eq!(
            samples(&out),
            vec![
                (format!("{p}conflicts_detected_total"), String::new(), C, 1.0),
                (format!("{p}transactions_checked_total"), String::new(), C, 40.0),
                (format!("{p}transactions_in_queue"), String::new(), G, 2.0),
            ]
        );
        let mut bad = FakeDb::default().with(STATS_QUERY, &["COUNT_TRANSACTIONS_IN_QUEUE"], &[&[Some("x")]]);
        assert!(
            GroupMemberStats
                .scrape(&mut bad, &ServerInfo::parse("8.0.36").expect("v"), &mut Vec::new())
                .ready()
                .is_err()
        );
    }
}
