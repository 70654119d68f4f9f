//! Every known-answer vector file in `kat/` passes, with the expected vector counts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::at_root;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pqxdh_kat::{FileReport, Options, run_content, run_paths};

fn all_reports() -> Vec<FileReport> {
    run_paths(&[PathBuf::from("kat/")], false).unwrap()
}

/// Files whose vectors are run by `pqxdh_vectors` (checked by tests/pqxdh_vectors.rs).
fn is_pqxdh(report: &FileReport) -> bool {
    report.format == "pqxdh-kat-v1" || report.format == "libsignal-x3dh-v3"
}

#[test]
fn every_primitive_vector_file_passes() {
    at_root();
    let reports = all_reports();
    assert!(reports.len() >= 40, "only {} reports", reports.len());
    for report in reports.iter().filter(|r| !is_pqxdh(r)) {
        assert_eq!(report.failed, 0, "{}", report.render());
        assert!(report.passed > 0, "{}", report.render());
    }
}

#[test]
fn expected_vector_counts() {
    at_root();
    let mut counts: BTreeMap<(String, bool), (usize, usize)> = BTreeMap::new();
    for r in all_reports() {
        let pqclean = r.format.contains("PQClean");
        counts.insert((r.path.clone(), pqclean), (r.passed, r.skipped));
    }
    let expect = |path: &str, pqclean: bool, passed: usize, skipped: usize| {
        let got = counts.get(&(format!("kat/{path}"), pqclean));
        assert_eq!(got, Some(&(passed, skipped)), "{path} (PQClean: {pqclean})");
    };
    expect("kyber-round3/PQCkemKAT_3168.rsp", false, 100, 0);
    expect("wycheproof/x25519_test.json", false, 518, 0);
    expect("wycheproof/ed25519_test.json", false, 151, 0);
    expect("wycheproof/aes_gcm_test.json", false, 316, 0);
    expect("wycheproof/hkdf_sha256_test.json", false, 86, 0);
    expect("wycheproof/hmac_sha256_test.json", false, 174, 0);
    expect("wycheproof/mlkem_1024_test.json", false, 193, 0);
    expect("wycheproof/mlkem_1024_test.json", true, 153, 0);
    expect("wycheproof/mlkem_1024_encaps_test.json", false, 269, 0);
    expect("wycheproof/mlkem_1024_keygen_seed_test.json", false, 100, 0);
    expect(
        "wycheproof/mlkem_1024_semi_expanded_decaps_test.json",
        false,
        9,
        0,
    );
    expect(
        "acvp-mlkem/ML-KEM-keyGen-FIPS203.internalProjection.json",
        false,
        75,
        0,
    );
    expect(
        "acvp-mlkem/ML-KEM-encapDecap-FIPS203.internalProjection.json",
        false,
        105,
        0,
    );
    expect(
        "acvp-mlkem/ML-KEM-encapDecap-FIPS203.internalProjection.json",
        true,
        35,
        0,
    );
    expect("cctv/ML-KEM/modulus/ML-KEM-512.txt.gz", false, 775, 0);
    expect("cctv/ML-KEM/modulus/ML-KEM-768.txt.gz", false, 780, 0);
    expect("cctv/ML-KEM/modulus/ML-KEM-1024.txt.gz", false, 1040, 0);
    expect("rfc/rfc7748_x25519.json", false, 5, 1);
    expect("rfc/rfc8032_ed25519.json", false, 5, 0);
    expect("rfc/rfc5869_hkdf.json", false, 3, 4);
    expect("libsignal/xeddsa_verify_kat.json", false, 1, 0);
}

