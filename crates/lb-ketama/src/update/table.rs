//! The chunk table and buffers after an update.

use std::sync::Arc;

use crate::chunked::Chunked;
use crate::chunked::entry::{self, Entry, MAX_BUFFERS};
use crate::update::merge::{Merged, NewChunk};

/// A chunked ring's table and buffers after an update.
#[derive(Debug)]
pub(crate) struct Laid {
    pub(crate) table: Vec<Entry>,
    pub(crate) deltas: Vec<Arc<[u64]>>,
    pub(crate) live: Vec<u64>,
    pub(crate) hidden: Vec<u64>,
    pub(crate) len: usize,
}

/// Lays out the ring `merged` makes of `old`: the rewritten chunks go to a new buffer, and so do
/// the chunks of the newest buffers when they are no larger than what follows them (so that the
/// buffers stay few, each at least as large as the newer ones together, and a point is copied
/// again a logarithmic number of times); every other chunk keeps its place, its rank moved by the
/// points added and removed before it. `None` when more than half of the base's points have been
/// replaced: the ring is then built afresh, which frees the base.
pub(crate) fn lay_out(old: &Chunked, merged: Merged) -> Option<Laid> {
    let Merged {
        mut out,
        chunks,
        hidden,
    } = merged;
    let mut live = old.book.live.to_vec();
    for nc in &chunks {
        if let Some(l) = live.get_mut(nc.old_buf) {
            *l = l.saturating_sub(nc.old_len as u64);
        }
    }
    if live.first().is_none_or(|&l| l * 2 < old.base.len() as u64) {
        return None;
    }
    // Buffers 1..=keep stay; the newer ones move into the new buffer.
    let deltas = old.deltas.len();
    let mut keep = deltas;
    let mut size = out.len() as u64;
    while keep > 0 && (live[keep] <= size || keep + 2 > MAX_BUFFERS) {
        size += live[keep];
        keep -= 1;
    }
    if chunks.is_empty() && keep == deltas {
        return Some(Laid {
            table: old.table.to_vec(),
            deltas: old.deltas.to_vec(),
            live,
            hidden,
            len: old.len,
        });
    }
    let new_buf = keep + 1;
    let moved = move_live(old, &chunks, keep, &mut out);
    let mut table = Vec::with_capacity(old.table.len());
    let mut shift = 0i64;
    let mut next = 0;
    let copy = |table: &mut Vec<Entry>, range: std::ops::Range<usize>, shift: i64| {
        table.extend(old.table[range].iter().map(|e| entry::shifted(e, shift)));
    };
    for nc in &chunks {
        copy(&mut table, next..nc.chunk, shift);
        let rank = entry::rank(&old.entry(nc.chunk)) as i64 + shift;
        table.push(entry::entry(rank as usize, new_buf, nc.off, nc.ends));
        shift += nc.len as i64 - nc.old_len as i64;
        next = nc.chunk + 1;
    }
    copy(&mut table, next..old.table.len(), shift);
    for (c, off) in moved {
        if let Some(e) = table.get_mut(c) {
            *e = entry::moved(e, new_buf, off);
        }
    }
    live.truncate(keep + 1);
    live.push(out.len() as u64);
    let mut buffers = old.deltas[..keep].to_vec();
    buffers.push(Arc::from(out));
    Some(Laid {
        table,
        deltas: buffers,
        live,
        hidden,
        len: (old.len as i64 + shift) as usize,
    })
}

/// Moves the points of every chunk that lives in a buffer after `keep` (and that `chunks` does
/// not rewrite) to the end of `out`, the new buffer `keep + 1`; returns each such chunk and its
/// new offset in `out`.
///
/// The chunks are found from the buffers' points, so that this costs what those buffers hold,
/// not a pass over the table: a buffer holds each chunk at most once (an update writes the chunks
/// it rewrites, then those it moves, which are others), so the runs of points of one chunk are
/// the chunks it holds, and a run is live when its chunk's entry still points at it. A chunk
/// without points whose entry names a buffer that goes keeps that name: it has nothing to read
/// there, and every reader takes its length, 0, from the entry.
fn move_live(
    old: &Chunked,
    chunks: &[NewChunk],
    keep: usize,
    out: &mut Vec<u64>,
) -> Vec<(usize, usize)> {
    let chunk_of = |p: u64| (p >> 32 >> old.chunk_shift) as usize;
    let mut moved = Vec::new();
    for buf in keep + 1..=old.deltas.len() {
        let points = old.buffer(buf);
        let mut start = 0;
        while let Some(&first) = points.get(start) {
            let c = chunk_of(first);
            let len = points[start..]
                .iter()
                .take_while(|&&p| chunk_of(p) == c)
                .count();
            let e = old.entry(c);
            let live = entry::loc(&e) == (buf, start)
                && old.chunk_len(c, &e) == len
                && chunks.binary_search_by_key(&c, |nc| nc.chunk).is_err();
            if live {
                moved.push((c, out.len()));
                out.extend_from_slice(&points[start..start + len]);
            }
            start += len;
        }
    }
    moved
}
