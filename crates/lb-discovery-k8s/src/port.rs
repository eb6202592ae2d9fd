//! [`Port`]: which of a Service's ports the backends are made of.

use std::fmt;

/// Which port of the Service's EndpointSlices becomes the backends' port.
///
/// An EndpointSlice lists its ports once for all of its endpoints, each with the name of the
/// Service port it serves and the *target* port number on the pods. A backend is an endpoint
/// address with the selected port. A slice that has no matching port contributes no backend
/// (and a warning is logged), as do ports without a number or outside `1..=65535`.
///
/// A port's `protocol` (TCP, UDP or SCTP) and `appProtocol` are not looked at: the backend is
/// an address and a port number, whatever speaks on it. A Service that serves one number over
/// two protocols (DNS on 53 over TCP and UDP) has two ports with one number, so [`Port::Only`]
/// is ambiguous there while [`Port::Number`] and [`Port::Name`] give the same backends.
///
/// ```
/// use lb_discovery_k8s::Port;
/// assert_eq!(Port::from("http"), Port::Name("http".into()));
/// assert_eq!(Port::from(8080), Port::Number(8080));
/// assert_eq!(Port::default(), Port::Only);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Port {
    /// The slice's only port; a slice with several ports contributes no backend, since the
    /// choice would be arbitrary. The default, and right for single-port Services.
    #[default]
    Only,
    /// The port with this name (the Service port's `name`). The empty string selects the
    /// unnamed port of a single-port Service.
    Name(String),
    /// The port with this number. EndpointSlices carry the pods' *target* port, which is not
    /// necessarily the Service's port: for `port: 80, targetPort: 8080`, select `8080` (or the
    /// port by name).
    Number(u16),
}

impl Port {
    /// Selects a port by name.
    pub fn name(name: impl Into<String>) -> Self {
        Port::Name(name.into())
    }
}

impl From<&str> for Port {
    fn from(name: &str) -> Self {
        Port::Name(name.to_owned())
    }
}

impl From<String> for Port {
    fn from(name: String) -> Self {
        Port::Name(name)
    }
}

impl From<u16> for Port {
    fn from(number: u16) -> Self {
        Port::Number(number)
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Only => f.write_str("the only port"),
            Port::Name(name) if name.is_empty() => f.write_str("the unnamed port"),
            Port::Name(name) => write!(f, "port `{name}`"),
            Port::Number(n) => write!(f, "port {n}"),
        }
    }
}