#[test]
fn our_transcripts_are_run() {
    at_root();
    let reports = all_reports();
    // Each step or event is one vector; the SPQR transcripts run several epochs.
    for (path, format, at_least) in [
        (
            "kat/ratchet/transcripts.json",
            "pqxdh-ratchet-transcripts-v2",
            50,
        ),
        (
            "kat/spqr/transcripts.json",
            "pqxdh-spqr-transcripts-v1",
            2000,
        ),
    ] {
        let report = reports.iter().find(|r| r.path == path);
        let report = report.unwrap_or_else(|| panic!("{path} was not run"));
        assert_eq!(report.format, format, "{path}");
        assert_eq!(report.failed, 0, "{}", report.render());
        assert!(report.passed >= at_least, "{}", report.render());
    }
}

#[test]
fn non_vector_files_are_skipped() {
    at_root();
    let reports = all_reports();
    for report in &reports {
        let name = Path::new(&report.path)
            .file_name()
            .unwrap()
            .to_str()
            .unwrap();
        assert!(
            !name.ends_with(".md") && !name.ends_with(".py") && !name.starts_with("LICENSE"),
            "{}",
            report.path
        );
    }
}

/// Changes the first hex digit after `marker` in `text`.
fn corrupt_after(text: &str, marker: &str) -> String {
    let at = text.find(marker).unwrap() + marker.len();
    let mut bytes = text.as_bytes().to_vec();
    let pos = at + bytes[at..].iter().position(u8::is_ascii_hexdigit).unwrap();
    bytes[pos] = if bytes[pos] == b'0' { b'1' } else { b'0' };
    String::from_utf8(bytes).unwrap()
}

#[test]
fn a_changed_byte_is_reported_with_its_field() {
    at_root();
    let cases = [
        (
            "kat/kyber-round3/PQCkemKAT_3168.rsp",
            "ss = ",
            "count 0",
            "`ss`",
        ),
        (
            "kat/kyber-round3/PQCkemKAT_3168.rsp",
            "sk = ",
            "count 0",
            "`sk`",
        ),
        (
            "kat/wycheproof/x25519_test.json",
            "\"shared\": \"",
            "tcId 1",
            "`shared`",
        ),
        (
            "kat/wycheproof/mlkem_1024_keygen_seed_test.json",
            "\"dk\": \"",
            "tcId 1",
            "`dk`",
        ),
        (
            "kat/acvp-mlkem/ML-KEM-encapDecap-FIPS203.internalProjection.json",
            "\"k\": \"",
            "tgId 1 tcId 1",
            "`k`",
        ),
        (
            "kat/rfc/rfc5869_hkdf.json",
            "\"okm\": \"",
            "test case 1",
            "`okm`",
        ),
    ];
    for (path, marker, id, field) in cases {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.contains(marker), "{path}: marker {marker:?}");
        let bad = corrupt_after(&text, marker);
        let reports = run_content(Path::new(path), bad.as_bytes(), Options::default());
        let failures: Vec<&String> = reports.iter().flat_map(|r| &r.failures).collect();
        assert_eq!(failures.len(), 1, "{path}: {failures:?}");
        assert!(
            failures[0].starts_with(id) && failures[0].contains(field),
            "{path}: {}",
            failures[0]
        );
    }
}

#[test]
fn a_missing_field_is_a_failure_not_a_panic() {
    at_root();
    let text = std::fs::read_to_string("kat/wycheproof/hkdf_sha256_test.json").unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["testGroups"][0]["tests"][0]
        .as_object_mut()
        .unwrap()
        .remove("okm");
    let reports = pqxdh_kat::run_json(&doc, Options::default());
    assert_eq!(reports[0].failed, 1);
    assert!(reports[0].failures[0].contains("missing field `okm`"));
}

#[test]
fn missing_path_is_an_io_error() {
    at_root();
    assert!(run_paths(&[PathBuf::from("kat/no-such-file.json")], false).is_err());
}

#[test]
#[ignore = "1,000,000 X25519 iterations: run with --ignored"]
fn rfc7748_million_iterations() {
    at_root();
    let reports = run_paths(&[PathBuf::from("kat/rfc/rfc7748_x25519.json")], true).unwrap();
    assert_eq!(
        (reports[0].passed, reports[0].failed, reports[0].skipped),
        (6, 0, 0)
    );
}
