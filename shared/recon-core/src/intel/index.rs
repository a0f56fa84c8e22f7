//! The lookup structure behind every list: sorted, disjoint address segments, each labelled with
//! the most specific entry covering it, plus a 65,536-bucket table on the top 16 address bits.
//!
//! Overlapping entries are resolved once, when the index is built, so a lookup is one table read
//! and a binary search over the few segments starting in the address's bucket. Lookups never
//! allocate. IPv4 addresses are `u32`, IPv6 addresses `u128`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Number of buckets in the top-16-bit table.
const BUCKETS: usize = 1 << 16;

/// Below this many segments a binary search stays within a few cache lines and beats a read of
/// the 256 KiB table, so none is built.
const TABLE_MIN_SEGMENTS: usize = 4096;

/// An address family's integer form: `u32` for IPv4, `u128` for IPv6.
pub(crate) trait Addr: Copy + Ord + std::fmt::Debug {
    /// The highest address.
    const MAX: Self;
    /// The next address, or `None` after [`Addr::MAX`].
    fn succ(self) -> Option<Self>;
    /// The previous address (wrapping; only called on addresses above zero).
    fn pred(self) -> Self;
    /// `last - first`, widened: smaller means more specific.
    fn width(first: Self, last: Self) -> u128;
    /// The top 16 bits, as a bucket number.
    fn bucket(self) -> usize;
    /// The first address of a bucket.
    fn bucket_base(bucket: usize) -> Self;
}

impl Addr for u32 {
    const MAX: Self = u32::MAX;

    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }

    fn pred(self) -> Self {
        self.wrapping_sub(1)
    }

    fn width(first: Self, last: Self) -> u128 {
        u128::from(last.wrapping_sub(first))
    }

    fn bucket(self) -> usize {
        (self >> 16) as usize
    }

    fn bucket_base(bucket: usize) -> Self {
        (bucket as u32) << 16
    }
}

impl Addr for u128 {
    const MAX: Self = u128::MAX;

    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }

    fn pred(self) -> Self {
        self.wrapping_sub(1)
    }

    fn width(first: Self, last: Self) -> u128 {
        last.wrapping_sub(first)
    }

    fn bucket(self) -> usize {
        (self >> 112) as usize
    }

    fn bucket_base(bucket: usize) -> Self {
        (bucket as u128) << 112
    }
}

/// One entry as inserted: an inclusive range and the id it reports. Among overlapping ranges the
/// narrowest wins, and among equally narrow ones the lowest id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Raw<A> {
    /// First address, inclusive.
    pub first: A,
    /// Last address, inclusive.
    pub last: A,
    /// The id a lookup inside this range reports.
    pub id: u32,
}

/// Sorted disjoint segments with their winning ids. `Default` is the empty index.
#[derive(Clone)]
pub(crate) struct RangeIndex<A> {
    starts: Vec<A>,
    /// Each segment's last address and id, side by side so a hit costs one read.
    tails: Vec<(A, u32)>,
    /// `table[b]` = number of segments starting below bucket `b`; `BUCKETS + 1` long, or empty
    /// when the index is small.
    table: Vec<u32>,
}

impl<A> std::fmt::Debug for RangeIndex<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RangeIndex")
            .field("segments", &self.starts.len())
            .field("bucket_table", &!self.table.is_empty())
            .finish()
    }
}

impl<A> Default for RangeIndex<A> {
    fn default() -> Self {
        RangeIndex {
            starts: Vec::new(),
            tails: Vec::new(),
            table: Vec::new(),
        }
    }
}

impl<A: Addr> RangeIndex<A> {
    /// Builds the index; `raw` may overlap and repeat. Also returns how many distinct
    /// `(first, last)` ranges it held.
    pub fn build(mut raw: Vec<Raw<A>>) -> (Self, usize) {
        raw.sort_unstable_by_key(|r| (r.first, r.last));
        let distinct = count_distinct(&raw);
        let mut index = RangeIndex::default();
        index.sweep(&raw);
        index.build_table();
        (index, distinct)
    }

    /// Number of disjoint segments.
    #[cfg(test)]
    pub fn segments(&self) -> usize {
        self.starts.len()
    }

