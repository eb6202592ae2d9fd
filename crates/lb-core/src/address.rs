//! The address of a backend: an IP socket address or a Unix domain socket path.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::AddressError;

/// The longest Unix socket path the kernel accepts (`sun_path` is 108 bytes on Linux, one of
/// which is the terminating NUL). Longer paths are rejected at parse time rather than failing at
/// connect time, far from the configuration that caused them.
pub const MAX_UNIX_PATH_LEN: usize = 107;

/// Where a backend listens. This is a backend's identity: two backends with the same address are
/// the same backend.
///
/// The text forms, accepted by [`Address::parse`] and produced by `Display`, are
/// `1.2.3.4:80`, `[::1]:80` and `unix:/path/to/socket`.
///
/// Ordering puts every IP address before every Unix path; IP addresses order IPv4 before IPv6,
/// then by address, then by port.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Address {
    /// An IPv4 or IPv6 socket address.
    Inet(SocketAddr),
    /// A Unix domain socket path.
    Unix(PathBuf),
}

impl Address {
    /// Parses `ip:port`, `[ipv6]:port` or `unix:/path`.
    ///
    /// Host names are rejected (resolve them with a DNS discovery source), as are port 0, empty or
    /// over-long Unix paths, and paths containing a NUL byte. The error names the input.
    ///
    /// ```
    /// use lb_core::Address;
    /// assert_eq!(Address::parse("[::1]:8080").unwrap().to_string(), "[::1]:8080");
    /// assert!(Address::parse("example.com:80").is_err());
    /// ```
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if let Some(path) = input.strip_prefix("unix:") {
            return Self::unix(path);
        }
        match input.parse::<SocketAddr>() {
            Ok(addr) if addr.port() == 0 => Err(AddressError::PortZero {
                input: input.to_owned(),
            }),
            Ok(addr) => Ok(Address::Inet(addr)),
            Err(_) => Err(classify_inet_error(input)),
        }
    }

    /// A Unix socket address, validated as [`Address::parse`] validates `unix:` inputs.
    pub fn unix(path: impl AsRef<Path>) -> Result<Self, AddressError> {
        let path = path.as_ref();
        let bytes = path.as_os_str().as_encoded_bytes();
        if bytes.is_empty() {
            return Err(AddressError::UnixPathEmpty);
        }
        if bytes.contains(&0) {
            return Err(AddressError::UnixPathNul {
                path: path.to_string_lossy().into_owned(),
            });
        }
        if bytes.len() > MAX_UNIX_PATH_LEN {
            return Err(AddressError::UnixPathTooLong {
                path: path.to_string_lossy().into_owned(),
                len: bytes.len(),
                max: MAX_UNIX_PATH_LEN,
            });
        }
        Ok(Address::Unix(path.to_path_buf()))
    }

    /// The IP socket address, if this is one.
    pub fn as_inet(&self) -> Option<SocketAddr> {
        match self {
            Address::Inet(addr) => Some(*addr),
            Address::Unix(_) => None,
        }
    }

    /// The Unix socket path, if this is one.
    pub fn as_unix(&self) -> Option<&Path> {
        match self {
            Address::Inet(_) => None,
            Address::Unix(path) => Some(path),
        }
    }

    /// The port of an IP address; `None` for a Unix socket.
    pub fn port(&self) -> Option<u16> {
        self.as_inet().map(|addr| addr.port())
    }

    /// The same address with another port (health checks use this for a port override).
    /// A Unix socket address is returned unchanged.
    pub fn with_port(&self, port: u16) -> Address {
        match self {
            Address::Inet(addr) => Address::Inet(SocketAddr::new(addr.ip(), port)),
            Address::Unix(_) => self.clone(),
        }
    }
}

/// Tells apart the ways an IP address can be wrong, so the message says what to fix.
fn classify_inet_error(input: &str) -> AddressError {
    let input_owned = input.to_owned();
    // A bare IP without a port is a common mistake worth its own message.
    if input.parse::<std::net::IpAddr>().is_ok() || (input.starts_with('[') && input.ends_with(']'))
    {
        return AddressError::MissingPort { input: input_owned };
    }
    AddressError::Invalid { input: input_owned }
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

impl From<SocketAddr> for Address {
    fn from(addr: SocketAddr) -> Self {
        Address::Inet(addr)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Inet(addr) => addr.fmt(f),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_and_prints_them_back() {
        for input in ["1.2.3.4:80", "[::1]:8080", "unix:/run/app.sock"] {
            let addr = Address::parse(input).unwrap();
            assert_eq!(addr.to_string(), input);
        }
        assert_eq!(
            Address::parse("10.0.0.1:443").unwrap().as_inet(),
            Some("10.0.0.1:443".parse().unwrap())
        );
        assert_eq!(
            Address::parse("unix:/a").unwrap().as_unix(),
            Some(Path::new("/a"))
        );
    }

    #[test]
    fn rejects_bad_inputs_with_errors_that_name_them() {
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("example.com:80", "`example.com:80`"),
            ("1.2.3.4", "no port"),
            ("[::1]", "no port"),
            ("1.2.3.4:0", "port 0"),
            ("1.2.3.4:99999", "`1.2.3.4:99999`"),
            ("::1:80", "`::1:80`"),
            (" 1.2.3.4:80", "` 1.2.3.4:80`"),
            ("unix:", "empty"),
        ];
        for (input, needle) in cases {
            let err = Address::parse(input).unwrap_err();
            let msg = err.to_string();
            assert!(msg.contains(needle), "{input:?} gave {msg:?}");
        }
        let long = format!("unix:/{}", "a".repeat(200));
        assert!(matches!(
            Address::parse(&long),
            Err(AddressError::UnixPathTooLong {
                len: 201,
                max: 107,
                ..
            })
        ));
        assert!(matches!(
            Address::parse("unix:/a\0b"),
            Err(AddressError::UnixPathNul { .. })
        ));
    }

    #[test]
    fn ordering_puts_ipv4_before_ipv6_before_unix() {
        let mut v = [
            Address::parse("unix:/z").unwrap(),
            Address::parse("[::1]:1").unwrap(),
            Address::parse("9.9.9.9:1").unwrap(),
            Address::parse("1.1.1.1:2").unwrap(),
            Address::parse("1.1.1.1:1").unwrap(),
        ];
        v.sort();
        let printed: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            printed,
            ["1.1.1.1:1", "1.1.1.1:2", "9.9.9.9:1", "[::1]:1", "unix:/z"]
        );
    }

    #[test]
    fn with_port_replaces_the_port_of_ip_addresses_only() {
        let a = Address::parse("[::1]:80").unwrap();
        assert_eq!(a.with_port(81).to_string(), "[::1]:81");
        let u = Address::parse("unix:/s").unwrap();
        assert_eq!(u.with_port(81), u);
    }
}
