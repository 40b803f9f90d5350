//! `bonding`: configured and active slaves of each bonding interface, from `/sys/class/net/bonding_masters`,
//! `<master>/bonding/slaves` and each slave's `bonding_slave/mii_status`.

use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::gauge;
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("bonding", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Bonding { paths: s.paths.clone() }))
}

struct Bonding {
    paths: Paths,
}

/// (configured, up) slave counts of one master below the `class/net` directory `root`.
fn master_stats(root: &Path, master: &str) -> Result<(usize, usize), CollectorError> {
    let slaves = read_file(&root.join(master).join("bonding/slaves"))?;
    let (mut configured, mut up) = (0, 0);
    for slave in slaves.split_whitespace() {
        let lower = root
            .join(master)
            .join(format!("lower_{slave}/bonding_slave/mii_status"));
        let state = match read_file(&lower) {
            Ok(s) => s,
            Err(e) if super::sysfs::is_not_found(&e) => {
                // Older kernels name the link `slave_<name>`.
                read_file(
                    &root
                        .join(master)
                        .join(format!("slave_{slave}/bonding_slave/mii_status")),
                )?
            }
            Err(e) => return Err(e),
        };
        configured += 1;
        if state.trim() == "up" {
            up += 1;
        }
    }
    Ok((configured, up))
}

impl Collector for Bonding {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let root = self.paths.sys("class/net");
        let masters = read_file(&root.join("bonding_masters"))?;
        for master in masters.split_whitespace() {
            let (configured, up) = master_stats(&root, master)?;
            let labels = [("master", master)];
            out.push(gauge(
                "node_bonding_slaves",
                "Number of configured slaves per bonding interface.",
                &labels,
                configured as f64,
            ));
            out.push(gauge(
                "node_bonding_active",
                "Number of active slaves per bonding interface.",
                &labels,
                up as f64,
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (p, c) in files {
            let p = root.path().join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, c).unwrap();
        }
        root
    }

    #[test]
    fn slave_counts() {
        let root = tree(&[
            ("bonding_masters", "bond0 dmz\n"),
            ("bond0/bonding/slaves", "\n"),
            ("dmz/bonding/slaves", "eth0 eth4 eth5\n"),
            ("dmz/lower_eth0/bonding_slave/mii_status", "up\n"),
            ("dmz/slave_eth4/bonding_slave/mii_status", "up\n"),
            ("dmz/slave_eth5/bonding_slave/mii_status", "down\n"),
        ]);
        let cases = [("bond0", Some((0, 0))), ("dmz", Some((3, 2))), ("missing", None)];
        for (master, want) in cases {
            assert_eq!(master_stats(root.path(), master).ok(), want, "{master}");
        }
        let broken = tree(&[("b/bonding/slaves", "eth9\n")]);
        assert!(master_stats(broken.path(), "b").is_err());
    }
}
