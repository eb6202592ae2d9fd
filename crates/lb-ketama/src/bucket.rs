//! A server on the ring ([`Bucket`]), what it is ([`Node`]), and how nginx turns its configured name
//! into the prefix of its points' hashes.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;

/// What a [`Bucket`] stands for, and so which name its points are hashed from.
///
/// nginx hashes the server *as written in its configuration*; each variant says which string that is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Node {
    /// An IP socket address, hashed as nginx's configuration would write it: `10.0.0.1:8080`, or with
    /// brackets for IPv6, `[2001:db8::1]:8080` (the compressed RFC 5952 form that Rust prints; a
    /// non-zero scope id is written `[fe80::1%2]:8080`).
    Addr(SocketAddr),
    /// A Unix domain socket, hashed as nginx hashes `server unix:PATH;`: the path bytes with no port.
    Unix(PathBuf),
    /// A server name exactly as configured in nginx (`backend.internal:8080`, `10.0.0.1` without a
    /// port, `unix:/run/app.sock`, ...), split into host and port by nginx's own rule.
    Name(String),
}

impl fmt::Display for Node {
    /// The name nginx would hash: `10.0.0.1:80`, `[::1]:80`, `unix:/path`, or the configured name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Addr(addr) => write!(f, "{addr}"),
            Node::Unix(path) => write!(f, "unix:{}", path.display()),
            Node::Name(name) => f.write_str(name),
        }
    }
}

/// A server on the ring and its weight: `weight * point_multiple` points (160 per unit of weight by
/// default, as in nginx).
///
/// A weight of 0 is allowed and gives the bucket no points: it keeps its index (so bucket indices
/// stay the positions in the slice given to [`Continuum::new`](crate::Continuum::new)) but no key
/// ever maps to it. Unlike pingora-ketama's `Bucket::new`, nothing here panics.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bucket {
    node: Node,
    weight: u32,
}

impl Bucket {
    /// A server at an IP socket address (see [`Node::Addr`] for the name it is hashed as).
    ///
    /// ```
    /// use lb_ketama::Bucket;
    /// let b = Bucket::new("[::1]:8080".parse().unwrap(), 2);
    /// assert_eq!(b.node().to_string(), "[::1]:8080");
    /// assert_eq!(b.weight(), 2);
    /// ```
    pub fn new(addr: SocketAddr, weight: u32) -> Self {
        Self {
            node: Node::Addr(addr),
            weight,
        }
    }

    /// A server on a Unix domain socket, hashed as nginx hashes `server unix:PATH;`.
    ///
    /// ```
    /// use lb_ketama::Bucket;
    /// let b = Bucket::unix("/run/app.sock", 1);
    /// assert_eq!(b.node().to_string(), "unix:/run/app.sock");
    /// assert_eq!(b.addr(), None);
    /// ```
    pub fn unix(path: impl Into<PathBuf>, weight: u32) -> Self {
        Self {
            node: Node::Unix(path.into()),
            weight,
        }
    }

    /// A server named exactly as in an nginx `server` line: `app.internal:8080`, `10.0.0.1` (no
    /// port), `[2001:db8::1]:443`, `unix:/run/app.sock`. The name is hashed byte for byte as nginx
    /// hashes it, so `[::1]:80` and `[0::1]:80` are different servers, as they are to nginx.
    ///
    /// [`addr`](Self::addr) is the name parsed as a socket address, if it is one.
    ///
    /// ```
    /// use lb_ketama::Bucket;
    /// let b = Bucket::named("10.0.0.1:8080", 1);
    /// assert_eq!(b.addr(), Some("10.0.0.1:8080".parse().unwrap()));
    /// assert_eq!(Bucket::named("app.internal:8080", 1).addr(), None);
    /// ```
    pub fn named(name: impl Into<String>, weight: u32) -> Self {
        Self {
            node: Node::Name(name.into()),
            weight,
        }
    }

    /// What this bucket stands for.
    pub fn node(&self) -> &Node {
        &self.node
    }

    /// The weight: the bucket gets `weight * point_multiple` points.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// The socket address [`Continuum::node`](crate::Continuum::node) returns for this bucket: the
    /// address of a [`Node::Addr`], a [`Node::Name`] that parses as a socket address, and `None` for
    /// a Unix socket or a host name.
    pub fn addr(&self) -> Option<SocketAddr> {
        match &self.node {
            Node::Addr(addr) => Some(*addr),
            Node::Unix(_) => None,
            Node::Name(name) => name.parse().ok(),
        }
    }

    /// `crc32(HOST "\0" PORT)` for this bucket's name, the common prefix of all its points' hashes.
    /// `scratch` is reused between buckets so that building a ring formats addresses without
    /// allocating per bucket.
    pub(crate) fn prefix_hash(&self, scratch: &mut String) -> u32 {
        match &self.node {
            Node::Addr(SocketAddr::V4(v4)) => {
                // The common case, without the formatting machinery: `a.b.c.d \0 port`.
                let mut buf = [0u8; 21];
                let mut len = 0;
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        buf[len] = b'.';
                        len += 1;
                    }
                    len += write_decimal(&mut buf[len..], u32::from(octet));
                }
                buf[len] = 0;
                len += 1;
                len += write_decimal(&mut buf[len..], u32::from(v4.port()));
                crc32fast::hash(&buf[..len])
            }
            Node::Addr(addr) => {
                scratch.clear();
                // Formatting into a String cannot fail: its `write_str` always returns Ok.
                let _ = write!(scratch, "{addr}");
                prefix_hash_of_name(scratch.as_bytes())
            }
            Node::Unix(path) => {
                let mut h = crc32fast::Hasher::new();
                h.update(path.as_os_str().as_encoded_bytes());
                h.update(b"\0");
                h.finalize()
            }
            Node::Name(name) => prefix_hash_of_name(name.as_bytes()),
        }
    }
}

