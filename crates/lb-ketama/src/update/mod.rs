//! Updating a ring in proportion to a change: [`Changes`] and
//! [`Continuum::with_changes`](crate::Continuum::with_changes).
//!
//! On a chunked ring ([`Layout`](crate::Layout)) an update:
//!
//! 1. gives the buckets that joined free ids ([`ids`]) and lists the points that leave and join:
//!    every point of a bucket that left or joined, and the last points of a bucket whose weight
//!    went down or up (a bucket's points are a chain, so a weight change adds or removes its
//!    tail) ([`edits`]);
//! 2. rewrites each chunk those points fall in, resolving ties at each hash they touch as a
//!    build would (the point of the bucket with the lowest index wins; the others wait in a list
//!    of hidden points in case the winner leaves) ([`merge`]);
//! 3. writes those chunks into one new buffer and a new chunk table: the other entries are the
//!    old ones with their ranks moved by the points inserted or removed before them. Buffers that
//!    updates left mostly unused are merged into the new one as they go ([`table`]).
//!
//! Everything else (the other chunks' points, in the base and the older buffers) is shared with
//! the ring the update started from. A flat or compact ring, or a change too large to be worth
//! it, is built afresh.

mod edits;
mod ids;
mod merge;
mod table;

use std::net::SocketAddr;

use crate::bucket::Bucket;
use crate::chunked::Chunked;
use crate::chunked::book::Book;
use crate::continuum::{Continuum, Points};
use crate::error::Error;
use crate::layout::{CHUNKED_MIN_POINTS, Layout};
use crate::plan::Overflow;
use crate::version::Version;

/// How a ring's buckets changed: the buckets removed, as indices into the buckets the ring was
/// built over, and the buckets added, as indices into the new buckets; both ascending. Every other
/// bucket stayed, in the same order and under the same name; its weight may have changed. A
/// bucket that changed its name was removed and another added.
///
/// ```
/// use lb_ketama::Changes;
/// // Buckets a, b, c became a, c, d: b (index 1) left, d (new index 2) joined.
/// let changes = Changes::new(&[1], &[2]);
/// assert_eq!((changes.removed(), changes.added()), (&[1][..], &[2][..]));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes<'a> {
    removed: &'a [usize],
    added: &'a [usize],
}

impl<'a> Changes<'a> {
    /// The changes that removed the buckets at `removed` (indices into the old buckets) and added
    /// those at `added` (indices into the new buckets), both ascending.
    pub fn new(removed: &'a [usize], added: &'a [usize]) -> Self {
        Self { removed, added }
    }

    /// The indices, into the old buckets, of the buckets removed.
    pub fn removed(&self) -> &'a [usize] {
        self.removed
    }

    /// The indices, into the new buckets, of the buckets added.
    pub fn added(&self) -> &'a [usize] {
        self.added
    }
}

/// Share of the ring's points an update may add or remove before it builds afresh instead: a
/// larger change touches nearly every chunk, and a build is then about as fast.
const MAX_CHANGE_SHARE: u64 = 8;

impl Continuum {
    /// The ring over `buckets`, which are this ring's buckets changed as `changes` says: exactly
    /// the ring [`Builder::try_build`](crate::Builder::try_build) with this ring's options builds
    /// over `buckets` (every position holds the same point, every key maps to the same bucket),
    /// or the same error.
    ///
    /// A chunked ring ([`Layout`]) is updated in time proportional to the points that change,
    /// plus a copy of its chunk table and of the per-bucket arrays; it shares the chunks the
    /// change does not touch with `self`. A flat or [`Version::V2`] ring, a ring built with its
    /// weights scaled down ([`Continuum::new`] over [`MAX_POINTS`](crate::MAX_POINTS)), a change
    /// of more than an eighth of the points, and `changes` that do not fit the bucket counts
    /// (indices out of order or out of range) are built afresh. Only what it can check is
    /// checked: a bucket that `changes` says stayed must have kept its name.
    ///
    /// ```
    /// use lb_ketama::{Bucket, Changes, Continuum, Layout};
    ///
    /// let bucket = |i: u32, weight| Bucket::new(([10, 0, (i / 250) as u8, (i % 250) as u8], 80).into(), weight);
    /// let before: Vec<Bucket> = (0..1000).map(|i| bucket(i, 1)).collect();
    /// let ring = Continuum::builder().layout(Layout::Chunked).try_build(&before)?;
    ///
    /// // Bucket 10 leaves, bucket 500 weighs 3, and a new bucket joins at the end.
    /// let mut after = before.clone();
    /// after.remove(10);
    /// after[499] = bucket(500, 3);
    /// after.push(bucket(1000, 2));
    /// let updated = ring.with_changes(&after, &Changes::new(&[10], &[999]))?;
    ///
    /// let fresh = Continuum::builder().layout(Layout::Chunked).try_build(&after)?;
    /// assert_eq!(updated.len(), fresh.len());
    /// for key in 0..1000u32 {
    ///     assert_eq!(updated.bucket_idx(&key.to_le_bytes()), fresh.bucket_idx(&key.to_le_bytes()));
    /// }
    /// # Ok::<(), lb_ketama::Error>(())
    /// ```
    pub fn with_changes(&self, buckets: &[Bucket], changes: &Changes<'_>) -> Result<Self, Error> {
        if let Points::Chunked(chunked) = &self.points
            && let Some(ring) = self.update(chunked, buckets, changes)?
        {
            return Ok(ring);
        }
        Self::build(buckets, &self.options, Overflow::Fail)
    }

