//! Building a ring: the points of every bucket, sorted, de-duplicated and indexed, on one thread or
//! a few.
//!
//! Points are `hash << 32 | bucket` keys. Two phases, each split into jobs that run in parallel on
//! a large ring ([`workers::run`]):
//!
//! 1. **Generate.** Each job computes the point chains of a run of buckets, about the same number of
//!    points per job, and writes every point into its own region of the partition the point's top
//!    8 hash bits choose ([`generate`]). One buffer holds every region: partition by partition, one
//!    region per job, each sized for the expected count plus a wide margin.
//! 2. **Sort.** Each job takes a range of partitions, which is one contiguous part of the buffer,
//!    radix-sorts each partition in cache ([`PartitionSorter`]) and writes it back, de-duplicated, to
//!    the front of its part: the points kept so far never outnumber the regions already read, so
//!    this overwrites nothing still needed. Counting the points kept per slot along the way gives
//!    the lookup table ([`SlotIndex`]).
//!
//! The jobs' outputs are then moved together: the second job's, by the same threads in parallel
//! lanes ([`Lane`], [`workers::run_then`]); any later one's (with more than two threads) on the
//! calling thread. No comparison sort over the whole ring, and no second ring-sized buffer (but in
//! the rare case of a full region, see [`Layout::regroup`]). Of points with equal hashes the one
//! with the lowest bucket index is kept: the order nginx gets from glibc's stable `qsort` over its
//! servers in configuration order.

use crate::bucket::Bucket;
use crate::chunked::entry::{ChunkWriter, Entry, SUBS_LOG2, shift_all};
use crate::generate::{Generated, PARTITION_BITS, PARTITIONS, generate, room_for, split};
use crate::index::{SlotIndex, index_bits};
use crate::lanes::Lane;
use crate::plan::Plan;
use crate::radix::{PartitionSorter, prefix_sum};
use crate::workers;

/// The sorted, de-duplicated points of a ring, each as `hash << 32 | bucket`, and the lookup table
/// over them.
#[derive(Debug)]
pub(crate) struct Sorted {
    pub(crate) points: Vec<u64>,
    pub(crate) index: Index,
    /// Every point dropped for having another point's hash, as `hash << 32 | bucket`, in hash
    /// order.
    pub(crate) dropped: Vec<u64>,
    /// `crc32(HOST "\0" PORT)` of each bucket with points (0 for the others).
    pub(crate) prefixes: Vec<u32>,
    /// The number of threads the build used.
    pub(crate) threads: usize,
}

/// Which lookup table a build makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IndexKind {
    /// A [`SlotIndex`] over the flat points.
    Slots,
    /// A chunk table (see [`chunked`](crate::chunked)): one entry per 8 slots.
    Chunks,
}

/// The lookup table a build made.
#[derive(Debug)]
pub(crate) enum Index {
    Slots(SlotIndex),
    Chunks {
        table: Box<[Entry]>,
        /// `32 - chunk bits`.
        chunk_shift: u32,
    },
}

/// Rings with fewer points are built on the calling thread alone. From this size on, two threads
/// save a large share of the build when a CPU is free; smaller rings gain too little to be worth
/// the risk that the caller waits for a thread the system is slow to schedule.
pub(crate) const PARALLEL_MIN_POINTS: usize = 1 << 18;

/// The most threads a build uses, whatever it is asked for.
pub(crate) const MAX_THREADS: usize = 16;

/// Generates, sorts and de-duplicates the points of `plan`, indexing `2^per_slot_log2` to
/// `2^(per_slot_log2 + 1)` points per slot (in a table of `kind`), on up to `max_threads` threads
/// (the caller's included) when the ring has at least [`PARALLEL_MIN_POINTS`] points.
pub(crate) fn build(
    buckets: &[Bucket],
    plan: &Plan,
    per_slot_log2: u32,
    kind: IndexKind,
    max_threads: usize,
) -> Sorted {
    let threads = if plan.total < PARALLEL_MIN_POINTS {
        1
    } else {
        max_threads.min(workers::available())
    };
    build_with(buckets, plan, per_slot_log2, kind, threads, None)
}

