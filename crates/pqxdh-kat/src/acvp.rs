//! NIST ACVP ML-KEM JSON vectors (internal projections of `ML-KEM-keyGen-FIPS203` and
//! `ML-KEM-encapDecap-FIPS203`): `keyGen` AFT groups, `encapDecap` AFT encapsulation groups and VAL
//! decapsulation groups, every parameter set.

use serde_json::Value;

use super::mlkem::Params;
use super::{FileReport, array_field, expect_eq, fixed, hex_field, str_field, tc_id};
use pqxdh::primitives::kem::Backend;

/// Runs an ACVP document. ML-KEM-1024 decapsulations are repeated with the PQClean backend in a
/// second, labelled report.
pub fn run(doc: &Value) -> Vec<FileReport> {
    let algorithm = doc.get("algorithm").and_then(Value::as_str).unwrap_or("");
    let mode = doc.get("mode").and_then(Value::as_str).unwrap_or("");
    let format = format!("acvp {algorithm} {mode}");
    if algorithm != "ML-KEM" || !matches!(mode, "keyGen" | "encapDecap") {
        return vec![FileReport::malformed(
            format,
            format!("unsupported ACVP algorithm/mode `{algorithm}`/`{mode}`"),
        )];
    }
    let groups = match array_field(doc, "testGroups") {
        Ok(groups) => groups,
        Err(why) => return vec![FileReport::malformed(format, why)],
    };
    let mut main = FileReport::new(format.clone());
    let mut pqclean = FileReport::new(format!("{format}, PQClean backend"));
    pqclean
        .notes
        .push("ML-KEM-1024 decapsulation of every test with dk, c, k".into());
    for (index, group) in groups.iter().enumerate() {
        let tg = group
            .get("tgId")
            .map_or_else(|| format!("#{index}"), ToString::to_string);
        let setup = (|| {
            let name = str_field(group, "parameterSet")?;
            let params =
                Params::from_name(name).ok_or_else(|| format!("unknown parameterSet {name:?}"))?;
            Ok::<_, String>((params, array_field(group, "tests")?))
        })();
        let (params, tests) = match setup {
            Ok(setup) => setup,
            Err(why) => {
                main.record(format!("tgId {tg}"), Err(why));
                continue;
            }
        };
        for test in tests {
            let id = format!("tgId {tg} {}", tc_id(test));
            if mode == "keyGen" {
                main.record(id, keygen(params, test));
                continue;
            }
            let function = group.get("function").and_then(Value::as_str);
            let outcome = match function {
                Some("encapsulation") => encaps(params, test),
                Some("decapsulation") => decaps(params, group, test, Backend::Libcrux),
                other => Err(format!("unsupported function {other:?}")),
            };
            main.record(&id, outcome);
            if params == Params::MlKem1024 {
                let has_dk = test.get("dk").is_some() || group.get("dk").is_some();
                if has_dk {
                    pqclean.record(&id, decaps(params, group, test, Backend::PqClean));
                }
            }
        }
    }
    if pqclean.passed + pqclean.failed > 0 {
        vec![main, pqclean]
    } else {
        vec![main]
    }
}

fn keygen(params: Params, test: &Value) -> Result<(), String> {
    let d = fixed::<32>("d", &hex_field(test, "d")?)?;
    let z = fixed::<32>("z", &hex_field(test, "z")?)?;
    let mut seed = [0u8; 64];
    let (first, second) = seed.split_at_mut(32);
    first.copy_from_slice(&d);
    second.copy_from_slice(&z);
    let (ek, dk) = params.keygen(&seed);
    expect_eq("ek", &hex_field(test, "ek")?, &ek)?;
    expect_eq("dk", &hex_field(test, "dk")?, &dk)
}

fn encaps(params: Params, test: &Value) -> Result<(), String> {
    let m = fixed::<32>("m", &hex_field(test, "m")?)?;
    let (c, k) = params.encaps(&hex_field(test, "ek")?, &m)?;
    expect_eq("c", &hex_field(test, "c")?, &c)?;
    expect_eq("k", &hex_field(test, "k")?, &k)
}

/// Decapsulation; `dk` is in the test (AFT) or in the group (VAL).
fn decaps(params: Params, group: &Value, test: &Value, backend: Backend) -> Result<(), String> {
    let dk = hex_field(test, "dk").or_else(|_| hex_field(group, "dk"))?;
    let k = params.decaps(&dk, &hex_field(test, "c")?, backend)?;
    expect_eq("k", &hex_field(test, "k")?, &k)
}
