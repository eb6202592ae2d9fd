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

/// The wire answer to the request in `bytes`, at most `limit` bytes long: over UDP a longer
/// answer is truncated (TC set, no records); over TCP it becomes SERVFAIL. `None` when the
/// request is undecodable or the zone says to stay silent.
fn respond(zone: &Mutex<Zone>, bytes: &[u8], udp: bool) -> Option<Vec<u8>> {
    let request = Message::from_vec(bytes).ok()?;
    let reply = lock(zone).answer(&request);
    let Reply::Message(response) = reply else {
        return None;
    };
    let encoded = response.to_vec().ok()?;
    if udp {
        let limit = request
            .edns
            .as_ref()
            .map_or(CLASSIC_UDP_PAYLOAD, |e| usize::from(e.max_payload()))
            .max(CLASSIC_UDP_PAYLOAD);
        if encoded.len() > limit {
            return response.truncate().to_vec().ok();
        }
    } else if encoded.len() > usize::from(u16::MAX) {
        return Message::error_msg(request.metadata.id, OpCode::Query, ResponseCode::ServFail)
            .to_vec()
            .ok();
    }
    Some(encoded)
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
