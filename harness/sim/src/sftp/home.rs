//! Home directories of service-managed users, as Transfer Family resolves them on S3.
//!
//! `PATH` homes show the real namespace: `/bucket/key`, the user lands in their home folder and
//! only IAM keeps them there. `LOGICAL` homes show only the mapping entries: a path resolves
//! through the entry that is its longest segment-wise prefix, parents of entries are virtual
//! directories, and everything else does not exist. `${transfer:UserName}` in a target is the
//! user's name, as AWS substitutes it.

use super::vpath;

/// One `HomeDirectoryMappings` entry.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HomeMapping")]
pub struct Mapping {
    /// The path the user sees (`/`, `/inbound`).
    #[serde(alias = "Entry")]
    pub entry: String,
    /// The S3 location it shows (`/bucket/prefix`; may use `${source_bucket}` and
    /// `${transfer:UserName}`).
    #[serde(alias = "Target")]
    pub target: String,
}

/// A user's home, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomeDirectory {
    /// `HomeDirectoryType: PATH`: the user sees `/bucket/key` and lands in `home`.
    Path {
        /// `/bucket/prefix`.
        home: String,
    },
    /// `HomeDirectoryType: LOGICAL`: only the mappings are visible.
    Logical {
        /// Entry segments and target (bucket, key prefix), longest entries first.
        mappings: Vec<(Vec<String>, String, String)>,
        /// The landing directory (a path the user sees; `/` unless set).
        landing: String,
    },
}

/// A home directory that Transfer Family would refuse at CreateUser.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HomeError {
    /// A path is not absolute or holds `.`/`..` segments.
    #[error("{what} {path:?} must be an absolute path without `.` or `..` segments")]
    NotAbsolute {
        /// Which field.
        what: &'static str,
        /// The value.
        path: String,
    },
    /// A target or PATH home names no bucket.
    #[error("{what} {path:?} must start with a bucket name: /bucket/prefix")]
    NoBucket {
        /// Which field.
        what: &'static str,
        /// The value.
        path: String,
    },
    /// Two mappings share an entry.
    #[error("the entry {0:?} is mapped twice")]
    DuplicateEntry(String),
    /// A LOGICAL home without mappings.
    #[error("a LOGICAL home needs at least one HomeDirectoryMappings entry")]
    NoMappings,
}

/// What a client path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A location in S3: `key` has no leading or trailing slash and is empty for a bucket root.
    S3 {
        /// Bucket.
        bucket: String,
        /// Key (a file) or prefix without its trailing slash (a directory).
        key: String,
    },
    /// A directory that exists only in the user's view (`/` of a PATH home, parents of logical
    /// entries), with the names it lists.
    Virtual(Vec<String>),
    /// Nothing the user can see.
    Outside,
}

/// `text` with `${transfer:UserName}` (any case, as IAM reads variables) replaced by `user`.
fn substitute_user(text: &str, user: &str) -> String {
    super::access::substitute(text, &[("UserName", user.to_string())])
}

fn clean(what: &'static str, path: &str) -> Result<Vec<String>, HomeError> {
    let bad = || HomeError::NotAbsolute { what, path: path.to_string() };
    if !path.starts_with('/') {
        return Err(bad());
    }
    let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
    if segs.iter().any(|s| s == "." || s == "..") {
        return Err(bad());
    }
    Ok(segs)
}

fn bucket_and_key(what: &'static str, path: &str) -> Result<(String, String), HomeError> {
    let segs = clean(what, path)?;
    let Some((bucket, key)) = segs.split_first() else {
        return Err(HomeError::NoBucket { what, path: path.to_string() });
    };
    Ok((bucket.clone(), key.join("/")))
}

impl HomeDirectory {
    /// A PATH home at `/bucket/prefix` (`${transfer:UserName}` substituted).
    pub fn path(home: &str, user: &str) -> Result<Self, HomeError> {
        let home = substitute_user(home, user);
        let (bucket, key) = bucket_and_key("HomeDirectory", &home)?;
        let home = if key.is_empty() { format!("/{bucket}") } else { format!("/{bucket}/{key}") };
        Ok(Self::Path { home })
    }

    /// A LOGICAL home from its mappings. The user lands on `/`: Transfer Family reads
    /// `HomeDirectory` for PATH users only.
    pub fn logical(mappings: &[Mapping], user: &str) -> Result<Self, HomeError> {
        if mappings.is_empty() {
            return Err(HomeError::NoMappings);
        }
        let mut out: Vec<(Vec<String>, String, String)> = Vec::with_capacity(mappings.len());
        for m in mappings {
            let entry = clean("Entry", &m.entry)?;
            let (bucket, key) = bucket_and_key("Target", &substitute_user(&m.target, user))?;
            if out.iter().any(|(e, _, _)| *e == entry) {
                return Err(HomeError::DuplicateEntry(m.entry.clone()));
            }
            out.push((entry, bucket, key));
        }
        out.sort_by_key(|(e, _, _)| std::cmp::Reverse(e.len()));
        Ok(Self::Logical { mappings: out, landing: "/".into() })
    }

