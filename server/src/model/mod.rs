//! The server's data model: label sets, label matchers, relabeling, native histograms and sample values.

pub mod histogram;
pub mod labels;
pub mod matcher;
pub mod relabel;
pub mod value;
