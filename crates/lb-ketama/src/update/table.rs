//! The chunk table and buffers after an update.

use std::sync::Arc;

use crate::chunked::Chunked;
use crate::chunked::entry::{self, Entry, MAX_BUFFERS};
use crate::update::merge::Merged;

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
    let mut table = Vec::with_capacity(old.table.len());
    let mut shift = 0i64;
    let mut next = 0;
    for nc in &chunks {
        copy(old, &mut table, &mut out, next..nc.chunk, shift, keep);
        let rank = entry::rank(&old.entry(nc.chunk)) as i64 + shift;
        table.push(entry::entry(rank as usize, new_buf, nc.off, nc.ends));
        shift += nc.len as i64 - nc.old_len as i64;
        next = nc.chunk + 1;
    }
    copy(
        old,
        &mut table,
        &mut out,
        next..old.table.len(),
        shift,
        keep,
    );
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

/// Copies the entries of `chunks` to `table`, ranks moved by `shift`; the points of chunks in
/// buffers after `keep` move to the end of `out`, the new buffer `keep + 1`.
fn copy(
    old: &Chunked,
    table: &mut Vec<Entry>,
    out: &mut Vec<u64>,
    chunks: std::ops::Range<usize>,
    shift: i64,
    keep: usize,
) {
    let entries = &old.table[chunks.clone()];
    if keep == old.deltas.len() {
        table.extend(entries.iter().map(|e| entry::shifted(e, shift)));
        return;
    }
    for (c, e) in chunks.zip(entries) {
        let (buf, off) = entry::loc(e);
        let e = if buf > keep {
            let at = out.len();
            let len = old.chunk_len(c, e);
            out.extend_from_slice(old.buffer(buf).get(off..off + len).unwrap_or(&[]));
            entry::moved(e, keep + 1, at)
        } else {
            *e
        };
        table.push(entry::shifted(&e, shift));
    }
}
