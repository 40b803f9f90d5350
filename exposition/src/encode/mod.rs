//! Encoders for text format 0.0.4 and OpenMetrics 1.0, and content negotiation.
//!
//! [`negotiate`] picks the format from a scraper's `Accept` header the way the Go client's `expfmt.Negotiate`
//! does for the headers Prometheus sends; [`encode`] writes families in that format.

mod float;
mod line;
mod openmetrics;
mod text;

pub use float::{format_float, write_fixed_fast, write_float, write_int, write_millis_as_seconds, write_om_float};
pub use openmetrics::encode_openmetrics;
pub use text::encode_text;

use crate::model::MetricFamily;

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Text format 0.0.4 (`text/plain; version=0.0.4`).
    Text,
    /// OpenMetrics 1.0.0 text (`application/openmetrics-text; version=1.0.0`).
    OpenMetrics,
}

impl Format {
    /// The `Content-Type` header value for responses in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
        }
    }
}

/// Writes `families` in `format` to `out`.
pub fn encode(families: &[MetricFamily], format: Format, out: &mut Vec<u8>) {
    match format {
        Format::Text => encode_text(families, out),
        Format::OpenMetrics => encode_openmetrics(families, out),
    }
}

/// Picks the response format for an `Accept` header.
///
/// The media ranges are ranked by their `q` parameter (default 1, ties kept in header order). The first one that
/// names OpenMetrics text (`application/openmetrics-text` with version 1.0.0, 0.0.1 or none) selects
/// [`Format::OpenMetrics`]; the first that names `text/plain` (version 0.0.4 or none) or a wildcard selects
/// [`Format::Text`]. Anything else, or no header, is text 0.0.4, as with the Go client.
pub fn negotiate(accept: Option<&str>) -> Format {
    let Some(accept) = accept else {
        return Format::Text;
    };
    let mut ranges: Vec<(f32, usize, &str, Option<&str>)> = Vec::new();
    for (i, part) in accept.split(',').enumerate() {
        let mut params = part.split(';');
        let media = params.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        let mut version = None;
        for p in params {
            let Some((k, v)) = p.split_once('=') else { continue };
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "q" => q = v.parse().unwrap_or(0.0),
                "version" => version = Some(v),
                _ => {}
            }
        }
        if q > 0.0 {
            ranges.push((q, i, media, version));
        }
    }
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, media, version) in ranges {
        if media.eq_ignore_ascii_case("application/openmetrics-text")
            && matches!(version, None | Some("1.0.0") | Some("0.0.1"))
        {
            return Format::OpenMetrics;
        }
        if (media.eq_ignore_ascii_case("text/plain") && matches!(version, None | Some("0.0.4")))
            || media == "*/*"
            || media.eq_ignore_ascii_case("text/*")
        {
            return Format::Text;
        }
    }
    Format::Text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_follows_prometheus_accept_headers() {
        // Prometheus 3.x default scrape_protocols, OpenMetrics preferred.
        let om_first = "application/openmetrics-text;version=1.0.0;escaping=underscores;q=0.5,\
                        application/openmetrics-text;version=0.0.1;q=0.4,\
                        text/plain;version=1.0.0;escaping=underscores;q=0.3,\
                        text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(negotiate(Some(om_first)), Format::OpenMetrics);
        // scrape_protocols: [PrometheusText0.0.4, OpenMetricsText1.0.0]
        let text_first = "text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.1";
        assert_eq!(negotiate(Some(text_first)), Format::Text);
        // Prometheus 2.x header.
        let v2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,\
                  text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(negotiate(Some(v2)), Format::OpenMetrics);
        assert_eq!(negotiate(None), Format::Text);
        assert_eq!(negotiate(Some("*/*")), Format::Text);
        assert_eq!(negotiate(Some("application/json")), Format::Text);
        assert_eq!(
            negotiate(Some("application/openmetrics-text; version=2.0.0")),
            Format::Text
        );
        assert_eq!(negotiate(Some("application/openmetrics-text;q=0")), Format::Text);
    }
}
