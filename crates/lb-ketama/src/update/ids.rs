//! Bucket ids across an update: the buckets that stay keep theirs, those that join take free ones.

use crate::chunked::book::Book;
use crate::update::Changes;

/// No bucket, or no old index.
pub(crate) const NONE: u32 = u32::MAX;

/// The ids of the buckets after an update.
#[derive(Debug)]
pub(crate) struct Ids {
    /// The id of each new bucket index.
    pub(crate) id_of: Vec<u32>,
    /// The new bucket index of each id ([`NONE`] for an id no bucket has).
    pub(crate) index_of: Vec<u32>,
    /// The old index of each new bucket index ([`NONE`] for a bucket that joined).
    pub(crate) old_of: Vec<u32>,
    /// The ids of the buckets that left.
    pub(crate) removed: Vec<u32>,
    /// Ids no bucket has after the update.
    pub(crate) free: Vec<u32>,
}

/// Whether `v` is strictly ascending and below `end`.
fn ascending_below(v: &[usize], end: usize) -> bool {
    v.windows(2).all(|w| w[0] < w[1]) && v.last().is_none_or(|&l| l < end)
}

impl Ids {
    /// The ids after `changes` of a ring whose ids are `book`'s and `index_of`, for `new_len`
    /// buckets; `None` when `changes` do not fit the counts. The ids of buckets that leave are not
    /// given to buckets that join in the same update, so that a point's id names one bucket.
    pub(crate) fn next(
        book: &Book,
        index_of: &[u32],
        changes: &Changes<'_>,
        new_len: usize,
    ) -> Option<Self> {
        let old_len = book.id_of.len();
        let (removed, added) = (changes.removed(), changes.added());
        let fits = ascending_below(removed, old_len)
            && ascending_below(added, new_len)
            && old_len - removed.len() + added.len() == new_len
            && new_len < NONE as usize;
        if !fits {
            return None;
        }
        let mut free = book.free.to_vec();
        let mut index_of = index_of.to_vec();
        let mut id_of = Vec::with_capacity(new_len);
        let mut old_of = Vec::with_capacity(new_len);
        let mut gone = Vec::with_capacity(removed.len());
        let (mut r, mut a, mut old) = (0, 0, 0);
        for new in 0..new_len {
            if added.get(a) == Some(&new) {
                a += 1;
                let id = match free.pop() {
                    Some(id) => id,
                    None => {
                        let id = u32::try_from(index_of.len()).ok().filter(|&i| i < NONE)?;
                        index_of.push(NONE);
                        id
                    }
                };
                id_of.push(id);
                old_of.push(NONE);
                continue;
            }
            while removed.get(r) == Some(&old) {
                gone.push(*book.id_of.get(old)?);
                r += 1;
                old += 1;
            }
            id_of.push(*book.id_of.get(old)?);
            // `old < old_len < NONE`: checked above.
            old_of.push(old as u32);
            old += 1;
        }
        for &o in &removed[r..] {
            gone.push(*book.id_of.get(o)?);
        }
        for &id in &gone {
            *index_of.get_mut(id as usize)? = NONE;
        }
        for (new, &id) in id_of.iter().enumerate() {
            // `new < new_len < NONE`: checked above.
            *index_of.get_mut(id as usize)? = new as u32;
        }
        free.extend_from_slice(&gone);
        Some(Ids {
            id_of,
            index_of,
            old_of,
            removed: gone,
            free,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(ids: &[u32], free: &[u32]) -> Book {
        Book {
            prefix: Box::new([]),
            count: Box::new([]),
            id_of: ids.into(),
            free: free.into(),
            hidden: Box::new([]),
            planned: 0,
            scaled: false,
            live: Box::new([]),
        }
    }

    #[test]
    fn kept_buckets_keep_their_ids_and_new_ones_take_free_ids() {
        // Old indices 0..4 have ids 3, 0, 4, 1; id 2 is free.
        let b = book(&[3, 0, 4, 1], &[2]);
        let index_of = [1, 3, NONE, 0, 2];
        // Remove old 1 (id 0) and 3 (id 1); add new 0 and new 3: new = [A, o0, o2, B].
        let ids = Ids::next(&b, &index_of, &Changes::new(&[1, 3], &[0, 3]), 4).unwrap();
        assert_eq!(ids.id_of[1..3], [3, 4], "kept buckets keep their ids");
        assert_eq!(ids.id_of[0], 2, "the free id first");
        assert_eq!(
            ids.id_of[3], 5,
            "then a fresh one, not an id that just left"
        );
        assert_eq!(ids.old_of, [NONE, 0, 2, NONE]);
        assert_eq!(ids.removed, [0, 1]);
        assert_eq!(ids.index_of, [NONE, NONE, 0, 1, 2, 3]);
        let mut free = ids.free.clone();
        free.sort_unstable();
        assert_eq!(free, [0, 1]);
    }

    #[test]
    fn changes_that_do_not_fit_are_refused() {
        let b = book(&[0, 1, 2], &[]);
        let index_of = [0, 1, 2];
        let next = |removed: &[usize], added: &[usize], len| {
            Ids::next(&b, &index_of, &Changes::new(removed, added), len).is_some()
        };
        assert!(next(&[], &[], 3));
        assert!(next(&[2], &[], 2));
        assert!(!next(&[3], &[], 2), "removed out of range");
        assert!(!next(&[1, 1], &[], 1), "removed twice");
        assert!(!next(&[], &[0], 3), "counts do not add up");
        assert!(!next(&[], &[4], 4), "added out of range");
        assert!(!next(&[], &[1, 0], 5), "added out of order");
    }
}