    /// Iterates over the segments as `(first, last)`.
    pub fn iter(&self) -> impl Iterator<Item = (A, A)> + '_ {
        self.starts
            .iter()
            .copied()
            .zip(self.tails.iter().map(|&(end, _)| end))
    }

    /// The id of the most specific range holding `x`.
    #[inline]
    pub fn find(&self, x: A) -> Option<u32> {
        if self.starts.is_empty() {
            return None;
        }
        let (lo, hi) = self.window(x);
        let k = lo + self.starts.get(lo..hi)?.partition_point(|&s| s <= x);
        let i = k.checked_sub(1)?;
        let &(end, id) = self.tails.get(i)?;
        (end >= x).then_some(id)
    }

    /// The slice of `starts` the segment holding `x` (if any) ends its search in.
    #[inline]
    fn window(&self, x: A) -> (usize, usize) {
        let b = x.bucket();
        match (self.table.get(b), self.table.get(b + 1)) {
            (Some(&lo), Some(&hi)) => (lo as usize, hi as usize),
            _ => (0, self.starts.len()),
        }
    }

    /// Cuts the sorted ranges into elementary segments and keeps each one's narrowest cover.
    fn sweep(&mut self, raw: &[Raw<A>]) {
        let mut bounds: Vec<A> = Vec::with_capacity(raw.len() * 2);
        for r in raw {
            bounds.push(r.first);
            bounds.extend(r.last.succ());
        }
        bounds.sort_unstable();
        bounds.dedup();
        let mut heap: BinaryHeap<Reverse<(u128, u32, A)>> = BinaryHeap::new();
        let mut next = 0;
        for (i, &p) in bounds.iter().enumerate() {
            while let Some(r) = raw.get(next).filter(|r| r.first <= p) {
                heap.push(Reverse((A::width(r.first, r.last), r.id, r.last)));
                next += 1;
            }
            while heap.peek().is_some_and(|Reverse((_, _, last))| *last < p) {
                heap.pop();
            }
            if let Some(Reverse((_, id, _))) = heap.peek() {
                let end = bounds.get(i + 1).map_or(A::MAX, |b| b.pred());
                self.push(p, end, *id);
            }
        }
    }

    /// Appends a segment, merging it into the previous one when contiguous with the same id.
    fn push(&mut self, start: A, end: A, id: u32) {
        if let Some((prev_end, prev_id)) = self.tails.last_mut() {
            if *prev_id == id && prev_end.succ() == Some(start) {
                *prev_end = end;
                return;
            }
        }
        self.starts.push(start);
        self.tails.push((end, id));
    }

    fn build_table(&mut self) {
        let n = self.starts.len();
        if n < TABLE_MIN_SEGMENTS || u32::try_from(n).is_err() {
            return;
        }
        let mut table = Vec::with_capacity(BUCKETS + 1);
        let mut k = 0;
        for b in 0..BUCKETS {
            let base = A::bucket_base(b);
            while self.starts.get(k).is_some_and(|&s| s < base) {
                k += 1;
            }
            table.push(k as u32);
        }
        table.push(n as u32);
        self.table = table;
    }
}

fn count_distinct<A: Addr>(sorted: &[Raw<A>]) -> usize {
    let mut n = 0;
    let mut prev: Option<(A, A)> = None;
    for r in sorted {
        if prev != Some((r.first, r.last)) {
            n += 1;
            prev = Some((r.first, r.last));
        }
    }
    n
}

/// One bit per IPv4 /24: set when some threat entry touches that /24. A clear bit proves a miss
/// with a single memory read, which is what most flow-log records get.
#[derive(Clone, Default)]
pub(crate) struct V4Filter {
    words: Vec<u64>,
}

impl std::fmt::Debug for V4Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: u32 = self.words.iter().map(|w| w.count_ones()).sum();
        f.debug_struct("V4Filter").field("slash24s", &set).finish()
    }
}

impl V4Filter {
    /// Words in a full /24 bitmap (2^24 bits).
    const WORDS: usize = (1 << 24) / 64;

