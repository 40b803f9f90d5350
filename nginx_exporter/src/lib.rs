//! `nginx_exporter`: a Prometheus exporter for NGINX's stub_status page, compatible with
//! nginx-prometheus-exporter 1.x (flags, metric names, types and help texts; default port 9113).
//!
//! - [`client`]: scrape URIs, a small blocking HTTP/1.1 client over TCP, TLS or a unix socket, and the
//!   stub_status parser;
//! - [`collector`]: pages to `nginx_up` and `nginx_connections_*` / `nginx_http_requests_total`;
//! - [`cli`]: the `--nginx.*` / `--prometheus.const-label` flags and the collector they build.
//!
//! The binary adds the shared exporter runtime (`exposition::http`) for `--web.*` and `--log.*`.

#![forbid(unsafe_code)]

pub mod cli;
pub mod client;
pub mod collector;
