//! `xfs`: XFS statistics per filesystem from `/sys/fs/xfs/<device>/stats/stats` (extent and block mapping,
//! B-tree, directory, inode cache, read/write and vnode counters).

use std::collections::HashMap;
use std::path::Path;

use exposition::{CollectError, Collector, MetricFamily};

use super::sysfs::{counter, list_dir};
use super::{BuildError, CollectorError, Settings, Spec, read_file};
use crate::paths::Paths;

/// Table entry.
pub const SPEC: Spec = Spec::new("xfs", true, build);

fn build(s: &Settings<'_>) -> Result<Box<dyn Collector>, BuildError> {
    Ok(Box::new(Xfs { paths: s.paths.clone() }))
}

struct Xfs {
    paths: Paths,
}

/// (stats line key, column, metric suffix, help): the counters exported, by position on their line.
#[rustfmt::skip]
const FIELDS: [(&str, usize, &str, &str); 39] = [
    ("extent_alloc", 0, "extent_allocation_extents_allocated_total", "Number of extents allocated for a filesystem."),
    ("extent_alloc", 1, "extent_allocation_blocks_allocated_total", "Number of blocks allocated for a filesystem."),
    ("extent_alloc", 2, "extent_allocation_extents_freed_total", "Number of extents freed for a filesystem."),
    ("extent_alloc", 3, "extent_allocation_blocks_freed_total", "Number of blocks freed for a filesystem."),
    ("abt", 0, "allocation_btree_lookups_total", "Number of allocation B-tree lookups for a filesystem."),
    ("abt", 1, "allocation_btree_compares_total", "Number of allocation B-tree compares for a filesystem."),
    ("abt", 2, "allocation_btree_records_inserted_total", "Number of allocation B-tree records inserted for a filesystem."),
    ("abt", 3, "allocation_btree_records_deleted_total", "Number of allocation B-tree records deleted for a filesystem."),
    ("blk_map", 0, "block_mapping_reads_total", "Number of block map for read operations for a filesystem."),
    ("blk_map", 1, "block_mapping_writes_total", "Number of block map for write operations for a filesystem."),
    ("blk_map", 2, "block_mapping_unmaps_total", "Number of block unmaps (deletes) for a filesystem."),
    ("blk_map", 3, "block_mapping_extent_list_insertions_total", "Number of extent list insertions for a filesystem."),
    ("blk_map", 4, "block_mapping_extent_list_deletions_total", "Number of extent list deletions for a filesystem."),
    ("blk_map", 5, "block_mapping_extent_list_lookups_total", "Number of extent list lookups for a filesystem."),
    ("blk_map", 6, "block_mapping_extent_list_compares_total", "Number of extent list compares for a filesystem."),
    ("bmbt", 0, "block_map_btree_lookups_total", "Number of block map B-tree lookups for a filesystem."),
    ("bmbt", 1, "block_map_btree_compares_total", "Number of block map B-tree compares for a filesystem."),
    ("bmbt", 2, "block_map_btree_records_inserted_total", "Number of block map B-tree records inserted for a filesystem."),
    ("bmbt", 3, "block_map_btree_records_deleted_total", "Number of block map B-tree records deleted for a filesystem."),
    ("dir", 0, "directory_operation_lookup_total", "Number of file name directory lookups which miss the operating systems directory name lookup cache."),
    ("dir", 1, "directory_operation_create_total", "Number of times a new directory entry was created for a filesystem."),
    ("dir", 2, "directory_operation_remove_total", "Number of times an existing directory entry was created for a filesystem."),
    ("dir", 3, "directory_operation_getdents_total", "Number of times the directory getdents operation was performed for a filesystem."),
    ("ig", 0, "inode_operation_attempts_total", "Number of times the OS looked for an XFS inode in the inode cache."),
    ("ig", 1, "inode_operation_found_total", "Number of times the OS looked for and found an XFS inode in the inode cache."),
    ("ig", 2, "inode_operation_recycled_total", "Number of times the OS found an XFS inode in the cache, but could not use it as it was being recycled."),
    ("ig", 3, "inode_operation_missed_total", "Number of times the OS looked for an XFS inode in the cache, but did not find it."),
    ("ig", 4, "inode_operation_duplicates_total", "Number of times the OS tried to add a missing XFS inode to the inode cache, but found it had already been added by another process."),
    ("ig", 5, "inode_operation_reclaims_total", "Number of times the OS reclaimed an XFS inode from the inode cache to free memory for another purpose."),
    ("ig", 6, "inode_operation_attribute_changes_total", "Number of times the OS explicitly changed the attributes of an XFS inode."),
    ("rw", 0, "write_calls_total", "Number of write(2) system calls made to files in a filesystem."),
    ("rw", 1, "read_calls_total", "Number of read(2) system calls made to files in a filesystem."),
    ("vnodes", 0, "vnode_active_total", "Number of vnodes not on free lists for a filesystem."),
    ("vnodes", 1, "vnode_allocate_total", "Number of times vn_alloc called for a filesystem."),
    ("vnodes", 2, "vnode_get_total", "Number of times vn_get called for a filesystem."),
    ("vnodes", 3, "vnode_hold_total", "Number of times vn_hold called for a filesystem."),
    ("vnodes", 4, "vnode_release_total", "Number of times vn_rele called for a filesystem."),
    ("vnodes", 5, "vnode_reclaim_total", "Number of times vn_reclaim called for a filesystem."),
    ("vnodes", 6, "vnode_remove_total", "Number of times vn_remove called for a filesystem."),
];

