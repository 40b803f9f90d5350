//! Merging series from several sources (head and blocks, or several storages): series with equal labels become
//! one, their samples interleaved by timestamp; where sources share a timestamp the first source wins.

use std::cmp::Ordering;

use super::{SampleIterator, Series, SeriesData, StorageError, ValueType};
use crate::model::histogram::{FloatHistogram, Histogram};

/// Merges label-sorted series lists into one label-sorted list.
pub fn merge_series_sets(sets: Vec<Vec<Series>>) -> Vec<Series> {
    let mut sets: Vec<Vec<Series>> = sets.into_iter().filter(|s| !s.is_empty()).collect();
    match sets.len() {
        0 => return Vec::new(),
        1 => return sets.pop().unwrap_or_default(),
        _ => {}
    }
    let mut iters: Vec<std::iter::Peekable<std::vec::IntoIter<Series>>> =
        sets.into_iter().map(|s| s.into_iter().peekable()).collect();
    let mut out = Vec::new();
    loop {
        let mut best: Option<usize> = None;
        for i in 0..iters.len() {
            if iters[i].peek().is_none() {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    let ord = {
                        let (lo, hi) = iters.split_at_mut(i);
                        let a = lo[b].peek().map(|s| &s.labels);
                        let c = hi[0].peek().map(|s| &s.labels);
                        a.cmp(&c)
                    };
                    if ord == Ordering::Greater { Some(i) } else { Some(b) }
                }
            };
        }
        let Some(b) = best else { break };
        let Some(first) = iters[b].next() else { break };
        let mut parts = vec![first];
        for (i, it) in iters.iter_mut().enumerate() {
            if i == b {
                continue;
            }
            if it.peek().is_some_and(|s| s.labels == parts[0].labels)
                && let Some(s) = it.next()
            {
                parts.push(s);
            }
        }
        if parts.len() == 1 {
            out.extend(parts);
        } else {
            let labels = parts[0].labels.clone();
            out.push(Series {
                labels,
                data: Box::new(MergedData {
                    parts: parts.into_iter().map(|s| s.data).collect(),
                }),
            });
        }
    }
    out
}

/// The samples of one series found in several sources.
struct MergedData {
    parts: Vec<Box<dyn SeriesData>>,
}

impl SeriesData for MergedData {
    fn iter(&self) -> Box<dyn SampleIterator + '_> {
        Box::new(MergeIterator::new(self.parts.iter().map(|p| p.iter()).collect()))
    }
}

/// Interleaves several timestamp-ordered iterators; on equal timestamps the earliest iterator's sample is used.
///
/// Besides the current source it remembers the earliest timestamp any other source is at (`bound`): while the
/// current source stays below it, moving on touches only that source, so a single source with samples (the others
/// exhausted or empty in range) and sources that do not overlap in time pass their samples straight through.
pub struct MergeIterator<'a> {
    its: Vec<(Box<dyn SampleIterator + 'a>, ValueType)>,
    current: Option<usize>,
    /// The earliest timestamp of the sources other than `current` (`i64::MAX` when none has a sample).
    bound: i64,
    started: bool,
}

impl std::fmt::Debug for MergeIterator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MergeIterator")
            .field("sources", &self.its.len())
            .finish_non_exhaustive()
    }
}

