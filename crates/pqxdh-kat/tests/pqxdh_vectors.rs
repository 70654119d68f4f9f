//! PQXDH known-answer vectors: libsignal's, libsignal's X3DH vector, and our own.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::at_root;
use pqxdh_kat::pqxdh_vectors;

fn load(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn libsignal_pqxdh_vectors_all_pass() {
    at_root();
    let report = pqxdh_vectors::run(&load("kat/libsignal-pqxdh/vectors.json"));
    assert_eq!(report.failures, Vec::<String>::new());
    assert_eq!((report.passed, report.failed), (8, 0));
}

#[test]
fn libsignal_x3dh_vector_passes() {
    at_root();
    let report = pqxdh_vectors::run_x3dh(&load("kat/libsignal/x3dh_v3_ratchet_init_kat.json"));
    assert_eq!(report.failures, Vec::<String>::new());
    assert_eq!((report.passed, report.failed), (1, 0));
}

#[test]
fn a_changed_byte_fails_the_vector() {
    at_root();
    let mut doc = load("kat/libsignal-pqxdh/vectors.json");
    let root = doc["vectors"][2]["expected"]["root_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let flipped = format!(
        "{}{}",
        if &root[..1] == "0" { "1" } else { "0" },
        &root[1..]
    );
    doc["vectors"][2]["expected"]["root_key"] = flipped.into();
    doc["vectors"][5]["bob_kem_public_key"] = serde_json::Value::Null;
    let report = pqxdh_vectors::run(&doc);
    assert_eq!((report.passed, report.failed), (6, 2));
    assert!(
        report.failures[0].contains("kyber1024-noopk-0") && report.failures[0].contains("root_key")
    );
    assert!(
        report.failures[1].contains("missing field `bob_kem_public_key`")
            || report.failures[1].contains("bob_kem_public_key")
    );
}

#[test]
fn our_vectors_are_reproducible_and_pass() {
    at_root();
    let generated = pqxdh_vectors::generate(2).unwrap();
    let report = pqxdh_vectors::run(&generated);
    assert_eq!(report.failures, Vec::<String>::new());
    assert_eq!(report.passed, 8);
    let committed = load("kat/pqxdh/vectors.json");
    assert_eq!(
        generated, committed,
        "kat/pqxdh/vectors.json is out of date: run `pqxdh kat-gen`"
    );
}
