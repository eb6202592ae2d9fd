//! lb-health's integration tests: every probe against real sockets on loopback.

mod support;
mod tcp;
