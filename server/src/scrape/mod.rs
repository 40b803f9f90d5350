//! Scraping: targets from discovered label sets, the per-target cache that turns scrape bodies into appended
//! samples with staleness handling, and the report series.

pub mod cache;
pub mod report;
pub mod target;
