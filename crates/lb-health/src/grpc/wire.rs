//! The bytes of `grpc.health.v1.Health/Check`: length-prefixed gRPC messages around
//! `HealthCheckRequest { string service = 1; }` and
//! `HealthCheckResponse { ServingStatus status = 1; }`, encoded and decoded by hand.

/// `HealthCheckResponse.ServingStatus.SERVING`.
pub(crate) const SERVING: u64 = 1;

/// The most bytes of response messages a probe reads; a real answer is 7 bytes.
pub(crate) const MAX_RESPONSE_BYTES: usize = 1024;

/// The gRPC frame of a `HealthCheckRequest` for `service`.
pub(crate) fn encode_request(service: &str) -> Vec<u8> {
    let mut message = Vec::with_capacity(service.len() + 6);
    if !service.is_empty() {
        message.push(0x0a); // field 1, wire type 2 (length-delimited)
        put_varint(&mut message, service.len() as u64);
        message.extend_from_slice(service.as_bytes());
    }
    let mut frame = Vec::with_capacity(5 + message.len());
    frame.push(0); // not compressed
    // The service name is capped far below 4 GiB when the probe is built.
    frame.extend_from_slice(
        &u32::try_from(message.len())
            .unwrap_or(u32::MAX)
            .to_be_bytes(),
    );
    frame.extend_from_slice(&message);
    frame
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(buf: &mut &[u8]) -> Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first().ok_or("truncated varint")?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes")
}

/// The serving status in the single gRPC message of `body`.
pub(crate) fn decode_response(body: &[u8]) -> Result<u64, String> {
    let (&flag, rest) = body.split_first().ok_or("the response has no message")?;
    if flag != 0 {
        return Err(format!("the response message is compressed (flag {flag})"));
    }
    let (len, message) = rest
        .split_at_checked(4)
        .ok_or("the response message prefix is truncated")?;
    // Four bytes, checked just above.
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if message.len() != len {
        return Err(format!(
            "the response message says {len} bytes but {} follow",
            message.len()
        ));
    }
    let mut buf = message;
    // proto3: a missing field is its default, UNKNOWN (0).
    let mut status = 0;
    while !buf.is_empty() {
        let key = get_varint(&mut buf)?;
        let (field, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                let v = get_varint(&mut buf)?;
                if field == 1 {
                    status = v;
                }
            }
            1 | 5 => {
                let n = if wire_type == 1 { 8 } else { 4 };
                buf = buf.get(n..).ok_or("truncated fixed-size field")?;
            }
            2 => {
                let n = usize::try_from(get_varint(&mut buf)?).map_err(|_| "field too long")?;
                buf = buf.get(n..).ok_or("truncated length-delimited field")?;
            }
            other => return Err(format!("unsupported protobuf wire type {other}")),
        }
    }
    Ok(status)
}

/// The name of a serving status.
pub(crate) fn status_name(status: u64) -> String {
    match status {
        0 => "UNKNOWN".to_owned(),
        1 => "SERVING".to_owned(),
        2 => "NOT_SERVING".to_owned(),
        3 => "SERVICE_UNKNOWN".to_owned(),
        other => format!("status {other}"),
    }
}

/// A `grpc-message` value, percent-decoded, at most 256 bytes of it.
pub(crate) fn decode_message(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len().min(256));
    let mut i = 0;
    while i < raw.len() && out.len() < 256 {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(message: &[u8]) -> Vec<u8> {
        let mut f = vec![0];
        f.extend_from_slice(&(message.len() as u32).to_be_bytes());
        f.extend_from_slice(message);
        f
    }

    #[test]
    fn requests_encode_the_service_name() {
        assert_eq!(encode_request(""), vec![0, 0, 0, 0, 0]);
        assert_eq!(
            encode_request("api"),
            vec![0, 0, 0, 0, 5, 0x0a, 3, b'a', b'p', b'i']
        );
        let long = "s".repeat(200);
        let f = encode_request(&long);
        assert_eq!(&f[5..8], &[0x0a, 0xc8, 0x01], "200 as a two-byte varint");
    }

    #[test]
    fn responses_decode_and_malformed_ones_are_errors() {
        assert_eq!(decode_response(&frame(&[0x08, 0x01])), Ok(SERVING));
        assert_eq!(decode_response(&frame(&[0x08, 0x02])), Ok(2));
        assert_eq!(decode_response(&frame(&[])), Ok(0), "proto3 default");
        // Unknown fields of every wire type are skipped.
        let with_unknown = [
            0x12, 2, b'h', b'i', 0x19, 1, 2, 3, 4, 5, 6, 7, 8, 0x25, 1, 2, 3, 4, 0x08, 0x01,
        ];
        assert_eq!(decode_response(&frame(&with_unknown)), Ok(SERVING));
        assert!(decode_response(&[]).is_err());
        assert!(
            decode_response(&[1, 0, 0, 0, 0])
                .unwrap_err()
                .contains("compressed")
        );
        assert!(decode_response(&[0, 0, 0]).is_err());
        assert!(
            decode_response(&[0, 0, 0, 0, 9, 0x08])
                .unwrap_err()
                .contains("says 9 bytes")
        );
        assert!(
            decode_response(&frame(&[0x08])).is_err(),
            "truncated varint"
        );
        let overlong = [
            0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ];
        assert_eq!(
            decode_response(&frame(&overlong)).unwrap_err(),
            "varint longer than 10 bytes"
        );
        assert!(
            decode_response(&frame(&[0x12, 9, 1])).is_err(),
            "truncated bytes field"
        );
        assert!(decode_response(&frame(&[0x0b])).is_err(), "group wire type");
    }

    #[test]
    fn messages_are_percent_decoded_and_capped() {
        assert_eq!(decode_message(b"not%20found%"), "not found%");
        assert_eq!(decode_message(&[b'a'; 1000]).len(), 256);
        assert_eq!(status_name(3), "SERVICE_UNKNOWN");
        assert_eq!(status_name(9), "status 9");
    }
}
