//! Walking the ring from a key's point: the failover order.

use std::net::SocketAddr;

use crate::continuum::Continuum;

/// The socket addresses of the points from a key's point onwards; see
/// [`Continuum::node_iter`].
#[derive(Clone, Debug)]
pub struct NodeIterator<'a> {
    ring: &'a Continuum,
    idx: usize,
}

impl<'a> NodeIterator<'a> {
    pub(crate) fn new(ring: &'a Continuum, idx: usize) -> Self {
        Self { ring, idx }
    }
}

impl<'a> Iterator for NodeIterator<'a> {
    type Item = &'a SocketAddr;

    fn next(&mut self) -> Option<&'a SocketAddr> {
        if !self.ring.has_socket_points() {
            return None;
        }
        // One lap at most: some point has a socket address unless all of its bucket's points were
        // duplicates of a bucket without one, and then this gives up after a lap.
        for _ in 0..self.ring.len() {
            if let Some(addr) = self.ring.get_addr(&mut self.idx) {
                return Some(addr);
            }
        }
        None
    }
}

/// The bucket indices of the points from a key's point onwards; see [`Continuum::bucket_iter`].
#[derive(Clone, Debug)]
pub struct BucketIterator<'a> {
    ring: &'a Continuum,
    idx: usize,
}

impl<'a> BucketIterator<'a> {
    pub(crate) fn new(ring: &'a Continuum, idx: usize) -> Self {
        Self { ring, idx }
    }

    /// The position of the point the next call to `next` returns the bucket of.
    pub fn position(&self) -> usize {
        self.idx
    }
}

impl Iterator for BucketIterator<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let bucket = self.ring.point_bucket(self.idx)?;
        self.idx = self.ring.next_idx(self.idx);
        Some(bucket)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.idx < self.ring.len() {
            (usize::MAX, None)
        } else {
            (0, Some(0))
        }
    }
}
