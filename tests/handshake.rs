//! PQXDH handshake behaviour: agreement, bundle verification, prekey consumption, header parsing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pqxdh::handshake::agreement as hs;
use pqxdh::handshake::bundle::{BundleError, PreKeyBundle};
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind};
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::handshake::{HandshakeError, InitialHeader, Protocol};
use pqxdh::primitives::kem::{Backend, KemError, KemKeyPair, KemPublicKey, KemType};
use pqxdh::primitives::keys::{KeyError, PublicKey};
use pqxdh::primitives::xeddsa::Signature;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

fn setup(kem: KemType, seed: u64) -> (ChaCha20Rng, IdentityKeyPair, PreKeyStore) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    let mut store = PreKeyStore::generate(bob, kem, &mut rng).unwrap();
    store.add_one_time_prekey(OneTimePreKey::generate(5, &mut rng));
    let bob_ik = store.identity().clone();
    store.add_pq_prekey(
        PqPreKey::generate(9, PqPreKeyKind::OneTime, kem, &bob_ik, &mut rng).unwrap(),
    );
    (rng, alice, store)
}

#[test]
fn both_sides_agree_for_every_kem_backend_and_prekey_choice() {
    for (kem, backend) in [
        (KemType::MlKem1024, Backend::Libcrux),
        (KemType::MlKem1024, Backend::PqClean),
        (KemType::Kyber1024, Backend::Libcrux),
    ] {
        let (mut rng, alice, store) = setup(kem, 1);
        for (pq_id, opk) in [(1, None), (1, Some(5)), (9, None), (9, Some(5))] {
            let bundle = store.bundle(1, pq_id, opk).unwrap();
            let init = hs::initiate(&alice, &bundle, backend, &mut rng).unwrap();
            assert_eq!(init.header.one_time_prekey_id, opk);
            assert_eq!(init.header.protocol(), Protocol::Pqxdh);
            let parsed = InitialHeader::from_bytes(&init.header.to_bytes()).unwrap();
            assert_eq!(parsed, init.header);
            let bob = hs::respond(&store, &parsed, backend, true).unwrap();
            assert_eq!(bob.root_key, init.keys.root_key);
            assert_eq!(bob.chain_key, init.keys.chain_key);
            assert_ne!(bob.root_key.as_bytes(), bob.chain_key.as_bytes());
            assert_eq!(bob.associated_data, init.keys.associated_data);
            assert_eq!(bob.session_id, init.keys.session_id);
            assert_eq!(bob.session_id.uuid().get_version_num(), 8);
            let mut expected_ad = alice.public_key().encode().to_vec();
            expected_ad.extend_from_slice(&store.identity().public_key().encode());
            assert_eq!(bob.associated_data, expected_ad);
        }
    }
}

#[test]
fn each_handshake_has_its_own_keys_and_session_id() {
    let (mut rng, alice, store) = setup(KemType::MlKem1024, 2);
    let bundle = store.default_bundle().unwrap();
    let a = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let b = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    assert_ne!(a.keys.session_id, b.keys.session_id);
    assert_ne!(a.keys.root_key, b.keys.root_key);
}

#[test]
fn x3dh_agrees_and_pqxdh_responder_refuses_it() {
    let (mut rng, alice, store) = setup(KemType::MlKem1024, 3);
    let bundle = store.bundle(1, 1, Some(5)).unwrap();
    let init = hs::initiate_x3dh(&alice, &bundle, &mut rng).unwrap();
    assert_eq!(init.header.protocol(), Protocol::X3dh);
    let bob = hs::respond(&store, &init.header, Backend::Libcrux, false).unwrap();
    assert_eq!(bob.root_key, init.keys.root_key);
    assert_eq!(
        hs::respond(&store, &init.header, Backend::Libcrux, true).err(),
        Some(HandshakeError::MissingKemCiphertext)
    );
}

