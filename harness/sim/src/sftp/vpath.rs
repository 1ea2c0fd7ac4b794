//! Virtual paths of a LOGICAL home: the user sees `/`; every path resolves below it.

/// Resolves a client path against `/`: `.`, `..`, repeated and trailing slashes are folded,
/// and `..` never climbs above the root. Returns the segments.
pub fn resolve(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(s.to_string()),
        }
    }
    out
}

/// The canonical virtual path (`/a/b`, or `/`).
pub fn display(segments: &[String]) -> String {
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_climbs_out() {
        assert_eq!(resolve("/../../etc/passwd"), ["etc", "passwd"]);
        assert_eq!(resolve("a//b/./c/.."), ["a", "b"]);
        assert!(resolve("..").is_empty());
        assert_eq!(display(&resolve("/x/")), "/x");
        assert_eq!(display(&resolve("")), "/");
    }
}
