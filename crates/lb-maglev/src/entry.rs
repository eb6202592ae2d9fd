//! [`Entry`]: one backend of a table, named as Envoy names it for hashing.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

/// One backend of a [`Table`](crate::Table): the name its place in the table is hashed from, and
/// its weight.
///
/// Envoy hashes a host by its address as `Address::asString` writes it (or by its host name with
/// `use_hostname_for_hashing`); the constructors name an entry the same way, so that a table has
/// the slots Envoy's has:
///
/// - [`Entry::new`]: `10.0.0.1:80`, `[2001:db8::1]:80`;
/// - [`Entry::unix`]: the socket's path, `/run/app.sock` (Envoy's pipe address);
/// - [`Entry::named`]: any name, byte for byte (a host name).
///
/// **Weight 0** gives the entry no slot: no key maps to it. Weights are relative to each other.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Entry {
    name: Box<[u8]>,
    weight: u32,
}

impl Entry {
    /// An entry for a socket address, named `ip:port` (IPv6 in brackets).
    pub fn new(addr: SocketAddr, weight: u32) -> Self {
        Entry::named(addr.to_string(), weight)
    }

    /// An entry for a Unix-domain socket, named by its path.
    pub fn unix(path: impl AsRef<Path>, weight: u32) -> Self {
        Entry::named(path.as_ref().as_os_str().as_encoded_bytes(), weight)
    }

    /// An entry with any name, hashed byte for byte.
    pub fn named(name: impl AsRef<[u8]>, weight: u32) -> Self {
        Entry {
            name: name.as_ref().into(),
            weight,
        }
    }

    /// The bytes the entry's place in the table is hashed from.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// The weight.
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &String::from_utf8_lossy(&self.name))
            .field("weight", &self.weight)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_envoys() {
        assert_eq!(
            Entry::new("10.0.0.1:80".parse().unwrap(), 1).name(),
            b"10.0.0.1:80"
        );
        assert_eq!(
            Entry::new("[2001:db8::1]:443".parse().unwrap(), 1).name(),
            b"[2001:db8::1]:443"
        );
        assert_eq!(Entry::unix("/run/a.sock", 3).name(), b"/run/a.sock");
        assert_eq!(Entry::unix("/run/a.sock", 3).weight(), 3);
        assert_eq!(Entry::named("api-0", 0).name(), b"api-0");
        assert_eq!(
            format!("{:?}", Entry::named("x", 2)),
            r#"Entry { name: "x", weight: 2 }"#
        );
    }
}
