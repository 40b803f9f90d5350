//! The TSDB's self-metrics, with Prometheus' names and HELP texts. [`TsdbMetrics`] is one
//! [`Collector`](exposition::registry::Collector): register it once with the server's registry.

use exposition::MetricFamily;
use exposition::instrument::{Counter, CounterVec, Gauge, Opts, Summary, SummaryOpts};
use exposition::registry::{CollectError, Collector};

fn counter(name: &str, help: &str) -> Counter {
    Counter::new(Opts::new(name, help)).expect("static metric definition is valid")
}

fn gauge(name: &str, help: &str) -> Gauge {
    Gauge::new(Opts::new(name, help)).expect("static metric definition is valid")
}

fn typed_counter(name: &str, help: &str) -> (CounterVec, Counter) {
    let vec = CounterVec::new(Opts::new(name, help), &["type"]).expect("static metric definition is valid");
    let float = vec.with_label_values(&["float"]).expect("one label value");
    (vec, float)
}

fn summary(name: &str, help: &str) -> Summary {
    Summary::new(
        SummaryOpts::new(Opts::new(name, help))
            .objective(0.5, 0.05)
            .objective(0.9, 0.01)
            .objective(0.99, 0.001),
    )
    .expect("static metric definition is valid")
}

/// Metrics of the WAL writer.
#[derive(Debug, Clone)]
pub struct WalMetrics {
    /// `prometheus_tsdb_wal_fsync_duration_seconds`.
    pub fsync_duration: Summary,
    /// `prometheus_tsdb_wal_page_flushes_total`.
    pub page_flushes: Counter,
    /// `prometheus_tsdb_wal_completed_pages_total`.
    pub completed_pages: Counter,
    /// `prometheus_tsdb_wal_writes_failed_total`.
    pub writes_failed: Counter,
    /// `prometheus_tsdb_wal_segment_current`.
    pub segment_current: Gauge,
    /// `prometheus_tsdb_wal_truncations_total`.
    pub truncations: Counter,
    /// `prometheus_tsdb_wal_truncations_failed_total`.
    pub truncations_failed: Counter,
    /// `prometheus_tsdb_wal_corruptions_total`.
    pub corruptions: Counter,
    /// `prometheus_tsdb_checkpoint_creations_total`.
    pub checkpoint_creations: Counter,
    /// `prometheus_tsdb_checkpoint_creations_failed_total`.
    pub checkpoint_creations_failed: Counter,
    /// `prometheus_tsdb_checkpoint_deletions_total`.
    pub checkpoint_deletions: Counter,
}

impl WalMetrics {
    /// Fresh metrics (for a WAL that is not exported, e.g. one writing a checkpoint).
    pub fn unregistered() -> WalMetrics {
        WalMetrics {
            fsync_duration: summary(
                "prometheus_tsdb_wal_fsync_duration_seconds",
                "Duration of write log fsync.",
            ),
            page_flushes: counter(
                "prometheus_tsdb_wal_page_flushes_total",
                "Total number of page flushes.",
            ),
            completed_pages: counter(
                "prometheus_tsdb_wal_completed_pages_total",
                "Total number of completed pages.",
            ),
            writes_failed: counter(
                "prometheus_tsdb_wal_writes_failed_total",
                "Total number of write log writes that failed.",
            ),
            segment_current: gauge(
                "prometheus_tsdb_wal_segment_current",
                "Write log segment index that TSDB is currently writing to.",
            ),
            truncations: counter(
                "prometheus_tsdb_wal_truncations_total",
                "Total number of write log truncations attempted.",
            ),
            truncations_failed: counter(
                "prometheus_tsdb_wal_truncations_failed_total",
                "Total number of write log truncations that failed.",
            ),
            corruptions: counter(
                "prometheus_tsdb_wal_corruptions_total",
                "Total number of WAL corruptions.",
            ),
            checkpoint_creations: counter(
                "prometheus_tsdb_checkpoint_creations_total",
                "Total number of checkpoint creations attempted.",
            ),
            checkpoint_creations_failed: counter(
                "prometheus_tsdb_checkpoint_creations_failed_total",
                "Total number of checkpoint creations that failed.",
            ),
            checkpoint_deletions: counter(
                "prometheus_tsdb_checkpoint_deletions_total",
                "Total number of checkpoint deletions attempted.",
            ),
        }
    }
}

