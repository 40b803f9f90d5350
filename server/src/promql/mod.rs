//! PromQL: the syntax tree ([`ast`]), the function table ([`functions`]), and (joining next) the lexer, parser
//! and printer. The engine evaluates the trees the parser builds.

pub mod ast;
pub mod functions;
pub mod engine;
pub mod promqltest;
