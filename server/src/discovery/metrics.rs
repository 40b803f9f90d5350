//! Service discovery self-metrics, with upstream's names and help texts.

use exposition::Registry;
use exposition::instrument::{CounterVec, GaugeVec, InstrumentError, Opts};

/// The `prometheus_sd_*` metrics. Share one per process (`Arc`) through [`super::DiscovererOptions::metrics`].
#[derive(Clone, Debug)]
pub struct SdMetrics {
    discovered_targets: GaugeVec,
    received_updates: CounterVec,
    updates: CounterVec,
    failed_configs: GaugeVec,
    file_read_errors: CounterVec,
    http_failures: CounterVec,
    refresh_failures: CounterVec,
    dns_lookups: CounterVec,
    dns_lookup_failures: CounterVec,
    kubernetes_events: CounterVec,
    kubernetes_failures: CounterVec,
}

impl SdMetrics {
    /// Creates the metrics (not registered).
    pub fn new() -> Result<SdMetrics, InstrumentError> {
        let o = |name: &str, help: &str| Opts::new(name, help);
        Ok(SdMetrics {
            discovered_targets: GaugeVec::new(
                o(
                    "prometheus_sd_discovered_targets",
                    "Current number of discovered targets.",
                ),
                &["config", "name"],
            )?,
            received_updates: CounterVec::new(
                o(
                    "prometheus_sd_received_updates_total",
                    "Total number of update events received from the SD providers.",
                ),
                &["name"],
            )?,
            updates: CounterVec::new(
                o(
                    "prometheus_sd_updates_total",
                    "Total number of update events sent to the SD consumers.",
                ),
                &["name"],
            )?,
            failed_configs: GaugeVec::new(
                o(
                    "prometheus_sd_failed_configs",
                    "Current number of service discovery configurations that failed to load.",
                ),
                &["name"],
            )?,
            file_read_errors: CounterVec::new(
                o(
                    "prometheus_sd_file_read_errors_total",
                    "The number of File-SD read errors.",
                ),
                &[],
            )?,
            http_failures: CounterVec::new(
                o(
                    "prometheus_sd_http_failures_total",
                    "Number of HTTP service discovery refresh failures.",
                ),
                &[],
            )?,
            refresh_failures: CounterVec::new(
                o(
                    "prometheus_sd_refresh_failures_total",
                    "Number of refresh failures for the given SD mechanism.",
                ),
                &["mechanism", "config"],
            )?,
            dns_lookups: CounterVec::new(
                o("prometheus_sd_dns_lookups_total", "The number of DNS-SD lookups."),
                &[],
            )?,
            dns_lookup_failures: CounterVec::new(
                o(
                    "prometheus_sd_dns_lookup_failures_total",
                    "The number of DNS-SD lookup failures.",
                ),
                &[],
            )?,
            kubernetes_events: CounterVec::new(
                o(
                    "prometheus_sd_kubernetes_events_total",
                    "The number of Kubernetes events handled.",
                ),
                &["role", "event"],
            )?,
            kubernetes_failures: CounterVec::new(
                o(
                    "prometheus_sd_kubernetes_failures_total",
                    "The number of failed WATCH/LIST requests.",
                ),
                &[],
            )?,
        })
    }

    /// Creates the metrics with upstream's zero-valued Kubernetes event series (every role and event).
    pub fn with_defaults() -> Result<SdMetrics, InstrumentError> {
        let m = SdMetrics::new()?;
        for role in ["endpointslice", "endpoints", "node", "pod", "service", "ingress"] {
            for event in ["add", "delete", "update"] {
                m.kubernetes_events.with_label_values(&[role, event])?;
            }
        }
        Ok(m)
    }

    /// Registers every metric with `registry`.
    pub fn register(&self, registry: &Registry) {
        registry.register(self.discovered_targets.clone());
        registry.register(self.received_updates.clone());
        registry.register(self.updates.clone());
        registry.register(self.failed_configs.clone());
        registry.register(self.file_read_errors.clone());
        registry.register(self.http_failures.clone());
        registry.register(self.refresh_failures.clone());
        registry.register(self.dns_lookups.clone());
        registry.register(self.dns_lookup_failures.clone());
        registry.register(self.kubernetes_events.clone());
        registry.register(self.kubernetes_failures.clone());
    }

    // Label values here are fixed strings or job names; label counts match the families, so the lookups cannot
    // fail; a failure would only lose a sample, never the discovery.

    pub(crate) fn set_discovered(&self, manager: &str, job: &str, n: usize) {
        if let Ok(g) = self.discovered_targets.with_label_values(&[job, manager]) {
            g.set(n as f64);
        }
    }

    pub(crate) fn received_update(&self, manager: &str) {
        inc(&self.received_updates, &[manager]);
    }

    pub(crate) fn updates(&self, manager: &str) {
        inc(&self.updates, &[manager]);
    }

    pub(crate) fn set_failed_configs(&self, manager: &str, n: usize) {
        if let Ok(g) = self.failed_configs.with_label_values(&[manager]) {
            g.set(n as f64);
        }
    }

    pub(crate) fn file_read_error(&self) {
        inc(&self.file_read_errors, &[]);
    }

    pub(crate) fn http_failure(&self) {
        inc(&self.http_failures, &[]);
    }

    pub(crate) fn refresh_failure(&self, mechanism: &str, job: &str) {
        inc(&self.refresh_failures, &[mechanism, job]);
    }

    pub(crate) fn dns_lookup(&self, failed: bool) {
        inc(&self.dns_lookups, &[]);
        if failed {
            inc(&self.dns_lookup_failures, &[]);
        }
    }

    pub(crate) fn kubernetes_event(&self, role: &str, event: &str) {
        inc(&self.kubernetes_events, &[role, event]);
    }

    pub(crate) fn kubernetes_failure(&self) {
        inc(&self.kubernetes_failures, &[]);
    }
}

fn inc(family: &CounterVec, values: &[&str]) {
    if let Ok(c) = family.with_label_values(values) {
        c.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_names_are_upstreams() {
        let registry = Registry::new();
        let m = SdMetrics::with_defaults().unwrap();
        m.register(&registry);
        m.set_discovered("scrape", "node", 3);
        m.file_read_error();
        m.kubernetes_event("pod", "add");
        let families = registry.gather(&[]).unwrap();
        let events = families
            .iter()
            .find(|f| f.name.starts_with("prometheus_sd_kubernetes_events"))
            .unwrap();
        assert_eq!(events.metrics.len(), 18, "every role and event starts at zero");
        let names: Vec<String> = families.into_iter().map(|f| f.name).collect();
        for want in [
            "prometheus_sd_discovered_targets",
            "prometheus_sd_file_read_errors_total",
            "prometheus_sd_kubernetes_events_total",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing from {names:?}");
        }
    }
}
