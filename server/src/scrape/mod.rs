//! Scraping: targets from discovered label sets, the per-target cache that turns scrape bodies into appended
//! samples with staleness handling, the report series, the HTTP fetch and the manager running one loop per target.

pub mod cache;
pub mod fetch;
pub mod manager;
pub mod report;
pub mod target;
