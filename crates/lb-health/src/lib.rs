//! Active health checks for lb.
//!
//! Not implemented yet: this crate is a documented, empty library until its issue lands
//! (see ARCHITECTURE.md). Nothing in it pretends to work.
