//! Which points a ring has and how it stores them.

/// Points per unit of weight in nginx (and in [`Version::V1`]).
pub const DEFAULT_POINT_MULTIPLE: u32 = 160;

/// The most points a ring may have: 2^26 = 67,108,864, a total weight of 419,430 at 160 points per
/// unit. A V1 ring that size takes about 640 MiB.
///
/// [`Continuum::try_new`](crate::Continuum::try_new) returns [`Error::TooManyPoints`](crate::Error)
/// above it; [`Continuum::new`](crate::Continuum::new) scales the weights down to fit.
pub const MAX_POINTS: u64 = 1 << 26;

/// The layout of a [`Continuum`](crate::Continuum).
///
/// Both versions place points exactly as nginx does; they differ in how many points a unit of weight
/// gets and in how a point is stored. `V2 { point_multiple: 160 }` maps every key to the same bucket
/// as `V1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Version {
    /// nginx's ring: 160 points per unit of weight, each stored as a 4-byte hash and a 4-byte bucket
    /// index, plus a lookup table on the top bits of the hash (9.5 to 11.5 bytes per point).
    #[default]
    V1,
    /// A compact ring with `point_multiple` points per unit of weight. Each point is bit-packed: the
    /// low bits of its hash that the lookup table does not already imply, and the bucket's index in
    /// as few bits as the number of buckets needs (no 65,536-bucket limit). That is about 4.4 bytes
    /// per point at 160 points per unit of weight (buckets of weight 0 do not widen it).
    V2 {
        /// Points per unit of weight; 160 is nginx's.
        point_multiple: u32,
    },
}

impl Version {
    /// Points per unit of weight.
    pub fn point_multiple(&self) -> u32 {
        match self {
            Version::V1 => DEFAULT_POINT_MULTIPLE,
            Version::V2 { point_multiple } => *point_multiple,
        }
    }
}
