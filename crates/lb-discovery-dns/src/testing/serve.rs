//! The test server's sockets: one UDP socket and one TCP listener on the same port.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use super::lock;
use super::zone::{Reply, Zone};

/// The largest UDP datagram read; DNS queries are far smaller.
const UDP_BUFFER: usize = 4096;
/// A TCP connection idle for this long (or slow to send a whole message) is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// TCP connections served at once; more are closed on accept.
const TCP_CONNECTIONS: usize = 64;
/// The payload size a client without EDNS accepts over UDP.
const CLASSIC_UDP_PAYLOAD: usize = 512;

/// Binds UDP and TCP on the same free port of `ip`.
pub(super) async fn bind_pair(ip: IpAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no free port for udp and tcp");
    for _ in 0..32 {
        let udp = UdpSocket::bind(SocketAddr::new(ip, 0)).await?;
        let port = udp.local_addr()?.port();
        match TcpListener::bind(SocketAddr::new(ip, port)).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The wire answer to the request in `bytes`. An answer over the transport's limit (the
/// client's EDNS payload size over UDP, 64 KiB over TCP) first loses its additional section, as
/// RFC 2181 section 9 allows without setting TC; if it is still too long, a UDP answer is
/// truncated (TC set, no records) and a TCP answer becomes SERVFAIL. `None` when the request is
/// undecodable or the zone says to stay silent.
pub(super) fn respond(zone: &Mutex<Zone>, bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    let reply = lock(zone).answer(&request);
    let Reply::Message(mut response) = reply else {
        return None;
    };
    let limit = if udp {
        request
            .edns
            .as_ref()
            .map_or(CLASSIC_UDP_PAYLOAD, |e| usize::from(e.max_payload()))
            .max(CLASSIC_UDP_PAYLOAD)
    } else {
        usize::from(u16::MAX)
    };
    let fits = |m: &Message| {
        m.to_vec()
            .ok()
            .filter(|b| b.len() <= limit && !m_truncated(b))
    };
    if let Some(encoded) = fits(&response) {
        return Some(encoded);
    }
    if !response.additionals.is_empty() {
        response.additionals.clear();
        if let Some(encoded) = fits(&response) {
            return Some(encoded);
        }
    }
    if udp {
        response.truncate().to_vec().ok()
    } else {
        Message::error_msg(request.metadata.id, OpCode::Query, ResponseCode::ServFail)
            .to_vec()
            .ok()
    }
}

/// Whether an encoded message has the TC bit set (hickory's encoder sets it when a message does
/// not fit in 64 KiB).
fn m_truncated(encoded: &[u8]) -> bool {
    encoded.get(2).is_some_and(|flags| flags & 0x02 != 0)
}

pub(super) async fn udp(socket: UdpSocket, zone: Arc<Mutex<Zone>>, queries: Arc<AtomicU64>) {
    let mut buf = vec![0u8; UDP_BUFFER];
    loop {
        let (len, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            // An ICMP error from an earlier reply (the client went away) surfaces here on some
            // systems; it concerns that client only.
            Err(_) => continue,
        };
        queries.fetch_add(1, Ordering::Relaxed);
        if let Some(reply) = respond(&zone, &buf[..len], true) {
            // A lost reply is what UDP clients expect and retry.
            let _ = socket.send_to(&reply, peer).await;
        }
    }
}

pub(super) async fn tcp(listener: TcpListener, zone: Arc<Mutex<Zone>>, queries: Arc<AtomicU64>) {
    // Connection tasks live in this set, so they stop when the server task is aborted.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        while connections.try_join_next().is_some() {}
        if connections.len() >= TCP_CONNECTIONS {
            continue;
        }
        connections.spawn(connection(stream, Arc::clone(&zone), Arc::clone(&queries)));
    }
}

async fn connection(mut stream: TcpStream, zone: Arc<Mutex<Zone>>, queries: Arc<AtomicU64>) {
    loop {
        let mut len = [0u8; 2];
        if !matches!(
            tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut len)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        // At most 64 KiB: the length prefix bounds the read.
        let mut message = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !matches!(
            tokio::time::timeout(TCP_IDLE, stream.read_exact(&mut message)).await,
            Ok(Ok(_))
        ) {
            return;
        }
        queries.fetch_add(1, Ordering::Relaxed);
        let Some(reply) = respond(&zone, &message, false) else {
            continue;
        };
        // `respond` keeps TCP replies within u16::MAX bytes.
        let Ok(reply_len) = u16::try_from(reply.len()) else {
            return;
        };
        let mut framed = Vec::with_capacity(reply.len() + 2);
        framed.extend_from_slice(&reply_len.to_be_bytes());
        framed.extend_from_slice(&reply);
        if !matches!(
            tokio::time::timeout(TCP_IDLE, stream.write_all(&framed)).await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::SrvSpec;
    use hickory_resolver::proto::op::{Edns, Query};
    use hickory_resolver::proto::rr::{Name, RecordType};
    use std::net::Ipv4Addr;

    fn request(edns_payload: Option<u16>) -> Vec<u8> {
        let mut m = Message::query();
        m.add_query(Query::query(
            Name::from_ascii("_svc._tcp.big.test.").unwrap(),
            RecordType::SRV,
        ));
        if let Some(payload) = edns_payload {
            let mut edns = Edns::new();
            edns.set_max_payload(payload);
            m.set_edns(edns);
        }
        m.to_vec().unwrap()
    }

    fn zone_with(records: u32) -> Mutex<Zone> {
        let mut zone = Zone::default();
        zone.srv_additionals = true;
        let specs = (0..records)
            .map(|i| SrvSpec::new(10, 1, 8000, format!("t{i}.big.test.")))
            .collect();
        zone.set_srv("_svc._tcp.big.test.", 30, specs);
        for i in 0..records {
            zone.set_a(
                &format!("t{i}.big.test."),
                30,
                vec![Ipv4Addr::from(0x0a00_0000 + i)],
            );
        }
        Mutex::new(zone)
    }

    #[test]
    fn oversized_answers_lose_their_additionals_before_anything_else() {
        // 1,000 SRV records with their glue need more than 64 KiB; without it, about 48 KB.
        let zone = zone_with(1000);
        let tcp = Message::from_vec(&respond(&zone, &request(Some(1232)), false).unwrap()).unwrap();
        assert_eq!(tcp.answers.len(), 1000);
        assert!(tcp.additionals.is_empty(), "the glue did not fit in 64 KiB");
        assert!(!tcp.metadata.truncation);

        let small = zone_with(3);
        let m = Message::from_vec(&respond(&small, &request(Some(1232)), true).unwrap()).unwrap();
        assert_eq!(
            (m.answers.len(), m.additionals.len()),
            (3, 3),
            "small answers keep the glue"
        );

        let udp = Message::from_vec(&respond(&zone, &request(None), true).unwrap()).unwrap();
        assert!(
            udp.metadata.truncation,
            "too large for 512 bytes even without glue"
        );
        assert!(udp.answers.is_empty());
    }

    #[test]
    fn tcp_answers_that_cannot_fit_become_servfail() {
        let zone = zone_with(2000);
        let m = Message::from_vec(&respond(&zone, &request(Some(1232)), false).unwrap()).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert!(respond(&zone, b"garbage", false).is_none());
    }
}
