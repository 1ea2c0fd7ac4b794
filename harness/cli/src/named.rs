//! Files a command takes by name or by path: scenarios in `scenarios/`, load profiles in
//! `scenarios/load/`. `smoke` is `<dir>/smoke.toml`; `scenarios/load/smoke.toml`, `./x.toml` or any
//! other path is that file.

use std::path::{Path, PathBuf};

/// The `.toml` files directly under `dir`, by stem, sorted.
pub fn list(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter_map(|p| Some((p.file_stem()?.to_string_lossy().into_owned(), p)))
        .collect();
    out.sort();
    out
}

/// The file `arg` names: a path when it looks like one (it has a directory, an extension, or
/// is an existing file), else `<dir>/<arg>.toml`.
pub fn resolve(dir: &Path, arg: &str) -> PathBuf {
    let path = Path::new(arg);
    let looks_like_a_path = path.components().count() > 1 || path.extension().is_some() || path.is_file();
    if looks_like_a_path { path.to_path_buf() } else { dir.join(format!("{arg}.toml")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_the_directory_and_paths_stay_paths() {
        let dir = Path::new("scenarios/load");
        assert_eq!(resolve(dir, "smoke"), Path::new("scenarios/load/smoke.toml"));
        // Was `scenarios/load/scenarios/load/smoke.toml.toml`.
        assert_eq!(resolve(dir, "scenarios/load/smoke.toml"), Path::new("scenarios/load/smoke.toml"));
        assert_eq!(resolve(dir, "mine.toml"), Path::new("mine.toml"));
        assert_eq!(resolve(dir, "/tmp/p"), Path::new("/tmp/p"));
    }

    #[test]
    fn listing_takes_toml_files_by_stem_in_order() {
        let d = tempfile::tempdir().unwrap();
        for f in ["b.toml", "a.toml", "notes.md"] {
            std::fs::write(d.path().join(f), "").unwrap();
        }
        let names: Vec<String> = list(d.path()).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
