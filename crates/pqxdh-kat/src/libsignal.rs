//! Vectors taken from libsignal's tests: the XEdDSA signature of `test_signature`
//! (`kat/libsignal/xeddsa_verify_kat.json`). The X3DH ratchet vector is run by
//! [`super::pqxdh_vectors::run_x3dh`].

use serde_json::Value;

use super::{FileReport, expect_eq, hex_field, str_field};
use pqxdh::primitives::keys::{PrivateKey, PublicKey};
use pqxdh::primitives::xeddsa::{self, Signature};

/// Runs `xeddsa_verify_kat.json`: the private key gives the public key, the signature verifies
/// with [`xeddsa::verify`] (`expected: valid`), and flipping any one of its 512 bits breaks it.
pub fn run_xeddsa(doc: &Value) -> FileReport {
    let mut report = FileReport::new("libsignal xeddsa");
    report.record("xeddsa test_signature", check(doc));
    report
}

fn check(doc: &Value) -> Result<(), String> {
    let public = PublicKey::from_slice(&hex_field(doc, "identity_public_x25519")?)
        .map_err(|e| format!("`identity_public_x25519`: {e}"))?;
    if let Ok(private) = hex_field(doc, "identity_private_x25519") {
        let private = PrivateKey::from_slice(&private)
            .map_err(|e| format!("`identity_private_x25519`: {e}"))?;
        expect_eq(
            "identity_public_x25519",
            public.as_bytes(),
            private.public_key().as_bytes(),
        )?;
    }
    let message = hex_field(doc, "message")?;
    let signature = Signature::from_slice(&hex_field(doc, "signature")?)
        .map_err(|e| format!("`signature`: {e}"))?;
    let valid = str_field(doc, "expected")? == "valid";
    let verified = xeddsa::verify(&public, &message, &signature).is_ok();
    if verified != valid {
        return Err(format!(
            "`signature`: expected {}, verification {}",
            if valid { "valid" } else { "invalid" },
            if verified { "succeeded" } else { "failed" }
        ));
    }
    if valid {
        for bit in 0..512 {
            let mut bytes = *signature.as_bytes();
            if let Some(byte) = bytes.get_mut(bit / 8) {
                *byte ^= 1 << (bit % 8);
            }
            if xeddsa::verify(&public, &message, &Signature::from_bytes(bytes)).is_ok() {
                return Err(format!("`signature` with bit {bit} flipped still verifies"));
            }
        }
    }
    Ok(())
}
