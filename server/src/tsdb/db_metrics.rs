//! Self-metrics of blocks, compaction and retention, with Prometheus' names and HELP texts. [`BlockMetrics`] is
//! collected as part of [`crate::tsdb::TsdbMetrics`].

use exposition::MetricFamily;
use exposition::instrument::{Counter, Gauge, Histogram, HistogramOpts, Opts, exponential_buckets};
use exposition::registry::{CollectError, Collector};

fn counter(name: &str, help: &str) -> Counter {
    Counter::new(Opts::new(name, help)).expect("static metric definition is valid")
}

fn gauge(name: &str, help: &str) -> Gauge {
    Gauge::new(Opts::new(name, help)).expect("static metric definition is valid")
}

fn histogram(name: &str, help: &str, buckets: Vec<f64>) -> Histogram {
    Histogram::new(HistogramOpts::new(Opts::new(name, help)).buckets(buckets))
        .expect("static metric definition is valid")
}

/// Metrics of the block set, the compactor and retention.
#[derive(Debug, Clone)]
pub struct BlockMetrics {
    /// `prometheus_tsdb_compactions_total`.
    pub compactions: Counter,
    /// `prometheus_tsdb_compactions_failed_total`.
    pub compactions_failed: Counter,
    /// `prometheus_tsdb_compactions_triggered_total`.
    pub compactions_triggered: Counter,
    /// `prometheus_tsdb_vertical_compactions_total`.
    pub vertical_compactions: Counter,
    /// `prometheus_tsdb_compaction_duration_seconds`.
    pub compaction_duration: Histogram,
    /// `prometheus_tsdb_compaction_populating_block`.
    pub populating_block: Gauge,
    /// `prometheus_tsdb_blocks_loaded`.
    pub blocks_loaded: Gauge,
    /// `prometheus_tsdb_reloads_total`.
    pub reloads: Counter,
    /// `prometheus_tsdb_reloads_failures_total`.
    pub reloads_failed: Counter,
    /// `prometheus_tsdb_storage_blocks_bytes`.
    pub blocks_bytes: Gauge,
    /// `prometheus_tsdb_retention_limit_bytes`.
    pub retention_limit_bytes: Gauge,
    /// `prometheus_tsdb_retention_limit_seconds`.
    pub retention_limit_seconds: Gauge,
    /// `prometheus_tsdb_time_retentions_total`.
    pub time_retentions: Counter,
    /// `prometheus_tsdb_size_retentions_total`.
    pub size_retentions: Counter,
    /// `prometheus_tsdb_lowest_timestamp`.
    pub lowest_timestamp: Gauge,
    /// `prometheus_tsdb_lowest_timestamp_seconds`.
    pub lowest_timestamp_seconds: Gauge,
    /// `prometheus_tsdb_tombstone_cleanup_seconds`.
    pub tombstone_cleanup: Histogram,
}

impl Default for BlockMetrics {
    fn default() -> Self {
        BlockMetrics::new()
    }
}

impl BlockMetrics {
    /// Fresh metrics.
    pub fn new() -> BlockMetrics {
        let durations = exponential_buckets(1.0, 2.0, 14).expect("valid buckets");
        let cleanup = exponential_buckets(0.25, 2.0, 10).expect("valid buckets");
        BlockMetrics {
            compactions: counter(
                "prometheus_tsdb_compactions_total",
                "Total number of compactions that were executed for the partition.",
            ),
            compactions_failed: counter(
                "prometheus_tsdb_compactions_failed_total",
                "Total number of compactions that failed for the partition.",
            ),
            compactions_triggered: counter(
                "prometheus_tsdb_compactions_triggered_total",
                "Total number of triggered compactions for the partition.",
            ),
            vertical_compactions: counter(
                "prometheus_tsdb_vertical_compactions_total",
                "Total number of compactions done on overlapping blocks.",
            ),
            compaction_duration: histogram(
                "prometheus_tsdb_compaction_duration_seconds",
                "Duration of compaction runs",
                durations,
            ),
            populating_block: gauge(
                "prometheus_tsdb_compaction_populating_block",
                "Set to 1 when a block is currently being written to the disk.",
            ),
            blocks_loaded: gauge(
                "prometheus_tsdb_blocks_loaded",
                "Number of currently loaded data blocks",
            ),
            reloads: counter(
                "prometheus_tsdb_reloads_total",
                "Number of times the database reloaded block data from disk.",
            ),
            reloads_failed: counter(
                "prometheus_tsdb_reloads_failures_total",
                "Number of times the database failed to reloadBlocks block data from disk.",
            ),
            blocks_bytes: gauge(
                "prometheus_tsdb_storage_blocks_bytes",
                "The number of bytes that are currently used for local storage by all blocks.",
            ),
            retention_limit_bytes: gauge(
                "prometheus_tsdb_retention_limit_bytes",
                "Max number of bytes to be retained in the tsdb blocks, configured 0 means disabled",
            ),
            retention_limit_seconds: gauge(
                "prometheus_tsdb_retention_limit_seconds",
                "How long to retain samples in storage.",
            ),
            time_retentions: counter(
                "prometheus_tsdb_time_retentions_total",
                "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            ),
            size_retentions: counter(
                "prometheus_tsdb_size_retentions_total",
                "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            ),
            lowest_timestamp: gauge(
                "prometheus_tsdb_lowest_timestamp",
                "Lowest timestamp value stored in the database. The unit is decided by the library consumer.",
            ),
            lowest_timestamp_seconds: gauge(
                "prometheus_tsdb_lowest_timestamp_seconds",
                "Lowest timestamp value stored in the database.",
            ),
            tombstone_cleanup: histogram(
                "prometheus_tsdb_tombstone_cleanup_seconds",
                "The time taken to recompact blocks to remove tombstones.",
                cleanup,
            ),
        }
    }
}

impl Collector for BlockMetrics {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let collectors: &[&dyn Collector] = &[
            &self.compactions,
            &self.compactions_failed,
            &self.compactions_triggered,
            &self.vertical_compactions,
            &self.compaction_duration,
            &self.populating_block,
            &self.blocks_loaded,
            &self.reloads,
            &self.reloads_failed,
            &self.blocks_bytes,
            &self.retention_limit_bytes,
            &self.retention_limit_seconds,
            &self.time_retentions,
            &self.size_retentions,
            &self.lowest_timestamp,
            &self.lowest_timestamp_seconds,
            &self.tombstone_cleanup,
        ];
        for c in collectors {
            c.collect(out)?;
        }
        Ok(())
    }
}
