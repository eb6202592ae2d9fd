//! [`PeerError`]: why a backend could not be made into a pingora peer.

use pingora_core::{Error, ErrorType};

/// Why a backend could not be made into a pingora peer, or TLS settings were refused.
///
/// In a pingora phase, `?` turns it into a pingora error (`Box<pingora_core::Error>`, of type
/// `InternalError`, with this error as its cause).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// A TLS server name was empty: pingora would skip certificate verification.
    #[error(
        "empty tls server name: pingora skips certificate verification without one (turn it off \
         by name with `peer.options.verify_cert = false` instead)"
    )]
    EmptySni,
    /// A TLS server name with a control or white-space character.
    #[error("invalid tls server name `{}`: it contains {bad:?}", sni.escape_debug())]
    InvalidSni {
        /// The rejected name.
        sni: String,
        /// The first offending character.
        bad: char,
    },
    /// The operating system refused a backend's Unix socket path.
    #[error("unusable unix socket path `{path}` for a pingora peer")]
    UnixPath {
        /// The path, lossily printed.
        path: String,
        /// Why it was refused.
        source: std::io::Error,
    },
}

impl From<PeerError> for Box<Error> {
    fn from(err: PeerError) -> Self {
        Error::because(
            ErrorType::InternalError,
            "lb-pingora: no peer for the backend",
            err,
        )
    }
}