/// Writes `n` in decimal at the start of `out` and returns the number of digits. `out` must have room
/// for them (5 for a port, 3 for an octet).
fn write_decimal(out: &mut [u8], n: u32) -> usize {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut n = n;
    loop {
        digits[len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for (o, d) in out.iter_mut().zip(digits[..len].iter().rev()) {
        *o = *d;
    }
    len
}

/// Splits a configured server name into host and port as `ngx_http_upstream_init_chash` does:
///
/// - a name starting with `unix:` (any case) is all host (the path after the scheme), no port;
/// - otherwise, if the name ends in `:DIGITS` (or a bare `:`), the host is what precedes that colon
///   and the port is the digits: `[::1]:80` is host `[::1]` (brackets included), port `80`;
/// - otherwise the whole name is the host and the port is empty: `10.0.0.1`, `[::1]`, `host:http`.
pub(crate) fn split_name(name: &[u8]) -> (&[u8], &[u8]) {
    if name.len() >= 5 && name[..5].eq_ignore_ascii_case(b"unix:") {
        return (&name[5..], &[]);
    }
    for (j, &c) in name.iter().rev().enumerate() {
        if c == b':' {
            let colon = name.len() - j - 1;
            return (&name[..colon], &name[colon + 1..]);
        }
        if !c.is_ascii_digit() {
            break;
        }
    }
    (name, &[])
}

/// `crc32(HOST "\0" PORT)` for a configured server name.
pub(crate) fn prefix_hash_of_name(name: &[u8]) -> u32 {
    let (host, port) = split_name(name);
    let mut h = crc32fast::Hasher::new();
    h.update(host);
    h.update(b"\0");
    h.update(port);
    h.finalize()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(name: &str) -> (&str, &str) {
        let (h, p) = split_name(name.as_bytes());
        (
            std::str::from_utf8(h).unwrap(),
            std::str::from_utf8(p).unwrap(),
        )
    }

    #[test]
    fn splits_names_like_nginx() {
        assert_eq!(split("10.0.0.1:8080"), ("10.0.0.1", "8080"));
        assert_eq!(split("[::1]:8080"), ("[::1]", "8080"));
        assert_eq!(split("[::1]"), ("[::1]", ""));
        assert_eq!(split("10.0.0.1"), ("10.0.0.1", ""));
        assert_eq!(split("host:"), ("host", ""));
        assert_eq!(split("host:http"), ("host:http", ""));
        assert_eq!(split("unix:/run/a.sock"), ("/run/a.sock", ""));
        assert_eq!(split("UnIx:/run/a:80"), ("/run/a:80", ""));
        assert_eq!(split("unix"), ("unix", ""));
        assert_eq!(split(""), ("", ""));
        assert_eq!(split(":1"), ("", "1"));
        assert_eq!(split("123"), ("123", ""));
    }

    #[test]
    fn each_node_kind_hashes_its_nginx_name() {
        let mut s = String::new();
        let cases = [
            (
                Bucket::new("10.0.0.1:80".parse().unwrap(), 1),
                &b"10.0.0.1\x0080"[..],
            ),
            (
                Bucket::new("[2001:db8::1]:443".parse().unwrap(), 1),
                b"[2001:db8::1]\x00443",
            ),
            (
                Bucket::new("[fe80::1%3]:443".parse().unwrap(), 1),
                b"[fe80::1%3]\x00443",
            ),
            (Bucket::unix("/run/a.sock", 1), b"/run/a.sock\x00"),
            (Bucket::named("unix:/run/a.sock", 1), b"/run/a.sock\x00"),
            (Bucket::named("app:8080", 1), b"app\x008080"),
            (Bucket::named("app", 1), b"app\x00"),
        ];
        for (bucket, prefix) in cases {
            assert_eq!(
                bucket.prefix_hash(&mut s),
                crc32fast::hash(prefix),
                "{bucket:?}"
            );
        }
    }

    #[test]
    fn ipv4_without_the_formatter_hashes_like_display() {
        let mut s = String::new();
        let mut x = 0x1234_5678u64;
        let mut edges = vec![
            SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::from(([255, 255, 255, 255], 65535)),
            SocketAddr::from(([10, 0, 100, 9], 10)),
        ];
        for _ in 0..2000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let ip = ((x >> 16) as u32).to_be_bytes();
            edges.push(SocketAddr::from((ip, (x >> 48) as u16)));
        }
        for addr in edges {
            assert_eq!(
                Bucket::new(addr, 1).prefix_hash(&mut s),
                prefix_hash_of_name(addr.to_string().as_bytes()),
                "{addr}"
            );
        }
    }

    #[test]
    fn pingora_hashes_ipv6_without_brackets_and_we_do_not() {
        // pingora-ketama hashes `::1 \0 80`; nginx (and this crate) hash `[::1] \0 80`.
        let mut s = String::new();
        let ours = Bucket::new("[::1]:80".parse().unwrap(), 1).prefix_hash(&mut s);
        assert_ne!(ours, crc32fast::hash(b"::1\x0080"));
        assert_eq!(ours, crc32fast::hash(b"[::1]\x0080"));
    }

    #[test]
    fn addr_of_each_kind() {
        let a: SocketAddr = "10.0.0.1:80".parse().unwrap();
        assert_eq!(Bucket::new(a, 0).addr(), Some(a));
        assert_eq!(Bucket::named("10.0.0.1:80", 1).addr(), Some(a));
        assert_eq!(Bucket::named("10.0.0.1", 1).addr(), None);
        assert_eq!(Bucket::unix("/x", 1).addr(), None);
        assert_eq!(Node::Unix("/x".into()).to_string(), "unix:/x");
    }
}