    /// Where the client lands: the path `realpath(".")` answers.
    pub fn landing(&self) -> &str {
        match self {
            Self::Path { home } => home,
            Self::Logical { landing, .. } => landing,
        }
    }

    /// `PATH` or `LOGICAL`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Path { .. } => "PATH",
            Self::Logical { .. } => "LOGICAL",
        }
    }

    /// The real location of the landing directory (`/bucket/prefix`), as session logs show it
    /// in `home-dir`; the landing path itself when it is virtual.
    pub fn home_dir(&self) -> String {
        match self.resolve(&vpath::resolve(self.landing())) {
            Resolved::S3 { bucket, key } if key.is_empty() => format!("/{bucket}"),
            Resolved::S3 { bucket, key } => format!("/{bucket}/{key}"),
            _ => self.landing().to_string(),
        }
    }

    /// The segments of a client path: relative paths start at the landing directory; `.`, `..`
    /// and repeated slashes fold, and `..` never climbs above `/`.
    pub fn segments(&self, path: &str) -> Vec<String> {
        if path.starts_with('/') { vpath::resolve(path) } else { vpath::resolve(&format!("{}/{path}", self.landing())) }
    }

    /// Whether a path is a mapping entry or the PATH home itself: a directory that always
    /// exists and cannot be removed or renamed.
    pub fn is_root(&self, segs: &[String]) -> bool {
        match self {
            Self::Path { home } => vpath::resolve(home) == segs,
            Self::Logical { mappings, .. } => mappings.iter().any(|(e, _, _)| e == segs),
        }
    }

    /// What a resolved client path (segments, `..` already folded) names.
    pub fn resolve(&self, segs: &[String]) -> Resolved {
        match self {
            Self::Path { .. } => match segs.split_first() {
                None => Resolved::Virtual(Vec::new()),
                Some((bucket, key)) => Resolved::S3 { bucket: bucket.clone(), key: key.join("/") },
            },
            Self::Logical { mappings, .. } => {
                for (entry, bucket, prefix) in mappings {
                    if segs.len() >= entry.len() && segs[..entry.len()] == entry[..] {
                        let rest = &segs[entry.len()..];
                        let key = match (prefix.is_empty(), rest.is_empty()) {
                            (_, true) => prefix.clone(),
                            (true, false) => rest.join("/"),
                            (false, false) => format!("{prefix}/{}", rest.join("/")),
                        };
                        return Resolved::S3 { bucket: bucket.clone(), key };
                    }
                }
                let mut children: Vec<String> = mappings
                    .iter()
                    .filter(|(e, _, _)| e.len() > segs.len() && e[..segs.len()] == segs[..])
                    .map(|(e, _, _)| e[segs.len()].clone())
                    .collect();
                if children.is_empty() && !segs.is_empty() {
                    return Resolved::Outside;
                }
                children.sort();
                children.dedup();
                Resolved::Virtual(children)
            }
        }
    }

    /// The `${transfer:*}` session policy variables: `HomeBucket`, `HomeDirectory` (bucket and
    /// prefix, no leading slash) and `HomeFolder` (the prefix), from the home directory's real
    /// location, plus `UserName`.
    pub fn policy_variables(&self, user: &str) -> [(&'static str, String); 4] {
        let home = self.home_dir();
        let trimmed = home.trim_start_matches('/').to_string();
        let (bucket, folder) = match trimmed.split_once('/') {
            Some((b, f)) => (b.to_string(), f.to_string()),
            None => (trimmed.clone(), String::new()),
        };
        [("HomeBucket", bucket), ("HomeDirectory", trimmed), ("HomeFolder", folder), ("UserName", user.to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(entry: &str, target: &str) -> Mapping {
        Mapping { entry: entry.into(), target: target.into() }
    }

    fn s3(bucket: &str, key: &str) -> Resolved {
        Resolved::S3 { bucket: bucket.into(), key: key.into() }
    }

    fn at(home: &HomeDirectory, path: &str) -> Resolved {
        home.resolve(&vpath::resolve(path))
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Client paths built from hostile pieces: dot segments, repeated and trailing
        /// slashes, percent signs, the names of mapping targets and of other users' folders.
        fn hostile_path() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "..", ".", "", "/", "//", "inbound", "src", "acme", "globex", "etc", "%2e%2e", "..%2f", "a b", "*",
            ]);
            (any::<bool>(), prop::collection::vec(piece, 0..12)).prop_map(|(absolute, parts)| {
                let joined = parts.join("/");
                if absolute { format!("/{joined}") } else { joined }
            })
        }

        proptest! {
            /// A LOGICAL user's path resolves inside one of its mappings, or to a virtual
            /// directory, or to nothing: never to another prefix of the bucket.
            #[test]
            fn logical_paths_stay_in_the_mappings(path in hostile_path()) {
                let home = HomeDirectory::logical(
                    &[m("/inbound", "/src/acme/in"), m("/reports/daily", "/src/acme/out")],
                    "acme",
                )
                .unwrap();
                if let Resolved::S3 { bucket, key } = home.resolve(&home.segments(&path)) {
                    prop_assert_eq!(bucket, "src");
                    prop_assert!(
                        ["acme/in", "acme/out"].iter().any(|p| key == *p || key.starts_with(&format!("{p}/"))),
                        "{path} resolved to {key}"
                    );
                }
            }

            /// A chroot user's every path lands under its own folder.
            #[test]
            fn chrooted_paths_stay_in_the_folder(path in hostile_path()) {
                let home = HomeDirectory::logical(&[m("/", "/src/${Transfer:UserName}")], "acme").unwrap();
                match home.resolve(&home.segments(&path)) {
                    Resolved::S3 { bucket, key } => {
                        prop_assert_eq!(bucket, "src");
                        prop_assert!(key == "acme" || key.starts_with("acme/"), "{path} resolved to {key}");
                    }
                    other => prop_assert!(false, "{path} resolved to {other:?}"),
                }
            }

            /// Folded segments never hold `.`, `..` or empty names.
            #[test]
            fn segments_are_folded(path in hostile_path()) {
                let home = HomeDirectory::logical(&[m("/", "/src/acme")], "acme").unwrap();
                for seg in home.segments(&path) {
                    prop_assert!(!seg.is_empty() && seg != "." && seg != "..", "{path}: {seg:?}");
                }
            }
        }
    }

    #[test]
    fn chroot_maps_everything_below_the_target() {
        let home = HomeDirectory::logical(&[m("/", "/src/${Transfer:UserName}")], "acme").unwrap();
        assert_eq!(at(&home, "/"), s3("src", "acme"));
        assert_eq!(at(&home, "/../../other/x"), s3("src", "acme/other/x"));
        assert_eq!(home.home_dir(), "/src/acme");
        assert_eq!(home.landing(), "/");
        let vars = home.policy_variables("acme");
        assert_eq!(vars[0].1, "src");
        assert_eq!(vars[1].1, "src/acme");
        assert_eq!(vars[2].1, "acme");
    }

    #[test]
    fn several_entries_resolve_by_the_longest_prefix_and_show_virtual_parents() {
        let home = HomeDirectory::logical(
            &[
                m("/inbound", "/src/${transfer:UserName}/in"),
                m("/inbound/urgent", "/fast/${transfer:username}"),
                m("/shared/reports", "/reports/2026"),
            ],
            "globex",
        )
        .unwrap();
        // Transfer Family lands LOGICAL users on `/`, whatever HomeDirectory says.
        assert_eq!(home.landing(), "/");
        assert_eq!(at(&home, "/inbound/a.csv"), s3("src", "globex/in/a.csv"));
        assert_eq!(at(&home, "/inbound/urgent/b"), s3("fast", "globex/b"));
        assert_eq!(at(&home, "/inbound/urgentish"), s3("src", "globex/in/urgentish"));
        assert_eq!(at(&home, "/"), Resolved::Virtual(vec!["inbound".into(), "shared".into()]));
        assert_eq!(at(&home, "/shared"), Resolved::Virtual(vec!["reports".into()]));
        assert_eq!(at(&home, "/elsewhere"), Resolved::Outside);
        assert_eq!(at(&home, "/shared/other"), Resolved::Outside);
        assert_eq!(home.home_dir(), "/");
    }

    #[test]
    fn path_homes_show_the_bucket_namespace() {
        let home = HomeDirectory::path("/src/${transfer:UserName}/", "initech").unwrap();
        assert_eq!(home.landing(), "/src/initech");
        assert_eq!(at(&home, "/src/initech/x"), s3("src", "initech/x"));
        assert_eq!(at(&home, "/src"), s3("src", ""));
        assert_eq!(at(&home, "/"), Resolved::Virtual(vec![]));
        assert_eq!(home.policy_variables("initech")[2].1, "initech");
    }

    #[test]
    fn invalid_homes_are_refused_with_the_field() {
        assert_eq!(HomeDirectory::logical(&[], "u"), Err(HomeError::NoMappings));
        assert!(matches!(
            HomeDirectory::logical(&[m("inbound", "/b/k")], "u"),
            Err(HomeError::NotAbsolute { what: "Entry", .. })
        ));
        assert!(matches!(
            HomeDirectory::logical(&[m("/", "/b/../k")], "u"),
            Err(HomeError::NotAbsolute { what: "Target", .. })
        ));
        assert!(matches!(HomeDirectory::logical(&[m("/", "/")], "u"), Err(HomeError::NoBucket { .. })));
        assert_eq!(
            HomeDirectory::logical(&[m("/a", "/b/1"), m("/a/", "/b/2")], "u"),
            Err(HomeError::DuplicateEntry("/a/".into()))
        );
        assert!(HomeDirectory::path("bucket/x", "u").is_err());
    }
}
