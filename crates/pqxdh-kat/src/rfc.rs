//! Our transcriptions of RFC test vectors (`kat/rfc/*.json`): RFC 7748 X25519, RFC 8032 Ed25519
//! and RFC 5869 HKDF.

use hkdf::Hkdf;
use serde_json::Value;
use sha2::Sha256;

use super::{
    FileReport, Options, array_field, expect_eq, field, fixed, hex_field, str_field, usize_field,
};
use pqxdh::primitives::keys::{PrivateKey, PublicKey};

fn x25519(scalar: &[u8], u: &[u8]) -> Result<[u8; 32], String> {
    let private = PrivateKey::from_slice(scalar).map_err(|e| format!("scalar: {e}"))?;
    let public = PublicKey::from_slice(u).map_err(|e| format!("u: {e}"))?;
    private
        .diffie_hellman(&public)
        .map(|out| *out.as_bytes())
        .map_err(|e| e.to_string())
}

/// The iterated X25519 of RFC 7748 section 5.2: k = u = 9, then `(k, u) = (X25519(k, u), k)`.
pub fn iterate_x25519(start: &[u8; 32], iterations: u64) -> Result<[u8; 32], String> {
    let (mut k, mut u) = (*start, *start);
    for _ in 0..iterations {
        let next = x25519(&k, &u)?;
        u = k;
        k = next;
    }
    Ok(k)
}

/// RFC 7748: the two scalar multiplications of section 5.2, the iterated cases (1 and 1,000 always;
/// 1,000,000 only with `include_slow`) and the Diffie-Hellman example of section 6.1.
pub fn run_x25519(doc: &Value, options: Options) -> FileReport {
    let mut report = FileReport::new("rfc7748 x25519");
    match array_field(doc, "scalar_mult") {
        Ok(cases) => {
            for (index, case) in cases.iter().enumerate() {
                let id = case
                    .get("id")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("scalar_mult[{index}]"), str::to_owned);
                let outcome = (|| {
                    let out = x25519(&hex_field(case, "scalar")?, &hex_field(case, "u")?)?;
                    expect_eq("output", &hex_field(case, "output")?, &out)
                })();
                report.record(id, outcome);
            }
        }
        Err(why) => report.record("scalar_mult", Err(why)),
    }
    match field(doc, "iterated") {
        Ok(iterated) => {
            let start = hex_field(iterated, "start").and_then(|s| fixed::<32>("start", &s));
            for (name, count, slow) in [
                ("after_1", 1, false),
                ("after_1000", 1_000, false),
                ("after_1000000", 1_000_000, true),
            ] {
                if iterated.get(name).is_none() {
                    continue;
                }
                if slow && !options.include_slow {
                    report.skip(1, "1,000,000 iterations: pass --include-slow");
                    continue;
                }
                let outcome = start.clone().and_then(|start| {
                    let k = iterate_x25519(&start, count)?;
                    expect_eq(name, &hex_field(iterated, name)?, &k)
                });
                report.record(format!("iterated {name}"), outcome);
            }
        }
        Err(why) => report.record("iterated", Err(why)),
    }
    if let Some(dh) = doc.get("diffie_hellman_6_1") {
        let outcome = (|| {
            let alice = PrivateKey::from_slice(&hex_field(dh, "alice_private")?)
                .map_err(|e| format!("alice_private: {e}"))?;
            let bob = PrivateKey::from_slice(&hex_field(dh, "bob_private")?)
                .map_err(|e| format!("bob_private: {e}"))?;
            expect_eq(
                "alice_public",
                &hex_field(dh, "alice_public")?,
                alice.public_key().as_bytes(),
            )?;
            expect_eq(
                "bob_public",
                &hex_field(dh, "bob_public")?,
                bob.public_key().as_bytes(),
            )?;
            let shared = hex_field(dh, "shared_secret")?;
            let ab = alice
                .diffie_hellman(&bob.public_key())
                .map_err(|e| e.to_string())?;
            let ba = bob
                .diffie_hellman(&alice.public_key())
                .map_err(|e| e.to_string())?;
            expect_eq("shared_secret (Alice)", &shared, ab.as_bytes())?;
            expect_eq("shared_secret (Bob)", &shared, ba.as_bytes())
        })();
        report.record("6.1 diffie-hellman", outcome);
    }
    report
}

/// RFC 8032 section 7.1: each signature verifies with [`pqxdh::primitives::xeddsa::verify_ed25519`], and no
/// longer does once the message is changed.
pub fn run_ed25519(doc: &Value) -> FileReport {
    let mut report = FileReport::new("rfc8032 ed25519");
    let tests = match array_field(doc, "tests") {
        Ok(tests) => tests,
        Err(why) => return FileReport::malformed("rfc8032 ed25519", why),
    };
    for (index, test) in tests.iter().enumerate() {
        let id = test
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("tests[{index}]"), str::to_owned);
        let outcome = (|| {
            let pk = fixed::<32>("public_key", &hex_field(test, "public_key")?)?;
            let sig = fixed::<64>("signature", &hex_field(test, "signature")?)?;
            let mut message = hex_field(test, "message")?;
            pqxdh::primitives::xeddsa::verify_ed25519(&pk, &message, &sig)
                .map_err(|e| format!("`signature`: {e}"))?;
            message.push(0);
            match pqxdh::primitives::xeddsa::verify_ed25519(&pk, &message, &sig) {
                Ok(()) => Err("`signature` also verifies a longer message".into()),
                Err(_) => Ok(()),
            }
        })();
        report.record(id, outcome);
    }
    report
}

/// RFC 5869 appendix A: PRK and OKM of the SHA-256 cases. The SHA-1 cases are skipped (no SHA-1
/// in this crate).
pub fn run_hkdf(doc: &Value) -> FileReport {
    let mut report = FileReport::new("rfc5869 hkdf");
    let tests = match array_field(doc, "tests") {
        Ok(tests) => tests,
        Err(why) => return FileReport::malformed("rfc5869 hkdf", why),
    };
    let mut sha1 = 0;
    for (index, test) in tests.iter().enumerate() {
        let id = test
            .get("id")
            .map_or_else(|| format!("tests[{index}]"), |id| format!("test case {id}"));
        match str_field(test, "hash") {
            Ok("SHA-256") => {}
            Ok("SHA-1") => {
                sha1 += 1;
                continue;
            }
            Ok(other) => {
                report.record(id, Err(format!("unsupported hash {other:?}")));
                continue;
            }
            Err(why) => {
                report.record(id, Err(why));
                continue;
            }
        }
        let outcome = (|| {
            let ikm = hex_field(test, "ikm")?;
            let salt = match test.get("salt") {
                None | Some(Value::Null) => None,
                Some(_) => Some(hex_field(test, "salt")?),
            };
            let info = hex_field(test, "info")?;
            let length = usize_field(test, "L")?;
            let (prk, hkdf) = Hkdf::<Sha256>::extract(salt.as_deref(), &ikm);
            expect_eq("prk", &hex_field(test, "prk")?, &prk)?;
            if length > 255 * 32 {
                return Err(format!("`L` = {length} is too long for HKDF-SHA256"));
            }
            let mut okm = vec![0u8; length];
            hkdf.expand(&info, &mut okm)
                .map_err(|e| format!("expand: {e}"))?;
            expect_eq("okm", &hex_field(test, "okm")?, &okm)
        })();
        report.record(id, outcome);
    }
    report.skip(sha1, "SHA-1 cases not run");
    report
}
