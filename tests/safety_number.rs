//! Safety numbers against libsignal's published fingerprint vector (data in
//! `tests/vectors/safety_number.json`), and their symmetry and sensitivity.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use pqxdh::handshake::safety_number::{grouped, party_digits, safety_number};
use pqxdh::{IdentityKeyPair, PublicKey};

#[test]
fn libsignal_vector() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/safety_number.json"),
    )
    .unwrap();
    let file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let vectors = file["vectors"].as_array().unwrap();
    assert!(!vectors.is_empty());
    for v in vectors {
        let key = |field: &str| {
            PublicKey::decode(&hex::decode(v[field].as_str().unwrap()).unwrap()).unwrap()
        };
        let local_id = v["local_id"].as_str().unwrap().as_bytes();
        let remote_id = v["remote_id"].as_str().unwrap().as_bytes();
        let expected = v["safety_number"].as_str().unwrap();
        assert_eq!(v["iterations"].as_u64(), Some(5200));
        let (local, remote) = (key("local_identity_key"), key("remote_identity_key"));
        assert_eq!(
            safety_number(local_id, &local, remote_id, &remote),
            expected
        );
        assert_eq!(
            safety_number(remote_id, &remote, local_id, &local),
            expected
        );
    }
}

#[test]
fn same_on_both_sides_and_changes_with_either_key() {
    let mut rng = rand::rng();
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    let mallory = IdentityKeyPair::generate(&mut rng);
    let a = safety_number(b"alice", alice.public_key(), b"bob", bob.public_key());
    let b = safety_number(b"bob", bob.public_key(), b"alice", alice.public_key());
    assert_eq!(a, b);
    assert_eq!(a.len(), 60);
    assert!(a.bytes().all(|c| c.is_ascii_digit()));
    let substituted = safety_number(b"alice", alice.public_key(), b"bob", mallory.public_key());
    assert_ne!(a, substituted);
    let renamed = safety_number(b"alice", alice.public_key(), b"bobby", bob.public_key());
    assert_ne!(a, renamed);
    assert_eq!(party_digits(b"bob", bob.public_key(), 2).len(), 30);
    assert_eq!(grouped(&a).split(' ').count(), 12);
}
