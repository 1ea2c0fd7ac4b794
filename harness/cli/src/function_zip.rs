//! The deployable artifact: a function's zip, unpacked whole into its task root as Lambda does
//! (every file, with its mode; nothing outside the root; Lambda's size quotas), so the simulator
//! runs exactly what would be deployed. A `provided` runtime's zip also needs an executable
//! `bootstrap` at its root.

use std::io::Read;
use std::path::{Path, PathBuf};

/// Lambda's quota on a zip uploaded directly: 50 MB ("Deployment package (.zip file archive)
/// size: 50 MB (zipped, for direct upload)", Lambda developer guide, Lambda quotas). The API
/// counts the base64 of the zip: 52,428,800 bytes is the 69,905,067 its error names.
pub const MAX_ZIPPED: u64 = 52_428_800;

/// Lambda's quota on a function's unzipped size: 250 MB, 262,144,000 bytes as its error names
/// them (Lambda developer guide, Lambda quotas).
pub const MAX_UNZIPPED: u64 = 262_144_000;

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
    /// Lambda would refuse it, with this error.
    #[error("{path}: Lambda would refuse it: {code}: {message}")]
    Refused {
        /// The zip.
        path: PathBuf,
        /// Lambda's error code.
        code: &'static str,
        /// Lambda's message.
        message: String,
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

/// A function's code, unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unpacked {
    /// The task root (`LAMBDA_TASK_ROOT`).
    pub root: PathBuf,
    /// Files written.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
}

/// Unpacks every entry of `zip` into `root`, keeping each file's mode, refusing an entry whose
/// path would land outside `root` and a zip over Lambda's quotas.
pub fn unpack(zip: &Path, root: &Path) -> Result<Unpacked, ZipError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ZipError::Io { path, source }
    };
    let invalid = |message: String| ZipError::Invalid { path: zip.into(), message };
    let file = std::fs::File::open(zip).map_err(io(zip))?;
    let zipped = file.metadata().map_err(io(zip))?.len();
    if zipped > MAX_ZIPPED {
        return Err(ZipError::Refused {
            path: zip.into(),
            code: "RequestEntityTooLargeException",
            message: "Request must be smaller than 69905067 bytes for the CreateFunction operation".into(),
        });
    }
    let too_big = || ZipError::Refused {
        path: zip.into(),
        code: "InvalidParameterValueException",
        message: format!("Unzipped size must be smaller than {MAX_UNZIPPED} bytes"),
    };
    let mut archive = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| invalid(format!("not a zip file ({e}); build it with lambda/scripts/package.sh or `zip -r`")))?;
    let mut unpacked = Unpacked { root: root.to_path_buf(), files: 0, bytes: 0 };
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| invalid(format!("entry {i}: {e}")))?;
        let Some(relative) = entry.enclosed_name() else {
            return Err(invalid(format!(
                "entry {:?} would unpack outside the task root (an absolute path or `..`): Lambda refuses such a zip",
                entry.name()
            )));
        };
        let out = root.join(&relative);
        if entry.is_dir() {
            std::fs::create_dir_all(&out).map_err(io(&out))?;
            continue;
        }
        if entry.is_symlink() {
            return Err(invalid(format!(
                "entry {:?} is a symbolic link: the simulator unpacks files only",
                entry.name()
            )));
        }
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        // Counted as written, not as declared: an entry's header may understate its size.
        let mut body = entry.by_ref().take(MAX_UNZIPPED - unpacked.bytes + 1);
        let mut f = std::fs::File::create(&out).map_err(io(&out))?;
        let n = std::io::copy(&mut body, &mut f).map_err(|e| invalid(format!("entry {:?}: {e}", relative)))?;
        unpacked.bytes += n;
        if unpacked.bytes > MAX_UNZIPPED {
            return Err(too_big());
        }
        unpacked.files += 1;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = entry.unix_mode().map_or(0o644, |m| m & 0o7777);
            std::fs::set_permissions(&out, std::fs::Permissions::from_mode(mode)).map_err(io(&out))?;
        }
    }
    Ok(unpacked)
}

