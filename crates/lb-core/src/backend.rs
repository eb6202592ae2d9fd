//! [`Backend`]: one server a load balancer can pick.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::SocketAddr;

use crate::address::Address;
use crate::error::AddressError;
use crate::extensions::Extensions;

/// One server a load balancer can pick: an address, a weight and user data.
///
/// **Identity is the address.** Two backends with the same address are the same backend:
/// `Eq`, `Hash` and `Ord` look at [`Backend::addr`] only. The weight and the extensions are
/// attributes; when a discovery source reports a known address with a new weight, the backend's
/// runtime state (health, counters) is kept.
///
/// **Weights.** A weight is a relative share. Weight 0 makes the backend a *standby*: strategies
/// never pick it first while any backend of positive weight is present, and place it after every
/// positive-weight backend in their candidate order, so `select` returns it only when no
/// positive-weight backend is ready. When every backend has weight 0 they are treated as equal.
/// Weights up to `u32::MAX` are accepted; strategies sum them in 64 bits.
///
/// ```
/// use lb_core::Backend;
/// let b = Backend::new("10.0.0.1:8080").unwrap().with_weight(3);
/// assert_eq!(b, Backend::new("10.0.0.1:8080").unwrap()); // same address, same backend
/// assert_eq!(b.weight, 3);
/// assert!(Backend::new("10.0.0.1").is_err()); // no port: a typed error naming the input
/// ```
#[derive(Clone)]
pub struct Backend {
    /// Where the backend listens; its identity.
    pub addr: Address,
    /// Its relative share of traffic (see the type docs for weight 0).
    pub weight: u32,
    /// User data: discovery metadata, application attributes.
    pub ext: Extensions,
}

impl Backend {
    /// A backend of weight 1 at `addr` (`ip:port`, `[ipv6]:port` or `unix:/path`).
    pub fn new(addr: &str) -> Result<Self, AddressError> {
        Self::new_with_weight(addr, 1)
    }

    /// A backend of the given weight at `addr`.
    pub fn new_with_weight(addr: &str, weight: u32) -> Result<Self, AddressError> {
        Ok(Self::from_address(Address::parse(addr)?, weight))
    }

    /// A backend at an already-parsed address.
    pub fn from_address(addr: Address, weight: u32) -> Self {
        Backend {
            addr,
            weight,
            ext: Extensions::new(),
        }
    }

    /// Replaces the weight.
    pub fn with_weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds a value to the extensions.
    pub fn with_ext<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.ext.insert(value);
        self
    }

    /// The IP socket address, if the backend has one.
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        self.addr.as_inet()
    }
}

/// Anything a backend list can be made of: address strings, socket addresses, [`Address`]es and
/// [`Backend`]s. Used by [`LoadBalancer::try_from_iter`](crate::LoadBalancer::try_from_iter).
pub trait IntoBackend {
    /// The backend, or the error naming the bad address.
    fn into_backend(self) -> Result<Backend, AddressError>;
}

impl IntoBackend for Backend {
    fn into_backend(self) -> Result<Backend, AddressError> {
        Ok(self)
    }
}

impl IntoBackend for &str {
    fn into_backend(self) -> Result<Backend, AddressError> {
        Backend::new(self)
    }
}

impl IntoBackend for String {
    fn into_backend(self) -> Result<Backend, AddressError> {
        Backend::new(&self)
    }
}

impl IntoBackend for &String {
    fn into_backend(self) -> Result<Backend, AddressError> {
        Backend::new(self)
    }
}

impl IntoBackend for SocketAddr {
    fn into_backend(self) -> Result<Backend, AddressError> {
        Ok(Backend::from(self))
    }
}

impl IntoBackend for Address {
    fn into_backend(self) -> Result<Backend, AddressError> {
        Ok(Backend::from(self))
    }
}

impl From<SocketAddr> for Backend {
    /// A backend of weight 1. Unlike [`Backend::new`], this does not reject port 0.
    fn from(addr: SocketAddr) -> Self {
        Backend::from_address(Address::Inet(addr), 1)
    }
}

impl From<Address> for Backend {
    fn from(addr: Address) -> Self {
        Backend::from_address(addr, 1)
    }
}

impl std::str::FromStr for Backend {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Backend::new(s)
    }
}

impl PartialEq for Backend {
    fn eq(&self, other: &Self) -> bool {
        self.addr == other.addr
    }
}

impl Eq for Backend {}

impl Hash for Backend {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.addr.hash(state);
    }
}

impl PartialOrd for Backend {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Backend {
    fn cmp(&self, other: &Self) -> Ordering {
        self.addr.cmp(&other.addr)
    }
}

impl fmt::Debug for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Backend");
        d.field("addr", &self.addr).field("weight", &self.weight);
        if !self.ext.is_empty() {
            d.field("ext", &self.ext);
        }
        d.finish()
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.addr.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn identity_is_the_address_only() {
        let a = Backend::new_with_weight("1.2.3.4:80", 1).unwrap();
        let b = Backend::new_with_weight("1.2.3.4:80", 9)
            .unwrap()
            .with_ext(5u8);
        assert_eq!(a, b);
        let set: HashSet<Backend> = [a, b].into_iter().collect();
        assert_eq!(set.len(), 1);
        let c = Backend::new("1.2.3.4:81").unwrap();
        assert!(Backend::new("1.2.3.4:80").unwrap() < c);
    }

    #[test]
    fn constructors_accept_every_address_form_and_reject_with_typed_errors() {
        assert_eq!(Backend::new("unix:/tmp/s").unwrap().weight, 1);
        assert_eq!(
            Backend::new("[::1]:80").unwrap().socket_addr(),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(
            Backend::new("nope").unwrap_err(),
            AddressError::Invalid {
                input: "nope".into()
            }
        );
        let max = Backend::new_with_weight("1.1.1.1:1", u32::MAX).unwrap();
        assert_eq!(max.weight, u32::MAX);
        assert_eq!(
            Backend::new_with_weight("1.1.1.1:1", 0).unwrap().weight,
            0,
            "weight 0 is a standby, not an error"
        );
    }
}
