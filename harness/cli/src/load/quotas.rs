//! Transfer Family's documented limits, and the warnings a profile that goes beyond them gets
//! before it runs (it still runs: the simulator and other servers may allow more).

use super::profile::{Model, Profile};

/// "The maximum number of concurrent, multiplexed, SFTP sessions per connection is 10."
pub const CHANNELS_PER_CONNECTION: u32 = 10;
/// "a single server can support up to 10,000 concurrent sessions".
pub const SESSIONS_PER_SERVER: u64 = 10_000;
/// "For idle connections, the timeout value is 1800 seconds (30 minutes)".
pub const IDLE_TIMEOUT_SECS: u64 = 1800;
/// S3's largest object, which bounds a file uploaded to an S3-backed server: "Objects can
/// range in size from zero to 50 TB".
pub const LARGEST_OBJECT: u64 = 50 * 1000u64.pow(4);

const CLIENT_LIMITS: &str = "https://docs.aws.amazon.com/transfer/latest/userguide/transfer-file.html";
const SESSION_LIMIT: &str = "https://aws.amazon.com/blogs/storage/enable-session-limits-for-aws-transfer-family/";
const OBJECT_SIZE: &str = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingObjects.html";

/// Where `profile` (with `shards` shards, each a client) goes beyond a documented limit.
pub fn warnings(profile: &Profile, shards: u32) -> Vec<String> {
    let mut out = Vec::new();
    let channels = profile.channels();
    if channels > CHANNELS_PER_CONNECTION {
        out.push(format!(
            "{channels} channels per connection: Transfer Family allows {CHANNELS_PER_CONNECTION} (\"The maximum number of concurrent, multiplexed, SFTP sessions per connection is 10\", {CLIENT_LIMITS}); the extra channels will be refused there"
        ));
    }
    let sessions: u64 = match profile.model() {
        Model::Closed => {
            let c = profile.closed.as_ref().expect("closed model");
            c.sessions
                .map(u64::from)
                .unwrap_or_else(|| c.stages.iter().map(|s| s.target.ceil() as u64).max().unwrap_or(0))
        }
        Model::Open => profile.open.as_ref().map_or(0, |o| o.max_sessions as u64) * shards as u64,
        Model::Replay => profile.replay.as_ref().map_or(0, |r| r.sessions.len() as u64),
    };
    if sessions > SESSIONS_PER_SERVER {
        out.push(format!(
            "up to {sessions} concurrent sessions: a Transfer Family server supports up to {SESSIONS_PER_SERVER} (\"a single server can support up to 10,000 concurrent sessions\", {SESSION_LIMIT})"
        ));
    }
    if let Some(c) = &profile.closed
        && c.think_time.0.as_secs() >= IDLE_TIMEOUT_SECS
    {
        out.push(format!(
            "think time {}: Transfer Family disconnects connections idle for {IDLE_TIMEOUT_SECS} seconds ({CLIENT_LIMITS})",
            c.think_time
        ));
    }
    match profile.files.size.largest() {
        Some(b) if b > LARGEST_OBJECT => out.push(format!(
            "files up to {b} bytes: an S3-backed server stores each file as one object, at most 50 TB ({OBJECT_SIZE})"
        )),
        None => out.push(format!(
            "file sizes are unbounded (log_normal without max): an S3 object is at most 50 TB ({OBJECT_SIZE}); set files.size.max"
        )),
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_beyond_transfer_family_are_named_with_their_source() {
        let p = Profile::parse(
            "name = \"x\"\nusers = [\"a\"]\nduration = \"1s\"\n[closed]\nsessions = 20000\nchannels = 12\nthink_time = \"31m\"\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap();
        let w = warnings(&p, 1);
        assert_eq!(w.len(), 3, "{w:#?}");
        assert!(w[0].contains("12 channels") && w[0].contains("transfer-file.html"), "{}", w[0]);
        assert!(w[1].contains("10000") && w[1].contains("enable-session-limits"), "{}", w[1]);
        assert!(w[2].contains("1800 seconds"), "{}", w[2]);
        let ok = Profile::parse(
            "name = \"x\"\nusers = [\"a\"]\nduration = \"1s\"\n[open]\nrate = 5.0\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap();
        assert!(warnings(&ok, 3).is_empty());
    }
}
