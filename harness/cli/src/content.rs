//! File contents for uploads: literal text, or deterministic CSV-like bytes of a given size,
//! produced in chunks so large files never sit in memory.

use sha2::{Digest, Sha256};

/// The bytes of one upload, produced chunk by chunk.
#[derive(Debug, Clone)]
pub enum Content {
    /// Literal bytes.
    Literal(Vec<u8>),
    /// `size` bytes of generated rows, seeded.
    Generated {
        /// Total size.
        size: u64,
        /// Seed (distinct files differ).
        seed: u64,
    },
}

#[allow(clippy::len_without_is_empty)]
impl Content {
    /// Total size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Literal(b) => b.len() as u64,
            Self::Generated { size, .. } => *size,
        }
    }

    /// Fills `buf` with the bytes at `offset`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        match self {
            Self::Literal(b) => {
                let start = offset as usize;
                buf.copy_from_slice(&b[start..start + buf.len()]);
            }
            Self::Generated { seed, .. } => {
                // Rows of 64 bytes: "row,<seed>,<row number>,..." padded; cheap and reproducible.
                for (i, byte) in buf.iter_mut().enumerate() {
                    let pos = offset + i as u64;
                    let row = pos / 64;
                    let col = pos % 64;
                    *byte = if col == 63 {
                        b'\n'
                    } else if col < 20 {
                        let digits = format!("{:019}", row ^ seed);
                        if col < 19 { digits.as_bytes()[col as usize] } else { b',' }
                    } else {
                        b'a' + ((row.wrapping_mul(31).wrapping_add(col).wrapping_add(*seed)) % 26) as u8
                    };
                }
            }
        }
    }

    /// SHA-256 of the whole content, hex.
    pub fn sha256(&self) -> String {
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 256 * 1024];
        let mut off = 0;
        while off < self.len() {
            let n = (self.len() - off).min(buf.len() as u64) as usize;
            self.fill(off, &mut buf[..n]);
            h.update(&buf[..n]);
            off += n as u64;
        }
        hex::encode(h.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_content_is_chunk_independent() {
        let c = Content::Generated { size: 1000, seed: 7 };
        let mut whole = vec![0; 1000];
        c.fill(0, &mut whole);
        let mut part = vec![0; 100];
        c.fill(450, &mut part);
        assert_eq!(&whole[450..550], &part[..]);
        assert_eq!(whole[63], b'\n');
    }
}
