//! `mysql_exporter`: a Prometheus exporter for MySQL and MariaDB, compatible with prometheus/mysqld_exporter
//! 0.15+ (flags, metric names, labels, types and help texts; default port 9104).
//!
//! - [`config`]: the `.my.cnf` credentials file (one auth module per section) combined with the connection flags;
//! - [`scraper`]: one module per collection method behind the `Scraper` trait, listed in one static table;
//! - [`exporter`]: one scrape: connect, run the selected scrapers, write `mysql_up` and the per-scraper success
//!   and duration gauges;
//! - [`web`]: `/metrics`, `/probe` (multi-target), `/-/reload` and the landing page;
//! - [`cli`]: the command line built from the scraper table.
//!
//! The binary adds the shared exporter runtime (`exposition::http`) for `--web.*` and `--log.*`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod exporter;
pub mod scraper;
pub mod web;
