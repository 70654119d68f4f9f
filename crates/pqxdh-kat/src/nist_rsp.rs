//! NIST PQC `.rsp` known-answer files of round-3 CRYSTALS-Kyber1024 (`PQCkemKAT_3168.rsp`).
//!
//! Each record is regenerated as the NIST generator does: `randombytes_init(seed)`, then
//! `randombytes(32)` = d and `randombytes(32)` = z for key generation and `randombytes(32)` = m for
//! encapsulation; `pk`, `sk`, `ct` and `ss` must all match, and decapsulation must give `ss`. The
//! record seeds themselves are checked against the generator's DRBG (entropy 0, 1, ..., 47).

use super::ctr_drbg::{CtrDrbg, SEED_LEN};
use super::{FileReport, expect_eq, fixed};
use pqxdh::primitives::kem::{Backend, KemKeyPair, KemType};

/// One `count = N` record: its fields in order.
type Record<'a> = Vec<(&'a str, &'a str)>;

fn records(text: &str) -> Vec<Record<'_>> {
    let mut out: Vec<Record<'_>> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name == "count" || out.is_empty() {
            out.push(Vec::new());
        }
        if let Some(record) = out.last_mut() {
            record.push((name, value));
        }
    }
    out
}

fn get<'a>(record: &Record<'a>, name: &str) -> Result<Vec<u8>, String> {
    let value = record
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("missing field `{name}`"))?;
    hex::decode(value).map_err(|e| format!("`{name}` is not valid hex: {e}"))
}

/// Runs a Kyber1024 `.rsp` file.
pub fn run(text: &str) -> FileReport {
    let mut report = FileReport::new("nist-rsp kyber1024 round 3");
    let header = text.lines().next().unwrap_or("").trim();
    if header.starts_with('#') && header != "# Kyber1024" {
        return FileReport::malformed(
            "nist-rsp",
            format!("unsupported .rsp file {header:?} (only `# Kyber1024` is supported)"),
        );
    }
    let records = records(text);
    if records.is_empty() {
        return FileReport::malformed("nist-rsp", "no `count = N` records");
    }
    let entropy: [u8; SEED_LEN] = core::array::from_fn(|i| u8::try_from(i).unwrap_or(0));
    let mut seeds = CtrDrbg::new(&entropy);
    for (index, record) in records.iter().enumerate() {
        let id = record
            .iter()
            .find(|(n, _)| *n == "count")
            .map_or_else(|| format!("record #{index}"), |(_, v)| format!("count {v}"));
        let expected_seed: [u8; SEED_LEN] = seeds.bytes();
        report.record(id, check(record, &expected_seed));
    }
    report
}

fn check(record: &Record<'_>, expected_seed: &[u8; SEED_LEN]) -> Result<(), String> {
    let seed = fixed::<SEED_LEN>("seed", &get(record, "seed")?)?;
    expect_eq("seed (NIST generator DRBG)", expected_seed, &seed)?;
    let mut drbg = CtrDrbg::new(&seed);
    let d: [u8; 32] = drbg.bytes();
    let z: [u8; 32] = drbg.bytes();
    let mut keygen_seed = [0u8; 64];
    let (first, second) = keygen_seed.split_at_mut(32);
    first.copy_from_slice(&d);
    second.copy_from_slice(&z);
    let pair = KemKeyPair::from_seed(KemType::Kyber1024, &keygen_seed);
    expect_eq("pk", &get(record, "pk")?, pair.public_key().as_bytes())?;
    expect_eq("sk", &get(record, "sk")?, pair.secret_key().as_bytes())?;
    let m: [u8; 32] = drbg.bytes();
    let (ct, ss) = pair
        .public_key()
        .encapsulate_deterministic(&m)
        .map_err(|e| format!("encapsulation: {e}"))?;
    expect_eq("ct", &get(record, "ct")?, ct.as_bytes())?;
    let expected_ss = get(record, "ss")?;
    expect_eq("ss", &expected_ss, ss.as_bytes())?;
    let back = pair
        .secret_key()
        .decapsulate(&ct, Backend::Libcrux)
        .map_err(|e| format!("decapsulation: {e}"))?;
    expect_eq("ss (decapsulated)", &expected_ss, back.as_bytes())
}
