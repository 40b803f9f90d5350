//! Recording and alerting rules: rule files as Prometheus reads and validates them (evaluation joins later).

pub mod file;
