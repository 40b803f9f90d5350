//! The server's data model: label sets, label matchers and relabeling.

pub mod labels;
pub mod matcher;
pub mod relabel;
