//! A consistent hash ring identical to nginx's `hash $key consistent;`, faster to build and to query.
//!
//! `lb-ketama` is the bottom of the lb stack and stands alone: its only dependency is `crc32fast`.
//! `lb-selection`'s `Consistent` strategy builds on it; use it directly when all you need is a ring.
//! Its API is a superset of pingora-ketama's: change the crate name and your code builds.
//!
//! ```
//! use lb_ketama::{Bucket, Continuum};
//!
//! let ring = Continuum::new(&[
//!     Bucket::new("127.0.0.1:12345".parse().unwrap(), 1),
//!     Bucket::new("127.0.0.2:12345".parse().unwrap(), 2),
//!     Bucket::new("127.0.0.3:12345".parse().unwrap(), 3),
//!     Bucket::unix("/run/app.sock", 1),
//! ]);
//!
//! // A key always maps to the same server...
//! let first = ring.node(b"some_key");
//! assert_eq!(ring.node(b"some_key"), first);
//! // ...and the points after it give the failover order, as bucket indices for any kind of server.
//! let order: Vec<usize> = ring.bucket_iter(b"some_key").take(4).collect();
//! assert_eq!(order.len(), 4);
//! assert!(order.iter().all(|&b| b < 4));
//! ```
//!
//! # The ring, as nginx builds it
//!
//! Each server gets 160 points per unit of weight. Point `j` of a server is
//! `crc32(HOST "\0" PORT prev)`, where `prev` is point `j - 1`'s hash as 4 little-endian bytes (0 for
//! the first point). Points are sorted by hash and duplicate hashes dropped. A key maps to the first
//! point whose hash is `>=` `crc32(key)`, wrapping to the first point. The tests check this against
//! key-for-key vectors recorded from a real nginx (IPv4, IPv6, mixed, weighted, 200 servers, Unix
//! sockets, host names, ties); `tests/vectors/generate.sh` records them again.
//!
//! `HOST` and `PORT` come from the server's name *as written in the nginx configuration*, split as
//! nginx splits it (see [`Node`]):
//!
//! - [`Bucket::new`] with a `SocketAddr` is hashed as `10.0.0.1:80` or `[2001:db8::1]:80`. IPv6 hosts
//!   keep their brackets, as in nginx. **pingora-ketama hashes IPv6 hosts without brackets** and so
//!   maps keys differently from nginx on any ring with an IPv6 server; this crate agrees with nginx.
//! - [`Bucket::unix`] is hashed as nginx hashes `server unix:/path;`: the path, no port.
//! - [`Bucket::named`] takes any name an nginx `server` line can hold (`app.internal:8080`, an
//!   address without a port, `UNIX:/path`) and hashes it byte for byte as nginx does.
//!
//! # Edges
//!
//! - **Weight 0**: the bucket gets no points. It keeps its index, but no key maps to it.
//! - **Empty ring** (no buckets, or only weight 0): [`Continuum::node`] and
//!   [`Continuum::bucket_idx`] return `None`, [`Continuum::node_idx`] returns 0 and the iterators are
//!   empty.
//! - **Ties**: when points of two buckets have the same hash, the point of the bucket that comes
//!   first in the slice is kept and the other dropped. nginx does the same on glibc (its stable
//!   `qsort` keeps servers in configuration order); the "ties" vectors confirm it. Two buckets with
//!   the same name therefore give all the points to the first one.
//! - **Limits**: at most [`MAX_POINTS`] points (2^26) and 2^32 - 1 buckets; there is no
//!   65,536-bucket limit. [`Continuum::try_new`] reports a ring over the limit as an
//!   [`Error`]; [`Continuum::new`] never panics and scales the weights down to fit instead.
//! - Nothing panics on any input, and lookups never allocate.
//!
//! # Versions, speed and memory
//!
//! [`Version::V1`] (the default) stores each point as one `u64` (hash and bucket index) next to a
//! lookup table on the top bits of the hash that narrows a search to 1 to 4 points: 9.5 to 11.5
//! bytes per point (the table is finer, per point, on rings of up to 2^18 points).
//! [`Version::V2`] lets you choose the points per unit of weight and bit-packs each point into the
//! hash bits the table does not imply and as few bits of bucket index as needed: about 4.4 bytes per
//! point at 160 points per unit. `V2 { point_multiple: 160 }` maps keys exactly as `V1`.
//! [`Continuum::heap_size`] reports the memory a ring holds.
//!
//! Building generates each point straight into one of 256 partitions by its top hash bits, then
//! radix-sorts each partition in cache (two 12-bit passes) and writes it back de-duplicated, in the
//! same buffer: no comparison sort and no second ring-sized buffer. A lookup hashes the key and
//! counts the points of its slot below the hash (V1: over a fixed window, without a branch that
//! mispredicts).
//!
//! A build is a few times faster than pingora-ketama's, on two threads and on one, and a lookup
//! is one CRC32 of the key, one table read and a branch-free count of at most four points,
//! where pingora-ketama binary-searches the whole ring. About a quarter of a one-thread build is
//! the kernel handing out the ring's fresh pages. The figures, measured against pingora-ketama
//! in one process, are in the workspace's bench report (`cargo xtask bench`, the `ketama`
//! benches) and its README.
//!
//! Rings of millions of points (tens of megabytes) are bound by page faults when built and by
//! TLB misses when looked up: with transparent huge pages set to `always` instead of the usual
//! default `madvise` (under which only regions that ask get them), both builds and lookups of
//! such rings get markedly faster (the README gives the measured difference). lb-ketama does not
//! ask for huge pages itself: that takes `madvise`, an unsafe libc call, and a huge-page fault can
//! stall on memory compaction, a trade-off that belongs to the application. To get them, enable
//! them for the machine (`/sys/kernel/mm/transparent_hugepage/enabled`) or use an allocator that
//! can back large allocations with them (for example jemalloc with `thp:always`).
//!
//! # Layouts and updates
//!
//! A `V1` ring stores its points in one of two [`Layout`]s, chosen with [`Builder::layout`]; both
//! map every key to the same bucket. *Flat* is one array in hash order behind the lookup table.
//! *Chunked* cuts the hash space into chunks of about 8 to 32 points, each stored apart, and its
//! lookup table says where each chunk is; points name a stable bucket id that a small table maps
//! to the bucket's index. [`Layout::Auto`], the default, is flat below [`CHUNKED_MIN_POINTS`] and
//! chunked from there.
//!
//! [`Continuum::with_changes`] gives the ring over a changed list of buckets ([`Changes`] says
//! which left and which joined; weights are compared). On a chunked ring it removes the points
//! of the buckets that left or lost weight (a bucket's points are a chain, so weight changes its
//! tail), inserts those of the buckets that joined or gained weight, resolves ties at each hash
//! it touches as a build does (the points that lost a tie are kept aside for when the winner
//! leaves), and writes only the chunks it touched into a new buffer: the other chunks are shared
//! with the old ring, and the lookup table is copied with its positions moved. An update thus
//! costs what it changes plus a copy of the table (about a byte per point), not a build. The
//! result is the ring a build over the new buckets gives, point for point (a property test checks
//! it). A flat or `V2` ring, a ring whose weights were scaled down to fit, and a change of more
//! than an eighth of the points are built afresh.
//!
//! # Threads
//!
//! Building a ring of at least 262,144 points (1,639 buckets of weight 1) uses up to 4 threads, no
//! more than the process has CPUs: the calling thread and short-lived threads it starts with
//! `std::thread::scope`, which have ended when the build returns. Smaller rings are built on the
//! calling thread alone. [`Builder::max_threads`] sets another limit, and
//! [`Builder::single_threaded`] keeps every build on the calling thread. The ring is the same
//! either way.
//!
//! Threads shorten a build when CPUs are free. When every CPU is busy the caller may wait for its
//! threads to be scheduled, and a build can take longer than on one thread: build on one thread
//! there, and wherever a build's CPU time matters more than its latency (two threads spend about
//! 10% more CPU time in all).
//!
//! # Coming from pingora-ketama
//!
//! Change the crate name; what differs is deliberate:
//!
//! - IPv6 servers are hashed with brackets, as nginx does (see above), so IPv6 rings map keys as
//!   nginx does and not as pingora-ketama does.
//! - Ties go to the first bucket, as in nginx; pingora-ketama's `sort_unstable` lets either win (at
//!   10,000 servers about 1 key in 10,000 maps differently because of it).
//! - `Bucket::new` accepts weight 0 instead of panicking, and there are buckets for Unix sockets
//!   and for any nginx server name.
//! - [`Version::V2`] needs no cargo feature, has no 65,536-bucket limit, and maps keys exactly as `V1`
//!   at 160 points per unit of weight. [`Version`] is `#[non_exhaustive]`.
//! - [`Continuum::node_iter`] skips points whose bucket has no socket address;
//!   [`Continuum::bucket_iter`] and [`Continuum::bucket_idx`] work for every kind of bucket.
//! - [`Continuum::try_new`] reports a ring too large to build; pingora-ketama overflows.
//!
//! # Feature flags
//!
//! None: the crate has no optional parts.

mod bucket;
mod build;
mod builder;
mod chunked;
mod continuum;
mod crc;
mod error;
mod generate;
mod index;
mod iter;
mod lanes;
mod layout;
mod packed;
mod plan;
mod radix;
mod update;
mod version;
mod workers;

pub use bucket::{Bucket, Node};
pub use builder::Builder;
pub use continuum::Continuum;
pub use crc::hash;
pub use error::Error;
pub use iter::{BucketIterator, NodeIterator};
pub use layout::{CHUNKED_MIN_POINTS, Layout};
pub use update::Changes;
pub use version::{DEFAULT_POINT_MULTIPLE, MAX_POINTS, Version};
