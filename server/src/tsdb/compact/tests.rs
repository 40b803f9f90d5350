use super::*;
use crate::tsdb::block::{BlockCompaction, BlockMeta, BlockStats};

const H: i64 = 3_600_000;

fn meta(id: u128, min_time: i64, max_time: i64) -> BlockMeta {
    BlockMeta {
        ulid: Ulid(id),
        min_time,
        max_time,
        stats: BlockStats {
            num_series: 10,
            ..BlockStats::default()
        },
        compaction: BlockCompaction::default(),
        version: 1,
    }
}

#[test]
fn ranges_grow_by_three_and_respect_the_maximum() {
    assert_eq!(block_ranges(2 * H, 36 * H), vec![2 * H, 6 * H, 18 * H]);
    assert_eq!(block_ranges(2 * H, 2 * H), vec![2 * H]);
    assert_eq!(block_ranges(60_000, i64::MAX).len(), 10);
}

#[test]
fn plan_follows_upstream_leveled_compaction() {
    let ranges = block_ranges(2 * H, 54 * H);
    type Case = (&'static str, Vec<BlockMeta>, Vec<u128>);
    let cases: Vec<Case> = vec![
        ("nothing", vec![], vec![]),
        ("one block", vec![meta(1, 0, 2 * H)], vec![]),
        (
            "two blocks: the newest is left out",
            vec![meta(1, 0, 2 * H), meta(2, 2 * H, 4 * H)],
            vec![],
        ),
        (
            "a full 6h range before the newest block",
            vec![
                meta(1, 0, 2 * H),
                meta(2, 2 * H, 4 * H),
                meta(3, 4 * H, 6 * H),
                meta(4, 6 * H, 8 * H),
            ],
            vec![1, 2, 3],
        ),
        (
            "a partial range waits while the block after it is the newest",
            vec![meta(1, 0, 2 * H), meta(2, 2 * H, 4 * H), meta(4, 6 * H, 8 * H)],
            vec![],
        ),
        (
            "a partial range before the second newest block",
            vec![
                meta(1, 0, 2 * H),
                meta(2, 2 * H, 4 * H),
                meta(3, 8 * H, 10 * H),
                meta(4, 12 * H, 14 * H),
            ],
            vec![1, 2],
        ),
        (
            "the range holding the newest block waits",
            vec![meta(1, 0, 2 * H), meta(2, 2 * H, 4 * H)],
            vec![],
        ),
        (
            "overlapping blocks first",
            vec![meta(1, 0, 2 * H), meta(2, H, 3 * H), meta(3, 10 * H, 12 * H)],
            vec![1, 2],
        ),
        (
            "three 6h blocks make 18h",
            vec![
                meta(1, 0, 6 * H),
                meta(2, 6 * H, 12 * H),
                meta(3, 12 * H, 18 * H),
                meta(4, 18 * H, 20 * H),
            ],
            vec![1, 2, 3],
        ),
    ];
    for (name, metas, want) in cases {
        let got: Vec<u128> = plan(&metas, &ranges).into_iter().map(|u| u.0).collect();
        assert_eq!(got, want, "{name}");
    }
    // A big block with many tombstones is rewritten alone.
    let mut big = meta(1, 0, 54 * H);
    big.stats.num_tombstones = 5;
    let got = plan(&[big, meta(2, 54 * H, 56 * H)], &ranges);
    assert_eq!(got, vec![Ulid(1)]);
}
