//! Settings read from the function's environment.

/// The function's settings, from environment variables set by Terraform or the simulator.
#[derive(Debug, Clone)]
pub struct Config {
    /// DynamoDB table holding one record per file (`METADATA_TABLE`).
    pub table: String,
}

impl Config {
    /// Reads the settings, falling back to the table name Terraform uses by default.
    pub fn from_env() -> Self {
        Self { table: std::env::var("METADATA_TABLE").unwrap_or_else(|_| "FileTransferMetadata".to_string()) }
    }
}
