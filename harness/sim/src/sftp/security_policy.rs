//! Transfer Family security policies: the key exchange, cipher and MAC algorithms a server
//! offers, chosen by the policy's name as in AWS.

use std::borrow::Cow;

use russh::{Preferred, cipher, compression, kex, mac};

/// The policy the stack attaches (infra/modules/sftp: TransferSecurityPolicy-2025-03, the
/// newest; AWS's own default for new servers is TransferSecurityPolicy-2024-01).
pub const DEFAULT_POLICY: &str = "TransferSecurityPolicy-2025-03";

/// A policy name the simulator does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown security policy {name:?}; known: {known}")]
pub struct UnknownPolicy {
    /// The name asked for.
    pub name: String,
    /// The names the simulator knows.
    pub known: String,
}

const POLICIES: &[&str] =
    &["TransferSecurityPolicy-2025-03", "TransferSecurityPolicy-2024-01", "TransferSecurityPolicy-2018-11"];

/// The algorithms of a named policy, for russh's negotiation.
pub fn preferred(name: &str) -> Result<Preferred, UnknownPolicy> {
    // Host keys: rsa-sha2-256/512, ecdsa-sha2-nistp256/384/521 and ssh-ed25519 under every
    // policy (the server offers the one its host key is).
    let base = Preferred { compression: Cow::Borrowed(&[compression::NONE]), ..Preferred::default() };
    match name {
        // AWS's list also has mlkem768nistp256-sha256 and mlkem1024nistp384-sha384, which russh
        // does not implement; clients that offer them offer mlkem768x25519-sha256 or the
        // classical ones too.
        "TransferSecurityPolicy-2025-03" => Ok(Preferred {
            kex: Cow::Borrowed(&[
                kex::MLKEM768X25519_SHA256,
                kex::ECDH_SHA2_NISTP256,
                kex::ECDH_SHA2_NISTP384,
                kex::ECDH_SHA2_NISTP521,
                kex::CURVE25519,
                kex::CURVE25519_PRE_RFC_8731,
                kex::DH_G16_SHA512,
                kex::DH_G18_SHA512,
                kex::DH_GEX_SHA256,
                kex::EXTENSION_SUPPORT_AS_SERVER,
                kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
            ]),
            cipher: Cow::Borrowed(&[
                cipher::AES_256_GCM,
                cipher::AES_128_GCM,
                cipher::AES_128_CTR,
                cipher::AES_256_CTR,
                cipher::AES_192_CTR,
            ]),
            mac: Cow::Borrowed(&[mac::HMAC_SHA256_ETM, mac::HMAC_SHA512_ETM]),
            ..base
        }),
        "TransferSecurityPolicy-2024-01" => Ok(Preferred {
            kex: Cow::Borrowed(&[
                kex::CURVE25519,
                kex::CURVE25519_PRE_RFC_8731,
                kex::ECDH_SHA2_NISTP256,
                kex::ECDH_SHA2_NISTP384,
                kex::ECDH_SHA2_NISTP521,
                kex::DH_GEX_SHA256,
                kex::DH_G16_SHA512,
                kex::DH_G18_SHA512,
                kex::EXTENSION_SUPPORT_AS_SERVER,
                kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
            ]),
            cipher: Cow::Borrowed(&[
                cipher::AES_128_GCM,
                cipher::AES_256_GCM,
                cipher::AES_128_CTR,
                cipher::AES_192_CTR,
                cipher::AES_256_CTR,
            ]),
            mac: Cow::Borrowed(&[mac::HMAC_SHA256_ETM, mac::HMAC_SHA512_ETM]),
            ..base
        }),
        "TransferSecurityPolicy-2018-11" => Ok(Preferred {
            kex: Cow::Borrowed(&[
                kex::CURVE25519,
                kex::CURVE25519_PRE_RFC_8731,
                kex::ECDH_SHA2_NISTP256,
                kex::ECDH_SHA2_NISTP384,
                kex::ECDH_SHA2_NISTP521,
                kex::DH_GEX_SHA256,
                kex::DH_G14_SHA256,
                kex::DH_G14_SHA1,
                kex::DH_G16_SHA512,
                kex::DH_G18_SHA512,
                kex::EXTENSION_SUPPORT_AS_SERVER,
                kex::EXTENSION_OPENSSH_STRICT_KEX_AS_SERVER,
            ]),
            cipher: Cow::Borrowed(&[
                cipher::AES_128_GCM,
                cipher::AES_256_GCM,
                cipher::CHACHA20_POLY1305,
                cipher::AES_128_CTR,
                cipher::AES_192_CTR,
                cipher::AES_256_CTR,
            ]),
            mac: Cow::Borrowed(&[
                mac::HMAC_SHA256_ETM,
                mac::HMAC_SHA512_ETM,
                mac::HMAC_SHA1_ETM,
                mac::HMAC_SHA256,
                mac::HMAC_SHA512,
                mac::HMAC_SHA1,
            ]),
            ..base
        }),
        other => Err(UnknownPolicy { name: other.into(), known: POLICIES.join(", ") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_drops_chacha20_and_sha1() {
        let p = preferred(DEFAULT_POLICY).unwrap();
        assert!(!p.cipher.contains(&cipher::CHACHA20_POLY1305));
        assert!(p.mac.iter().all(|m| m.as_ref().ends_with("-etm@openssh.com")));
        assert!(preferred("TransferSecurityPolicy-1999-01").unwrap_err().known.contains(DEFAULT_POLICY));
    }
}
