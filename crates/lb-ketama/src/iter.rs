//! Walking the ring from a key's point: the failover order.

use std::net::SocketAddr;

use crate::chunked::{Chunked, Cursor};
use crate::continuum::{Continuum, Points};

/// The socket addresses of the points from a key's point onwards; see
/// [`Continuum::node_iter`].
#[derive(Clone, Debug)]
pub struct NodeIterator<'a> {
    ring: &'a Continuum,
    buckets: BucketIterator<'a>,
}

impl<'a> NodeIterator<'a> {
    pub(crate) fn new(ring: &'a Continuum, idx: usize) -> Self {
        Self {
            ring,
            buckets: BucketIterator::new(ring, idx),
        }
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
            if let Some(addr) = self.ring.bucket_addr(self.buckets.next()?) {
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
    at: At<'a>,
}

/// Where a [`BucketIterator`] is.
#[derive(Clone, Copy, Debug)]
enum At<'a> {
    /// At a position of a flat or compact ring.
    Position(usize),
    /// At a point of a chunked ring.
    Chunk(&'a Chunked, Cursor),
    /// At a point of a chunked ring whose bucket is already known (a lookup read the point).
    Found(&'a Chunked, Cursor, usize),
    /// Nowhere: a position past the end of a chunked ring.
    End,
}

impl<'a> BucketIterator<'a> {
    pub(crate) fn new(ring: &'a Continuum, idx: usize) -> Self {
        let at = match &ring.points {
            Points::Chunked(c) => c.locate(idx).map_or(At::End, |cur| At::Chunk(c, cur)),
            _ => At::Position(idx),
        };
        Self { ring, at }
    }

    /// From the point a key of CRC32 `hash` maps to.
    #[inline]
    pub(crate) fn from_hash(ring: &'a Continuum, hash: u32) -> Self {
        let at = match &ring.points {
            Points::Chunked(c) => match c.find_point(hash) {
                (cur, Some(point)) => At::Found(c, cur, c.index_of(point)),
                (cur, None) => At::Chunk(c, cur),
            },
            _ => At::Position(ring.node_idx_by_hash(hash)),
        };
        Self { ring, at }
    }

    /// The position of the point the next call to `next` returns the bucket of.
    pub fn position(&self) -> usize {
        match &self.at {
            At::Position(idx) => *idx,
            At::Chunk(c, cur) | At::Found(c, cur, _) => c.position(cur),
            At::End => self.ring.len(),
        }
    }
}

impl Iterator for BucketIterator<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        match &mut self.at {
            At::Position(idx) => {
                let bucket = self.ring.point_bucket(*idx)?;
                *idx = self.ring.next_idx(*idx);
                Some(bucket)
            }
            At::Chunk(c, cur) => c.next_bucket(cur),
            &mut At::Found(c, mut cur, bucket) => {
                Chunked::step(&mut cur);
                self.at = At::Chunk(c, cur);
                Some(bucket)
            }
            At::End => None,
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let more = match &self.at {
            At::Position(idx) => *idx < self.ring.len(),
            At::Chunk(..) | At::Found(..) => !self.ring.is_empty(),
            At::End => false,
        };
        if more {
            (usize::MAX, None)
        } else {
            (0, Some(0))
        }
    }
}
