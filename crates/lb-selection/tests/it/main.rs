//! Integration tests of lb-selection, in one binary (one link on small machines).

mod alloc;
mod bounded;
mod contract;
mod jump;
mod least_request;
mod load_balancer;
mod pingora;
mod props;
mod steering;
mod support;
