//! Sorting partitions on several threads and writing each, in order, to the front of the buffer the
//! partitions came from.
//!
//! Threads take partitions from a queue in order, sort and de-duplicate each in their own scratch
//! buffer, and hand it over. Whichever thread hands over the partition that is next in line writes
//! it, and any that follow and are ready, after the points written so far: no thread waits for
//! another, no job is fixed in advance, and every point is written once, where the ring needs it.
//!
//! Writing in place is safe because a partition is written only after it and every partition
//! before it has been read, and the points kept never outnumber the points read: the writer only
//! ever covers regions that it has been handed.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::radix::{PartitionSorter, prefix_sum};
use crate::workers::{lock, on_threads};

/// One partition to sort: its regions, each with the number of points at its start, and the
/// lookup-table counts of its slots, `slots[s - first_slot]` for slot `s`.
#[derive(Debug)]
pub(crate) struct Partition<'a> {
    pub(crate) regions: Vec<(&'a mut [u64], usize)>,
    pub(crate) slots: &'a mut [u32],
    pub(crate) first_slot: usize,
}

/// A sorted, de-duplicated partition waiting for its turn.
#[derive(Debug)]
struct Sorted<'a> {
    keys: Vec<u64>,
    regions: Vec<(&'a mut [u64], usize)>,
    /// Running totals of the points kept per slot, from 0 within the partition.
    slots: &'a mut [u32],
}

/// Where the next point goes: the regions handed to the writer and not yet filled, from `offset` in
/// the first.
#[derive(Debug, Default)]
struct Cursor<'a> {
    regions: VecDeque<&'a mut [u64]>,
    offset: usize,
    written: usize,
}

impl<'a> Cursor<'a> {
    fn write(&mut self, mut keys: &[u64]) {
        while let Some(front) = self.regions.front_mut() {
            let n = (front.len() - self.offset).min(keys.len());
            front[self.offset..self.offset + n].copy_from_slice(&keys[..n]);
            (self.offset, self.written, keys) = (self.offset + n, self.written + n, &keys[n..]);
            if self.offset < front.len() {
                break;
            }
            self.regions.pop_front();
            self.offset = 0;
        }
        // The regions of the partitions read so far hold at least as many points as are kept.
        debug_assert!(keys.is_empty(), "{} points found no room", keys.len());
    }
}

/// What the threads share besides the queue.
#[derive(Debug)]
struct Ready<'a> {
    /// The position of the next partition to write, and the sorted partitions waiting, by position.
    next: usize,
    waiting: Vec<Option<Sorted<'a>>>,
    /// Taken by the thread that is writing.
    cursor: Option<Cursor<'a>>,
    /// Scratch buffers written out and free for the next sort.
    spare: Vec<Vec<u64>>,
}

/// Sorts `partitions` (in ring order) on up to `threads` threads and writes them, de-duplicated,
/// back to back from the start of the first partition's first region. Turns each partition's slot
/// counts into positions in the ring, and returns the number of points kept.
pub(crate) fn sort_in_order(partitions: Vec<Partition<'_>>, threads: usize, bits: u32) -> usize {
    let count = partitions.len();
    let queue = Mutex::new(partitions.into_iter().enumerate().collect::<VecDeque<_>>());
    let ready = Mutex::new(Ready {
        next: 0,
        waiting: (0..count).map(|_| None).collect(),
        cursor: Some(Cursor::default()),
        spare: Vec::new(),
    });
    let slot_shift = 32 - bits;
    on_threads(threads, || {
        let mut sorter = PartitionSorter::default();
        loop {
            let next = lock(&queue).pop_front();
            let Some((position, partition)) = next else {
                break;
            };
            let Partition {
                regions,
                slots,
                first_slot,
            } = partition;
            let mut inputs: Vec<&[u64]> = Vec::with_capacity(regions.len());
            inputs.extend(regions.iter().map(|(r, fill)| &r[..*fill]));
            let sorted = sorter.sort(&inputs);
            let kept = dedup(sorted, slots, first_slot, slot_shift);
            prefix_sum(slots);
            let spare = lock(&ready).spare.pop().unwrap_or_default();
            let keys = sorter.take(kept, spare);
            hand_over(
                &ready,
                position,
                Sorted {
                    keys,
                    regions,
                    slots,
                },
            );
        }
    });
    let ready = ready
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    ready.cursor.map_or(0, |c| c.written)
}

/// Files `sorted` as the partition at `position`; if it is next in line and nobody is writing,
/// writes it and every partition ready after it.
fn hand_over<'a>(ready: &Mutex<Ready<'a>>, position: usize, sorted: Sorted<'a>) {
    let mut r = lock(ready);
    r.waiting[position] = Some(sorted);
    // Nobody writing means `cursor` is there; otherwise its holder writes this one too.
    let Some(mut cursor) = r.cursor.take() else {
        return;
    };
    loop {
        let next = r.next;
        let Some(Sorted {
            keys,
            regions,
            slots,
        }) = r.waiting.get_mut(next).and_then(Option::take)
        else {
            break;
        };
        drop(r);
        cursor
            .regions
            .extend(regions.into_iter().map(|(region, _)| region));
        // At most 2^26 points: positions fit in 32 bits.
        let at = cursor.written as u32;
        cursor.write(&keys);
        for s in slots.iter_mut() {
            *s += at;
        }
        r = lock(ready);
        r.spare.push(keys);
        r.next = next + 1;
    }
    r.cursor = Some(cursor);
}

/// Keeps the first point of each hash in `sorted`, in place, and counts the points kept per slot.
/// Of equal hashes it keeps the lowest bucket, the smallest key. Returns the number kept.
pub(crate) fn dedup(
    sorted: &mut [u64],
    slots: &mut [u32],
    first_slot: usize,
    slot_shift: u32,
) -> usize {
    let mut kept = 0usize;
    let mut last = u64::MAX;
    for i in 0..sorted.len() {
        let key = sorted[i];
        if key >> 32 != last {
            last = key >> 32;
            sorted[kept] = key;
            kept += 1;
            // The partition's slots are the slots of its keys.
            slots[((key >> 32) >> slot_shift) as usize - first_slot] += 1;
        } else if key < sorted[kept - 1] {
            sorted[kept - 1] = key;
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dedup_keeps_the_lowest_bucket_of_each_hash() {
        let k = |h: u64, b: u64| h << 32 | b;
        let mut keys = [k(1, 5), k(1, 2), k(1, 9), k(3, 0), k(7, 4), k(7, 1)];
        let mut slots = [0u32; 4];
        // Two slot bits: a hash's slot is its top two bits, so all of these are in slot 0.
        let kept = dedup(&mut keys, &mut slots, 0, 30);
        assert_eq!(&keys[..kept], [k(1, 2), k(3, 0), k(7, 1)]);
        assert_eq!(slots, [3, 0, 0, 0]);
    }

    #[test]
    fn cursor_writes_across_regions() {
        let mut buf = [0u64; 10];
        let mut c = Cursor::default();
        c.regions.extend(buf.chunks_mut(3));
        c.write(&[1, 2]);
        c.write(&[3, 4, 5, 6]);
        c.write(&[]);
        c.write(&[7]);
        assert_eq!(c.written, 7);
        drop(c);
        assert_eq!(buf, [1, 2, 3, 4, 5, 6, 7, 0, 0, 0]);
    }
}
