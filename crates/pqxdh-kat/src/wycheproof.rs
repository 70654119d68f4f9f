//! Wycheproof JSON vectors (C2SP/wycheproof `testvectors_v1`): X25519, Ed25519, HKDF, HMAC,
//! AES-GCM and ML-KEM, dispatched on the file's `schema`.
//!
//! `valid` and `acceptable` vectors must produce the given output; `invalid` ones must be rejected
//! (an error, a failed check, or for MACs a tag that does not match).

use aes::{Aes128, Aes192, Aes256};
use aes_gcm::AesGcm;
use aes_gcm::aead::consts::{U1, U2, U4, U6, U8, U10, U12, U15, U16, U20, U32, U64, U128, U257};
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Sha256, Sha512};

use super::mlkem::Params;
use super::{
    FileReport, array_field, expect_eq, field, fixed, hex_field, str_field, tc_id, usize_field,
};
use pqxdh::primitives::kem::Backend;
use pqxdh::primitives::keys::{KeyError, PrivateKey, PublicKey};

/// Runs a Wycheproof document. ML-KEM-1024 decapsulation files give a second, labelled report
/// for the PQClean backend.
pub fn run(doc: &Value) -> Vec<FileReport> {
    let schema = doc.get("schema").and_then(Value::as_str).unwrap_or("");
    let algorithm = doc.get("algorithm").and_then(Value::as_str).unwrap_or("");
    let format = format!("wycheproof {}", schema.trim_end_matches(".json"));
    let groups = match array_field(doc, "testGroups") {
        Ok(groups) => groups,
        Err(why) => return vec![FileReport::malformed(format, why)],
    };
    match schema {
        "xdh_comp_schema_v1.json" => vec![each(format, groups, x25519)],
        "eddsa_verify_schema_v1.json" => vec![each(format, groups, ed25519)],
        "hkdf_test_schema_v1.json" => match algorithm {
            "HKDF-SHA-256" => vec![each(format, groups, hkdf::<Hmac<Sha256>>)],
            "HKDF-SHA-512" => vec![each(format, groups, hkdf::<Hmac<Sha512>>)],
            other => vec![unsupported(format, other)],
        },
        "mac_test_schema_v1.json" => match algorithm {
            "HMACSHA256" => vec![each(format, groups, hmac::<Hmac<Sha256>>)],
            "HMACSHA512" => vec![each(format, groups, hmac::<Hmac<Sha512>>)],
            other => vec![unsupported(format, other)],
        },
        "aead_test_schema_v1.json" if algorithm == "AES-GCM" => vec![aes_gcm(format, groups)],
        "mlkem_keygen_seed_test_schema.json" => vec![each(format, groups, mlkem_keygen)],
        "mlkem_encaps_test_schema.json" => vec![each(format, groups, mlkem_encaps)],
        "mlkem_test_schema.json" | "mlkem_semi_expanded_decaps_test_schema.json" => {
            let seeded = schema == "mlkem_test_schema.json";
            let libcrux = each(format.clone(), groups, |g, t| {
                mlkem_decaps(g, t, seeded, Backend::Libcrux)
            });
            let mut reports = vec![libcrux];
            if groups.iter().any(|g| param_set(g) == Ok(Params::MlKem1024)) {
                let mut pqclean = each(format!("{format}, PQClean backend"), groups, |g, t| {
                    if param_set(g)? == Params::MlKem1024 && expect(t)? != Expect::Invalid {
                        mlkem_decaps(g, t, seeded, Backend::PqClean).map(Some)
                    } else {
                        Ok(None)
                    }
                });
                pqclean
                    .notes
                    .push("ML-KEM-1024 decapsulation of the valid vectors".into());
                reports.push(pqclean);
            }
            reports
        }
        _ => vec![unsupported(format, algorithm)],
    }
}

fn unsupported(format: String, algorithm: &str) -> FileReport {
    FileReport::malformed(
        format,
        format!("unsupported Wycheproof schema/algorithm `{algorithm}`"),
    )
}

/// What a vector checker says: `Ok(Some(()))` checked, `Ok(None)` not applicable (not counted).
trait Outcome {
    fn into_outcome(self) -> Result<Option<()>, String>;
}