    /// The chunked update of [`with_changes`](Self::with_changes); `None` when the ring should be
    /// built afresh instead.
    pub(crate) fn update(
        &self,
        old: &Chunked,
        buckets: &[Bucket],
        changes: &Changes<'_>,
    ) -> Result<Option<Self>, Error> {
        if old.book.scaled || self.version() != Version::V1 {
            return Ok(None);
        }
        let Some(ids) = ids::Ids::next(&old.book, &old.index_of, changes, buckets.len()) else {
            return Ok(None);
        };
        let Some(edits) = edits::Edits::collect(&old.book, &ids, buckets)? else {
            return Ok(None);
        };
        if !keeps_geometry(old, edits.planned, self.options.layout_of()) {
            return Ok(None);
        }
        let Some(merged) = merge::merge(old, &edits.minus, &edits.plus, &ids.index_of) else {
            return Ok(None);
        };
        let Some(laid) = table::lay_out(old, merged) else {
            return Ok(None);
        };
        let addrs: Box<[Option<SocketAddr>]> = ids
            .old_of
            .iter()
            .zip(buckets)
            .map(|(&old, b)| match self.addrs.get(old as usize) {
                Some(&addr) if old != ids::NONE => addr,
                _ => b.addr(),
            })
            .collect();
        let socket_points =
            ids.id_of.iter().zip(addrs.iter()).any(|(&id, a)| {
                a.is_some() && edits.count.get(id as usize).is_some_and(|&c| c > 0)
            });
        let book = Book {
            prefix: edits.prefix.into_boxed_slice(),
            count: edits.count.into_boxed_slice(),
            id_of: ids.id_of.into_boxed_slice(),
            free: ids.free.into_boxed_slice(),
            hidden: laid.hidden.into_boxed_slice(),
            planned: edits.planned,
            scaled: false,
            live: laid.live.into_boxed_slice(),
        };
        let chunked = Chunked {
            table: laid.table.into_boxed_slice(),
            chunk_shift: old.chunk_shift,
            base: old.base.clone(),
            deltas: laid.deltas.into_boxed_slice(),
            len: laid.len,
            index_of: ids.index_of.into_boxed_slice(),
            book: Box::new(book),
        };
        Ok(Some(self.with_points(
            Points::Chunked(chunked),
            addrs,
            socket_points,
        )))
    }
}

/// Whether a ring of `planned` points may keep `old`'s chunks: an `Auto` ring that shrank well
/// below [`CHUNKED_MIN_POINTS`] becomes flat, and a ring whose sub-slots would hold on average
/// fewer than half a point or more than 8 (a build gives them 1 to 4) is built with a table of
/// its size. Both are built afresh, and an empty ring too.
fn keeps_geometry(old: &Chunked, planned: u64, layout: Layout) -> bool {
    let subs = (old.table.len() as u64) << crate::chunked::entry::SUBS_LOG2;
    let shrank = layout == Layout::Auto && planned < (CHUNKED_MIN_POINTS / 2) as u64;
    planned > 0 && !shrank && planned * 2 >= subs && planned < subs * 8
}

#[cfg(test)]
mod tests;
