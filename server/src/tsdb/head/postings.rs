//! The head's inverted index: for every label pair the sorted list of series references carrying it ("postings"),
//! and the set operations that answer label matchers (Prometheus' `index.MemPostings` and
//! `PostingsForMatchers`).

use std::collections::{BTreeMap, HashMap};

use super::series::Sym;
use crate::model::matcher::{MatchOp, Matcher};

/// Postings per label name and value.
#[derive(Debug, Default)]
pub struct MemPostings {
    /// name -> value -> sorted series refs. Values are kept in a sorted map so label values come out ordered.
    m: HashMap<Sym, BTreeMap<Sym, Vec<u64>>>,
    /// Every series ref, sorted.
    all: Vec<u64>,
}

fn insert_sorted(list: &mut Vec<u64>, r: u64) {
    match list.last() {
        Some(&last) if last >= r => {
            if let Err(i) = list.binary_search(&r) {
                list.insert(i, r);
            }
        }
        _ => list.push(r),
    }
}

impl MemPostings {
    /// Adds series `r` with label pairs `labels` (name, value alternating).
    pub fn add(&mut self, r: u64, labels: &[Sym]) {
        for pair in labels.chunks_exact(2) {
            let values = self.m.entry(pair[0].clone()).or_default();
            insert_sorted(values.entry(pair[1].clone()).or_default(), r);
        }
        insert_sorted(&mut self.all, r);
    }

    /// Removes the given series (refs sorted) with their labels.
    pub fn delete(&mut self, victims: &[(u64, Box<[Sym]>)]) {
        let mut refs: Vec<u64> = victims.iter().map(|(r, _)| *r).collect();
        refs.sort_unstable();
        let mut touched: HashMap<&str, Vec<&str>> = HashMap::new();
        for (_, labels) in victims {
            for pair in labels.chunks_exact(2) {
                touched.entry(pair[0].as_str()).or_default().push(pair[1].as_str());
            }
        }
        for (name, mut values) in touched {
            values.sort_unstable();
            values.dedup();
            let Some(map) = self.m.get_mut(name) else { continue };
            for value in values {
                if let Some(list) = map.get_mut(value) {
                    list.retain(|r| refs.binary_search(r).is_err());
                    if list.is_empty() {
                        map.remove(value);
                    }
                }
            }
            if map.is_empty() {
                self.m.remove(name);
            }
        }
        self.all.retain(|r| refs.binary_search(r).is_err());
    }

    /// All series refs.
    pub fn all(&self) -> &[u64] {
        &self.all
    }

    /// The postings of `name="value"`.
    pub fn get(&self, name: &str, value: &str) -> &[u64] {
        self.m.get(name).and_then(|m| m.get(value)).map_or(&[], Vec::as_slice)
    }

    /// The values of label `name`, sorted, with their postings.
    pub fn values(&self, name: &str) -> impl Iterator<Item = (&str, &[u64])> {
        self.m
            .get(name)
            .into_iter()
            .flat_map(|m| m.iter().map(|(v, l)| (v.as_str(), l.as_slice())))
    }

    /// All label names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.m.keys().map(Sym::as_str).collect();
        names.sort_unstable();
        names
    }

    /// Union of the postings of the values of `name` for which `pred` holds.
    fn union_where(&self, name: &str, pred: impl Fn(&str) -> bool) -> Vec<u64> {
        let lists: Vec<&[u64]> = self.values(name).filter(|(v, _)| pred(v)).map(|(_, l)| l).collect();
        merge(&lists)
    }

    /// Series refs matching every matcher (all series when there is none), sorted. Semantics follow Prometheus:
    /// a matcher that accepts the empty string also selects series without the label.
    pub fn for_matchers(&self, matchers: &[Matcher]) -> Vec<u64> {
        let mut its: Vec<Vec<u64>> = Vec::new();
        let mut nots: Vec<Vec<u64>> = Vec::new();
        for m in matchers {
            if m.matches_empty() {
                // Everything except series whose value for the label does not match.
                let excluded = match (m.op, m.literal()) {
                    (MatchOp::NotEqual, Some(lit)) if !lit.is_empty() => self.get(&m.name, lit).to_vec(),
                    _ => self.union_where(&m.name, |v| !m.matches(v)),
                };
                if !excluded.is_empty() {
                    nots.push(excluded);
                }
            } else {
                let included = match m.set_matches() {
                    Some(values) if matches!(m.op, MatchOp::Equal | MatchOp::Regex) => {
                        let lists: Vec<&[u64]> = values.iter().map(|v| self.get(&m.name, v)).collect();
                        merge(&lists)
                    }
                    _ => self.union_where(&m.name, |v| m.matches(v)),
                };
                if included.is_empty() {
                    return Vec::new();
                }
                its.push(included);
            }
        }
        let base = if its.is_empty() {
            self.all.clone()
        } else {
            its.sort_by_key(Vec::len);
            let mut acc = its.swap_remove(0);
            for l in &its {
                acc = intersect(&acc, l);
                if acc.is_empty() {
                    break;
                }
            }
            acc
        };
        if nots.is_empty() {
            return base;
        }
        let lists: Vec<&[u64]> = nots.iter().map(Vec::as_slice).collect();
        subtract(&base, &merge(&lists))
    }
}

