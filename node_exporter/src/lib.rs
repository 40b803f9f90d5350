//! node_exporter: hardware and OS metrics of *NIX hosts, compatible with prometheus/node_exporter (same flags,
//! metric names, labels, types and HELP texts).
//!
//! [`collector::COLLECTORS`] is the one table of collectors; [`cli`] builds the command line and the registry
//! from it; [`paths::Paths`] carries the `--path.*` roots every collector reads through.

pub mod cli;
pub mod collector;
pub mod paths;