#[test]
fn forged_and_swapped_signatures_are_refused() {
    let (mut rng, alice, store) = setup(KemType::MlKem1024, 4);
    let good = store.default_bundle().unwrap();
    let mut bad = good.clone();
    let mut sig = *bad.signed_prekey.signature.as_bytes();
    sig[10] ^= 0x01;
    bad.signed_prekey.signature = Signature::from_bytes(sig);
    assert_eq!(
        hs::initiate(&alice, &bad, Backend::Libcrux, &mut rng).err(),
        Some(HandshakeError::Bundle(
            BundleError::BadSignedPreKeySignature
        ))
    );
    let mut bad = good.clone();
    let mut sig = *bad.pq_prekey.signature.as_bytes();
    sig[40] ^= 0x80;
    bad.pq_prekey.signature = Signature::from_bytes(sig);
    assert_eq!(
        hs::initiate(&alice, &bad, Backend::Libcrux, &mut rng).err(),
        Some(HandshakeError::Bundle(BundleError::BadPqPreKeySignature))
    );
    // Swapped: the signed prekey's signature presented for the PQ prekey.
    let mut bad = good.clone();
    bad.pq_prekey.signature = good.signed_prekey.signature;
    assert!(hs::initiate(&alice, &bad, Backend::Libcrux, &mut rng).is_err());
    // Substituted identity key (a malicious server): nothing verifies.
    let mut bad = good.clone();
    bad.identity_key = *IdentityKeyPair::generate(&mut rng).public_key();
    assert_eq!(
        hs::initiate(&alice, &bad, Backend::Libcrux, &mut rng).err(),
        Some(HandshakeError::Bundle(
            BundleError::BadSignedPreKeySignature
        ))
    );
    // A substituted PQ key signed by nobody.
    let mut bad = good.clone();
    bad.pq_prekey.key = KemKeyPair::generate(KemType::MlKem1024, Backend::Libcrux, &mut rng)
        .unwrap()
        .public_key()
        .clone();
    assert_eq!(
        hs::initiate(&alice, &bad, Backend::Libcrux, &mut rng).err(),
        Some(HandshakeError::Bundle(BundleError::BadPqPreKeySignature))
    );
}

#[test]
fn kem_key_of_one_type_presented_as_the_other_fails_verification() {
    let (mut rng, alice, store) = setup(KemType::Kyber1024, 5);
    let mut bundle = store.default_bundle().unwrap();
    // Same key bytes relabelled ML-KEM: EncodeKEM differs in its type byte, so the signature fails.
    bundle.pq_prekey.key =
        KemPublicKey::from_slice(KemType::MlKem1024, bundle.pq_prekey.key.as_bytes()).unwrap();
    assert_eq!(
        hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).err(),
        Some(HandshakeError::Bundle(BundleError::BadPqPreKeySignature))
    );
}

#[test]
fn small_order_keys_are_rejected_everywhere() {
    let (mut rng, alice, store) = setup(KemType::MlKem1024, 6);
    let bundle = store.default_bundle().unwrap();
    let init = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    for point in [[0u8; 32], {
        let mut one = [0u8; 32];
        one[0] = 1;
        one
    }] {
        let mut header = init.header.clone();
        header.ephemeral_key = PublicKey::from_bytes(point);
        assert_eq!(
            hs::respond(&store, &header, Backend::Libcrux, true).err(),
            Some(HandshakeError::Key(KeyError::NonContributory))
        );
        let mut header = init.header.clone();
        header.identity_key = PublicKey::from_bytes(point);
        assert_eq!(
            hs::respond(&store, &header, Backend::Libcrux, true).err(),
            Some(HandshakeError::Key(KeyError::NonContributory))
        );
    }
}

#[test]
fn one_time_keys_are_consumed_and_last_resort_kept() {
    let (mut rng, alice, mut store) = setup(KemType::MlKem1024, 7);
    let bundle = store.bundle(1, 9, Some(5)).unwrap();
    let init = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    hs::respond(&store, &init.header, Backend::Libcrux, true).unwrap();
    store.consume(&init.header);
    assert_eq!(
        hs::respond(&store, &init.header, Backend::Libcrux, true).err(),
        Some(HandshakeError::UnknownOneTimePreKey(5))
    );
    let mut header = init.header.clone();
    header.one_time_prekey_id = None;
    assert_eq!(
        hs::respond(&store, &header, Backend::Libcrux, true).err(),
        Some(HandshakeError::UnknownPqPreKey(9))
    );
    let bundle = store.default_bundle().unwrap();
    let init = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    store.consume(&init.header);
    assert!(store.pq_prekey(1).is_some(), "the last-resort key stays");
}

