//! Rewriting the chunks an update's points fall in, resolving ties as a build does.

use crate::chunked::Chunked;
use crate::chunked::entry;
use crate::update::ids::NONE;

/// A chunk rewritten by an update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NewChunk {
    /// Its index in the chunk table.
    pub(crate) chunk: usize,
    /// Where its points start in [`Merged::out`].
    pub(crate) off: usize,
    /// How many points it has now.
    pub(crate) len: usize,
    /// Its sub-slot ends (see [`entry::ends_of`]).
    pub(crate) ends: u64,
    /// How many points it had.
    pub(crate) old_len: usize,
    /// The buffer its points were in.
    pub(crate) old_buf: usize,
}

/// The chunks an update rewrote, and the points hidden by ties after it.
#[derive(Debug)]
pub(crate) struct Merged {
    /// The rewritten chunks' points, one chunk after the other.
    pub(crate) out: Vec<u64>,
    /// The rewritten chunks, in chunk order.
    pub(crate) chunks: Vec<NewChunk>,
    /// Every point that lost a tie, sorted by hash.
    pub(crate) hidden: Vec<u64>,
}

fn hash(key: u64) -> u32 {
    (key >> 32) as u32
}

/// The hash of the next edit, if any.
fn next_hash(minus: &[u64], plus: &[u64]) -> Option<u32> {
    match (minus.first(), plus.first()) {
        (None, None) => None,
        (Some(&a), None) => Some(hash(a)),
        (None, Some(&b)) => Some(hash(b)),
        (Some(&a), Some(&b)) => Some(hash(a).min(hash(b))),
    }
}

/// How many edits of each kind [`warm`] reads ahead of the merge, again every half of it: few
/// enough that what it reads is still in cache when the merge gets there (each chunk takes at
/// least one edit).
const WARM_AHEAD: usize = 256;

/// Reads the entry and the first point of every chunk that `minus` and `plus` fall in, in two
/// passes whose loads do not wait on each other, so that the memory system fetches many at once;
/// the merge then finds them in cache instead of waiting for each in turn (the chunks of an
/// update are scattered over the whole ring).
fn warm(old: &Chunked, minus: &[u64], plus: &[u64]) {
    let chunk_of = |k: &u64| (k >> 32 >> old.chunk_shift) as usize;
    let mut seen = 0u64;
    for c in minus.iter().chain(plus).map(chunk_of) {
        seen ^= old.entry(c)[0];
    }
    for c in minus.iter().chain(plus).map(chunk_of) {
        let (buf, off) = entry::loc(&old.entry(c));
        seen ^= old.buffer(buf).get(off).copied().unwrap_or(0);
    }
    std::hint::black_box(seen);
}

/// Rewrites the chunks of `old` that the sorted points `minus` (leaving) and `plus` (joining) fall
/// in, with `index_of` the new bucket index of each id. At every hash an edit touches, the points
/// of that hash (the ring's, the hidden ones, less `minus`, plus `plus`) are ranked as a build
/// ranks them: the lowest bucket index takes the ring's point, the others are hidden. `None` when
/// `minus` holds a point the ring does not have, or a point's id has no bucket: the ring does not
/// match the change, and must be built afresh.
pub(crate) fn merge(
    old: &Chunked,
    mut minus: &[u64],
    mut plus: &[u64],
    index_of: &[u32],
) -> Option<Merged> {
    let mut hidden = &old.book.hidden[..];
    let chunk_of = |h: u32| (u64::from(h) >> old.chunk_shift) as usize;
    let typical = old.len / old.table.len().max(1) + 1;
    let mut out = Vec::with_capacity((minus.len() + plus.len()) * typical);
    let mut chunks = Vec::new();
    let mut new_hidden = Vec::with_capacity(hidden.len() + 16);
    let mut group: Vec<u32> = Vec::new();
    let mut until_warm = 0usize;
    while let Some(first) = next_hash(minus, plus) {
        if until_warm == 0 {
            let ahead = |edits: &[u64]| edits.len().min(WARM_AHEAD);
            warm(old, &minus[..ahead(minus)], &plus[..ahead(plus)]);
            until_warm = WARM_AHEAD / 2;
        }
        until_warm -= 1;
        let c = chunk_of(first);
        let (old_buf, _) = entry::loc(&old.entry(c));
        let points = old.chunk_points(c);
        let start = out.len();
        let mut i = 0;
        while let Some(h) = next_hash(minus, plus).filter(|&h| chunk_of(h) == c) {
            while points.get(i).is_some_and(|&p| hash(p) < h) {
                out.push(points[i]);
                i += 1;
            }
            group.clear();
            if points.get(i).is_some_and(|&p| hash(p) == h) {
                group.push(points[i] as u32);
                i += 1;
            }
            // Edits and hidden points are sorted, and a hash has one edit or two: scans find the
            // points of this hash in a step or two, where binary searches take a dozen each.
            let below = hidden.iter().take_while(|&&k| hash(k) < h).count();
            new_hidden.extend_from_slice(&hidden[..below]);
            hidden = &hidden[below..];
            let at = hidden.iter().take_while(|&&k| hash(k) == h).count();
            group.extend(hidden[..at].iter().map(|&k| k as u32));
            hidden = &hidden[at..];
            let gone = minus.iter().take_while(|&&k| hash(k) == h).count();
            for &k in &minus[..gone] {
                let at = group.iter().position(|&id| id == k as u32)?;
                group.swap_remove(at);
            }
            minus = &minus[gone..];
            let joined = plus.iter().take_while(|&&k| hash(k) == h).count();
            group.extend(plus[..joined].iter().map(|&k| k as u32));
            plus = &plus[joined..];
            if group.is_empty() {
                continue;
            }
            let index = |id: u32| index_of.get(id as usize).copied().unwrap_or(NONE);
            group.sort_unstable_by_key(|&id| (index(id), id));
            if group.iter().any(|&id| index(id) == NONE) {
                return None;
            }
            let key = |id: u32| (u64::from(h) << 32) | u64::from(id);
            out.push(key(group[0]));
            new_hidden.extend(group[1..].iter().map(|&id| key(id)));
        }
        out.extend_from_slice(&points[i..]);
        chunks.push(NewChunk {
            chunk: c,
            off: start,
            len: out.len() - start,
            ends: entry::ends_of(&out[start..], old.sub_shift()),
            old_len: points.len(),
            old_buf,
        });
    }
    new_hidden.extend_from_slice(hidden);
    Some(Merged {
        out,
        chunks,
        hidden: new_hidden,
    })
}
