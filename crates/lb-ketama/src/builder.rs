//! Building a ring with options: [`Builder`].

use crate::bucket::Bucket;
use crate::continuum::Continuum;
use crate::error::Error;
use crate::layout::Layout;
use crate::plan::Overflow;
use crate::version::Version;
use crate::workers::DEFAULT_MAX_THREADS;

/// Builds a [`Continuum`] with options: its [`Version`], and how many threads building a large ring
/// may use.
///
/// A ring of at least 262,144 points (1,639 buckets of weight 1) is built by up to
/// [`max_threads`](Self::max_threads) threads at once: the calling thread and a few short-lived
/// threads it starts, which end before the build returns. By default that is the number of CPUs the
/// process may use, at most 4. Smaller rings, and every ring of a builder with `max_threads(1)`,
/// are built on the calling thread alone. The ring is the same either way. See the crate docs on
/// when one thread is the better choice.
///
/// ```
/// use lb_ketama::{Bucket, Continuum, Version};
///
/// let buckets: Vec<Bucket> = (0..1000)
///     .map(|i| Bucket::new(format!("10.0.{}.{}:80", i / 250, i % 250).parse().unwrap(), 1))
///     .collect();
/// // 160,000 points, built on the calling thread only.
/// let ring = Continuum::builder().max_threads(1).build(&buckets);
/// assert_eq!(ring.len(), Continuum::new(&buckets).len());
///
/// let compact = Continuum::builder()
///     .version(Version::V2 { point_multiple: 40 })
///     .try_build(&buckets)?;
/// assert!(compact.len() <= 40_000);
/// # Ok::<(), lb_ketama::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Builder {
    version: Version,
    max_threads: usize,
    layout: Layout,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// [`Version::V1`], on up to as many threads as the process has CPUs (at most 4).
    pub fn new() -> Self {
        Self {
            version: Version::V1,
            max_threads: DEFAULT_MAX_THREADS,
            layout: Layout::Auto,
        }
    }

    /// The layout of the ring; [`Version::V1`] by default.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// The most threads a build may use, the calling thread included: 0 and 1 both mean the calling
    /// thread alone. A build never uses more threads than the process has CPUs, nor more than 16.
    pub fn max_threads(mut self, threads: usize) -> Self {
        self.max_threads = threads.max(1);
        self
    }

    /// Builds the ring on the calling thread alone: `max_threads(1)`.
    pub fn single_threaded(self) -> Self {
        self.max_threads(1)
    }

    /// How a [`Version::V1`] ring stores its points ([`Layout::Auto`] by default): flat for the
    /// fastest lookups, chunked for updates that cost what they change
    /// ([`Continuum::with_changes`]).
    pub fn layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    pub(crate) fn version_of(&self) -> Version {
        self.version
    }

    pub(crate) fn max_threads_of(&self) -> usize {
        self.max_threads
    }

    pub(crate) fn layout_of(&self) -> Layout {
        self.layout
    }

    /// Builds the ring. Never panics: over [`MAX_POINTS`](crate::MAX_POINTS) the weights are scaled
    /// down as in [`Continuum::new`], and `V2 { point_multiple: 0 }` gives an empty ring.
    pub fn build(&self, buckets: &[Bucket]) -> Continuum {
        match Continuum::build(buckets, self, Overflow::Scale) {
            Ok(ring) => ring,
            // `Overflow::Scale` never fails: the plan scales instead and a zero multiple gives an
            // empty ring. Should that change, an empty ring is still the answer that cannot panic.
            Err(_) => Continuum::empty(self.version),
        }
    }

    /// Builds the ring, or says why it cannot: see [`Continuum::try_new_with_version`].
    pub fn try_build(&self, buckets: &[Bucket]) -> Result<Continuum, Error> {
        Continuum::build(buckets, self, Overflow::Fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_kept() {
        let b = Builder::new();
        assert_eq!(b, Builder::default());
        assert_eq!(b.max_threads, DEFAULT_MAX_THREADS);
        assert_eq!(b.max_threads(0).max_threads, 1);
        assert_eq!(b.single_threaded().max_threads, 1);
        assert_eq!(b.max_threads(9).max_threads, 9);
        let v2 = Version::V2 { point_multiple: 3 };
        assert_eq!(b.version(v2).version, v2);
        assert_eq!(b.layout, Layout::Auto);
        assert_eq!(b.layout(Layout::Chunked).layout, Layout::Chunked);
    }
}
