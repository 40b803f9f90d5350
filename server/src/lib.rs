//! `server`: the monitoring server (a Prometheus 3.x drop-in): configuration, service discovery, scraping,
//! storage, PromQL and the HTTP API; rules and alerting join module by module.

pub mod app;
pub mod check;
pub mod config;
pub mod discovery;
pub mod httpclient;
pub mod model;
pub mod promql;
pub mod rules;
pub mod scrape;
pub mod storage;
pub mod tsdb;
pub mod web;