/// [`build`] on exactly `threads` jobs per phase (at most [`MAX_THREADS`]), with the room of each
/// region forced when `room` is given, so that tests can make points spill.
fn build_with(
    buckets: &[Bucket],
    plan: &Plan,
    per_slot_log2: u32,
    kind: IndexKind,
    threads: usize,
    room: Option<usize>,
) -> Sorted {
    if plan.total == 0 {
        return Sorted {
            points: Vec::new(),
            index: match kind {
                IndexKind::Slots => Index::Slots(SlotIndex::empty()),
                IndexKind::Chunks => Index::Chunks {
                    table: Box::new([[0, 0]]),
                    chunk_shift: 32,
                },
            },
            dropped: Vec::new(),
            prefixes: vec![0; buckets.len()],
            threads: 1,
        };
    }
    // A table entry covers one slot, or a chunk of `2^SUBS_LOG2` slots.
    let bits = match kind {
        IndexKind::Slots => index_bits(plan.total, per_slot_log2),
        IndexKind::Chunks => index_bits(plan.total, per_slot_log2).max(SUBS_LOG2) - SUBS_LOG2,
    };
    // Jobs split the lookup table at partition boundaries, which needs an entry no wider than a
    // partition.
    let threads = if bits < PARTITION_BITS {
        1
    } else {
        threads.clamp(1, MAX_THREADS)
    };

    // Phase 1: region `p * threads + t` receives the points of run `t` in partition `p`.
    let runs = split(&plan.counts, plan.total, threads);
    let room = room
        .unwrap_or_else(|| room_for(plan.total.div_ceil(threads)))
        .max(1);
    let mut buf = vec![0u64; room * PARTITIONS * threads];
    let mut regions: Vec<Vec<&mut [u64]>> = (0..threads)
        .map(|_| Vec::with_capacity(PARTITIONS))
        .collect();
    for (i, region) in buf.chunks_mut(room).enumerate() {
        regions[i % threads].push(region);
    }
    let mut jobs: Vec<Option<_>> = runs.into_iter().zip(regions).map(Some).collect();
    // The lookup table takes a moment to zero: an extra job, for whichever thread is free first.
    let zeroed = || match kind {
        IndexKind::Slots => Table::Slots(vec![0u32; (1usize << bits) + 1]),
        IndexKind::Chunks => Table::Chunks(vec![[0u64; 2]; 1usize << bits]),
    };
    if threads > 1 {
        jobs.push(None);
    }
    let done = workers::run(threads, jobs, |job| match job {
        Some((run, mut r)) => Done::Points(generate(
            &buckets[run.clone()],
            &plan.counts[run.clone()],
            run.start,
            &mut r,
        )),
        None => Done::Table(zeroed()),
    });
    let (mut generated, mut table) = (Vec::with_capacity(threads), None);
    for d in done {
        match d {
            Done::Points(g) => generated.push(g),
            Done::Table(t) => table = Some(t),
        }
    }
    let mut table = table.unwrap_or_else(zeroed);
    let prefixes: Vec<u32> = generated
        .iter_mut()
        .flat_map(|g| std::mem::take(&mut g.prefixes))
        .collect();
    let (mut buf, layout) = if generated.iter().all(|g| g.spill.is_empty()) {
        Layout::new(buf, room, generated)
    } else {
        Layout::regroup(&buf, room, generated)
    };

    // Phase 2: job `j` sorts partitions `bounds[j]..bounds[j + 1]`, the part of the buffer from
    // `layout.start(bounds[j])`, and counts the points of its slots of the table.
    let bounds: Vec<usize> = (0..=threads).map(|j| j * PARTITIONS / threads).collect();
    let first_slot = |p: usize| (p << bits) >> PARTITION_BITS;
    let mut jobs = Vec::with_capacity(threads);
    let mut rest_buf = &mut buf[..];
    let mut rest_index = match &mut table {
        Table::Slots(starts) => Part::Slots(&mut starts[1..]),
        Table::Chunks(entries) => Part::Chunks(&mut entries[..]),
    };
    for pair in bounds.windows(2) {
        let (lo, hi) = (pair[0], pair[1]);
        let (chunk, tail) =
            std::mem::take(&mut rest_buf).split_at_mut(layout.start(hi) - layout.start(lo));
        let (index, index_tail) = rest_index.split_at(first_slot(hi) - first_slot(lo));
        jobs.push(Job {
            chunk,
            partitions: lo..hi,
            index,
            first_slot: first_slot(lo),
        });
        (rest_buf, rest_index) = (tail, index_tail);
    }
    // Then, on the same threads: move job 1's points next to job 0's (see `Lane`), and shift every
    // job's slot starts by the points before it.
    let (kept, dropped) = workers::run_then(
        threads,
        jobs,
        |job| sort_partitions(job, &layout, bits),
        |sorted| second_round(sorted, threads),
        |work| match work {
            Second::Move(lane) => lane.run(),
            Second::Shift(Part::Slots(slots), by) => {
                // At most 2^26 points: the starts fit in 32 bits.
                slots.iter_mut().for_each(|s| *s += by as u32)
            }
            Second::Shift(Part::Chunks(entries), by) => shift_all(entries, by),
        },
    );

    // Jobs after the second (with more than two threads) move on this thread, in order: each into
    // the room the previous one leaves.
    let mut w = kept.iter().take(2).sum::<usize>();
    for (pair, &k) in bounds.windows(2).zip(&kept).skip(2) {
        let from = layout.start(pair[0]);
        buf.copy_within(from..from + k, w);
        w += k;
    }
    buf.truncate(w);
    Sorted {
        points: buf,
        index: match table {
            Table::Slots(starts) => Index::Slots(SlotIndex::new(starts.into_boxed_slice(), bits)),
            Table::Chunks(entries) => Index::Chunks {
                table: entries.into_boxed_slice(),
                chunk_shift: 32 - bits,
            },
        },
        dropped,
        prefixes,
        threads,
    }
}