impl Outcome for Result<(), String> {
    fn into_outcome(self) -> Result<Option<()>, String> {
        self.map(Some)
    }
}

impl Outcome for Result<Option<()>, String> {
    fn into_outcome(self) -> Result<Option<()>, String> {
        self
    }
}

/// Runs `check(group, test)` over every test of every group.
fn each<O: Outcome>(
    format: String,
    groups: &[Value],
    mut check: impl FnMut(&Value, &Value) -> O,
) -> FileReport {
    let mut report = FileReport::new(format);
    for (index, group) in groups.iter().enumerate() {
        let tests = match array_field(group, "tests") {
            Ok(tests) => tests,
            Err(why) => {
                report.record(format!("testGroups[{index}]"), Err(why));
                continue;
            }
        };
        for test in tests {
            match check(group, test).into_outcome() {
                Ok(Some(())) => report.record(tc_id(test), Ok(())),
                Ok(None) => {}
                Err(why) => report.record(tc_id(test), Err(why)),
            }
        }
    }
    report
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Valid,
    Acceptable,
    Invalid,
}

fn expect(test: &Value) -> Result<Expect, String> {
    match str_field(test, "result")? {
        "valid" => Ok(Expect::Valid),
        "acceptable" => Ok(Expect::Acceptable),
        "invalid" => Ok(Expect::Invalid),
        other => Err(format!("unknown `result` {other:?}")),
    }
}

/// For invalid vectors: pass when `outcome` is an error, fail when it was accepted.
fn must_reject<T>(outcome: Result<T, String>) -> Result<(), String> {
    match outcome {
        Ok(_) => Err("an invalid vector was accepted".into()),
        Err(_) => Ok(()),
    }
}

fn x25519(_group: &Value, test: &Value) -> Result<(), String> {
    let result = expect(test)?;
    let private = PrivateKey::from_slice(&hex_field(test, "private")?)
        .map_err(|e| format!("`private`: {e}"))?;
    let public = PublicKey::from_slice(&hex_field(test, "public")?);
    let shared = hex_field(test, "shared")?;
    let public = match (public, result) {
        (Ok(public), _) => public,
        (Err(_), Expect::Invalid) => return Ok(()),
        (Err(e), _) => return Err(format!("`public`: {e}")),
    };
    let outcome = private.diffie_hellman(&public);
    if shared.iter().all(|&b| b == 0) {
        return match outcome {
            Err(KeyError::NonContributory) => Ok(()),
            Err(e) => Err(format!(
                "`shared` is zero: expected NonContributory, got {e}"
            )),
            Ok(_) => Err("`shared` is zero: expected NonContributory, got an output".into()),
        };
    }
    match (outcome, result) {
        (Ok(out), Expect::Valid | Expect::Acceptable) => {
            expect_eq("shared", &shared, out.as_bytes())
        }
        (Err(e), Expect::Valid | Expect::Acceptable) => Err(format!("`shared`: {e}")),
        (Ok(out), Expect::Invalid) => must_reject(expect_eq("shared", &shared, out.as_bytes())),
        (Err(_), Expect::Invalid) => Ok(()),
    }
}

fn ed25519(group: &Value, test: &Value) -> Result<(), String> {
    let result = expect(test)?;
    let key = field(group, "publicKey")?;
    let pk = hex_field(key, "pk")?;
    let msg = hex_field(test, "msg")?;
    let sig = hex_field(test, "sig")?;
    let verified = fixed::<32>("pk", &pk).and_then(|pk| {
        let sig = fixed::<64>("sig", &sig)?;
        pqxdh::primitives::xeddsa::verify_ed25519(&pk, &msg, &sig).map_err(|e| e.to_string())
    });
    match result {
        Expect::Valid | Expect::Acceptable => verified.map_err(|e| format!("`sig`: {e}")),
        Expect::Invalid => must_reject(verified).map_err(|e| format!("`sig`: {e}")),
    }
}