/// Metrics of the head.
#[derive(Debug, Clone)]
pub struct HeadMetrics {
    /// `prometheus_tsdb_head_series`.
    pub series: Gauge,
    /// `prometheus_tsdb_head_series_created_total`.
    pub series_created: Counter,
    /// `prometheus_tsdb_head_series_removed_total`.
    pub series_removed: Counter,
    /// `prometheus_tsdb_head_chunks`.
    pub chunks: Gauge,
    /// `prometheus_tsdb_head_chunks_created_total`.
    pub chunks_created: Counter,
    /// `prometheus_tsdb_head_chunks_removed_total`.
    pub chunks_removed: Counter,
    samples_appended_vec: CounterVec,
    /// `prometheus_tsdb_head_samples_appended_total{type="float"}`.
    pub samples_appended: Counter,
    /// `prometheus_tsdb_head_samples_appended_total{type="histogram"}`.
    pub histograms_appended: Counter,
    out_of_order_vec: CounterVec,
    /// `prometheus_tsdb_out_of_order_samples_total{type="float"}`.
    pub out_of_order: Counter,
    out_of_bound_vec: CounterVec,
    /// `prometheus_tsdb_out_of_bound_samples_total{type="float"}`.
    pub out_of_bound: Counter,
    /// `prometheus_tsdb_head_min_time`.
    pub min_time: Gauge,
    /// `prometheus_tsdb_head_max_time`.
    pub max_time: Gauge,
    /// `prometheus_tsdb_head_min_time_seconds`.
    pub min_time_seconds: Gauge,
    /// `prometheus_tsdb_head_max_time_seconds`.
    pub max_time_seconds: Gauge,
    /// `prometheus_tsdb_head_truncations_total`.
    pub truncations: Counter,
    /// `prometheus_tsdb_head_gc_duration_seconds`.
    pub gc_duration: Summary,
    /// `prometheus_tsdb_head_active_appenders`.
    pub active_appenders: Gauge,
    /// `prometheus_tsdb_mmap_chunk_corruptions_total`.
    pub mmap_chunk_corruptions: Counter,
    /// `prometheus_tsdb_data_replay_duration_seconds`.
    pub replay_duration: Gauge,
}

impl HeadMetrics {
    fn new() -> HeadMetrics {
        let (samples_appended_vec, samples_appended) = typed_counter(
            "prometheus_tsdb_head_samples_appended_total",
            "Total number of appended samples.",
        );
        let (out_of_order_vec, out_of_order) = typed_counter(
            "prometheus_tsdb_out_of_order_samples_total",
            "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
        );
        let (out_of_bound_vec, out_of_bound) = typed_counter(
            "prometheus_tsdb_out_of_bound_samples_total",
            "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
        );
        let histograms_appended = samples_appended_vec
            .with_label_values(&["histogram"])
            .expect("one label value");
        HeadMetrics {
            histograms_appended,
            series: gauge(
                "prometheus_tsdb_head_series",
                "Total number of series in the head block.",
            ),
            series_created: counter(
                "prometheus_tsdb_head_series_created_total",
                "Total number of series created in the head",
            ),
            series_removed: counter(
                "prometheus_tsdb_head_series_removed_total",
                "Total number of series removed in the head",
            ),
            chunks: gauge(
                "prometheus_tsdb_head_chunks",
                "Total number of chunks in the head block.",
            ),
            chunks_created: counter(
                "prometheus_tsdb_head_chunks_created_total",
                "Total number of chunks created in the head",
            ),
            chunks_removed: counter(
                "prometheus_tsdb_head_chunks_removed_total",
                "Total number of chunks removed in the head",
            ),
            samples_appended_vec,
            samples_appended,
            out_of_order_vec,
            out_of_order,
            out_of_bound_vec,
            out_of_bound,
            min_time: gauge("prometheus_tsdb_head_min_time", "Minimum time bound of the head block."),
            max_time: gauge("prometheus_tsdb_head_max_time", "Maximum timestamp of the head block."),
            min_time_seconds: gauge(
                "prometheus_tsdb_head_min_time_seconds",
                "Minimum time bound of the head block.",
            ),
            max_time_seconds: gauge(
                "prometheus_tsdb_head_max_time_seconds",
                "Maximum timestamp of the head block.",
            ),
            truncations: counter(
                "prometheus_tsdb_head_truncations_total",
                "Total number of head truncations attempted.",
            ),
            gc_duration: summary(
                "prometheus_tsdb_head_gc_duration_seconds",
                "Runtime of garbage collection in the head block.",
            ),
            active_appenders: gauge(
                "prometheus_tsdb_head_active_appenders",
                "Number of currently active appender transactions",
            ),
            mmap_chunk_corruptions: counter(
                "prometheus_tsdb_mmap_chunk_corruptions_total",
                "Total number of memory-mapped chunk corruptions.",
            ),
            replay_duration: gauge(
                "prometheus_tsdb_data_replay_duration_seconds",
                "Time taken to replay the data on disk.",
            ),
        }
    }