/// What a job of the first phase made.
enum Done {
    Points(Generated),
    /// The lookup table, zeroed.
    Table(Table),
}

/// A lookup table being built.
enum Table {
    /// The starts of a [`SlotIndex`].
    Slots(Vec<u32>),
    /// Chunk entries.
    Chunks(Vec<Entry>),
}

/// A job's part of the lookup table: slot counts (then starts), or chunk entries.
#[derive(Debug)]
enum Part<'a> {
    Slots(&'a mut [u32]),
    Chunks(&'a mut [Entry]),
}

impl<'a> Part<'a> {
    /// The first `n` entries, and the rest.
    fn split_at(&mut self, n: usize) -> (Part<'a>, Part<'a>) {
        match self {
            Part::Slots(s) => {
                let (a, b) = std::mem::take(s).split_at_mut(n);
                (Part::Slots(a), Part::Slots(b))
            }
            Part::Chunks(c) => {
                let (a, b) = std::mem::take(c).split_at_mut(n);
                (Part::Chunks(a), Part::Chunks(b))
            }
        }
    }
}

/// Where the points of each partition are: partition `p` has `regions` regions of `room` slots
/// from `start(p)`, region `t` holding `fill[t][p]` points.
#[derive(Debug)]
struct Layout {
    room: usize,
    regions: usize,
    fill: Vec<Vec<usize>>,
}

impl Layout {
    fn new(buf: Vec<u64>, room: usize, generated: Vec<Generated>) -> (Vec<u64>, Self) {
        let layout = Self {
            room,
            regions: generated.len(),
            fill: generated.into_iter().map(|g| g.fill).collect(),
        };
        (buf, layout)
    }

    /// The rare case of a full region: a new buffer with one region per partition, exactly as large
    /// as the largest partition, holding each partition's points and its spilled ones.
    fn regroup(buf: &[u64], room: usize, generated: Vec<Generated>) -> (Vec<u64>, Self) {
        let regions = generated.len();
        let mut spill: Vec<u64> = generated
            .iter()
            .flat_map(|g| g.spill.iter().copied())
            .collect();
        spill.sort_unstable();
        let spilled = |p: usize| {
            let lo = spill.partition_point(|&k| crate::generate::partition_of(k) < p);
            let hi = spill.partition_point(|&k| crate::generate::partition_of(k) <= p);
            &spill[lo..hi]
        };
        let count = |p: usize| -> usize {
            generated.iter().map(|g| g.fill[p]).sum::<usize>() + spilled(p).len()
        };
        let new_room = (0..PARTITIONS).map(count).max().unwrap_or(0).max(1);
        let mut out = vec![0u64; new_room * PARTITIONS];
        let mut fill = vec![0usize; PARTITIONS];
        for (p, dst) in out.chunks_mut(new_room).enumerate() {
            let mut w = 0;
            for (t, g) in generated.iter().enumerate() {
                let at = (p * regions + t) * room;
                let src = &buf[at..at + g.fill[p]];
                dst[w..w + src.len()].copy_from_slice(src);
                w += src.len();
            }
            let src = spilled(p);
            dst[w..w + src.len()].copy_from_slice(src);
            fill[p] = w + src.len();
        }
        let layout = Self {
            room: new_room,
            regions: 1,
            fill: vec![fill],
        };
        (out, layout)
    }

    /// The offset of partition `p`'s first region.
    fn start(&self, p: usize) -> usize {
        p * self.regions * self.room
    }
}

/// One sorting job: the partitions in `partitions`, whose regions `chunk` holds from its start, and
/// the table entries of their slots (or chunks), `index[s - first_slot]` for slot `s`.
#[derive(Debug)]
struct Job<'a> {
    chunk: &'a mut [u64],
    partitions: std::ops::Range<usize>,
    index: Part<'a>,
    first_slot: usize,
}

