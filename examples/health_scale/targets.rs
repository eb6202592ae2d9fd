//! The probed addresses: distinct loopback addresses `127.a.b.c`, all on one port.
//!
//! Linux routes the whole of 127.0.0.0/8 to the loopback interface, and a connection to
//! `127.a.b.c` leaves from that same address, so one listener on `0.0.0.0:PORT` answers every
//! target and no packet leaves the machine. Every connection to a distinct target is a distinct
//! four-tuple, so source ports never run short: Linux's `connect()` may give the same ephemeral
//! port to connections to different destinations (it only needs the four-tuple to be unique).

use std::net::{Ipv4Addr, SocketAddr};

/// Third and fourth octets run over 1..=250, the second from 1 up: 62,500 targets per value of
/// the second octet, none of them `127.0.0.1`, none a `.0` or `.255` host.
const SPAN: usize = 250;

/// The most targets [`target`] can name (second octet up to 255).
pub(crate) const MAX_TARGETS: usize = 255 * SPAN * SPAN;

/// The `i`-th target on `port`: `127.(1 + i / 62,500).(1 + i / 250 % 250).(1 + i % 250)`.
/// `None` past [`MAX_TARGETS`].
pub(crate) fn target(i: usize, port: u16) -> Option<SocketAddr> {
    if i >= MAX_TARGETS {
        return None;
    }
    let octet = |n: usize| u8::try_from(n).ok();
    let a = octet(1 + i / (SPAN * SPAN))?;
    let b = octet(1 + i / SPAN % SPAN)?;
    let c = octet(1 + i % SPAN)?;
    Some(SocketAddr::from((Ipv4Addr::new(127, a, b, c), port)))
}

/// The first `count` targets on `port`, or an error past [`MAX_TARGETS`].
pub(crate) fn targets(count: usize, port: u16) -> Result<Vec<SocketAddr>, String> {
    (0..count)
        .map(|i| target(i, port))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("at most {MAX_TARGETS} targets, asked for {count}"))
}
