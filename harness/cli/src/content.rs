//! File contents for uploads: literal text, or deterministic CSV-like bytes of a given size,
//! produced in chunks so large files never sit in memory.

use sha2::{Digest, Sha256};

/// SHA-256 of generated content by (size, seed): the bytes are a function of both.
static HASHED: std::sync::LazyLock<std::sync::Mutex<std::collections::HashMap<(u64, u64), String>>> =
    std::sync::LazyLock::new(Default::default);

/// Bytes per generated row.
const ROW: usize = 64;

/// Row `row` of generated content: the row number XOR the seed in 19 zero-padded digits, a
/// comma, 43 letters, a newline.
fn generated_row(row: u64, seed: u64, out: &mut [u8; ROW]) {
    let mut v = row ^ seed;
    if v >= 10_000_000_000_000_000_000 {
        // Twenty digits: the first nineteen, as the row format always had.
        out[..19].copy_from_slice(&format!("{v}").as_bytes()[..19]);
    } else {
        for d in out[..19].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
    }
    out[19] = b',';
    for (col, byte) in out.iter_mut().enumerate().take(ROW - 1).skip(20) {
        *byte = b'a' + (row.wrapping_mul(31).wrapping_add(col as u64).wrapping_add(seed) % 26) as u8;
    }
    out[ROW - 1] = b'\n';
}

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
                // Rows of 64 bytes: "<19 digits>,<43 letters>\n"; cheap and reproducible. Built a
                // row at a time: this is the upload's hot path under load.
                let mut row_buf = [0u8; ROW];
                let mut done = 0;
                while done < buf.len() {
                    let pos = offset + done as u64;
                    let row = pos / ROW as u64;
                    let col = (pos % ROW as u64) as usize;
                    generated_row(row, *seed, &mut row_buf);
                    let n = (ROW - col).min(buf.len() - done);
                    buf[done..done + n].copy_from_slice(&row_buf[col..col + n]);
                    done += n;
                }
            }
        }
    }

    /// Records the SHA-256 of generated content as an upload computed it while sending, so
    /// that checks never generate the same bytes again to hash them.
    pub fn remember_sha256(&self, hex: &str) {
        if let Self::Generated { size, seed } = self {
            HASHED.lock().unwrap().insert((*size, *seed), hex.to_string());
        }
    }

    /// SHA-256 of the whole content, hex (generated content hashed once per process).
    pub fn sha256(&self) -> String {
        if let Self::Generated { size, seed } = self
            && let Some(hex) = HASHED.lock().unwrap().get(&(*size, *seed))
        {
            return hex.clone();
        }
        let hex = self.hash_bytes();
        self.remember_sha256(&hex);
        hex
    }

    fn hash_bytes(&self) -> String {
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
    fn generated_content_is_hashed_once() {
        let c = Content::Generated { size: 4096, seed: 0xfeed };
        let direct = c.hash_bytes();
        assert_eq!(c.sha256(), direct);
        // What an upload computed while sending is what later checks expect.
        let other = Content::Generated { size: 4096, seed: 0xbeef };
        other.remember_sha256("as-sent");
        assert_eq!(other.sha256(), "as-sent");
    }

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

    /// The rows as they were first defined, byte by byte: generated files keep their bytes.
    #[test]
    fn rows_keep_their_first_definition() {
        let reference = |seed: u64, pos: u64| -> u8 {
            let (row, col) = (pos / 64, pos % 64);
            if col == 63 {
                b'\n'
            } else if col < 20 {
                let digits = format!("{:019}", row ^ seed);
                if col < 19 { digits.as_bytes()[col as usize] } else { b',' }
            } else {
                b'a' + ((row.wrapping_mul(31).wrapping_add(col).wrapping_add(seed)) % 26) as u8
            }
        };
        for seed in [1, 7, u64::MAX - 3] {
            let c = Content::Generated { size: 4096, seed };
            let mut got = vec![0; 4000];
            c.fill(33, &mut got);
            for (i, b) in got.iter().enumerate() {
                assert_eq!(*b, reference(seed, 33 + i as u64), "seed {seed} byte {}", 33 + i);
            }
        }
    }
}
