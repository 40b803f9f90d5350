//! `uname`: `node_uname_info`, the kernel's identification as the `uname` system call reports it.

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::gauge;
use super::{BuildError, Settings, Spec};

/// Table entry.
pub const SPEC: Spec = Spec::new("uname", true, build);

fn build(_: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Uname))
}

struct Uname;

/// The `node_uname_info` family from the six identification strings.
fn info(sysname: &str, release: &str, version: &str, machine: &str, nodename: &str, domainname: &str) -> MetricFamily {
    gauge(
        "node_uname_info",
        "Labeled system information as provided by the uname system call.",
        &[
            ("sysname", sysname),
            ("release", release),
            ("version", version),
            ("machine", machine),
            ("nodename", nodename),
            ("domainname", domainname),
        ],
        1.0,
    )
}

impl Collector for Uname {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let u = nix::sys::utsname::uname()?;
        let s = |v: &std::ffi::OsStr| v.to_string_lossy().into_owned();
        out.push(info(
            &s(u.sysname()),
            &s(u.release()),
            &s(u.version()),
            &s(u.machine()),
            &s(u.nodename()),
            &s(u.domainname()),
        ));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_labels_and_live_call() {
        let f = info("Linux", "6.1", "#1 SMP", "x86_64", "host", "(none)");
        let labels = &f.metrics[0].labels;
        let cases = [("sysname", "Linux"), ("machine", "x86_64"), ("domainname", "(none)")];
        for (k, v) in cases {
            assert_eq!(labels.get(k), Some(v));
        }
        let mut out = Vec::new();
        Uname.collect(&mut out).unwrap();
        assert_eq!(out[0].metrics[0].labels.get("sysname"), Some("Linux"));
    }
}
