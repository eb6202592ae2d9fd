//! lb-pingora's integration tests: one binary (link time on small machines).

mod migration;
mod peer;
mod proxy;
mod report;
mod service;
mod support;