impl<'a> MergeIterator<'a> {
    /// Merges `its`, earlier ones taking precedence on equal timestamps.
    pub fn new(its: Vec<Box<dyn SampleIterator + 'a>>) -> MergeIterator<'a> {
        MergeIterator {
            its: its.into_iter().map(|it| (it, ValueType::None)).collect(),
            current: None,
            bound: i64::MAX,
            started: false,
        }
    }

    /// Chooses the source with the earliest sample (the first of equals) and the bound the others set.
    fn pick(&mut self) -> ValueType {
        let mut best: Option<(usize, i64)> = None;
        let mut second = i64::MAX;
        for (i, (it, kind)) in self.its.iter().enumerate() {
            if *kind == ValueType::None {
                continue;
            }
            let t = it.at_t();
            match best {
                Some((_, bt)) if t >= bt => second = second.min(t),
                _ => {
                    if let Some((_, bt)) = best {
                        second = second.min(bt);
                    }
                    best = Some((i, t));
                }
            }
        }
        self.current = best.map(|(i, _)| i);
        self.bound = second;
        best.map_or(ValueType::None, |(i, _)| self.its[i].1)
    }
}

impl SampleIterator for MergeIterator<'_> {
    fn next(&mut self) -> ValueType {
        if !self.started {
            self.started = true;
            for (it, kind) in &mut self.its {
                *kind = it.next();
            }
        } else if let Some(c) = self.current {
            let t = self.its[c].0.at_t();
            if t < self.bound {
                // No other source is at `t`: only the current one moves.
                let (it, kind) = &mut self.its[c];
                *kind = it.next();
                if *kind != ValueType::None && it.at_t() < self.bound {
                    return *kind;
                }
            } else {
                for (it, kind) in &mut self.its {
                    if *kind != ValueType::None && it.at_t() == t {
                        *kind = it.next();
                    }
                }
            }
        } else {
            return ValueType::None;
        }
        self.pick()
    }

    fn seek(&mut self, t: i64) -> ValueType {
        if self.started
            && let Some(c) = self.current
        {
            let (it, kind) = &mut self.its[c];
            if it.at_t() >= t {
                return *kind;
            }
            if t < self.bound {
                // Every other source is at or past `bound`, so only the current one needs to seek.
                *kind = it.seek(t);
                if *kind != ValueType::None && it.at_t() < self.bound {
                    return *kind;
                }
                return self.pick();
            }
        }
        let started = self.started;
        self.started = true;
        for (it, kind) in &mut self.its {
            if !started || (*kind != ValueType::None && it.at_t() < t) {
                *kind = it.seek(t);
            }
        }
        self.pick()
    }

    fn at(&self) -> (i64, f64) {
        self.current.map_or((i64::MIN, f64::NAN), |c| self.its[c].0.at())
    }

    fn at_histogram(&self) -> (i64, Histogram) {
        self.current
            .map_or((i64::MIN, Histogram::default()), |c| self.its[c].0.at_histogram())
    }

    fn at_float_histogram(&self) -> (i64, FloatHistogram) {
        self.current.map_or((i64::MIN, FloatHistogram::default()), |c| {
            self.its[c].0.at_float_histogram()
        })
    }

    fn at_t(&self) -> i64 {
        self.current.map_or(i64::MIN, |c| self.its[c].0.at_t())
    }

    fn err(&self) -> Option<&StorageError> {
        self.its.iter().find_map(|(it, _)| it.err())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::labels::Labels;
    use crate::storage::{SliceIterator, Value, collect_samples};

    struct Owned(Vec<(i64, Value)>);

    impl SeriesData for Owned {
        fn iter(&self) -> Box<dyn SampleIterator + '_> {
            Box::new(SliceIterator::new(&self.0))
        }
    }

    fn series(name: &str, samples: &[(i64, f64)]) -> Series {
        Series {
            labels: [("__name__", name)].into_iter().collect::<Labels>(),
            data: Box::new(Owned(samples.iter().map(|&(t, v)| (t, Value::Float(v))).collect())),
        }
    }

