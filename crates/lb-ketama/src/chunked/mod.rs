//! The chunked layout of a [`Version::V1`](crate::Version::V1) ring: the points of each chunk of
//! the hash space stored apart, so that a change replaces the chunks it touches and shares the
//! rest with the ring it came from ([`Continuum::with_changes`](crate::Continuum::with_changes)).
//!
//! The top bits of a hash choose its *chunk*, the next [`SUBS_LOG2`](entry::SUBS_LOG2) bits its
//! *sub-slot*. A table holds one [`Entry`] per chunk: the chunk's rank, where its points are, and
//! where each sub-slot's points start, so that a lookup reads one entry and then counts the 1 to
//! 4 points of a sub-slot, as the flat layout's lookup table does. A chunk's points are in one of
//! up to [`MAX_BUFFERS`](entry::MAX_BUFFERS) buffers: buffer 0 (the *base*) is the flat array a
//! build writes, and every update writes the chunks it changes into one new buffer.
//!
//! Points store a stable bucket *id*, not the bucket's index: an update that inserts a bucket
//! shifts the indices of the buckets after it, but not their ids. A small table maps ids to the
//! current indices.

pub(crate) mod book;
pub(crate) mod entry;

use std::sync::Arc;

use crate::index::first_not_below;
use crate::plan::Plan;
use book::Book;
use entry::{Entry, LONG, SUBS_LOG2};

/// The points of a chunked ring and what a lookup needs; see the module docs.
#[derive(Clone, Debug)]
pub(crate) struct Chunked {
    /// One entry per chunk, `2^chunk_bits` of them.
    pub(crate) table: Box<[Entry]>,
    /// `32 - chunk_bits`: a hash's chunk is `hash >> chunk_shift` (in 64 bits).
    pub(crate) chunk_shift: u32,
    /// Buffer 0: sorted `hash << 32 | id` points, as a build writes them.
    pub(crate) base: Arc<Vec<u64>>,
    /// Buffers 1 and on, written by updates.
    pub(crate) deltas: Box<[Arc<[u64]>]>,
    /// The number of points.
    pub(crate) len: usize,
    /// The bucket index of each bucket id; `u32::MAX` for an id no bucket has.
    pub(crate) index_of: Box<[u32]>,
    /// What an update needs beyond a lookup.
    pub(crate) book: Box<Book>,
}

/// A point of a chunked ring: chunk `chunk`, its point `at` (which may be the chunk's length: the
/// point after it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    chunk: usize,
    at: usize,
}

impl Chunked {
    /// The chunked ring a build made over `buckets` buckets: its chunk `table`, sorted `points`
    /// (`hash << 32 | bucket index`: a bucket's id is its index), the points `dropped` in ties and
    /// the buckets' `prefixes`.
    pub(crate) fn from_build(
        buckets: usize,
        plan: &Plan,
        table: Box<[Entry]>,
        chunk_shift: u32,
        mut points: Vec<u64>,
        mut dropped: Vec<u64>,
        mut prefixes: Vec<u32>,
    ) -> Self {
        points.shrink_to_fit();
        dropped.sort_unstable();
        // Buckets past 2^32 - 1 get no points (see `plan`); their ids would not fit, and an
        // update of such a ring builds afresh.
        let ids = buckets.min(u32::MAX as usize);
        let id_of: Box<[u32]> = (0..ids as u32).collect();
        let mut count = plan.counts.clone();
        count.resize(ids, 0);
        prefixes.resize(ids, 0);
        let len = points.len();
        Chunked {
            table,
            chunk_shift,
            base: Arc::new(points),
            deltas: Box::new([]),
            len,
            index_of: id_of.clone(),
            book: Box::new(Book {
                prefix: prefixes.into_boxed_slice(),
                count: count.into_boxed_slice(),
                id_of,
                free: Box::new([]),
                hidden: dropped.into_boxed_slice(),
                planned: plan.total as u64,
                scaled: plan.scaled || ids < buckets,
                live: Box::new([len as u64]),
            }),
        }
    }

    /// The sub-slot shift.
    #[inline(always)]
    pub(crate) fn sub_shift(&self) -> u32 {
        self.chunk_shift - SUBS_LOG2
    }

    /// The points of buffer `buf`.
    #[inline(always)]
    pub(crate) fn buffer(&self, buf: usize) -> &[u64] {
        if buf == 0 {
            &self.base
        } else {
            self.deltas.get(buf - 1).map_or(&[], |d| &d[..])
        }
    }

    /// The entry of chunk `c`; an empty one past the end (callers stay in range).
    #[inline(always)]
    pub(crate) fn entry(&self, c: usize) -> Entry {
        self.table
            .get(c)
            .copied()
            .unwrap_or([u64::from(self.len as u32), 0])
    }

    /// The number of points of chunk `c`, whose entry is `e`.
    #[inline]
    pub(crate) fn chunk_len(&self, c: usize, e: &Entry) -> usize {
        let short = entry::short_len(e);
        if short < LONG {
            return short;
        }
        let next = self.table.get(c + 1).map_or(self.len, entry::rank);
        next.saturating_sub(entry::rank(e))
    }

    /// The points of chunk `c`.
    pub(crate) fn chunk_points(&self, c: usize) -> &[u64] {
        let e = self.entry(c);
        let (buf, off) = entry::loc(&e);
        let len = self.chunk_len(c, &e);
        self.buffer(buf).get(off..off + len).unwrap_or(&[])
    }