/// Intersection of two sorted lists.
pub fn intersect(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    if small.len() * 16 < large.len() {
        // Galloping: binary-search each element of the small list in the rest of the large one.
        let mut rest = large;
        for &x in small {
            match rest.binary_search(&x) {
                Ok(i) => {
                    out.push(x);
                    rest = &rest[i + 1..];
                }
                Err(i) => rest = &rest[i..],
            }
        }
        return out;
    }
    let (mut i, mut j) = (0, 0);
    while i < small.len() && j < large.len() {
        match small[i].cmp(&large[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(small[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Union of sorted lists, sorted and deduplicated.
pub fn merge(lists: &[&[u64]]) -> Vec<u64> {
    match lists {
        [] => Vec::new(),
        [one] => one.to_vec(),
        [a, b] => {
            let mut out = Vec::with_capacity(a.len() + b.len());
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                match a[i].cmp(&b[j]) {
                    std::cmp::Ordering::Less => {
                        out.push(a[i]);
                        i += 1;
                    }
                    std::cmp::Ordering::Greater => {
                        out.push(b[j]);
                        j += 1;
                    }
                    std::cmp::Ordering::Equal => {
                        out.push(a[i]);
                        i += 1;
                        j += 1;
                    }
                }
            }
            out.extend_from_slice(&a[i..]);
            out.extend_from_slice(&b[j..]);
            out
        }
        _ => {
            let mut out: Vec<u64> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// `a` without the elements of `b` (both sorted).
pub fn subtract(a: &[u64], b: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(a.len());
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j < b.len() && b[j] == x {
            continue;
        }
        out.push(x);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tsdb::head::series::Interner;

    #[test]
    fn set_operations() {
        // a, b, a∩b, a∪b, a∖b
        type Case<'a> = (&'a [u64], &'a [u64], &'a [u64], &'a [u64], &'a [u64]);
        let cases: &[Case<'_>] = &[
            (&[], &[], &[], &[], &[]),
            (&[1, 2, 3], &[], &[], &[1, 2, 3], &[1, 2, 3]),
            (
                &[1, 3, 5, 7],
                &[2, 3, 4, 7, 9],
                &[3, 7],
                &[1, 2, 3, 4, 5, 7, 9],
                &[1, 5],
            ),
            (
                &[5],
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
                &[5],
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
                &[],
            ),
            (
                &[100],
                &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20],
                &[],
                &[
                    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 100,
                ],
                &[100],
            ),
        ];
        for (a, b, i, u, d) in cases {
            assert_eq!(intersect(a, b), *i, "{a:?} ∩ {b:?}");
            assert_eq!(intersect(b, a), *i, "{b:?} ∩ {a:?}");
            assert_eq!(merge(&[a, b]), *u, "{a:?} ∪ {b:?}");
            assert_eq!(subtract(a, b), *d, "{a:?} ∖ {b:?}");
        }
        assert_eq!(merge(&[&[1, 4], &[2, 4], &[3, 4, 5]]), [1, 2, 3, 4, 5]);
    }

    fn index() -> MemPostings {
        let syms = Interner::default();
        let mut p = MemPostings::default();
        let series: &[(u64, &[(&str, &str)])] = &[
            (1, &[("__name__", "up"), ("job", "a")]),
            (2, &[("__name__", "up"), ("job", "b"), ("env", "prod")]),
            (3, &[("__name__", "http"), ("job", "a"), ("env", "dev")]),
            (4, &[("__name__", "http"), ("job", "c")]),
        ];
        for (r, labels) in series.iter().rev() {
            let mut l: Vec<(&str, &str)> = labels.to_vec();
            l.sort();
            let syms: Vec<Sym> = l.iter().flat_map(|(n, v)| [syms.intern(n), syms.intern(v)]).collect();
            p.add(*r, &syms);
        }
        p
    }

    #[test]
    fn matchers_select_like_prometheus() {
        let p = index();
        let m = |op, n: &str, v: &str| Matcher::new(op, n, v).unwrap();
        use MatchOp::*;
        let cases: Vec<(Vec<Matcher>, Vec<u64>)> = vec![
            (vec![], vec![1, 2, 3, 4]),
            (vec![m(Equal, "__name__", "up")], vec![1, 2]),
            (vec![m(Equal, "job", "a")], vec![1, 3]),
            (vec![m(Equal, "__name__", "up"), m(Equal, "job", "a")], vec![1]),
            (vec![m(NotEqual, "job", "a")], vec![2, 4]),
            (vec![m(Equal, "env", "")], vec![1, 4]),
            (vec![m(NotEqual, "env", "")], vec![2, 3]),
            (vec![m(Regex, "job", "a|b")], vec![1, 2, 3]),
            (vec![m(Regex, "job", ".*")], vec![1, 2, 3, 4]),
            (vec![m(Regex, "env", ".+")], vec![2, 3]),
            (vec![m(Regex, "env", "p.*|")], vec![1, 2, 4]),
            (vec![m(NotRegex, "env", "p.*")], vec![1, 3, 4]),
            (vec![m(Equal, "job", "zzz")], vec![]),
            (vec![m(Equal, "nope", "x")], vec![]),
            (vec![m(Regex, "__name__", "h.*"), m(NotEqual, "job", "c")], vec![3]),
        ];
        for (ms, want) in cases {
            assert_eq!(p.for_matchers(&ms), want, "{ms:?}");
        }
        assert_eq!(p.names(), ["__name__", "env", "job"]);
        let values: Vec<&str> = p.values("job").map(|(v, _)| v).collect();
        assert_eq!(values, ["a", "b", "c"]);
    }

    #[test]
    fn delete_removes_empty_values_and_names() {
        let mut p = index();
        let syms = Interner::default();
        let labels: Box<[Sym]> = ["__name__", "up", "env", "prod", "job", "b"]
            .iter()
            .map(|s| syms.intern(s))
            .collect();
        p.delete(&[(2, labels)]);
        assert_eq!(p.all(), [1, 3, 4]);
        assert_eq!(p.get("env", "prod"), &[] as &[u64]);
        assert_eq!(p.get("__name__", "up"), [1]);
        let values: Vec<&str> = p.values("job").map(|(v, _)| v).collect();
        assert_eq!(values, ["a", "c"]);
    }
}