/// Sorts and de-duplicates the job's partitions into the front of its chunk, and indexes them:
/// slot counts turned into running totals, or chunk entries. Returns what it sorted, with the
/// number of points kept and each point dropped.
fn sort_partitions<'a>(job: Job<'a>, layout: &Layout, bits: u32) -> Sorting<'a> {
    let Job {
        chunk,
        partitions,
        index,
        first_slot,
    } = job;
    let shift = 32 - bits;
    match index {
        Part::Slots(slots) => {
            let mut sink = SlotCounter {
                slots,
                first_slot,
                shift,
            };
            let (kept, dropped) = sort_into(chunk, partitions, layout, &mut sink);
            prefix_sum(sink.slots);
            Sorting {
                chunk,
                index: Part::Slots(sink.slots),
                kept,
                dropped,
            }
        }
        Part::Chunks(entries) => {
            let mut sink = ChunkWriter::new(entries, first_slot, shift);
            let (kept, dropped) = sort_into(chunk, partitions, layout, &mut sink);
            Sorting {
                chunk,
                index: Part::Chunks(sink.finish()),
                kept,
                dropped,
            }
        }
    }
}

/// What indexes the points a sorting job keeps, told of each in hash order.
trait Sink {
    /// The point of hash `hash` is kept, at position `at` of the job's points.
    fn point(&mut self, hash: u32, at: usize);
}

/// Counts the points of each slot.
struct SlotCounter<'a> {
    slots: &'a mut [u32],
    first_slot: usize,
    shift: u32,
}

impl Sink for SlotCounter<'_> {
    #[inline(always)]
    fn point(&mut self, hash: u32, _at: usize) {
        // The job's slots are those of its partitions, and the hash is in one of them.
        self.slots[(u64::from(hash) >> self.shift) as usize - self.first_slot] += 1;
    }
}

impl Sink for ChunkWriter<'_> {
    #[inline(always)]
    fn point(&mut self, hash: u32, at: usize) {
        ChunkWriter::point(self, hash, at);
    }
}

/// Sorts and de-duplicates the partitions into the front of `chunk`, telling `sink` of each point
/// kept. Returns the number kept and every point dropped.
fn sort_into(
    chunk: &mut [u64],
    partitions: std::ops::Range<usize>,
    layout: &Layout,
    sink: &mut impl Sink,
) -> (usize, Vec<u64>) {
    let mut sorter = PartitionSorter::default();
    let base = layout.start(partitions.start);
    let mut w = 0usize;
    let mut dropped = Vec::new();
    for p in partitions {
        let mut parts: [&[u64]; MAX_THREADS] = [&[]; MAX_THREADS];
        for (t, part) in parts.iter_mut().enumerate().take(layout.regions) {
            let at = layout.start(p) - base + t * layout.room;
            *part = &chunk[at..at + layout.fill[t][p]];
        }
        let sorted = sorter.sort(&parts[..layout.regions]);
        // Keep the first point of each hash; of equal hashes keep the lowest bucket, the smallest key.
        // Partitions hold disjoint hashes, so the comparison starts afresh with each.
        let mut last = u64::MAX;
        for &key in sorted {
            if key >> 32 != last {
                last = key >> 32;
                chunk[w] = key;
                sink.point((key >> 32) as u32, w);
                w += 1;
            } else {
                let kept = chunk[w - 1].min(key);
                dropped.push(chunk[w - 1].max(key));
                chunk[w - 1] = kept;
            }
        }
    }
    (w, dropped)
}