/// Unpacks a `provided` runtime's zip into `root` and returns its `bootstrap`, which must be an
/// executable file at the root.
pub fn unpack_bootstrap(zip: &Path, root: &Path) -> Result<PathBuf, ZipError> {
    let invalid = |message: String| ZipError::Invalid { path: zip.into(), message };
    let unpacked = unpack(zip, root)?;
    let bootstrap = root.join("bootstrap");
    let Ok(meta) = std::fs::metadata(&bootstrap) else {
        return Err(invalid(format!(
            "no `bootstrap` at the root ({} file(s) unpacked); provided runtimes start ./bootstrap",
            unpacked.files
        )));
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if mode & 0o111 == 0 {
            return Err(invalid(format!(
                "`bootstrap` is not executable (mode {:o}): Lambda would fail with Permission denied",
                mode & 0o7777
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(bootstrap)
}

/// The command the simulator starts as the copy function's `bootstrap`, and the directory its
/// zip was unpacked into (kept as long as this lives).
pub struct Function {
    /// The command line.
    pub command: Vec<String>,
    _unpacked: Option<tempfile::TempDir>,
}

impl Function {
    /// The function in `zip`, or else the harness's own build of the copy function (this
    /// executable's `lambda-bootstrap` subcommand).
    pub fn resolve(zip: Option<&Path>) -> anyhow::Result<Self> {
        use anyhow::Context;
        match zip {
            None => {
                let exe = std::env::current_exe().context("locating the harness executable")?;
                Ok(Self {
                    command: vec![exe.to_string_lossy().into_owned(), "lambda-bootstrap".into()],
                    _unpacked: None,
                })
            }
            Some(zip) => {
                let dir = tempfile::Builder::new().prefix("harness-function-").tempdir()?;
                let bootstrap = unpack_bootstrap(zip, dir.path())?;
                Ok(Self { command: vec![bootstrap.to_string_lossy().into_owned()], _unpacked: Some(dir) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip of `(name, mode, body)` entries the way `lambda/scripts/package.sh` writes one
    /// (Python's zipfile, deflated); a mode of 0 writes a directory entry.
    fn python_zip(dir: &Path, entries: &[(&str, u32, &[u8])]) -> Option<PathBuf> {
        let zip = dir.join("f.zip");
        let mut script = String::from("import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1], 'w')\n");
        for (name, mode, body) in entries {
            let body: Vec<String> = body.iter().map(|b| b.to_string()).collect();
            script.push_str(&format!(
                "i = zipfile.ZipInfo({name:?}, date_time=(2026,1,1,0,0,0))\ni.external_attr = 0o{mode:o} << 16\ni.compress_type = zipfile.ZIP_DEFLATED\nz.writestr(i, bytes([{}]))\n",
                body.join(",")
            ));
        }
        script.push_str("z.close()\n");
        let ok = std::process::Command::new("python3").args(["-c", &script]).arg(&zip).status().ok()?;
        ok.success().then_some(zip)
    }

    #[test]
    fn unpacks_what_package_sh_writes_and_refuses_what_lambda_would() {
        let dir = tempfile::tempdir().unwrap();
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 7) as u8).collect();
        let Some(zip) = python_zip(dir.path(), &[("bootstrap", 0o100755, &body)]) else {
            eprintln!("SKIPPED: python3 is needed to write the test zip");
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let bin = unpack_bootstrap(&zip, out.path()).unwrap();
        assert_eq!(std::fs::read(bin).unwrap(), body);
        let zip = python_zip(dir.path(), &[("bootstrap", 0o100644, b"x")]).unwrap();
        let out = tempfile::tempdir().unwrap();
        assert!(unpack_bootstrap(&zip, out.path()).unwrap_err().to_string().contains("not executable"));
        let zip = python_zip(dir.path(), &[("bin/bootstrap", 0o100755, b"x")]).unwrap();
        let out = tempfile::tempdir().unwrap();
        assert!(unpack_bootstrap(&zip, out.path()).unwrap_err().to_string().contains("no `bootstrap` at the root"));
        std::fs::write(dir.path().join("junk.zip"), b"not a zip").unwrap();
        assert!(unpack(&dir.path().join("junk.zip"), out.path()).unwrap_err().to_string().contains("not a zip"));
    }

    #[test]
    fn every_file_unpacks_with_its_mode_and_nothing_lands_outside_the_root() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let entries: &[(&str, u32, &[u8])] = &[
            ("bootstrap", 0o100755, b"#!/bin/sh\n"),
            ("lambda_function.py", 0o100644, b"def lambda_handler(e, c): pass\n"),
            ("pkg/", 0o40755, b""),
            ("pkg/mod.py", 0o100600, b"x = 1\n"),
        ];
        let Some(zip) = python_zip(dir.path(), entries) else {
            eprintln!("SKIPPED: python3 is needed to write the test zip");
            return;
        };
        let out = tempfile::tempdir().unwrap();
        let u = unpack(&zip, out.path()).unwrap();
        assert_eq!((u.files, u.bytes), (3, 10 + 31 + 6));
        let mode = |p: &str| std::fs::metadata(out.path().join(p)).unwrap().permissions().mode() & 0o7777;
        assert_eq!((mode("bootstrap"), mode("lambda_function.py"), mode("pkg/mod.py")), (0o755, 0o644, 0o600));
        let zip = python_zip(dir.path(), &[("../evil", 0o100644, b"x")]).unwrap();
        let inner = out.path().join("inner");
        let e = unpack(&zip, &inner).unwrap_err().to_string();
        assert!(e.contains("outside the task root"), "{e}");
        assert!(!out.path().join("evil").exists());
        // An absolute name is taken as relative to the root: it lands inside, never at /etc.
        let zip = python_zip(dir.path(), &[("/etc/evil", 0o100644, b"x")]).unwrap();
        match unpack(&zip, &inner) {
            Ok(_) => assert!(inner.join("etc/evil").is_file()),
            Err(e) => assert!(e.to_string().contains("outside the task root"), "{e}"),
        }
    }

    #[test]
    fn zips_over_lambdas_quotas_get_lambdas_errors() {
        let dir = tempfile::tempdir().unwrap();
        // Zeros deflate about a thousandfold: 251 MiB of them is a small zip past the unzipped quota.
        let script = "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n  with z.open('big', 'w', force_zip64=True) as f:\n    for _ in range(251): f.write(bytes(1 << 20))\n";
        let zip = dir.path().join("big.zip");
        let Ok(s) = std::process::Command::new("python3").args(["-c", script]).arg(&zip).status() else {
            eprintln!("SKIPPED: python3 is needed to write the test zip");
            return;
        };
        assert!(s.success());
        let out = tempfile::tempdir().unwrap();
        let e = unpack(&zip, out.path()).unwrap_err().to_string();
        assert!(
            e.contains("InvalidParameterValueException: Unzipped size must be smaller than 262144000 bytes"),
            "{e}"
        );
        let f = std::fs::File::create(dir.path().join("huge.zip")).unwrap();
        f.set_len(MAX_ZIPPED + 1).unwrap();
        let e = unpack(&dir.path().join("huge.zip"), out.path()).unwrap_err().to_string();
        assert!(e.contains("RequestEntityTooLargeException: Request must be smaller than 69905067 bytes"), "{e}");
    }
}
