//! PromQL: the syntax tree ([`ast`]), the function table ([`functions`]), the [`lexer`], the [`parser`]
//! (with upstream's type checks and error messages), the [`printer`] (`Display` for [`ast::Expr`], upstream's
//! canonical form) and series-description metrics ([`series`]); the [`engine`] evaluates the trees the parser
//! builds. Design notes: `PARSER.md` beside this file.
//!
//! ```
//! use server::promql::{parse_with, ParseOptions};
//!
//! let expr = parse_with("sum by (job) (rate(http_requests_total[5m]))", &ParseOptions::default()).unwrap();
//! assert_eq!(expr.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
//! ```

pub mod ast;
pub mod compiled;
mod duration_parser;
pub mod engine;
pub mod functions;
pub mod lexer;
pub mod literals;
pub mod parser;
pub mod printer;
pub mod promqltest;
pub mod series;

pub use ast::{Expr, ValueType};
pub use parser::{ParseError, ParseOptions, parse, parse_metric_selector, parse_with};
pub use series::parse_series_metric;

#[cfg(test)]
mod parser_tests;
