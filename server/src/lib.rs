//! `server`: the monitoring server (a Prometheus 3.x drop-in): configuration and relabeling so far; service
//! discovery, scraping, the TSDB, PromQL, rules and alerting join module by module.

pub mod check;
pub mod config;
pub mod model;
pub mod promql;
pub mod storage;
pub mod tsdb;
