//! Signed requests (SPEC.md section 12.2): every request carries the account name, a timestamp,
//! a random nonce and the body's SHA-256, signed with XEdDSA under the account's identity key.
//! The server keeps each (account, nonce) until the timestamp leaves the allowed skew, so a
//! replayed request is refused; it never holds a secret of its own or of a user.

use axum::http::HeaderMap;
use pqxdh::PublicKey;
use pqxdh::primitives::xeddsa::{self, SIGNATURE_LEN, Signature};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub use pqxdh_api::signing::{
    AUTH_LABEL, HEADER_ACCOUNT, HEADER_CONTENT_SHA256, HEADER_NONCE, HEADER_SIGNATURE,
    HEADER_TIMESTAMP, MAX_NAME_LEN, NONCE_LEN, now_ms, sign_request, sign_request_digest,
    signing_input, valid_name,
};

/// The authentication headers of one request, parsed but not yet verified.
#[derive(Debug, Clone)]
pub struct SignedHeaders {
    /// The account the request claims to act as.
    pub account: String,
    /// The request's timestamp (ms since the epoch).
    pub timestamp_ms: u64,
    /// The nonce as sent (32 lowercase hex digits).
    pub nonce: String,
    /// The claimed body digest.
    pub content_sha256: [u8; 32],
    signature: Signature,
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthenticated(
            "missing or non-ASCII authentication header",
        ))
}

impl SignedHeaders {
    /// Parses the five headers; any missing or malformed one refuses the request.
    pub fn parse(headers: &HeaderMap) -> Result<Self, ApiError> {
        let account = header(headers, HEADER_ACCOUNT)?;
        if !valid_name(account) {
            return Err(ApiError::Unauthenticated("bad account name"));
        }
        let timestamp_ms = header(headers, HEADER_TIMESTAMP)?
            .parse()
            .map_err(|_| ApiError::Unauthenticated("bad timestamp"))?;
        let nonce = header(headers, HEADER_NONCE)?;
        let nonce_ok = nonce.len() == 2 * NONCE_LEN
            && nonce
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !nonce_ok {
            return Err(ApiError::Unauthenticated("bad nonce"));
        }
        let mut content_sha256 = [0u8; 32];
        hex::decode_to_slice(header(headers, HEADER_CONTENT_SHA256)?, &mut content_sha256)
            .map_err(|_| ApiError::Unauthenticated("bad content digest"))?;
        let mut signature = [0u8; SIGNATURE_LEN];
        hex::decode_to_slice(header(headers, HEADER_SIGNATURE)?, &mut signature)
            .map_err(|_| ApiError::Unauthenticated("bad signature encoding"))?;
        Ok(Self {
            account: account.to_owned(),
            timestamp_ms,
            nonce: nonce.to_owned(),
            content_sha256,
            signature: Signature::from_bytes(signature),
        })
    }

    /// Checks the timestamp against `now_ms` and the signature under `identity_key`.
    /// The caller then records the nonce (which refuses a replay).
    pub fn verify(
        &self,
        method: &str,
        path_and_query: &str,
        identity_key: &PublicKey,
        now_ms: u64,
        max_skew_ms: u64,
    ) -> Result<(), ApiError> {
        if self.timestamp_ms.abs_diff(now_ms) > max_skew_ms {
            return Err(ApiError::Unauthenticated(
                "timestamp outside the allowed skew",
            ));
        }
        let input = signing_input(
            method,
            path_and_query,
            &self.account,
            self.timestamp_ms,
            &self.nonce,
            &self.content_sha256,
        );
        xeddsa::verify(identity_key, &input, &self.signature)
            .map_err(|_| ApiError::Unauthenticated("signature does not verify"))
    }

    /// Checks that `body` is what the signature covers.
    pub fn check_body(&self, body: &[u8]) -> Result<(), ApiError> {
        self.check_digest(&Sha256::digest(body).into())
    }

    /// Checks a digest computed over a streamed body.
    pub fn check_digest(&self, digest: &[u8; 32]) -> Result<(), ApiError> {
        if digest == &self.content_sha256 {
            Ok(())
        } else {
            Err(ApiError::Unauthenticated(
                "body does not match its signed digest",
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pqxdh::IdentityKeyPair;

    #[test]
    fn signature_covers_every_field() {
        let mut rng = rand::rng();
        let id = IdentityKeyPair::generate(&mut rng);
        let headers = sign_request(&id, "alice", "GET", "/v1/x", b"body", 1_000, &mut rng);
        let mut map = HeaderMap::new();
        for (k, v) in &headers {
            map.insert(
                *k,
                v.parse()
                    .unwrap_or_else(|_| axum::http::HeaderValue::from_static("")),
            );
        }
        let parsed = SignedHeaders::parse(&map);
        assert!(parsed.is_ok());
        let Ok(parsed) = parsed else { return };
        assert!(parsed.check_body(b"body").is_ok());
        assert!(parsed.check_body(b"bodx").is_err());
        assert!(
            parsed
                .verify("GET", "/v1/x", id.public_key(), 1_000, 10)
                .is_ok()
        );
        assert!(
            parsed
                .verify("PUT", "/v1/x", id.public_key(), 1_000, 10)
                .is_err()
        );
        assert!(
            parsed
                .verify("GET", "/v1/y", id.public_key(), 1_000, 10)
                .is_err()
        );
        assert!(
            parsed
                .verify("GET", "/v1/x", id.public_key(), 1_011, 10)
                .is_err()
        );
        let other = IdentityKeyPair::generate(&mut rng);
        assert!(
            parsed
                .verify("GET", "/v1/x", other.public_key(), 1_000, 10)
                .is_err()
        );
    }
}
