//! The client's first KEXINIT, read off the wire as it passes, so that session logs name the key
//! exchange and ciphers a connection really uses: RFC 4253 section 7.1 picks, for each, the
//! first of the client's algorithms that the server also offers.

use std::sync::{Arc, OnceLock};

/// What the client offered in its KEXINIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOffer {
    /// Key exchange algorithms.
    pub kex: Vec<String>,
    /// Ciphers, client to server.
    pub ciphers_c2s: Vec<String>,
    /// Ciphers, server to client.
    pub ciphers_s2c: Vec<String>,
}

const SSH_MSG_KEXINIT: u8 = 20;
/// A client that has not sent its KEXINIT within this many bytes is not recorded further.
const RECORD_LIMIT: usize = 64 * 1024;

fn name_list(payload: &[u8], at: &mut usize) -> Option<Vec<String>> {
    let len = u32::from_be_bytes(payload.get(*at..*at + 4)?.try_into().ok()?) as usize;
    let text = payload.get(*at + 4..*at + 4 + len)?;
    *at += 4 + len;
    Some(String::from_utf8_lossy(text).split(',').filter(|s| !s.is_empty()).map(str::to_string).collect())
}

/// The client's offer from the first bytes it sent (identification line, then the unencrypted
/// KEXINIT packet); `None` until those bytes are complete, or if they are not SSH.
pub fn parse(bytes: &[u8]) -> Option<ClientOffer> {
    // Lines before the identification line are allowed (RFC 4253 section 4.2).
    let mut start = 0;
    loop {
        let end = start + bytes.get(start..)?.windows(2).position(|w| w == b"\r\n")?;
        let line = &bytes[start..end];
        start = end + 2;
        if line.starts_with(b"SSH-") {
            break;
        }
    }
    let packet = bytes.get(start..)?;
    let len = u32::from_be_bytes(packet.get(..4)?.try_into().ok()?) as usize;
    let padding = *packet.get(4)? as usize;
    let payload = packet.get(5..4 + len.checked_sub(padding)?)?;
    if payload.first() != Some(&SSH_MSG_KEXINIT) {
        return None;
    }
    let mut at = 1 + 16; // message number, cookie
    let kex = name_list(payload, &mut at)?;
    let _host_keys = name_list(payload, &mut at)?;
    let ciphers_c2s = name_list(payload, &mut at)?;
    let ciphers_s2c = name_list(payload, &mut at)?;
    Some(ClientOffer { kex, ciphers_c2s, ciphers_s2c })
}

/// The first of the client's algorithms the server also offers.
pub fn negotiate<'a>(client: &'a [String], server: &[&str]) -> Option<&'a str> {
    client.iter().map(String::as_str).find(|c| server.contains(c))
}

/// What the client has sent so far, until its KEXINIT is read.
pub struct Recording {
    seen: Vec<u8>,
    offer: Arc<OnceLock<ClientOffer>>,
    done: bool,
}

impl Recording {
    /// A recording that puts the client's offer in `offer` once read.
    pub fn new(offer: Arc<OnceLock<ClientOffer>>) -> Self {
        Self { seen: Vec::new(), offer, done: false }
    }
}

impl super::tap::OnRead for Recording {
    fn on_read(&mut self, fresh: &[u8]) -> usize {
        if !self.done {
            self.seen.extend_from_slice(fresh);
            if let Some(offer) = parse(&self.seen) {
                let _ = self.offer.set(offer);
                self.done = true;
            } else if self.seen.len() > RECORD_LIMIT {
                self.done = true;
            }
            if self.done {
                self.seen = Vec::new();
            }
        }
        fresh.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(payload: &[u8]) -> Vec<u8> {
        let padding = 4u8;
        let len = (payload.len() + 1 + padding as usize) as u32;
        let mut out = len.to_be_bytes().to_vec();
        out.push(padding);
        out.extend_from_slice(payload);
        out.extend_from_slice(&[0; 4]);
        out
    }

    fn list(names: &str) -> Vec<u8> {
        let mut out = (names.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(names.as_bytes());
        out
    }

    fn kexinit() -> Vec<u8> {
        let mut p = vec![SSH_MSG_KEXINIT];
        p.extend_from_slice(&[7; 16]);
        for l in [
            "curve25519-sha256,ext-info-c",
            "ssh-ed25519",
            "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com",
            "aes256-ctr",
        ] {
            p.extend(list(l));
        }
        for _ in 0..6 {
            p.extend(list(""));
        }
        p.push(0);
        p.extend_from_slice(&[0; 4]);
        p
    }

    #[test]
    fn reads_the_offer_after_the_identification_line() {
        let mut wire = b"a banner line\r\nSSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".to_vec();
        let pkt = packet(&kexinit());
        wire.extend_from_slice(&pkt);
        let offer = parse(&wire).unwrap();
        assert_eq!(offer.kex, ["curve25519-sha256", "ext-info-c"]);
        assert_eq!(offer.ciphers_c2s, ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com"]);
        assert_eq!(offer.ciphers_s2c, ["aes256-ctr"]);
        // Incomplete input is not an offer yet; hostile input is never one.
        assert_eq!(parse(&wire[..wire.len() - 10]), None);
        assert_eq!(parse(b"SSH-2.0-x\r\n\xff\xff\xff\xff\x00"), None);
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), None);
    }

    #[test]
    fn the_client_preference_wins_among_what_the_server_offers() {
        let client: Vec<String> = ["chacha20-poly1305@openssh.com", "aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            negotiate(&client, &["aes256-gcm@openssh.com", "aes128-gcm@openssh.com"]),
            Some("aes128-gcm@openssh.com")
        );
        assert_eq!(negotiate(&client, &["aes128-ctr"]), None);
    }
}
