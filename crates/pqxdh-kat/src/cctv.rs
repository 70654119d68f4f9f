//! C2SP CCTV ML-KEM text vectors, recognized from their content:
//!
//! * `modulus/ML-KEM-*.txt.gz`: one hex encapsulation key per line, each with a coefficient >= q;
//!   every key must be rejected by the FIPS 203 section 7.2 check (ML-KEM-1024 through
//!   [`pqxdh::primitives::kem::KemPublicKey::from_slice`]).
//! * `strcmp/ML-KEM-*.txt`: `dk`, `c`, `K`; decapsulation must give `K` (the implicit-rejection
//!   key), even though the re-encryption differs only after a zero byte.
//! * `unluckysample/ML-KEM-*.txt`: `ek`, `dk`, `m`, `c`, `K` are used directly (their `d`, `z` are
//!   FIPS 203 ipd key-generation inputs, which do not derive the same keys under final FIPS 203).

use super::mlkem::Params;
use super::{FileReport, expect_eq, fixed};
use pqxdh::primitives::kem::Backend;

/// Runs one CCTV ML-KEM text file (already decompressed).
pub fn run(text: &str) -> FileReport {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    if lines.is_empty() {
        return FileReport::malformed("cctv", "empty file");
    }
    if lines.iter().all(|l| !l.contains('=')) {
        return modulus(&lines);
    }
    let mut fields = Vec::new();
    for line in &lines {
        match line.split_once('=') {
            Some((name, value)) => fields.push((name.trim(), value.trim())),
            None => {
                return FileReport::malformed(
                    "cctv",
                    format!("not a `name = hex` line: {line:.40}"),
                );
            }
        }
    }
    let has = |name: &str| fields.iter().any(|(n, _)| *n == name);
    if has("ek") && has("m") {
        let mut report = FileReport::new("cctv ML-KEM unluckysample");
        report.record("vector", unlucky(&fields));
        report
            .notes
            .push("ek/dk/m/c/K used directly (d, z are FIPS 203 ipd)".into());
        report
    } else {
        let mut report = FileReport::new("cctv ML-KEM strcmp");
        report.record("vector", strcmp(&fields));
        report
    }
}

fn get(fields: &[(&str, &str)], name: &str) -> Result<Vec<u8>, String> {
    let value = fields
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("missing field `{name}`"))?;
    hex::decode(value).map_err(|e| format!("`{name}` is not valid hex: {e}"))
}

fn modulus(lines: &[&str]) -> FileReport {
    let mut report = FileReport::new("cctv ML-KEM modulus");
    for (index, line) in lines.iter().enumerate() {
        let outcome = (|| {
            let ek = hex::decode(line).map_err(|e| format!("not valid hex: {e}"))?;
            let params = Params::from_ek_len(ek.len())
                .ok_or_else(|| format!("no ML-KEM key is {} bytes", ek.len()))?;
            match params.check_ek(&ek) {
                Ok(()) => Err(format!(
                    "{} key with a coefficient >= q was accepted",
                    params.name()
                )),
                Err(_) => Ok(()),
            }
        })();
        report.record(format!("line {}", index + 1), outcome);
    }
    report
}

fn strcmp(fields: &[(&str, &str)]) -> Result<(), String> {
    let dk = get(fields, "dk")?;
    let params = Params::from_dk_len(dk.len())
        .ok_or_else(|| format!("no ML-KEM decapsulation key is {} bytes", dk.len()))?;
    let k = params.decaps(&dk, &get(fields, "c")?, Backend::Libcrux)?;
    expect_eq("K", &get(fields, "K")?, &k)
}

fn unlucky(fields: &[(&str, &str)]) -> Result<(), String> {
    let ek = get(fields, "ek")?;
    let params = Params::from_ek_len(ek.len())
        .ok_or_else(|| format!("no ML-KEM key is {} bytes", ek.len()))?;
    let m = fixed::<32>("m", &get(fields, "m")?)?;
    let (c, k) = params.encaps(&ek, &m)?;
    let expected_k = get(fields, "K")?;
    expect_eq("c", &get(fields, "c")?, &c)?;
    expect_eq("K", &expected_k, &k)?;
    let back = params.decaps(&get(fields, "dk")?, &c, Backend::Libcrux)?;
    expect_eq("K (decapsulated)", &expected_k, &back)
}
