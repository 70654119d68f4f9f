//! Signed requests (SPEC.md section 12.2): every request carries the account name, a timestamp,
//! a random nonce and the body's SHA-256, signed with XEdDSA under the account's identity key.

use pqxdh::IdentityKeyPair;
use rand_core::CryptoRng;
use sha2::{Digest, Sha256};

/// Domain separation for request signatures: no other pqxdh signature signs these bytes.
pub const AUTH_LABEL: &[u8] = b"pqxdh-server request v1";
/// Header: the account name the request acts as.
pub const HEADER_ACCOUNT: &str = "x-pqxdh-account";
/// Header: milliseconds since the Unix epoch, decimal.
pub const HEADER_TIMESTAMP: &str = "x-pqxdh-timestamp";
/// Header: 16 random bytes as 32 lowercase hex digits.
pub const HEADER_NONCE: &str = "x-pqxdh-nonce";
/// Header: SHA-256 of the body as 64 hex digits (of the empty string when there is none).
pub const HEADER_CONTENT_SHA256: &str = "x-pqxdh-content-sha256";
/// Header: the XEdDSA signature as 128 hex digits.
pub const HEADER_SIGNATURE: &str = "x-pqxdh-signature";
/// Nonce length in bytes.
pub const NONCE_LEN: usize = 16;
/// Longest account name; names are `[a-z0-9][a-z0-9._-]*`.
pub const MAX_NAME_LEN: usize = 64;

/// Milliseconds since the Unix epoch: the clock of `x-pqxdh-timestamp`, for signer and
/// verifier alike (0 if the system clock is before 1970).
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Checks an account name: 1 to [`MAX_NAME_LEN`] of `a-z 0-9 . _ -`, starting with a letter or
/// digit (so names never contain the separator of the signed bytes, nor path syntax).
pub fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(b))
}

/// The bytes a request signature covers: the label, method, path with query, account,
/// timestamp, nonce, each followed by one zero byte, then the 32-byte body digest.
pub fn signing_input(
    method: &str,
    path_and_query: &str,
    account: &str,
    timestamp_ms: u64,
    nonce: &str,
    content_sha256: &[u8; 32],
) -> Vec<u8> {
    let timestamp = timestamp_ms.to_string();
    let mut input = Vec::with_capacity(128 + path_and_query.len());
    for part in [
        AUTH_LABEL,
        method.as_bytes(),
        path_and_query.as_bytes(),
        account.as_bytes(),
        timestamp.as_bytes(),
        nonce.as_bytes(),
    ] {
        input.extend_from_slice(part);
        input.push(0);
    }
    input.extend_from_slice(content_sha256);
    input
}

/// The five authentication headers for one request, as a client sends them.
pub fn sign_request<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    account: &str,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp_ms: u64,
    rng: &mut R,
) -> Vec<(&'static str, String)> {
    let digest: [u8; 32] = Sha256::digest(body).into();
    sign_request_digest(
        identity,
        account,
        method,
        path_and_query,
        &digest,
        timestamp_ms,
        rng,
    )
}

/// As [`sign_request`], for a body already hashed (a streamed upload).
pub fn sign_request_digest<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    account: &str,
    method: &str,
    path_and_query: &str,
    content_sha256: &[u8; 32],
    timestamp_ms: u64,
    rng: &mut R,
) -> Vec<(&'static str, String)> {
    let mut nonce = [0u8; NONCE_LEN];
    rng.fill_bytes(&mut nonce);
    let nonce = hex::encode(nonce);
    let input = signing_input(
        method,
        path_and_query,
        account,
        timestamp_ms,
        &nonce,
        content_sha256,
    );
    let signature = identity.sign(&input, rng);
    vec![
        (HEADER_ACCOUNT, account.to_owned()),
        (HEADER_TIMESTAMP, timestamp_ms.to_string()),
        (HEADER_NONCE, nonce),
        (HEADER_CONTENT_SHA256, hex::encode(content_sha256)),
        (HEADER_SIGNATURE, hex::encode(signature.as_bytes())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("alice"));
        assert!(valid_name("a.b-c_9"));
        assert!(!valid_name(""));
        assert!(!valid_name("-alice"));
        assert!(!valid_name("Alice"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"a".repeat(MAX_NAME_LEN + 1)));
    }

    #[test]
    fn signing_input_layout() {
        let input = signing_input("GET", "/v1/keys", "bob", 12, "00ff", &[7u8; 32]);
        let mut expected =
            b"pqxdh-server request v1\x00GET\x00/v1/keys\x00bob\x0012\x0000ff\x00".to_vec();
        expected.extend_from_slice(&[7u8; 32]);
        assert_eq!(input, expected);
    }
}
