//! The HTML landing page served at `/`, with the same content as exporter-toolkit's: the exporter's title, a
//! description, its version and a list of links (the metrics path first).

use std::fmt::Write as _;

/// What the landing page shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandingPage {
    /// Page title and heading, e.g. `Node Exporter`.
    pub title: String,
    /// A line under the heading, e.g. `Prometheus Node Exporter`.
    pub description: String,
    /// Version text, e.g. `(version=1.8.2, branch=, revision=unknown)`; empty hides the line.
    pub version: String,
    /// Links as (address, text); the runtime puts the telemetry path first.
    pub links: Vec<(String, String)>,
}

/// `node_exporter` -> `Node Exporter`.
pub(crate) fn title_from_name(name: &str) -> String {
    name.split(['_', '-'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

const CSS: &str = "body{font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,'Helvetica Neue',Arial,\
sans-serif;margin:0}header{background-color:#e6522c;color:#fff;font-size:1rem;padding:1rem}\
.main{padding:1rem}";

impl LandingPage {
    /// Renders the page.
    pub fn render(&self) -> String {
        let mut s = String::with_capacity(1024);
        s.push_str("<!doctype html>\n<html>\n  <head>\n    <meta charset=\"utf-8\">\n    <title>");
        escape(&mut s, &self.title);
        let _ = write!(
            s,
            "</title>\n    <style>{CSS}</style>\n  </head>\n  <body>\n    <header>"
        );
        escape(&mut s, &self.title);
        s.push_str("</header>\n    <div class=\"main\">\n");
        if !self.description.is_empty() {
            s.push_str("      <h3>");
            escape(&mut s, &self.description);
            s.push_str("</h3>\n");
        }
        if !self.version.is_empty() {
            s.push_str("      <div>Version: ");
            escape(&mut s, &self.version);
            s.push_str("</div>\n");
        }
        s.push_str("      <div><ul>\n");
        for (address, text) in &self.links {
            s.push_str("        <li><a href=\"");
            escape(&mut s, address);
            s.push_str("\">");
            escape(&mut s, text);
            s.push_str("</a></li>\n");
        }
        s.push_str("      </ul></div>\n    </div>\n  </body>\n</html>\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        for (name, want) in [
            ("node_exporter", "Node Exporter"),
            ("nginx-prometheus-exporter", "Nginx Prometheus Exporter"),
            ("jmx", "Jmx"),
        ] {
            assert_eq!(title_from_name(name), want);
        }
    }

    #[test]
    fn renders_escaped() {
        let page = LandingPage {
            title: "Node Exporter".into(),
            description: "Prometheus <Node> Exporter".into(),
            version: "(version=1.0, branch=, revision=unknown)".into(),
            links: vec![("/metrics?a=1&b=\"2\"".into(), "Metrics".into())],
        };
        let html = page.render();
        assert!(html.contains("<title>Node Exporter</title>"));
        assert!(html.contains("<h3>Prometheus &lt;Node&gt; Exporter</h3>"));
        assert!(html.contains("<div>Version: (version=1.0, branch=, revision=unknown)</div>"));
        assert!(html.contains("<a href=\"/metrics?a=1&amp;b=&#34;2&#34;\">Metrics</a>"));
        let bare = LandingPage {
            description: String::new(),
            version: String::new(),
            ..page
        }
        .render();
        assert!(!bare.contains("<h3>") && !bare.contains("Version:"));
    }
}