    /// The first point whose hash is `>= hash` (possibly the point after a chunk's last), and its
    /// position (which is the ring's length past the last point).
    #[inline(always)]
    pub(crate) fn find(&self, hash: u32) -> (Cursor, usize) {
        let c = (u64::from(hash) >> self.chunk_shift) as usize;
        let e = self.entry(c);
        if entry::short_len(&e) == LONG {
            return self.find_long(c, &e, hash);
        }
        let (at, _, _) = self.search_short(&e, hash);
        (Cursor { chunk: c, at }, entry::rank(&e) + at)
    }

    /// The cursor of the first point whose hash is `>= hash`, and that point when it is in the
    /// chunk the hash falls in (as it is unless that chunk has no point at or past the hash):
    /// [`find`](Self::find) without the position, and with the point it has just read, so that
    /// a lookup does not go through the chunk's entry again.
    #[inline(always)]
    pub(crate) fn find_point(&self, hash: u32) -> (Cursor, Option<u64>) {
        let c = (u64::from(hash) >> self.chunk_shift) as usize;
        let e = self.entry(c);
        let len = entry::short_len(&e);
        if len == LONG {
            return (self.find_long(c, &e, hash).0, None);
        }
        let (at, points, off) = self.search_short(&e, hash);
        let point = if at < len {
            points.get(off + at).copied()
        } else {
            None
        };
        (Cursor { chunk: c, at }, point)
    }

    /// In a short chunk (entry `e`), the position within the chunk of the first point whose hash
    /// is `>= hash`, searched in the hash's sub-range only; with the buffer the chunk lies in and
    /// its offset there.
    #[inline(always)]
    fn search_short(&self, e: &Entry, hash: u32) -> (usize, &[u64], usize) {
        let sub = ((u64::from(hash) >> self.sub_shift()) as u32) & ((1 << SUBS_LOG2) - 1);
        let (lo, hi) = entry::sub_range(e, sub);
        let (buf, off) = entry::loc(e);
        let points = self.buffer(buf);
        let key = u64::from(hash) << 32;
        let at = first_not_below(off + lo, off + hi, |i| {
            points.get(i).is_some_and(|&p| p < key)
        }) - off;
        (at, points, off)
    }

    /// [`find`](Self::find) in a long chunk: a binary search of the whole chunk.
    #[cold]
    fn find_long(&self, c: usize, e: &Entry, hash: u32) -> (Cursor, usize) {
        let (buf, off) = entry::loc(e);
        let len = self.chunk_len(c, e);
        let points = self.buffer(buf).get(off..off + len).unwrap_or(&[]);
        let key = u64::from(hash) << 32;
        let at = points.partition_point(|&p| p < key);
        (Cursor { chunk: c, at }, entry::rank(e) + at)
    }

    /// The cursor of the point at position `pos`, if there is one.
    pub(crate) fn locate(&self, pos: usize) -> Option<Cursor> {
        if pos >= self.len {
            return None;
        }
        // The last chunk starting at or before `pos` holds it: a chunk after an empty one starts
        // where the empty one does.
        let c = self
            .table
            .partition_point(|e| entry::rank(e) <= pos)
            .checked_sub(1)?;
        let at = pos - entry::rank(&self.table[c]);
        Some(Cursor { chunk: c, at })
    }

    /// The cursor at the first point of a chunk at or after `cur` (wrapping to the first chunk),
    /// and the point there; `None` on an empty ring.
    #[inline]
    fn settle(&self, cur: &mut Cursor) -> Option<u64> {
        if self.len == 0 {
            return None;
        }
        // Some chunk has a point: this loop ends within one lap of the table.
        loop {
            let e = self.entry(cur.chunk);
            if cur.at < self.chunk_len(cur.chunk, &e) {
                let (buf, off) = entry::loc(&e);
                return self.buffer(buf).get(off + cur.at).copied();
            }
            cur.chunk += 1;
            cur.at = 0;
            if cur.chunk >= self.table.len() {
                cur.chunk = 0;
            }
        }
    }

    /// The bucket index of a point's id.
    #[inline(always)]
    pub(crate) fn index_of(&self, point: u64) -> usize {
        self.index_of
            .get(point as u32 as usize)
            .map_or(usize::MAX, |&i| i as usize)
    }

    /// Moves `cur` to the point after it, in the same chunk or a later one.
    #[inline(always)]
    pub(crate) fn step(cur: &mut Cursor) {
        cur.at += 1;
    }

    /// The bucket index of the point at `cur` (moving it to that point, if it was past a chunk's
    /// end), and moves `cur` to the next point.
    #[inline]
    pub(crate) fn next_bucket(&self, cur: &mut Cursor) -> Option<usize> {
        let point = self.settle(cur)?;
        cur.at += 1;
        Some(self.index_of(point))
    }

    /// The position of `cur`'s point (0 past the last point).
    pub(crate) fn position(&self, cur: &Cursor) -> usize {
        let pos = entry::rank(&self.entry(cur.chunk)) + cur.at;
        if pos >= self.len { 0 } else { pos }
    }

    /// The point (`hash << 32 | id`) at position `pos`.
    pub(crate) fn point_at(&self, pos: usize) -> Option<u64> {
        let mut cur = self.locate(pos)?;
        self.settle(&mut cur)
    }

    /// Heap bytes held, buffers shared with other rings included.
    pub(crate) fn heap_size(&self) -> usize {
        std::mem::size_of_val(&*self.table)
            + std::mem::size_of_val(&**self.base)
            + self
                .deltas
                .iter()
                .map(|d| std::mem::size_of_val(&**d))
                .sum::<usize>()
            + std::mem::size_of_val(&*self.index_of)
            + self.book.heap_size()
    }
}

#[cfg(test)]
mod tests;
