//! [`Skipped`]: the backends a bounded walk passed over, to offer after the others, kept without
//! an allocation per pick.

use std::cell::Cell;

/// Skipped backends kept inline; more go to the thread's spill buffer.
const INLINE: usize = 16;

thread_local! {
    /// A buffer lent to the walk that skips more than [`INLINE`] backends, and given back (with
    /// its capacity) when the walk ends: a thread allocates only when it first skips more than
    /// ever before.
    static SPILL: Cell<Vec<u32>> = const { Cell::new(Vec::new()) };
}

/// The backends skipped so far, in order.
#[derive(Debug, Default)]
pub(super) struct Skipped {
    inline: [u32; INLINE],
    inline_len: u8,
    spill: Vec<u32>,
}

impl Skipped {
    pub(super) fn push(&mut self, index: u32) {
        if usize::from(self.inline_len) < INLINE {
            self.inline[usize::from(self.inline_len)] = index;
            self.inline_len += 1;
            return;
        }
        if self.spill.capacity() == 0 {
            // Another walk on this thread may hold the buffer (nested selects): then a new one.
            self.spill = SPILL.try_with(Cell::take).unwrap_or_default();
            self.spill.clear();
        }
        self.spill.push(index);
    }

    /// The `k`-th backend skipped.
    pub(super) fn get(&self, k: usize) -> Option<u32> {
        if k < usize::from(self.inline_len) {
            Some(self.inline[k])
        } else {
            self.spill.get(k - usize::from(self.inline_len)).copied()
        }
    }
}

impl Drop for Skipped {
    fn drop(&mut self) {
        if self.spill.capacity() == 0 {
            return;
        }
        let mut mine = std::mem::take(&mut self.spill);
        mine.clear();
        // Keep the larger buffer; during thread teardown the slot is gone and this one is freed.
        let _ = SPILL.try_with(|slot| {
            let theirs = slot.take();
            slot.set(if theirs.capacity() >= mine.capacity() {
                theirs
            } else {
                mine
            });
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_past_the_inline_part_and_reuses_the_spill_buffer() {
        let mut s = Skipped::default();
        for i in 0..40 {
            s.push(i);
        }
        assert_eq!(
            (0..41).map(|k| s.get(k)).collect::<Vec<_>>(),
            (0..40).map(Some).chain([None]).collect::<Vec<_>>()
        );
        drop(s);
        // The buffer came back: a second walk that skips as many allocates nothing.
        let info = allocation_counter::measure(|| {
            let mut s = Skipped::default();
            for i in 0..40 {
                s.push(i);
            }
            assert_eq!(s.get(39), Some(39));
        });
        assert_eq!(info.count_total, 0, "{info:?}");
    }

    #[test]
    fn nested_walks_each_get_a_buffer() {
        let mut outer = Skipped::default();
        let mut inner = Skipped::default();
        for i in 0..20 {
            outer.push(i);
            inner.push(100 + i);
        }
        assert_eq!(outer.get(19), Some(19));
        assert_eq!(inner.get(19), Some(119));
    }
}
