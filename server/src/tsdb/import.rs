//! Loading an OpenMetrics file with explicit timestamps into any [`Appendable`] storage, like upstream's
//! `promtool tsdb create-blocks-from openmetrics` loads one into blocks. It backs `server tsdb import-openmetrics`
//! (the benchmarks load the same file into our TSDB and, through promtool, into Prometheus) and the differential
//! PromQL test.
//!
//! Every sample must carry a timestamp. Samples of one series must come in time order (OpenMetrics requires that
//! of a file anyway); the samples are committed in batches so memory stays bounded on large files. Each sample's
//! series is its name as written (`foo_bucket`, `foo_total`) plus its labels.

use std::collections::HashMap;

use exposition::parse::{Entry, Format, Mode, ParseError, Parser};

use crate::model::labels::Labels;
use crate::storage::{AppendError, Appendable, SeriesRef, StorageError};

/// Samples per committed batch.
const BATCH: usize = 50_000;

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input is not valid OpenMetrics.
    #[error("{source_name}: {source}")]
    Parse {
        /// The file (or other source) being read.
        source_name: String,
        /// The parser's error, with line and column.
        source: ParseError,
    },
    /// A sample has no timestamp.
    #[error("{source_name}: sample {series} has no timestamp; imports need explicit timestamps")]
    MissingTimestamp {
        /// The file being read.
        source_name: String,
        /// The sample's series as written.
        series: String,
    },
    /// The storage refused a sample.
    #[error("{source_name}: appending {series} at {t}: {source}")]
    Append {
        /// The file being read.
        source_name: String,
        /// The series.
        series: String,
        /// The sample's timestamp (ms).
        t: i64,
        /// The storage's reason.
        source: AppendError,
    },
    /// Committing a batch failed.
    #[error("{source_name}: commit: {source}")]
    Commit {
        /// The file being read.
        source_name: String,
        /// The storage's error.
        source: StorageError,
    },
}

/// What an import loaded.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ImportStats {
    /// Distinct series.
    pub series: usize,
    /// Samples appended.
    pub samples: usize,
    /// The oldest timestamp (ms), `i64::MAX` when nothing was loaded.
    pub min_t: i64,
    /// The newest timestamp (ms), `i64::MIN` when nothing was loaded.
    pub max_t: i64,
}

/// Appends every sample of the OpenMetrics text `input` into `storage`. `source_name` names the input in errors.
pub fn import_openmetrics(
    input: &[u8],
    source_name: &str,
    storage: &dyn Appendable,
) -> Result<ImportStats, ImportError> {
    let mut parser = Parser::new(input, Format::OpenMetrics, Mode::Strict);
    let mut refs: HashMap<Vec<u8>, (SeriesRef, Labels)> = HashMap::new();
    let mut stats = ImportStats {
        min_t: i64::MAX,
        max_t: i64::MIN,
        ..ImportStats::default()
    };
    let mut app = storage.appender();
    let mut pending = 0usize;
    while let Some(entry) = parser.next_entry() {
        let entry = entry.map_err(|source| ImportError::Parse {
            source_name: source_name.to_owned(),
            source,
        })?;
        let Entry::Sample(sample) = entry else {
            continue;
        };
        let series_text = || String::from_utf8_lossy(sample.series).into_owned();
        let Some(t) = sample.timestamp_ms else {
            return Err(ImportError::MissingTimestamp {
                source_name: source_name.to_owned(),
                series: series_text(),
            });
        };
        let (series_ref, labels) = refs.entry(sample.series.to_vec()).or_insert_with(|| {
            let mut labels: Labels = sample
                .labels
                .iter()
                .map(|l| (l.name.into_owned(), l.value.into_owned()))
                .collect();
            labels.set("__name__", sample.name.as_ref());
            (0, labels)
        });
        *series_ref = app
            .append(*series_ref, labels, t, sample.value)
            .map_err(|source| ImportError::Append {
                source_name: source_name.to_owned(),
                series: series_text(),
                t,
                source,
            })?;
        stats.samples += 1;
        stats.min_t = stats.min_t.min(t);
        stats.max_t = stats.max_t.max(t);
        pending += 1;
        if pending == BATCH {
            app.commit().map_err(|source| ImportError::Commit {
                source_name: source_name.to_owned(),
                source,
            })?;
            app = storage.appender();
            pending = 0;
        }
    }
    app.commit().map_err(|source| ImportError::Commit {
        source_name: source_name.to_owned(),
        source,
    })?;
    stats.series = refs.len();
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher::Matcher;
    use crate::storage::mem::MemStorage;
    use crate::storage::{Queryable, collect_samples};

    #[test]
    fn imports_samples_and_rejects_bad_input() {
        struct Case {
            name: &'static str,
            input: &'static str,
            want: Result<(usize, usize, i64, i64), &'static str>,
        }
        let cases = [
            Case {
                name: "counter and histogram",
                input: "# TYPE a counter\na_total{l=\"x\"} 1 10\na_total{l=\"x\"} 2 20.5\n# TYPE h histogram\n\
                        h_bucket{le=\"+Inf\"} 3 10\nh_count 3 10\nh_sum 1.5 10\n# EOF\n",
                want: Ok((4, 5, 10_000, 20_500)),
            },
            Case {
                name: "no timestamp",
                input: "a 1\n# EOF\n",
                want: Err("sample a has no timestamp"),
            },
            Case {
                name: "out of order",
                input: "a 1 20\na 2 10\n# EOF\n",
                want: Err("test: line 2, column 1: timestamp of series"),
            },
            Case {
                name: "syntax",
                input: "a{ 1 20\n# EOF\n",
                want: Err("test: line 1"),
            },
        ];
        for c in cases {
            let storage = MemStorage::new();
            let got = import_openmetrics(c.input.as_bytes(), "test", &storage);
            match (got, c.want) {
                (Ok(stats), Ok((series, samples, min_t, max_t))) => {
                    assert_eq!(
                        (stats.series, stats.samples, stats.min_t, stats.max_t),
                        (series, samples, min_t, max_t),
                        "{}",
                        c.name
                    );
                }
                (Err(e), Err(want)) => assert!(e.to_string().contains(want), "{}: {e}", c.name),
                (got, want) => panic!("{}: got {got:?}, want {want:?}", c.name),
            }
        }
    }

    #[test]
    fn imported_series_are_queryable_by_name_and_labels() {
        let storage = MemStorage::new();
        let input = "# TYPE a counter\na_total{l=\"x\"} 1 10\na_total{l=\"x\"} 2 20\n# EOF\n";
        import_openmetrics(input.as_bytes(), "test", &storage).expect("import");
        let querier = storage.querier(0, 100_000).expect("querier");
        let m = Matcher::equal("__name__", "a_total");
        let series = querier.select(true, None, &[m]).expect("select");
        assert_eq!(series.len(), 1);
        assert_eq!(series[0].labels.get("l"), Some("x"));
        let samples = collect_samples(series[0].iter().as_mut());
        let ts: Vec<i64> = samples.iter().map(|(t, _)| *t).collect();
        assert_eq!(ts, vec![10_000, 20_000]);
    }
}
