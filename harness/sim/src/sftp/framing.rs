//! The SFTP channel's byte stream, with its packet lengths checked on the way in.
//!
//! russh-sftp refuses a packet longer than its limit (256 KiB, OpenSSH sftp-server's
//! SFTP_MAX_MSG_LENGTH) but then carries on reading the refused packet's payload as if it were
//! more packets, and never answers. OpenSSH's sftp-server logs "bad message" and exits instead.
//! This reader does the same: at the first over-long length it ends the stream, so the SFTP
//! session stops and the channel closes; the connection and its other channels carry on.

/// The longest SFTP packet accepted: OpenSSH sftp-server's SFTP_MAX_MSG_LENGTH.
pub const MAX_PACKET: u32 = 256 * 1024;

/// A stream that ends at the first SFTP packet longer than [`MAX_PACKET`].
pub type Bounded<S> = super::tap::Tap<S, PacketBound>;

/// The framing of the packets read so far.
pub struct PacketBound {
    /// Bytes of the current packet's payload still to pass.
    remaining: u64,
    /// Length bytes read so far at a packet boundary.
    header: [u8; 4],
    have: usize,
    ended: bool,
    /// Called once, with the refused length.
    on_refused: Option<Box<dyn FnOnce(u32) + Send>>,
}

/// `inner`, ending at its first over-long packet; `on_refused` hears the refused length.
pub fn bounded<S>(inner: S, on_refused: impl FnOnce(u32) + Send + 'static) -> Bounded<S> {
    super::tap::Tap::new(inner, PacketBound::new(on_refused))
}

impl PacketBound {
    /// A bound that has read nothing yet; `on_refused` hears the length of a refused packet.
    pub fn new(on_refused: impl FnOnce(u32) + Send + 'static) -> Self {
        Self { remaining: 0, header: [0; 4], have: 0, ended: false, on_refused: Some(Box::new(on_refused)) }
    }

    /// Follows the framing over `bytes`; returns how many of them may pass.
    fn scan(&mut self, bytes: &[u8]) -> usize {
        let mut i = 0;
        while i < bytes.len() {
            if self.remaining > 0 {
                let take = (self.remaining as usize).min(bytes.len() - i);
                self.remaining -= take as u64;
                i += take;
                continue;
            }
            self.header[self.have] = bytes[i];
            self.have += 1;
            i += 1;
            if self.have == 4 {
                self.have = 0;
                let len = u32::from_be_bytes(self.header);
                if len > MAX_PACKET {
                    self.ended = true;
                    if let Some(f) = self.on_refused.take() {
                        f(len);
                    }
                    // Nothing of the refused packet passes; a length split across reads has
                    // already half passed, and the reader meets the end in the middle of it.
                    return i.saturating_sub(4);
                }
                self.remaining = len as u64;
            }
        }
        bytes.len()
    }
}

impl super::tap::OnRead for PacketBound {
    fn on_read(&mut self, fresh: &[u8]) -> usize {
        self.scan(fresh)
    }

    fn ended(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn packet(len: u32, fill: u8) -> Vec<u8> {
        let mut p = len.to_be_bytes().to_vec();
        p.extend(std::iter::repeat_n(fill, len as usize));
        p
    }

    #[tokio::test]
    async fn ends_at_the_first_over_long_packet() {
        let mut wire = packet(5, b'a');
        wire.extend(packet(MAX_PACKET, b'b'));
        wire.extend(packet(MAX_PACKET + 1, b'c'));
        wire.extend(packet(3, b'd'));
        let refused = std::sync::Arc::new(std::sync::Mutex::new(None));
        let seen = refused.clone();
        let mut r = bounded(&wire[..], move |n| *seen.lock().unwrap() = Some(n));
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out.len(), 4 + 5 + 4 + MAX_PACKET as usize, "both packets within the limit pass whole");
        assert!(!out.contains(&b'c') && !out.contains(&b'd'), "nothing of or after the refused packet");
        assert_eq!(*refused.lock().unwrap(), Some(MAX_PACKET + 1));
    }

    #[test]
    fn lengths_split_across_reads_are_followed() {
        let mut r = PacketBound::new(|_| {});
        let wire = packet(2, b'x');
        for b in &wire {
            assert_eq!(r.scan(std::slice::from_ref(b)), 1);
        }
        let big = (MAX_PACKET + 1).to_be_bytes();
        assert_eq!(r.scan(&big[..2]), 2);
        assert_eq!(r.scan(&big[2..]), 0);
        assert!(r.ended);
    }
}
