//! The HTTP client every AWS SDK client of the workspace uses: hyper with rustls on ring, the
//! crypto russh already brings, so no C crypto library (aws-lc) is built. Trusted roots are
//! the platform's, loaded when a client first uses it.

use std::sync::OnceLock;

use aws_sdk_s3::config::SharedHttpClient;
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};

/// The shared HTTPS client (also speaks plain HTTP to local endpoints).
pub fn client() -> SharedHttpClient {
    static CLIENT: OnceLock<SharedHttpClient> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https()
        })
        .clone()
}
