//! The server's data model: label sets and relabeling (matchers and rule files join later).

pub mod labels;
pub mod relabel;
