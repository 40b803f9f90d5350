//! A label set: name/value pairs sorted by name, names unique, no empty values (setting a label to the empty
//! string removes it, as in Prometheus).

use std::fmt;

/// A sorted set of labels.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Vec<(String, String)>);

impl Labels {
    /// The empty set.
    pub fn new() -> Labels {
        Labels(Vec::new())
    }

    /// The value of `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| self.0[i].1.as_str())
    }

    /// The value of `name`, or `""` when unset (how relabeling reads a missing label).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Sets `name` to `value`; an empty value removes the label.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (name.into(), value.into());
        if value.is_empty() {
            self.remove(&name);
            return;
        }
        match self.position(&name) {
            Ok(i) => self.0[i].1 = value,
            Err(i) => self.0.insert(i, (name, value)),
        }
    }

    /// Removes `name`; returns whether it was set.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.position(name) {
            Ok(i) => {
                self.0.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// The labels in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many labels are set.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether no label is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The pairs in name order.
    pub fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }

    /// The pairs in name order, owned.
    pub fn into_vec(self) -> Vec<(String, String)> {
        self.0
    }

    /// The metric name (`__name__`), if set.
    pub fn metric_name(&self) -> Option<&str> {
        self.get("__name__")
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Labels {
    /// Builds a set; a later pair for the same name wins, empty values are left out.
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Labels {
        let mut labels = Labels::new();
        for (n, v) in iter {
            labels.set(n, v);
        }
        labels
    }
}

impl fmt::Display for Labels {
    /// `{a="1", b="2"}` with values escaped like the text format.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, (n, v)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(
                f,
                "{n}=\"{}\"",
                v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
            )?;
        }
        f.write_str("}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_unique_and_empty_removes() {
        let mut l: Labels = [("b", "2"), ("a", "1"), ("c", "")].into_iter().collect();
        assert_eq!(l.iter().collect::<Vec<_>>(), vec![("a", "1"), ("b", "2")]);
        l.set("a", "x");
        l.set("b", "");
        assert_eq!(l.to_string(), "{a=\"x\"}");
        assert!(!l.remove("zz"));
        assert_eq!(l.get_or_empty("zz"), "");
        assert_eq!(l.len(), 1);
    }
}