#[test]
fn kem_ciphertext_for_another_key_gives_other_keys() {
    let (mut rng, alice, store) = setup(KemType::MlKem1024, 8);
    let bundle = store.default_bundle().unwrap();
    let init = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let other = KemKeyPair::generate(KemType::MlKem1024, Backend::Libcrux, &mut rng).unwrap();
    let (ct, _) = other
        .public_key()
        .encapsulate(Backend::Libcrux, &mut rng)
        .unwrap();
    let mut header = init.header.clone();
    header.pq.as_mut().unwrap().ciphertext = ct;
    // Implicit rejection: decapsulation "succeeds" with an unrelated secret.
    let bob = hs::respond(&store, &header, Backend::Libcrux, true).unwrap();
    assert_ne!(bob.root_key, init.keys.root_key);
    // A Kyber ciphertext for an ML-KEM prekey is a typed error.
    let kyber = KemKeyPair::generate(KemType::Kyber1024, Backend::Libcrux, &mut rng).unwrap();
    let (ct, _) = kyber
        .public_key()
        .encapsulate(Backend::Libcrux, &mut rng)
        .unwrap();
    header.pq.as_mut().unwrap().ciphertext = ct;
    assert!(matches!(
        hs::respond(&store, &header, Backend::Libcrux, true),
        Err(HandshakeError::KemMismatch { .. })
    ));
}

#[test]
fn header_parsing_rejects_every_truncation_and_bad_versions() {
    let (mut rng, alice, store) = setup(KemType::Kyber1024, 9);
    let bundle = store.bundle(1, 1, Some(5)).unwrap();
    let bytes = hs::initiate(&alice, &bundle, Backend::Libcrux, &mut rng)
        .unwrap()
        .header
        .to_bytes();
    assert_eq!(bytes.len(), 1 + 33 + 33 + 4 + 1 + 4 + 4 + 1 + 1568);
    for len in 0..bytes.len() {
        assert!(
            InitialHeader::from_bytes(&bytes[..len]).is_err(),
            "length {len}"
        );
    }
    let mut extended = bytes.clone();
    extended.push(0);
    assert_eq!(
        InitialHeader::from_bytes(&extended).err(),
        Some(HandshakeError::MalformedHeader("trailing bytes"))
    );
    let mut wrong = bytes.clone();
    wrong[0] = 2;
    assert_eq!(
        InitialHeader::from_bytes(&wrong).err(),
        Some(HandshakeError::UnknownHeaderVersion(2))
    );
    let mut wrong = bytes.clone();
    wrong[1] = 0x06;
    assert_eq!(
        InitialHeader::from_bytes(&wrong).err(),
        Some(HandshakeError::Key(KeyError::UnknownKeyType(0x06)))
    );
    let mut wrong = bytes.clone();
    wrong[1 + 33 + 33 + 4 + 1 + 4 + 4] = 0x07;
    assert_eq!(
        InitialHeader::from_bytes(&wrong).err(),
        Some(HandshakeError::Kem(KemError::UnknownType(0x07)))
    );
    let mut wrong = bytes;
    wrong[1 + 33 + 33 + 4] |= 0x80;
    assert_eq!(
        InitialHeader::from_bytes(&wrong).err(),
        Some(HandshakeError::MalformedHeader("unknown flag bits"))
    );
}

#[test]
fn bundle_json_round_trips_and_rejects_bad_fields() {
    let (_rng, _alice, store) = setup(KemType::MlKem1024, 10);
    let bundle = store.bundle(1, 1, Some(5)).unwrap();
    let json = bundle.to_json();
    let back = PreKeyBundle::from_json(&json).unwrap();
    assert_eq!(back, bundle);
    back.verify().unwrap();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["identity_key"] = "05zz".into();
    assert_eq!(
        PreKeyBundle::from_json_value(&value).err(),
        Some(BundleError::Hex("identity_key"))
    );
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let key = value["pq_prekey"]["key"].as_str().unwrap().to_owned();
    value["pq_prekey"]["key"] = format!("09{}", &key[2..]).into();
    assert_eq!(
        PreKeyBundle::from_json_value(&value).err(),
        Some(BundleError::Kem(KemError::UnknownType(0x09)))
    );
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["pq_prekey"]["key"] = format!("0a{}", "ff".repeat(1568)).into();
    assert_eq!(
        PreKeyBundle::from_json_value(&value).err(),
        Some(BundleError::Kem(KemError::InvalidPublicKey))
    );
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["signed_prekey"]["signature"] = "00".into();
    assert!(matches!(
        PreKeyBundle::from_json_value(&value),
        Err(BundleError::Signature { .. })
    ));
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["version"] = 2.into();
    assert_eq!(
        PreKeyBundle::from_json_value(&value).err(),
        Some(BundleError::UnsupportedVersion(2))
    );
    assert!(matches!(
        PreKeyBundle::from_json("{}"),
        Err(BundleError::Json(_))
    ));
    assert!(matches!(
        PreKeyBundle::from_json("not json"),
        Err(BundleError::Json(_))
    ));
}