    /// Builds the filter over the segments of several indexes; empty when they have none.
    pub fn build<'a>(indexes: impl IntoIterator<Item = &'a RangeIndex<u32>>) -> Self {
        let mut filter = V4Filter::default();
        for index in indexes {
            for (first, last) in index.iter() {
                filter.set_range((first >> 8) as usize, (last >> 8) as usize);
            }
        }
        filter
    }

    /// True when some entry may hold `ip`; false proves a miss.
    #[inline]
    pub fn may_contain(&self, ip: u32) -> bool {
        let slot = (ip >> 8) as usize;
        self.words
            .get(slot / 64)
            .is_some_and(|w| w & (1 << (slot % 64)) != 0)
    }

    fn set_range(&mut self, lo: usize, hi: usize) {
        if self.words.is_empty() {
            self.words = vec![0; Self::WORDS];
        }
        let mut slot = lo;
        while slot <= hi {
            let Some(word) = self.words.get_mut(slot / 64) else {
                return;
            };
            if slot.is_multiple_of(64) && hi - slot >= 63 {
                *word = u64::MAX;
                slot += 64;
            } else {
                *word |= 1 << (slot % 64);
                slot += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(first: u32, last: u32, id: u32) -> Raw<u32> {
        Raw { first, last, id }
    }

    #[test]
    fn narrowest_range_wins_and_partial_overlaps_split() {
        let (idx, distinct) = RangeIndex::build(vec![
            raw(0, 99, 0),
            raw(10, 19, 1),
            raw(15, 15, 2),
            raw(50, 150, 3),
            raw(10, 19, 4),
        ]);
        assert_eq!(distinct, 4);
        assert_eq!(idx.find(5), Some(0));
        assert_eq!(idx.find(10), Some(1));
        assert_eq!(idx.find(15), Some(2));
        assert_eq!(idx.find(16), Some(1));
        assert_eq!(idx.find(20), Some(0));
        // [0,99] is narrower than [50,150]: it keeps 50..=99.
        assert_eq!(idx.find(99), Some(0));
        assert_eq!(idx.find(100), Some(3));
        assert_eq!(idx.find(150), Some(3));
        assert_eq!(idx.find(151), None);
    }

    #[test]
    fn extremes_and_table() {
        let mut v: Vec<Raw<u32>> = (0..5000)
            .map(|i| raw(i * 800_000, i * 800_000, i))
            .collect();
        v.push(raw(u32::MAX, u32::MAX, 9000));
        v.push(raw(0, u32::MAX, 9001));
        let (idx, _) = RangeIndex::build(v);
        assert!(!idx.table.is_empty());
        assert_eq!(idx.find(0), Some(0));
        assert_eq!(idx.find(1), Some(9001));
        assert_eq!(idx.find(800_000), Some(1));
        assert_eq!(idx.find(u32::MAX), Some(9000));
        assert_eq!(idx.find(u32::MAX - 1), Some(9001));
        let (v6, _) = RangeIndex::build(vec![Raw {
            first: 0u128,
            last: u128::MAX,
            id: 1,
        }]);
        assert_eq!(v6.find(u128::MAX), Some(1));
        assert_eq!(v6.segments(), 1);
    }

    /// The index agrees with a brute-force scan on random nested and crossing ranges, with and
    /// without the bucket table.
    #[test]
    fn agrees_with_brute_force() {
        let mut rng = crate::testing::Rng(0x2545_F491_4F6C_DD1D);
        let mut next = move || rng.next();
        for count in [50u32, 6000] {
            let ranges: Vec<Raw<u32>> = (0..count)
                .map(|id| {
                    let first = (next() as u32) & 0x00FF_FFFF;
                    let len = (next() as u32) % [1, 256, 65_536, 1 << 20][(id % 4) as usize];
                    raw(first, first.saturating_add(len), id)
                })
                .collect();
            let (idx, _) = RangeIndex::build(ranges.clone());
            assert_eq!(idx.table.is_empty(), count < TABLE_MIN_SEGMENTS as u32);
            for _ in 0..5000 {
                let x = (next() as u32) & 0x01FF_FFFF;
                let expect = ranges
                    .iter()
                    .filter(|r| r.first <= x && x <= r.last)
                    .min_by_key(|r| (r.last - r.first, r.id))
                    .map(|r| r.id);
                assert_eq!(idx.find(x), expect, "{x:#x}");
            }
        }
    }

    #[test]
    fn filter_marks_touched_slash24s() {
        let (idx, _) = RangeIndex::build(vec![
            raw(0x0102_0304, 0x0102_0304, 0),
            raw(0x0A00_0000, 0x0AFF_FFFF, 1),
        ]);
        let f = V4Filter::build([&idx]);
        assert!(f.may_contain(0x0102_03FF));
        assert!(!f.may_contain(0x0102_0400));
        assert!(f.may_contain(0x0A12_3456));
        assert!(!f.may_contain(0x0B00_0000));
        assert!(!V4Filter::default().may_contain(0));
    }
}