    /// Sets the head's time bounds (ms), as both the millisecond and the seconds gauges.
    pub(crate) fn set_bounds(&self, min: i64, max: i64) {
        if min != i64::MAX {
            self.min_time.set(min as f64);
            self.min_time_seconds.set(min as f64 / 1000.0);
        }
        if max != i64::MIN {
            self.max_time.set(max as f64);
            self.max_time_seconds.set(max as f64 / 1000.0);
        }
    }
}

/// All TSDB metrics; clones share the values.
#[derive(Debug, Clone)]
pub struct TsdbMetrics {
    /// The head's metrics.
    pub head: HeadMetrics,
    /// The WAL's metrics.
    pub wal: WalMetrics,
    /// Blocks, compaction and retention.
    pub blocks: crate::tsdb::db_metrics::BlockMetrics,
}

impl Default for TsdbMetrics {
    fn default() -> Self {
        TsdbMetrics::new()
    }
}

impl TsdbMetrics {
    /// Fresh metrics.
    pub fn new() -> TsdbMetrics {
        TsdbMetrics {
            head: HeadMetrics::new(),
            wal: WalMetrics::unregistered(),
            blocks: crate::tsdb::db_metrics::BlockMetrics::new(),
        }
    }
}

impl Collector for TsdbMetrics {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let h = &self.head;
        let w = &self.wal;
        let collectors: &[&dyn Collector] = &[
            &h.series,
            &h.series_created,
            &h.series_removed,
            &h.chunks,
            &h.chunks_created,
            &h.chunks_removed,
            &h.samples_appended_vec,
            &h.out_of_order_vec,
            &h.out_of_bound_vec,
            &h.min_time,
            &h.max_time,
            &h.min_time_seconds,
            &h.max_time_seconds,
            &h.truncations,
            &h.gc_duration,
            &h.active_appenders,
            &h.mmap_chunk_corruptions,
            &h.replay_duration,
            &w.fsync_duration,
            &w.page_flushes,
            &w.completed_pages,
            &w.writes_failed,
            &w.segment_current,
            &w.truncations,
            &w.truncations_failed,
            &w.corruptions,
            &w.checkpoint_creations,
            &w.checkpoint_creations_failed,
            &w.checkpoint_deletions,
        ];
        for c in collectors {
            c.collect(out)?;
        }
        self.blocks.collect(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_metrics_collect_with_upstream_names() {
        let m = TsdbMetrics::new();
        m.head.samples_appended.inc_by_int(3);
        let mut out = Vec::new();
        m.collect(&mut out).unwrap();
        let names: Vec<&str> = out.iter().map(|f| f.name.as_str()).collect();
        for want in [
            "prometheus_tsdb_head_series",
            "prometheus_tsdb_head_samples_appended_total",
            "prometheus_tsdb_head_chunks",
            "prometheus_tsdb_wal_corruptions_total",
            "prometheus_tsdb_wal_fsync_duration_seconds",
            "prometheus_tsdb_wal_segment_current",
            "prometheus_tsdb_head_min_time",
            "prometheus_tsdb_head_max_time",
            "prometheus_tsdb_head_series_created_total",
            "prometheus_tsdb_out_of_order_samples_total",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len(), "duplicate metric families");
    }
}