/// A sorting job done: its part of the buffer holds `kept` points from the start.
#[derive(Debug)]
struct Sorting<'a> {
    chunk: &'a mut [u64],
    index: Part<'a>,
    kept: usize,
    dropped: Vec<u64>,
}

/// Work for the second round of phase 2.
#[derive(Debug)]
enum Second<'a> {
    Move(Lane<'a>),
    /// Add this to every slot start, or to every chunk's rank and offset.
    Shift(Part<'a>, usize),
}

/// The second round: every thread moves one lane of job 1's points (see [`Lane`]), and the slot
/// starts of every job after the first are shifted by the points before it. Returns the points
/// kept by each job and every point dropped.
#[allow(clippy::type_complexity)] // (work, (kept, dropped)), as `run_then` wants it.
fn second_round(
    sorted: Vec<Sorting<'_>>,
    threads: usize,
) -> (Vec<Second<'_>>, (Vec<usize>, Vec<u64>)) {
    let kept: Vec<usize> = sorted.iter().map(|s| s.kept).collect();
    let mut dropped = Vec::new();
    let mut work = Vec::new();
    let mut before = 0usize;
    let mut chunks = Vec::with_capacity(sorted.len());
    for s in sorted {
        dropped.extend_from_slice(&s.dropped);
        if before > 0 {
            work.push(Second::Shift(s.index, before));
        }
        before += s.kept;
        chunks.push((s.chunk, s.kept));
    }
    let mut chunks = chunks.into_iter();
    if let (Some((first, k0)), Some((second, k1))) = (chunks.next(), chunks.next()) {
        let lanes = Lane::split(&mut first[k0..], &mut second[..k1], threads);
        work.extend(lanes.into_iter().map(Second::Move));
    }
    (work, (kept, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Overflow, plan};

    fn slots(s: &Sorted) -> &SlotIndex {
        match &s.index {
            Index::Slots(index) => index,
            Index::Chunks { .. } => panic!("a slot index was asked for"),
        }
    }

    fn check(s: &Sorted, what: &str) {
        let hash = |k: &u64| (k >> 32) as u32;
        assert!(
            s.points.windows(2).all(|w| hash(&w[0]) < hash(&w[1])),
            "{what}: sorted"
        );
        for (pos, k) in s.points.iter().enumerate() {
            let (lo, hi) = slots(s).range(hash(k));
            assert!((lo..hi).contains(&pos), "{what}: point {pos} in its slot");
        }
    }

    /// Every chunk entry of a chunked build: each chunk's rank, location and sub-slot ends agree
    /// with the points.
    fn check_chunks(s: &Sorted, what: &str) {
        let Index::Chunks { table, chunk_shift } = &s.index else {
            panic!("{what}: a chunk table was asked for")
        };
        let sub_shift = chunk_shift - SUBS_LOG2;
        let chunk_of = |k: &u64| ((k >> 32) >> chunk_shift) as usize;
        let mut pos = 0;
        for (c, e) in table.iter().enumerate() {
            let len = s.points[pos..]
                .iter()
                .take_while(|k| chunk_of(k) == c)
                .count();
            let points = &s.points[pos..pos + len];
            assert_eq!(
                crate::chunked::entry::rank(e),
                pos,
                "{what}: chunk {c} rank"
            );
            assert_eq!(
                crate::chunked::entry::loc(e),
                (0, pos),
                "{what}: chunk {c} location"
            );
            assert_eq!(
                e[1],
                crate::chunked::entry::ends_of(points, sub_shift),
                "{what}: chunk {c} ends"
            );
            pos += len;
        }
        assert_eq!(pos, s.points.len(), "{what}: every point in a chunk");
    }

    #[test]
    fn build_sorts_dedups_and_indexes() {
        // Two buckets with the same name: every point ties, and bucket 0 keeps all of them.
        let buckets = [
            Bucket::named("x:1", 2),
            Bucket::named("x:1", 1),
            Bucket::named("y:1", 1),
        ];
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        let owner = |k: &u64| *k as u32;
        for threads in [1, 2, 3] {
            let s = build_with(&buckets, &p, 1, IndexKind::Slots, threads, None);
            assert_eq!(
                s.points.len(),
                480,
                "the 160 points of bucket 1 duplicate bucket 0's"
            );
            assert_eq!(s.points.iter().filter(|k| owner(k) == 1).count(), 0);
            assert_eq!(s.points.iter().filter(|k| owner(k) == 2).count(), 160);
            let losers: Vec<u64> = s.dropped.iter().map(|&k| k & 0xffff_ffff).collect();
            assert_eq!(losers, [1; 160], "bucket 1 lost all its points");
            check(&s, "ties");
        }
    }

    #[test]
    fn every_thread_count_and_room_builds_the_same_ring() {
        // Bucket 300 repeats bucket 0 (all its points tie), and weights differ.
        let mut buckets: Vec<Bucket> = (0..300)
            .map(|i| Bucket::named(format!("10.0.{}.{}:80", i / 200, i % 200), 1 + i % 3))
            .collect();
        buckets.push(Bucket::named("10.0.0.0:80", 2));
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        let one = build_with(&buckets, &p, 1, IndexKind::Slots, 1, None);
        check(&one, "one thread");
        assert_eq!(one.points, model(&buckets, &p));
        let owned = |b: u64| one.points.iter().filter(|&&k| k as u32 as u64 == b).count();
        assert_eq!(
            (owned(0), owned(300)),
            (160, 160),
            "bucket 300's first 160 points tie with bucket 0's and go to it"
        );
        // About 375 points per partition: radix sorted, and forced to spill with small rooms.
        for threads in [1, 2, 3, 4, 7, 16, 40] {
            for room in [None, Some(0), Some(1), Some(100), Some(360)] {
                let s = build_with(&buckets, &p, 1, IndexKind::Slots, threads, room);
                let what = format!("{threads} threads, room {room:?}");
                assert_eq!(s.points, one.points, "{what}");
                let mut dropped = s.dropped.clone();
                dropped.sort_unstable();
                assert_eq!(dropped.len(), p.total - s.points.len(), "{what}");
                let lost = dropped.iter().filter(|&&k| k as u32 == 300).count();
                assert_eq!(lost, 160, "{what}: bucket 300 loses the points it shares");
                check(&s, &what);
                for h in [0u32, 1 << 31, u32::MAX, 0x1234_5678] {
                    assert_eq!(slots(&s).range(h), slots(&one).range(h), "{what}");
                }
            }
        }
    }

    /// Every point, sorted by key, the first (lowest bucket) of each hash kept.
    fn model(buckets: &[Bucket], p: &Plan) -> Vec<u64> {
        let mut all = Vec::new();
        for (i, b) in buckets.iter().enumerate() {
            let mut chain = crate::crc::PointChain::new(b.prefix_hash(&mut String::new()));
            for _ in 0..p.counts[i] {
                all.push((u64::from(chain.step()) << 32) | i as u64);
            }
        }
        all.sort_unstable();
        all.dedup_by_key(|k| *k >> 32);
        all
    }

    #[test]
    fn small_tables_stay_on_one_job() {
        // 160 points index 6 bits: fewer than the partition bits, so one job does it all.
        let buckets = [Bucket::named("a:1", 1)];
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        let s = build_with(&buckets, &p, 1, IndexKind::Slots, 4, None);
        assert_eq!(s.points.len(), 160);
        check(&s, "small");
    }

    #[test]
    fn chunk_tables_agree_with_the_points_on_every_thread_count_and_room() {
        let buckets: Vec<Bucket> = (0..300)
            .map(|i| Bucket::named(format!("10.1.{}.{}:80", i / 200, i % 200), 1 + i % 3))
            .collect();
        let p = plan(&buckets, 160, 1 << 26, Overflow::Fail).unwrap();
        let flat = build_with(&buckets, &p, 1, IndexKind::Slots, 1, None);
        for threads in [1, 2, 3, 4] {
            for room in [None, Some(0), Some(100)] {
                let what = format!("{threads} threads, room {room:?}");
                let s = build_with(&buckets, &p, 1, IndexKind::Chunks, threads, room);
                assert_eq!(s.points, flat.points, "{what}");
                check_chunks(&s, &what);
                assert_eq!(s.prefixes.len(), buckets.len());
                let mut scratch = String::new();
                assert_eq!(
                    s.prefixes[7],
                    buckets[7].prefix_hash(&mut scratch),
                    "{what}"
                );
            }
        }
        // Tiny rings have one chunk (and a table too small for several jobs).
        let one = [Bucket::named("a:1", 1)];
        let p = plan(&one, 160, 1 << 26, Overflow::Fail).unwrap();
        let s = build_with(&one, &p, 0, IndexKind::Chunks, 4, None);
        check_chunks(&s, "one bucket");
    }
}
