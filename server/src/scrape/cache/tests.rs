use super::*;
use crate::model::value::is_stale_nan;
use crate::storage::mem::MemStorage;
use crate::storage::{Appendable, Queryable, Value, collect_samples};

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().copied().collect()
}

fn target() -> Labels {
    labels(&[("instance", "h:1"), ("job", "j")])
}

fn scrape(
    s: &MemStorage,
    c: &mut TargetCache,
    body: &str,
    format: Format,
    ts: i64,
) -> Result<AppendStats, ScrapeError> {
    let mut app = s.appender();
    match c.append_body(&mut *app, body.as_bytes(), format, ts) {
        Ok(stats) => {
            app.commit().unwrap();
            Ok(stats)
        }
        Err(e) => {
            app.rollback().unwrap();
            let mut app = s.appender();
            c.append_failure(&mut *app, ts).unwrap();
            app.commit().unwrap();
            Err(e)
        }
    }
}

/// Every series in the storage with its samples (stale markers as the string "stale").
fn dump(s: &MemStorage) -> Vec<(String, Vec<(i64, String)>)> {
    let q = s.querier(i64::MIN, i64::MAX).unwrap();
    q.select(true, None, &[])
        .unwrap()
        .iter()
        .map(|series| {
            let samples = collect_samples(&mut *series.iter())
                .into_iter()
                .map(|(t, v)| match v {
                    Value::Float(f) if is_stale_nan(f) => (t, "stale".to_string()),
                    Value::Float(f) => (t, f.to_string()),
                    other => (t, format!("{other:?}")),
                })
                .collect();
            (series.labels.to_string(), samples)
        })
        .collect()
}

#[test]
fn appends_with_target_labels_and_marks_vanished_series_stale() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(
        target(),
        ScrapeOptions {
            honor_timestamps: true,
            ..Default::default()
        },
    );
    let stats = scrape(&s, &mut c, "# TYPE a gauge\na 1\nb{x=\"y\"} 2\n", Format::Text, 1000).unwrap();
    assert_eq!((stats.scraped, stats.post_relabel, stats.series_added), (2, 2, 2));
    let stats = scrape(&s, &mut c, "a 3\n", Format::Text, 2000).unwrap();
    assert_eq!((stats.scraped, stats.series_added), (1, 0));
    // Still gone: no second marker.
    scrape(&s, &mut c, "a 4\n", Format::Text, 3000).unwrap();
    assert_eq!(
        dump(&s),
        vec![
            (
                "{__name__=\"a\", instance=\"h:1\", job=\"j\"}".to_string(),
                vec![(1000, "1".into()), (2000, "3".into()), (3000, "4".into())]
            ),
            (
                "{__name__=\"b\", instance=\"h:1\", job=\"j\", x=\"y\"}".to_string(),
                vec![(1000, "2".into()), (2000, "stale".into())]
            ),
        ]
    );
    // It comes back: appended again, counted as known.
    let stats = scrape(&s, &mut c, "a 5\nb{x=\"y\"} 6\n", Format::Text, 4000).unwrap();
    assert_eq!(stats.series_added, 0);
}

#[test]
fn label_conflicts_follow_honor_labels() {
    let body = "m{job=\"inner\",instance=\"\"} 1\n";
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    scrape(&s, &mut c, body, Format::Text, 1).unwrap();
    assert_eq!(
        dump(&s)[0].0,
        "{__name__=\"m\", exported_job=\"inner\", instance=\"h:1\", job=\"j\"}"
    );

    let s = MemStorage::new();
    let mut c = TargetCache::new(
        target(),
        ScrapeOptions {
            honor_labels: true,
            ..Default::default()
        },
    );
    scrape(&s, &mut c, body, Format::Text, 1).unwrap();
    // An empty exposed value counts as absent, so the target's instance fills it.
    assert_eq!(dump(&s)[0].0, "{__name__=\"m\", instance=\"h:1\", job=\"inner\"}");
}

#[test]
fn exported_prefix_repeats_until_free() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    scrape(&s, &mut c, "m{job=\"a\",exported_job=\"b\"} 1\n", Format::Text, 1).unwrap();
    assert_eq!(
        dump(&s)[0].0,
        "{__name__=\"m\", exported_exported_job=\"a\", exported_job=\"b\", instance=\"h:1\", job=\"j\"}"
    );
}

#[test]
fn metric_relabeling_drops_and_counts() {
    let rule: RelabelConfig =
        serde_saphyr::from_str("source_labels: [__name__]\nregex: 'go_.*'\naction: drop\n").unwrap();
    let s = MemStorage::new();
    let mut c = TargetCache::new(
        target(),
        ScrapeOptions {
            metric_relabel: vec![rule],
            ..Default::default()
        },
    );
    for ts in [1, 2] {
        let stats = scrape(&s, &mut c, "go_x 1\nkeep 2\ngo_y 3\n", Format::Text, ts).unwrap();
        assert_eq!((stats.scraped, stats.post_relabel), (3, 1));
    }
    assert_eq!(dump(&s).len(), 1);
}