fn hkdf<M: hkdf::HmacImpl>(_group: &Value, test: &Value) -> Result<(), String> {
    let result = expect(test)?;
    let ikm = hex_field(test, "ikm")?;
    let salt = hex_field(test, "salt")?;
    let info = hex_field(test, "info")?;
    let size = usize_field(test, "size")?;
    let okm = hex_field(test, "okm")?;
    // HKDF can output at most 255 hash lengths; refuse before allocating a huge buffer.
    let mut out = Vec::new();
    let expanded = if size > 255 * 64 {
        Err(format!("expand: {size} bytes is too long for HKDF"))
    } else {
        out.resize(size, 0);
        hkdf::GenericHkdf::<M>::new(Some(&salt), &ikm)
            .expand(&info, &mut out)
            .map_err(|e| format!("expand: {e}"))
    };
    match result {
        Expect::Valid | Expect::Acceptable => {
            expanded?;
            expect_eq("okm", &okm, &out)
        }
        Expect::Invalid => must_reject(expanded.and_then(|()| expect_eq("okm", &okm, &out))),
    }
}

fn hmac<M: Mac + hmac::KeyInit>(group: &Value, test: &Value) -> Result<(), String> {
    let result = expect(test)?;
    let tag_bits = usize_field(group, "tagSize")?;
    let key = hex_field(test, "key")?;
    let msg = hex_field(test, "msg")?;
    let tag = hex_field(test, "tag")?;
    let mut mac = <M as hmac::KeyInit>::new_from_slice(&key).map_err(|e| format!("`key`: {e}"))?;
    mac.update(&msg);
    let full = mac.finalize().into_bytes();
    let matches = tag.len() * 8 == tag_bits
        && full
            .get(..tag.len())
            .is_some_and(|prefix| bool::from(subtle::ConstantTimeEq::ct_eq(prefix, &tag[..])));
    match result {
        Expect::Valid | Expect::Acceptable if matches => Ok(()),
        Expect::Valid | Expect::Acceptable => {
            expect_eq("tag", &tag, full.get(..tag.len()).unwrap_or(&full[..]))
                .and(Err(format!("`tag` does not match ({tag_bits}-bit tag)")))
        }
        Expect::Invalid if matches => Err("an invalid tag matched".into()),
        Expect::Invalid => Ok(()),
    }
}

/// Checks one AES-GCM vector with the cipher type `C`: valid ones must encrypt to `ct || tag` and
/// decrypt back; invalid ones must fail to decrypt.
fn gcm_check<C: KeyInit + AeadInOut>(test: &Value) -> Result<(), String> {
    let result = expect(test)?;
    let key = hex_field(test, "key")?;
    let iv = hex_field(test, "iv")?;
    let aad = hex_field(test, "aad")?;
    let msg = hex_field(test, "msg")?;
    let ct = hex_field(test, "ct")?;
    let tag = hex_field(test, "tag")?;
    let cipher = C::new_from_slice(&key).map_err(|e| format!("`key`: {e}"))?;
    let nonce = Nonce::<C>::try_from(iv.as_slice()).map_err(|_| "`iv` length".to_owned())?;
    let decrypted = (|| {
        let tag = aes_gcm::aead::Tag::<C>::try_from(tag.as_slice())
            .map_err(|_| "`tag` length".to_owned())?;
        let mut buffer = ct.clone();
        cipher
            .decrypt_inout_detached(&nonce, &aad, buffer.as_mut_slice().into(), &tag)
            .map_err(|_| "decryption failed".to_owned())?;
        Ok::<_, String>(buffer)
    })();
    match result {
        Expect::Valid | Expect::Acceptable => {
            let mut buffer = msg.clone();
            let computed = cipher
                .encrypt_inout_detached(&nonce, &aad, buffer.as_mut_slice().into())
                .map_err(|_| "encryption failed".to_owned())?;
            expect_eq("ct", &ct, &buffer)?;
            expect_eq("tag", &tag, &computed)?;
            expect_eq(
                "msg (decrypted)",
                &msg,
                &decrypted.map_err(|e| format!("`tag`: {e}"))?,
            )
        }
        Expect::Invalid => must_reject(decrypted.and_then(|pt| expect_eq("msg", &msg, &pt))),
    }
}

macro_rules! gcm_by_nonce {
    ($aes:ty, $test:expr, $iv_bytes:expr, $($n:literal => $u:ty),* $(,)?) => {
        match $iv_bytes {
            $($n => Some(gcm_check::<AesGcm<$aes, $u>>($test)),)*
            _ => None,
        }
    };
}