    fn floats(s: &Series) -> Vec<(i64, f64)> {
        collect_samples(&mut *s.iter())
            .into_iter()
            .map(|(t, v)| match v {
                Value::Float(f) => (t, f),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }

    #[test]
    fn merges_lists_and_samples_first_source_wins() {
        let a = vec![series("a", &[(1, 1.0), (3, 3.0)]), series("c", &[(1, 1.0)])];
        let b = vec![
            series("a", &[(2, 20.0), (3, 30.0), (4, 40.0)]),
            series("b", &[(5, 5.0)]),
        ];
        let merged = merge_series_sets(vec![a, b]);
        let names: Vec<_> = merged.iter().map(|s| s.labels.metric_name().unwrap_or("")).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(floats(&merged[0]), [(1, 1.0), (2, 20.0), (3, 3.0), (4, 40.0)]);
        assert_eq!(floats(&merged[1]), [(5, 5.0)]);
    }

    #[test]
    fn merged_seek() {
        let merged = merge_series_sets(vec![
            vec![series("a", &[(10, 1.0), (30, 3.0)])],
            vec![series("a", &[(20, 2.0)])],
        ]);
        let mut it = merged[0].iter();
        assert_eq!(it.seek(15), ValueType::Float);
        assert_eq!(it.at(), (20, 2.0));
        assert_eq!(it.seek(15), ValueType::Float);
        assert_eq!(it.at_t(), 20);
        assert_eq!(it.next(), ValueType::Float);
        assert_eq!(it.at(), (30, 3.0));
        assert_eq!(it.next(), ValueType::None);
        assert_eq!(it.seek(100), ValueType::None);
    }

    /// The merged samples by brute force: every timestamp once, from the first source that has it.
    fn reference(sources: &[&[(i64, f64)]]) -> Vec<(i64, f64)> {
        let mut by_t = std::collections::BTreeMap::new();
        for src in sources {
            for &(t, v) in *src {
                by_t.entry(t).or_insert(v);
            }
        }
        by_t.into_iter().collect()
    }

    #[test]
    fn merge_iterator_matches_brute_force_under_next_and_seek() {
        let a: Vec<(i64, f64)> = (0..50).map(|i| (i * 10, i as f64)).collect();
        let b: Vec<(i64, f64)> = (40..90).map(|i| (i * 10, -(i as f64))).collect();
        let c: Vec<(i64, f64)> = (0..30).map(|i| (i * 35 + 5, 1000.0 + i as f64)).collect();
        let far: Vec<(i64, f64)> = (0..10).map(|i| (5000 + i, 7.0)).collect();
        // Source lists: one source, disjoint, overlapping with shared timestamps, an empty one, three-way.
        let cases: &[&[&[(i64, f64)]]] = &[
            &[&a],
            &[&a, &far],
            &[&far, &a],
            &[&a, &b],
            &[&b, &a],
            &[&[], &a, &[]],
            &[&a, &b, &c],
            &[&c, &far, &b],
        ];
        // Operations: None is next, Some(t) is seek(t).
        let ops: Vec<Option<i64>> = vec![
            None,
            None,
            Some(95),
            Some(95),
            None,
            Some(398),
            None,
            None,
            Some(401),
            Some(10),
            None,
            Some(700),
            None,
            Some(4999),
            None,
            Some(5004),
            None,
            Some(6000),
            None,
        ];
        for (n, sources) in cases.iter().enumerate() {
            let want = reference(sources);
            // Whole sequence by next.
            let merged = MergeIterator::new(
                sources
                    .iter()
                    .map(|s| Box::new(SliceIterator::new(leak(s))) as Box<dyn SampleIterator>)
                    .collect(),
            );
            let mut it = merged;
            let mut got = Vec::new();
            while it.next() == ValueType::Float {
                got.push(it.at());
            }
            assert_eq!(got, want, "case {n} by next");
            // Mixed next and seek against a cursor over the reference.
            let mut it = MergeIterator::new(
                sources
                    .iter()
                    .map(|s| Box::new(SliceIterator::new(leak(s))) as Box<dyn SampleIterator>)
                    .collect(),
            );
            let mut pos: Option<usize> = None;
            for (k, op) in ops.iter().enumerate() {
                let kind = match op {
                    None => {
                        pos = Some(pos.map_or(0, |p| (p + 1).min(want.len())));
                        it.next()
                    }
                    Some(t) => {
                        let from = pos.unwrap_or(0);
                        if pos.is_none_or(|p| want.get(p).is_none_or(|s| s.0 < *t)) {
                            pos = Some(from + want[from.min(want.len())..].partition_point(|s| s.0 < *t));
                        }
                        it.seek(*t)
                    }
                };
                match pos.and_then(|p| want.get(p)) {
                    Some(&s) => assert_eq!((kind, it.at()), (ValueType::Float, s), "case {n} op {k} {op:?}"),
                    None => assert_eq!(kind, ValueType::None, "case {n} op {k} {op:?}"),
                }
            }
        }
    }

    /// Samples as values for [`SliceIterator`].
    fn leak(s: &[(i64, f64)]) -> &'static [(i64, Value)] {
        Box::leak(
            s.iter()
                .map(|&(t, v)| (t, Value::Float(v)))
                .collect::<Vec<_>>()
                .into_boxed_slice(),
        )
    }
}
