//! The Python tools the tests run (moto, boto3, paramiko, junitparser, kubernetes-validate), at
//! the versions `python-requirements.txt` pins, provisioned once into a virtual environment
//! under the target directory (`target/tools/python-<hash of the pins>/`).
//!
//! `.ci/run` and a newcomer's `cargo nextest run --workspace` run the same thing: the first
//! test that needs the tools creates the environment with the machine's `python3` and pip,
//! under a file lock (nextest runs tests as parallel processes), and every later test finds it
//! ready. A copy of one of these tools elsewhere on the machine (moto 5.2.1 in the system's
//! site-packages, a `PYTHONPATH`, a user site) is never used: the environment's interpreter
//! runs with those switched off, and each pinned version is read back before it is trusted.
//! Where provisioning is impossible (no `python3`, no network for pip), [`python`] says why,
//! and the caller hands that to [`crate::unavailable`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pins, as committed.
pub const REQUIREMENTS: &str = include_str!("../python-requirements.txt");

/// A provisioned virtual environment with every pinned tool at its pinned version.
#[derive(Debug, Clone)]
pub struct Python {
    root: PathBuf,
}

impl Python {
    /// The environment's interpreter.
    pub fn exe(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }

    /// The environment's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A command running the environment's interpreter, isolated from the machine's own
    /// packages: no `PYTHONPATH`, `PYTHONHOME` or user site-packages.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(self.exe());
        isolate(&mut cmd);
        cmd
    }

    /// The installed version of a distribution (`moto`), as `importlib.metadata` reads it.
    pub fn version_of(&self, dist: &str) -> Result<String, String> {
        let out = self
            .command()
            .args(["-c", "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))", dist])
            .output()
            .map_err(|e| format!("{} does not run: {e}", self.exe().display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(last_line(&out.stderr))
        }
    }
}

/// Every pinned `(distribution, version)` of [`REQUIREMENTS`] (extras dropped).
pub fn pins() -> Vec<(String, String)> {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once("=="))
        .map(|(name, version)| {
            let name = name.split('[').next().unwrap_or(name).trim();
            (name.to_string(), version.trim().to_string())
        })
        .collect()
}

/// The provisioned environment, created on first use; `Err` says why it cannot be (python3
/// missing, pip failing without network), in one line with how to fix it.
pub fn python() -> Result<Python, String> {
    static READY: OnceLock<Result<Python, String>> = OnceLock::new();
    READY.get_or_init(|| provision(&tools_dir()?)).clone()
}

/// `<target>/tools`: beside the test executable (`<target>/debug/deps/<test>`), so a
/// `CARGO_TARGET_DIR` elsewhere is honoured; `TESTKIT_TOOLS_DIR` replaces it (the policy's own
/// tests provision into an empty directory).
fn tools_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("TESTKIT_TOOLS_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot locate the test executable: {e}"))?;
    let target = exe
        .ancestors()
        .find(|p| p.join("CACHEDIR.TAG").is_file() || p.file_name().is_some_and(|n| n == "target"))
        .map(Path::to_path_buf)
        .or_else(|| exe.ancestors().nth(3).map(Path::to_path_buf))
        .ok_or_else(|| format!("no target directory above {}", exe.display()))?;
    Ok(target.join("tools"))
}

fn provision(tools: &Path) -> Result<Python, String> {
    std::fs::create_dir_all(tools).map_err(|e| format!("cannot create {}: {e}", tools.display()))?;
    let hash = fnv1a(REQUIREMENTS.as_bytes());
    let python = Python { root: tools.join(format!("python-{hash:016x}")) };
    let stamp = python.root.join(".provisioned");
    let failed = tools.join(format!("python-{hash:016x}.failed"));
    // One process provisions; the others wait here, then find the stamp.
    let lock_path = tools.join("python.lock");
    let lock = File::create(&lock_path).map_err(|e| format!("cannot create {}: {e}", lock_path.display()))?;
    lock.lock().map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    if stamp.is_file() {
        return Ok(python);
    }
    // A failure stays a failure for the rest of this test run, so an offline run says so once
    // per test instead of waiting on pip in each.
    let run = run_id();
    if let Ok(text) = std::fs::read_to_string(&failed)
        && let Some((id, why)) = text.split_once('\n')
        && id == run
    {
        return Err(why.to_string());
    }
    let result = create(&python);
    match &result {
        Ok(()) => {
            let _ = std::fs::remove_file(&failed);
            std::fs::write(&stamp, REQUIREMENTS).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
        }
        Err(why) => {
            let _ = std::fs::remove_dir_all(&python.root);
            let _ = std::fs::write(&failed, format!("{run}\n{why}"));
        }
    }
    result.map(|()| python)
}

/// Creates the environment and installs the pins, then reads every version back.
fn create(python: &Python) -> Result<(), String> {
    let _ = std::fs::remove_dir_all(&python.root);
    eprintln!("testkit: provisioning the pinned Python tools into {} (once)", python.root.display());
    let mut venv = Command::new("python3");
    isolate(&mut venv);
    let out = venv
        .args(["-m", "venv"])
        .arg(&python.root)
        .output()
        .map_err(|e| format!("python3 does not run ({e}): install Python 3 to run these tests"))?;
    if !out.status.success() {
        return Err(format!(
            "`python3 -m venv` failed: {} (on Debian and Ubuntu: apt-get install python3-venv)",
            last_line(&out.stderr)
        ));
    }
    let requirements = python.root.join("requirements.txt");
    std::fs::write(&requirements, REQUIREMENTS).map_err(|e| format!("cannot write {}: {e}", requirements.display()))?;
    let out = python
        .command()
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--retries", "2", "--timeout", "30"])
        .arg("-r")
        .arg(&requirements)
        .output()
        .map_err(|e| format!("pip does not run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "pip could not install harness/testkit/python-requirements.txt (is PyPI reachable?): {}",
            last_line(&out.stderr)
        ));
    }
    for (dist, pinned) in pins() {
        let found = python.version_of(&dist)?;
        if found != pinned {
            return Err(format!("{dist} {found} was installed where {pinned} is pinned"));
        }
    }
    Ok(())
}

/// Switches off everything that would put the machine's own packages before the environment's.
fn isolate(cmd: &mut Command) {
    cmd.env_remove("PYTHONPATH").env_remove("PYTHONHOME").env("PYTHONNOUSERSITE", "1");
}

/// Which test run this is: nextest's run id, else the parent process (cargo test).
fn run_id() -> String {
    std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("ppid-{}", parent_pid()))
}

#[cfg(unix)]
fn parent_pid() -> u32 {
    std::os::unix::process::parent_id()
}

#[cfg(not(unix))]
fn parent_pid() -> u32 {
    0
}

fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    text.trim().lines().last().unwrap_or("(nothing on stderr)").to_string()
}

/// FNV-1a, 64 bits: names the environment after its pins, stable across toolchains.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_name_every_tool_with_its_version() {
        let pins = pins();
        let names: Vec<&str> = pins.iter().map(|(n, _)| n.as_str()).collect();
        for tool in ["moto", "boto3", "paramiko", "junitparser", "kubernetes-validate"] {
            assert!(names.contains(&tool), "{tool} is not pinned: {names:?}");
        }
        assert!(pins.contains(&("moto".into(), crate::moto::VERSION.into())), "{pins:?}");
    }
}