#[test]
fn limits_fail_the_whole_scrape_and_stale_previous_series() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(
        target(),
        ScrapeOptions {
            sample_limit: 2,
            ..Default::default()
        },
    );
    scrape(&s, &mut c, "a 1\nb 1\n", Format::Text, 1).unwrap();
    let err = scrape(&s, &mut c, "a 1\nb 1\nc 1\n", Format::Text, 2).unwrap_err();
    assert_eq!(err.to_string(), "sample limit exceeded");
    let d = dump(&s);
    assert_eq!(d.len(), 2, "{d:?}");
    assert!(
        d.iter()
            .all(|(_, samples)| samples.last() == Some(&(2, "stale".to_string())))
    );

    let mut c = TargetCache::new(
        target(),
        ScrapeOptions {
            label_limit: 3,
            ..Default::default()
        },
    );
    let err = scrape(&MemStorage::new(), &mut c, "a{x=\"1\",y=\"2\"} 1\n", Format::Text, 1).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("label_limit exceeded (metric: {__name__=\"a\""),
        "{err}"
    );
}

#[test]
fn explicit_timestamps_and_staleness_tracking() {
    for track in [false, true] {
        let s = MemStorage::new();
        let opts = ScrapeOptions {
            honor_timestamps: true,
            track_timestamps_staleness: track,
            ..Default::default()
        };
        let mut c = TargetCache::new(target(), opts);
        scrape(&s, &mut c, "a 1 500\n", Format::Text, 1000).unwrap();
        scrape(&s, &mut c, "", Format::Text, 2000).unwrap();
        let samples = &dump(&s)[0].1;
        let want: Vec<(i64, String)> = if track {
            vec![(500, "1".into()), (2000, "stale".into())]
        } else {
            vec![(500, "1".into())]
        };
        assert_eq!(samples, &want);
    }
    // Not honoured: the scrape time is used.
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    scrape(&s, &mut c, "a 1 500\n", Format::Text, 1000).unwrap();
    assert_eq!(dump(&s)[0].1, vec![(1000, "1".to_string())]);
}

#[test]
fn openmetrics_created_lines_are_not_series() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    let body = "# TYPE r counter\nr_total 3\nr_created 1.5e9\n# TYPE g gauge\ng_created 1\n# EOF\n";
    let stats = scrape(&s, &mut c, body, Format::OpenMetrics, 1).unwrap();
    assert_eq!(stats.scraped, 2);
    let names: Vec<String> = dump(&s).into_iter().map(|(l, _)| l).collect();
    assert!(names.iter().any(|l| l.contains("r_total")) && names.iter().any(|l| l.contains("g_created")));
    assert!(!names.iter().any(|l| l.contains("r_created")));
}

#[test]
fn parse_error_fails_scrape_and_keeps_nothing_of_it() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    let err = scrape(&s, &mut c, "a 1\nb{ 2\n", Format::Text, 1).unwrap_err();
    assert!(matches!(err, ScrapeError::Parse(_)), "{err}");
    assert!(dump(&s).is_empty());
}

#[test]
fn duplicates_within_a_scrape_are_counted_not_fatal() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    let stats = scrape(&s, &mut c, "a 1\na 2\n", Format::Text, 1).unwrap();
    assert_eq!(stats.duplicate, 1);
    assert_eq!(dump(&s)[0].1, vec![(1, "1".to_string())]);
}

#[test]
fn cache_evicts_long_gone_series() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    for i in 0..30 {
        scrape(&s, &mut c, &format!("churn_{i} 1\nsteady 1\n"), Format::Text, i).unwrap();
    }
    assert!(c.len() <= 13, "cache holds {} entries", c.len());
}

#[test]
fn metadata_is_recorded_and_change_tracked() {
    let s = MemStorage::new();
    let mut c = TargetCache::new(target(), ScrapeOptions::default());
    let body = "# HELP a_total Things done.\n# TYPE a_total counter\na_total 1\n# TYPE u untyped\nu 1\n";
    scrape(&s, &mut c, body, Format::Text, 1).unwrap();
    assert!(c.take_metadata_changed());
    let a = &c.metadata()["a_total"];
    assert_eq!((a.kind, a.help.as_str()), ("counter", "Things done."));
    assert_eq!(c.metadata()["u"].kind, "unknown");
    scrape(&s, &mut c, body, Format::Text, 2).unwrap();
    assert!(!c.take_metadata_changed(), "same metadata again is no change");
    let om = "# TYPE b_seconds gauge\n# UNIT b_seconds seconds\nb_seconds 1\n# EOF\n";
    scrape(&s, &mut c, om, Format::OpenMetrics, 3).unwrap();
    assert!(c.take_metadata_changed());
    assert_eq!(c.metadata()["b_seconds"].unit, "seconds");
}

#[test]
fn cache_entries_stay_small() {
    // One per scraped series of every target: 16 bytes (reference, wrapping iteration, two flags).
    assert!(
        std::mem::size_of::<CacheEntry>() <= 16,
        "{}",
        std::mem::size_of::<CacheEntry>()
    );
}
