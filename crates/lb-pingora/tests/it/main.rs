//! lb-pingora's integration tests: one binary (link time on small machines).

mod migration;
mod proxy;
mod service;
mod support;
