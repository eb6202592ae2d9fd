//! lb-health's integration tests: every probe against real sockets on loopback.

mod grpc;
mod hostile;
mod http;
mod scale;
mod servers;
mod support;
mod tcp;
