//! The deployable artifact: the Lambda zip `lambda/scripts/package.sh` builds, checked as the
//! `provided` runtimes require it (an executable `bootstrap` at the root) and unpacked so the
//! simulator runs exactly what would be deployed.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Why a zip cannot be deployed.
#[derive(Debug, thiserror::Error)]
pub enum ZipError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not a zip file Lambda would take, or no usable `bootstrap` in it.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and how to fix it.
        message: String,
    },
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// One entry of the central directory.
struct Entry {
    name: String,
    method: u16,
    crc32: u32,
    compressed: usize,
    size: usize,
    mode: u32,
    local_header: usize,
}

fn entries(b: &[u8]) -> Option<Vec<Entry>> {
    // The end-of-central-directory record is in the last 64 KiB + 22 bytes.
    let tail = b.len().saturating_sub(65_557);
    let eocd = (tail..b.len().saturating_sub(21)).rev().find(|&i| u32_at(b, i) == Some(0x0605_4b50))?;
    let count = u16_at(b, eocd + 10)? as usize;
    let mut at = u32_at(b, eocd + 16)? as usize;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        if u32_at(b, at)? != 0x0201_4b50 {
            return None;
        }
        let name_len = u16_at(b, at + 28)? as usize;
        let extra_len = u16_at(b, at + 30)? as usize;
        let comment_len = u16_at(b, at + 32)? as usize;
        out.push(Entry {
            method: u16_at(b, at + 10)?,
            crc32: u32_at(b, at + 16)?,
            compressed: u32_at(b, at + 20)? as usize,
            size: u32_at(b, at + 24)? as usize,
            mode: u32_at(b, at + 38)? >> 16,
            local_header: u32_at(b, at + 42)? as usize,
            name: String::from_utf8_lossy(b.get(at + 46..at + 46 + name_len)?).into_owned(),
        });
        at += 46 + name_len + extra_len + comment_len;
    }
    Some(out)
}

/// Checks the zip and writes its `bootstrap` into `dir`; returns its path.
pub fn unpack_bootstrap(zip: &Path, dir: &Path) -> Result<PathBuf, ZipError> {
    let invalid = |message: String| ZipError::Invalid { path: zip.into(), message };
    let bytes = std::fs::read(zip).map_err(|source| ZipError::Io { path: zip.into(), source })?;
    let all =
        entries(&bytes).ok_or_else(|| invalid("not a zip file (build it with lambda/scripts/package.sh)".into()))?;
    let e = all.iter().find(|e| e.name == "bootstrap").ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|e| e.name.as_str()).collect();
        invalid(format!("no `bootstrap` at the root (it holds {names:?}); provided runtimes start ./bootstrap"))
    })?;
    if e.mode & 0o111 == 0 {
        return Err(invalid(format!(
            "`bootstrap` is not executable (mode {:o}): Lambda would fail with Permission denied",
            e.mode & 0o7777
        )));
    }
    let name_len = u16_at(&bytes, e.local_header + 26).unwrap_or(0) as usize;
    let extra_len = u16_at(&bytes, e.local_header + 28).unwrap_or(0) as usize;
    let start = e.local_header + 30 + name_len + extra_len;
    let data = bytes.get(start..start + e.compressed).ok_or_else(|| invalid("`bootstrap` is cut short".into()))?;
    let body = match e.method {
        0 => data.to_vec(),
        8 => {
            let mut out = Vec::with_capacity(e.size);
            flate2::read::DeflateDecoder::new(data)
                .read_to_end(&mut out)
                .map_err(|err| invalid(format!("`bootstrap` does not inflate: {err}")))?;
            out
        }
        m => return Err(invalid(format!("`bootstrap` uses compression method {m}; Lambda reads stored or deflated"))),
    };
    if body.len() != e.size || crc_fast::crc32_iso_hdlc(&body) != e.crc32 {
        return Err(invalid("`bootstrap` fails its CRC-32 check: the zip is corrupt".into()));
    }
    let out = dir.join("bootstrap");
    std::fs::write(&out, &body).map_err(|source| ZipError::Io { path: out.clone(), source })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755))
            .map_err(|source| ZipError::Io { path: out.clone(), source })?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip the way `lambda/scripts/package.sh` writes one (Python's zipfile, deflated).
    fn python_zip(dir: &Path, name: &str, mode: u32, body: &[u8]) -> Option<PathBuf> {
        let src = dir.join("src");
        std::fs::write(&src, body).ok()?;
        let zip = dir.join("f.zip");
        let script = format!(
            "import sys, zipfile\ni = zipfile.ZipInfo({name:?}, date_time=(2026,1,1,0,0,0))\ni.external_attr = 0o{mode:o} << 16\ni.compress_type = zipfile.ZIP_DEFLATED\nwith zipfile.ZipFile(sys.argv[2], 'w') as z: z.writestr(i, open(sys.argv[1], 'rb').read())\n"
        );
        let ok = std::process::Command::new("python3").args(["-c", &script]).arg(&src).arg(&zip).status().ok()?;
        ok.success().then_some(zip)
    }

    #[test]
    fn unpacks_what_package_sh_writes_and_refuses_what_lambda_would() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        let Some(zip) = python_zip(dir.path(), "bootstrap", 0o100755, &body) else {
            eprintln!("SKIPPED: python3 is needed to write the test zip");
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let bin = unpack_bootstrap(&zip, out.path()).unwrap();
        assert_eq!(std::fs::read(bin).unwrap(), body);
        let zip = python_zip(dir.path(), "bootstrap", 0o100644, b"x").unwrap();
        assert!(unpack_bootstrap(&zip, out.path()).unwrap_err().to_string().contains("not executable"));
        let zip = python_zip(dir.path(), "bin/bootstrap", 0o100755, b"x").unwrap();
        assert!(unpack_bootstrap(&zip, out.path()).unwrap_err().to_string().contains("no `bootstrap` at the root"));
        std::fs::write(dir.path().join("junk.zip"), b"not a zip").unwrap();
        assert!(
            unpack_bootstrap(&dir.path().join("junk.zip"), out.path()).unwrap_err().to_string().contains("not a zip")
        );
    }
}
