//! Settings read from the function's environment (set by Terraform, or by the simulator).

use std::collections::BTreeMap;

/// Server-side encryption for destination objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// The bucket's default.
    BucketDefault,
    /// SSE-S3 (`AES256`).
    S3,
    /// SSE-KMS with this key id or ARN.
    Kms(String),
}

/// The function's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table with one record per file (`METADATA_TABLE`).
    pub table: String,
    /// Destination bucket when the input does not name one (raw EventBridge events):
    /// `DESTINATION_BUCKET`.
    pub destination_bucket: Option<String>,
    /// Objects larger than this are copied part by part (`COPY_MULTIPART_THRESHOLD`, bytes;
    /// default and maximum 5 GiB, CopyObject's limit).
    pub multipart_threshold: u64,
    /// Preferred part size for multipart copies (`COPY_PART_SIZE`, bytes; default 64 MiB).
    pub part_size: u64,
    /// Parts copied at once (`COPY_CONCURRENCY`, default 8).
    pub concurrency: usize,
    /// What one CopyObject is assumed to move per second (`COPY_SINGLE_MIBPS`, MiB/s, default
    /// 50): objects that would not copy in the invocation's time at this rate go in parts.
    pub single_copy_bytes_per_sec: u64,
    /// Destination encryption (`DESTINATION_SSE` = `AES256` | `aws:kms`, `DESTINATION_KMS_KEY_ID`).
    pub encryption: Encryption,
    /// Source prefix -> destination prefix (`DESTINATION_PREFIX_MAP` = `from/=to/,a/=b/`).
    pub prefix_map: BTreeMap<String, String>,
}

/// A setting that cannot be used; the message names the variable and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{variable}={value:?}: {reason}")]
pub struct ConfigError {
    /// Environment variable.
    pub variable: &'static str,
    /// Its value.
    pub value: String,
    /// What is wrong and how to fix it.
    pub reason: String,
}

/// CopyObject's limit.
pub const MAX_SINGLE_COPY: u64 = 5 * 1024 * 1024 * 1024;

fn number(vars: &BTreeMap<String, String>, variable: &'static str, default: u64) -> Result<u64, ConfigError> {
    match vars.get(variable) {
        None => Ok(default),
        Some(v) => v.trim().replace('_', "").parse().map_err(|_| ConfigError {
            variable,
            value: v.clone(),
            reason: "expected a whole number of bytes".into(),
        }),
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(&std::env::vars().collect())
    }

    /// Reads settings from a variable map.
    pub fn from_vars(vars: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let threshold = number(vars, "COPY_MULTIPART_THRESHOLD", MAX_SINGLE_COPY)?;
        if threshold == 0 || threshold > MAX_SINGLE_COPY {
            return Err(ConfigError {
                variable: "COPY_MULTIPART_THRESHOLD",
                value: threshold.to_string(),
                reason: format!("must be between 1 and {MAX_SINGLE_COPY} (5 GiB, CopyObject's limit)"),
            });
        }
        let part_size = number(vars, "COPY_PART_SIZE", 64 * 1024 * 1024)?;
        let concurrency = number(vars, "COPY_CONCURRENCY", 8)?.clamp(1, 64) as usize;
        let single_copy_bytes_per_sec = number(vars, "COPY_SINGLE_MIBPS", 50)?.max(1) * 1024 * 1024;
        let encryption = match vars.get("DESTINATION_SSE").map(String::as_str) {
            None | Some("") => Encryption::BucketDefault,
            Some("AES256") => Encryption::S3,
            Some("aws:kms") => match vars.get("DESTINATION_KMS_KEY_ID") {
                Some(k) if !k.is_empty() => Encryption::Kms(k.clone()),
                _ => {
                    return Err(ConfigError {
                        variable: "DESTINATION_KMS_KEY_ID",
                        value: String::new(),
                        reason: "DESTINATION_SSE=aws:kms needs the KMS key id or ARN".into(),
                    });
                }
            },
            Some(other) => {
                return Err(ConfigError {
                    variable: "DESTINATION_SSE",
                    value: other.into(),
                    reason: "expected AES256 or aws:kms".into(),
                });
            }
        };
        let mut prefix_map = BTreeMap::new();
        if let Some(spec) = vars.get("DESTINATION_PREFIX_MAP").filter(|s| !s.trim().is_empty()) {
            for pair in spec.split(',') {
                let (from, to) = pair.split_once('=').ok_or_else(|| ConfigError {
                    variable: "DESTINATION_PREFIX_MAP",
                    value: spec.clone(),
                    reason: format!("{pair:?} is not from=to"),
                })?;
                prefix_map.insert(from.trim().to_string(), to.trim().to_string());
            }
        }
        Ok(Self {
            table: vars.get("METADATA_TABLE").cloned().unwrap_or_else(|| "FileTransferMetadata".into()),
            destination_bucket: vars.get("DESTINATION_BUCKET").cloned().filter(|s| !s.is_empty()),
            multipart_threshold: threshold,
            part_size,
            concurrency,
            single_copy_bytes_per_sec,
            encryption,
            prefix_map,
        })
    }

    /// The destination key for a source key: the longest matching mapped prefix is replaced.
    pub fn destination_key(&self, key: &str) -> String {
        self.prefix_map
            .iter()
            .filter(|(from, _)| key.starts_with(from.as_str()))
            .max_by_key(|(from, _)| from.len())
            .map(|(from, to)| format!("{to}{}", &key[from.len()..]))
            .unwrap_or_else(|| key.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_and_limits() {
        let c = Config::from_vars(&vars(&[])).unwrap();
        assert_eq!(c.multipart_threshold, MAX_SINGLE_COPY);
        assert_eq!(c.encryption, Encryption::BucketDefault);
        let e = Config::from_vars(&vars(&[("COPY_MULTIPART_THRESHOLD", "6000000000")])).unwrap_err();
        assert_eq!(e.variable, "COPY_MULTIPART_THRESHOLD");
        let e = Config::from_vars(&vars(&[("DESTINATION_SSE", "aws:kms")])).unwrap_err();
        assert_eq!(e.variable, "DESTINATION_KMS_KEY_ID");
    }

    #[test]
    fn prefix_mapping_uses_the_longest_match() {
        let c = Config::from_vars(&vars(&[("DESTINATION_PREFIX_MAP", "acme/=partners/acme/,acme/inbound/=in/acme/")]))
            .unwrap();
        assert_eq!(c.destination_key("acme/inbound/x.csv"), "in/acme/x.csv");
        assert_eq!(c.destination_key("acme/other.csv"), "partners/acme/other.csv");
        assert_eq!(c.destination_key("globex/x.csv"), "globex/x.csv");
    }
}
