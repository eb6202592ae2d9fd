//! The points an update removes and adds.

use crate::bucket::Bucket;
use crate::chunked::book::Book;
use crate::crc::PointChain;
use crate::error::Error;
use crate::plan::{Overflow, plan};
use crate::update::MAX_CHANGE_SHARE;
use crate::update::ids::{Ids, NONE};
use crate::version::{DEFAULT_POINT_MULTIPLE, MAX_POINTS};

/// The points an update removes and adds, and each bucket id's points after it.
#[derive(Debug)]
pub(crate) struct Edits {
    /// Points that leave, as `hash << 32 | id`, sorted.
    pub(crate) minus: Vec<u64>,
    /// Points that join, as `hash << 32 | id`, sorted.
    pub(crate) plus: Vec<u64>,
    /// The points of each id (before ties).
    pub(crate) count: Vec<u32>,
    /// `crc32(HOST "\0" PORT)` of each id with points.
    pub(crate) prefix: Vec<u32>,
    /// The sum of `count`.
    pub(crate) planned: u64,
}

/// Points `from..to` of the chain of `prefix`, as keys of bucket `id`.
fn chain(out: &mut Vec<u64>, prefix: u32, from: u64, to: u64, id: u32) {
    let mut chain = PointChain::new(prefix);
    for _ in 0..from {
        chain.step();
    }
    for _ in from..to {
        out.push((u64::from(chain.step()) << 32) | u64::from(id));
    }
}

impl Edits {
    /// The edits of an update to `buckets` with the ids `ids` of a ring whose books are `book`.
    /// `None` when the change is too large to be worth updating; the error of a build when the
    /// new ring would have more than [`MAX_POINTS`] points.
    pub(crate) fn collect(
        book: &Book,
        ids: &Ids,
        buckets: &[Bucket],
    ) -> Result<Option<Self>, Error> {
        let multiple = u64::from(DEFAULT_POINT_MULTIPLE);
        let mut count = book.count.to_vec();
        let mut prefix = book.prefix.to_vec();
        count.resize(ids.index_of.len(), 0);
        prefix.resize(ids.index_of.len(), 0);
        // First the counts: the new total decides whether the ring can be built at all, before a
        // chain is generated.
        let mut planned = book.planned;
        let mut moved = 0u64;
        let mut tails = Vec::new();
        for &id in &ids.removed {
            let c = std::mem::take(&mut count[id as usize]);
            planned -= u64::from(c);
            moved += u64::from(c);
            tails.push((id, u64::from(c), 0));
        }
        for (b, (&id, &old)) in buckets.iter().zip(ids.id_of.iter().zip(&ids.old_of)) {
            let want = u64::from(b.weight()) * multiple;
            let have = if old == NONE {
                0
            } else {
                u64::from(count[id as usize])
            };
            if want != have {
                planned = planned - have + want;
                moved += want.abs_diff(have);
                tails.push((id, have, want));
            }
        }
        if planned > MAX_POINTS {
            // The build's own error, naming the heaviest bucket.
            return plan(buckets, DEFAULT_POINT_MULTIPLE, MAX_POINTS, Overflow::Fail).map(|_| None);
        }
        if moved > planned / MAX_CHANGE_SHARE {
            return Ok(None);
        }
        let (mut minus, mut plus) = (Vec::new(), Vec::new());
        let mut scratch = String::new();
        for (id, have, want) in tails {
            let i = id as usize;
            if want < have {
                // A bucket that left (`want` 0) or lost weight: the tail of its chain goes.
                chain(&mut minus, prefix[i], want, have, id);
            } else if want > have {
                if have == 0 {
                    // A bucket that joined or had no points: its name is new to the ring. An id
                    // whose count grows has a bucket: `Ids::next` gave it its index.
                    let bucket = buckets.get(ids.index_of[i] as usize);
                    prefix[i] = bucket.map_or(0, |b| b.prefix_hash(&mut scratch));
                }
                chain(&mut plus, prefix[i], have, want, id);
            }
            // `want <= planned <= MAX_POINTS < 2^32`: checked above.
            count[i] = want as u32;
        }
        minus.sort_unstable();
        plus.sort_unstable();
        Ok(Some(Edits {
            minus,
            plus,
            count,
            prefix,
            planned,
        }))
    }
}