fn gcm_dispatch<A>(test: &Value, iv_bytes: usize) -> Option<Result<(), String>>
where
    A: aes::cipher::BlockCipherEncrypt + aes::cipher::BlockSizeUser<BlockSize = U16> + KeyInit,
{
    gcm_by_nonce!(A, test, iv_bytes,
        1 => U1, 2 => U2, 4 => U4, 6 => U6, 8 => U8, 10 => U10, 12 => U12, 15 => U15,
        16 => U16, 20 => U20, 32 => U32, 64 => U64, 128 => U128, 257 => U257,
    )
}

fn aes_gcm(format: String, groups: &[Value]) -> FileReport {
    let mut skipped = 0;
    let mut report = each(format, groups, |group, test| {
        let key_bits = usize_field(group, "keySize")?;
        let iv_bits = usize_field(group, "ivSize")?;
        let tag_bits = usize_field(group, "tagSize")?;
        if tag_bits != 128 || iv_bits % 8 != 0 {
            skipped += 1;
            return Ok(None);
        }
        if iv_bits == 0 {
            // NIST SP 800-38D section 5.2.1.1: the IV must be at least one bit long.
            return match expect(test)? {
                Expect::Invalid => Ok(Some(())),
                _ => Err("`iv`: a zero-length IV is not allowed (SP 800-38D)".into()),
            };
        }
        let outcome = match key_bits {
            128 => gcm_dispatch::<Aes128>(test, iv_bits / 8),
            192 => gcm_dispatch::<Aes192>(test, iv_bits / 8),
            256 => gcm_dispatch::<Aes256>(test, iv_bits / 8),
            _ => None,
        };
        match outcome {
            Some(result) => result.map(Some),
            None => {
                skipped += 1;
                Ok(None)
            }
        }
    });
    report.skip(skipped, "unsupported key, nonce or tag size");
    report
}

fn param_set(group: &Value) -> Result<Params, String> {
    let name = str_field(group, "parameterSet")?;
    Params::from_name(name).ok_or_else(|| format!("unknown parameterSet {name:?}"))
}

fn mlkem_keygen(group: &Value, test: &Value) -> Result<(), String> {
    let params = param_set(group)?;
    let result = expect(test)?;
    let generated = fixed::<64>("seed", &hex_field(test, "seed")?).map(|s| params.keygen(&s));
    match result {
        Expect::Invalid => must_reject(generated.and_then(|(ek, dk)| {
            expect_eq("ek", &hex_field(test, "ek")?, &ek)?;
            expect_eq("dk", &hex_field(test, "dk")?, &dk)
        })),
        _ => {
            let (ek, dk) = generated?;
            expect_eq("ek", &hex_field(test, "ek")?, &ek)?;
            expect_eq("dk", &hex_field(test, "dk")?, &dk)
        }
    }
}

fn mlkem_encaps(group: &Value, test: &Value) -> Result<(), String> {
    let params = param_set(group)?;
    let result = expect(test)?;
    let ek = hex_field(test, "ek")?;
    let m = fixed::<32>("m", &hex_field(test, "m")?);
    let encapsulated = m.and_then(|m| params.encaps(&ek, &m));
    match result {
        Expect::Invalid => must_reject(encapsulated),
        _ => {
            let (c, k) = encapsulated?;
            expect_eq("c", &hex_field(test, "c")?, &c)?;
            expect_eq("K", &hex_field(test, "K")?, &k)
        }
    }
}

/// `mlkem_test_schema` (keygen from `seed`, then decapsulate `c`) or the semi-expanded schema
/// (decapsulate `c` with the given `dk`, checking it first).
fn mlkem_decaps(group: &Value, test: &Value, seeded: bool, backend: Backend) -> Result<(), String> {
    let params = param_set(group)?;
    let result = expect(test)?;
    let c = hex_field(test, "c")?;
    let outcome = (|| {
        let dk = if seeded {
            let seed = fixed::<64>("seed", &hex_field(test, "seed")?)?;
            let (ek, dk) = params.keygen(&seed);
            expect_eq("ek", &hex_field(test, "ek")?, &ek)?;
            dk
        } else {
            hex_field(test, "dk")?
        };
        params.decaps(&dk, &c, backend)
    })();
    match result {
        Expect::Invalid => must_reject(outcome),
        _ => expect_eq("K", &hex_field(test, "K")?, &outcome?),
    }
}
