//! Just enough STUN (RFC 8489) to route a packet to its call: whether a datagram is STUN, and
//! the local part of its USERNAME. The ICE agent of each call does the real work.

/// STUN's magic cookie, bytes 4-7 of every STUN message.
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
/// The USERNAME attribute.
const USERNAME: u16 = 0x0006;
const HEADER: usize = 20;

/// Whether `b` is a STUN message (RFC 7983's demultiplexing: first byte 0-3, then the
/// cookie).
pub(crate) fn is_stun(b: &[u8]) -> bool {
    b.len() >= HEADER && b[0] < 4 && b[4..8] == MAGIC_COOKIE
}

/// In a binding request from a browser, USERNAME is `<our ufrag>:<their ufrag>`: our part,
/// which names the call.
pub(crate) fn local_ufrag(b: &[u8]) -> Option<&str> {
    if !is_stun(b) {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([b[2], b[3]]));
    let body = b.get(HEADER..HEADER + len)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let n = usize::from(u16::from_be_bytes([body[at + 2], body[at + 3]]));
        let value = body.get(at + 4..at + 4 + n)?;
        if kind == USERNAME {
            let user = std::str::from_utf8(value).ok()?;
            return user.split(':').next();
        }
        at += 4 + n.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(attrs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in attrs {
            body.extend_from_slice(&kind.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
            body.resize(body.len().div_ceil(4) * 4, 0);
        }
        let mut m = vec![0x00, 0x01];
        m.extend_from_slice(&(body.len() as u16).to_be_bytes());
        m.extend_from_slice(&MAGIC_COOKIE);
        m.extend_from_slice(&[7; 12]);
        m.extend_from_slice(&body);
        m
    }

    #[test]
    fn the_local_ufrag_is_read_past_other_attributes() {
        let m = binding(&[
            (0x0024, &[0, 0, 0, 1]),
            (USERNAME, b"voxAbc:brw9"),
            (0x8029, &[1; 8]),
        ]);
        assert!(is_stun(&m));
        assert_eq!(local_ufrag(&m), Some("voxAbc"));
    }

    #[test]
    fn other_packets_and_truncated_ones_are_not_routed_by_name() {
        let m = binding(&[(USERNAME, b"voxAbc:brw9")]);
        assert_eq!(local_ufrag(&m[..m.len() - 4]), None, "truncated");
        let dtls = [
            22u8, 254, 253, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert!(!is_stun(&dtls));
        assert_eq!(
            local_ufrag(&binding(&[(0x0024, &[0; 4])])),
            None,
            "no USERNAME"
        );
    }
}