/// Parses a `stats` file into key -> values.
fn parse_stats(path: &Path, text: &str) -> Result<HashMap<String, Vec<f64>>, CollectorError> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let mut fields = line.split_whitespace();
        let Some(key) = fields.next() else { continue };
        let values = fields
            .map(|f| super::parse_num::<u64>(path, n + 1, f).map(|v| v as f64))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(key.to_string(), values);
    }
    Ok(out)
}

fn device(name: &str, path: &Path, out: &mut Vec<MetricFamily>) -> Result<(), CollectorError> {
    let stats = parse_stats(path, &read_file(path)?)?;
    for (key, column, suffix, help) in FIELDS {
        let Some(values) = stats.get(key) else { continue };
        let v = *values
            .get(column)
            .ok_or_else(|| CollectorError::malformed(path, 0, format!("{key}: too few values")))?;
        out.push(counter(&format!("node_xfs_{suffix}"), help, &[("device", name)], v));
    }
    Ok(())
}

impl Collector for Xfs {
    fn collect(&self, out: &mut Vec<MetricFamily>) -> Result<(), CollectError> {
        let base = self.paths.sys("fs/xfs");
        for entry in list_dir(&base)? {
            // `stats` holds the totals of all filesystems; devices have their own directories.
            if entry == "stats" {
                continue;
            }
            let path = base.join(&entry).join("stats/stats");
            if path.is_file() {
                device(&entry, &path, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use exposition::Value;

    fn run(stats: &str) -> Result<Vec<MetricFamily>, CollectError> {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("fs/xfs/sda1/stats");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(root.path().join("fs/xfs/stats")).unwrap();
        std::fs::write(dir.join("stats"), stats).unwrap();
        let c = Xfs {
            paths: Paths {
                sysfs: root.path().to_path_buf(),
                ..Paths::default()
            },
        };
        let mut out = Vec::new();
        c.collect(&mut out).map(|()| out)
    }

    #[test]
    fn counters_by_position() {
        let fams = run("extent_alloc 1 872 0 0\nrw 28 0\nvnodes 4 0 0 0 1 1 1 0\nxpc 3571712 3568056 0\n").unwrap();
        let get = |name: &str| {
            fams.iter().find(|f| f.name == name).map(|f| match f.metrics[0].value {
                Value::Counter { total, .. } => total,
                _ => f64::NAN,
            })
        };
        let cases = [
            ("node_xfs_extent_allocation_blocks_allocated_total", Some(872.0)),
            ("node_xfs_write_calls_total", Some(28.0)),
            ("node_xfs_read_calls_total", Some(0.0)),
            ("node_xfs_vnode_active_total", Some(4.0)),
            ("node_xfs_directory_operation_lookup_total", None),
        ];
        for (name, want) in cases {
            assert_eq!(get(name), want, "{name}");
        }
    }

    #[test]
    fn malformed_stats_fail() {
        for bad in ["rw 28 x\n", "rw 28\n"] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
    }
}
