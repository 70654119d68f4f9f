//! The verified-bundle cache (SPEC.md section 5.1): a hit skips the signature checks, any change
//! to the signed material misses and is judged on its own, eviction keeps the limit, and no cached
//! entry makes a bad bundle pass.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use pqxdh::handshake::bundle::{BundleError, PreKeyBundle};
use pqxdh::handshake::bundle_cache::{
    CacheStats, VERIFIED_BUNDLE_CACHE_LIMIT, VerifiedBundleCache,
};
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey::{OneTimePreKey, SignedPreKey};
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::{Backend, KemPublicKey, KemType, PUBLIC_KEY_LEN};
use pqxdh::primitives::keys::PublicKey;
use pqxdh::primitives::xeddsa::Signature;
use pqxdh::{InitialHeader, VerifiedBundle, accept};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

fn bob(seed: u64) -> (ChaCha20Rng, PreKeyStore) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut store = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .unwrap();
    for id in 1..=3 {
        store.add_one_time_prekey(OneTimePreKey::generate(id, &mut rng));
    }
    (rng, store)
}

fn stats(hits: u64, verifications: u64, rejected: u64, evictions: u64) -> CacheStats {
    CacheStats {
        hits,
        verifications,
        rejected,
        evictions,
    }
}

fn flip(sig: &Signature, byte: usize) -> Signature {
    let mut bytes = *sig.as_bytes();
    bytes[byte] ^= 0x01;
    Signature::from_bytes(bytes)
}

fn flip_key(key: &PublicKey, byte: usize) -> PublicKey {
    let mut bytes = *key.as_bytes();
    bytes[byte] ^= 0x01;
    PublicKey::from_bytes(bytes)
}

#[test]
fn a_hit_skips_verification_and_keeps_the_new_one_time_prekey() {
    let (mut rng, mut store) = bob(1);
    let alice = IdentityKeyPair::generate(&mut rng);
    let mut cache = VerifiedBundleCache::new();
    assert_eq!(cache.limit(), VERIFIED_BUNDLE_CACHE_LIMIT);

    let first = cache.verify(store.bundle(1, 1, Some(1)).unwrap()).unwrap();
    assert_eq!(cache.stats(), stats(0, 1, 0, 0));
    assert_eq!(cache.len(), 1);

    // The next claim brings another one-time prekey: unsigned, so the same entry answers.
    let second_bundle = store.bundle(1, 1, Some(2)).unwrap();
    assert!(cache.contains(&second_bundle));
    let second = cache.verify(second_bundle.clone()).unwrap();
    assert_eq!(cache.stats(), stats(1, 1, 0, 0));
    assert_eq!(cache.len(), 1);
    assert_eq!(second.bundle(), &second_bundle);
    assert_eq!(second.one_time_prekey().map(|o| o.id), Some(2));
    assert_eq!(first.one_time_prekey().map(|o| o.id), Some(1));

    // The session started from the hit uses that one-time prekey, and Bob accepts it.
    let mut a = pqxdh::initiate_verified(&alice, &second, Backend::Libcrux, &mut rng).unwrap();
    let wire = a.session.encrypt(b"from the cache", &mut rng).unwrap();
    let header = pqxdh::sessions::establish::prekey_header(&wire)
        .unwrap()
        .unwrap();
    assert_eq!(header.one_time_prekey_id, Some(2));
    let (b, text) = accept(&mut store, &wire, Backend::Libcrux).unwrap();
    assert_eq!(text, b"from the cache");
    assert_eq!(b.session_id, a.session_id);
}

#[test]
fn the_verified_and_the_checking_initiators_agree() {
    // Generators in the same state on both paths: the same header bytes.
    let (mut rng, store) = bob(2);
    let bundle = store.bundle(1, 1, Some(3)).unwrap();
    let alice = IdentityKeyPair::generate(&mut rng);
    let verified = VerifiedBundle::verify(bundle.clone()).unwrap();
    let checked = pqxdh::handshake::agreement::initiate(
        &alice,
        &bundle,
        Backend::Libcrux,
        &mut ChaCha20Rng::seed_from_u64(20),
    )
    .unwrap();
    let skipped = pqxdh::handshake::agreement::initiate_verified(
        &alice,
        &verified,
        Backend::Libcrux,
        &mut ChaCha20Rng::seed_from_u64(20),
    )
    .unwrap();
    assert_eq!(checked.header.to_bytes(), skipped.header.to_bytes());
    assert_eq!(checked.keys.root_key, skipped.keys.root_key);
    assert_eq!(checked.keys.session_id, skipped.keys.session_id);
    let header = InitialHeader::from_bytes(&skipped.header.to_bytes()).unwrap();
    assert_eq!(header.one_time_prekey_id, Some(3));
}

/// Every single-byte change of a signed part that still decodes: a miss, then a failed check.
#[test]
fn a_changed_byte_of_any_signed_part_misses_and_fails() {
    let (_, store) = bob(3);
    let good = store.default_bundle().unwrap();
    let mut cache = VerifiedBundleCache::new();
    cache.verify(good.clone()).unwrap();

    let mut bad: Vec<(PreKeyBundle, BundleError)> = Vec::new();
    for byte in [0, 17, 31] {
        let mut b = good.clone();
        b.identity_key = flip_key(&b.identity_key, byte);
        // A changed identity key may even fail to convert to Edwards form: either way the first
        // check reports it.
        bad.push((b, BundleError::BadSignedPreKeySignature));
        let mut b = good.clone();
        b.signed_prekey.key = flip_key(&b.signed_prekey.key, byte);
        bad.push((b, BundleError::BadSignedPreKeySignature));
    }
    for byte in [0, 31, 32, 63] {
        let mut b = good.clone();
        b.signed_prekey.signature = flip(&b.signed_prekey.signature, byte);
        bad.push((b, BundleError::BadSignedPreKeySignature));
        let mut b = good.clone();
        b.pq_prekey.signature = flip(&b.pq_prekey.signature, byte);
        bad.push((b, BundleError::BadPqPreKeySignature));
    }
    // The PQ key: a byte of its seed rho (the last 32 bytes, any value passes the FIPS 203 7.2
    // check), and its type byte (the same key labelled Kyber1024).
    for byte in [PUBLIC_KEY_LEN - 32, PUBLIC_KEY_LEN - 1] {
        let mut raw = good.pq_prekey.key.as_bytes().to_vec();
        raw[byte] ^= 0x01;
        let mut b = good.clone();
        b.pq_prekey.key = KemPublicKey::from_slice(KemType::MlKem1024, &raw).unwrap();
        bad.push((b, BundleError::BadPqPreKeySignature));
    }
    let mut b = good.clone();
    b.pq_prekey.key =
        KemPublicKey::from_slice(KemType::Kyber1024, good.pq_prekey.key.as_bytes()).unwrap();
    bad.push((b, BundleError::BadPqPreKeySignature));

    let count = bad.len() as u64;
    for (bundle, error) in bad {
        assert!(!cache.contains(&bundle));
        assert_eq!(cache.verify(bundle.clone()), Err(error.clone()));
        assert_eq!(
            bundle.verify(),
            Err(error),
            "the same verdict without the cache"
        );
    }
    assert_eq!(cache.stats(), stats(0, 1 + count, count, 0));
    // Failures are never inserted: the good entry is alone and still answers.
    assert_eq!(cache.len(), 1);
    cache.verify(good).unwrap();
    assert_eq!(cache.stats().hits, 1);
}

/// Changes that keep the bundle valid (a fresh signature over the same key, another signed
/// prekey, another id) miss and then pass: the cache judges bytes, not meaning.
#[test]
fn a_different_valid_bundle_misses_and_passes() {
    let (mut rng, store) = bob(4);
    let good = store.default_bundle().unwrap();
    let mut cache = VerifiedBundleCache::new();
    cache.verify(good.clone()).unwrap();

    let identity = store.identity().clone();
    // XEdDSA signatures are randomized: signing the same SPK again gives other valid bytes.
    let resigned = SignedPreKey::from_key_pair(
        good.signed_prekey.id,
        store.current_signed_prekey().unwrap().key_pair().clone(),
        &identity,
        &mut rng,
    );
    let mut b1 = good.clone();
    b1.signed_prekey = resigned.public();
    assert_ne!(b1.signed_prekey.signature, good.signed_prekey.signature);
    let mut b2 = good.clone();
    b2.signed_prekey =
        SignedPreKey::generate(good.signed_prekey.id + 1, &identity, &mut rng).public();
    let mut b3 = good.clone();
    b3.pq_prekey.id += 1;

    for bundle in [b1, b2, b3] {
        assert!(!cache.contains(&bundle));
        let verified = cache.verify(bundle.clone()).unwrap();
        assert_eq!(verified.bundle(), &bundle);
    }
    assert_eq!(cache.stats(), stats(0, 4, 0, 0));
    assert_eq!(cache.len(), 4);
}

/// Bundles of distinct identities, so that each has its own entry.
fn distinct_bundles(count: usize, seed: u64) -> Vec<PreKeyBundle> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let identity = IdentityKeyPair::generate(&mut rng);
    let store = PreKeyStore::generate(identity.clone(), KemType::MlKem1024, &mut rng).unwrap();
    let template = store.default_bundle().unwrap();
    // One identity, one PQ prekey, many signed prekeys: cheap to make, all valid.
    (0..count)
        .map(|i| {
            let mut b = template.clone();
            b.signed_prekey = SignedPreKey::generate(i as u32 + 10, &identity, &mut rng).public();
            b
        })
        .collect()
}

#[test]
fn the_least_recently_used_entry_goes_first_at_the_limit() {
    let bundles = distinct_bundles(5, 5);
    let mut cache = VerifiedBundleCache::with_limit(3);
    for b in &bundles[..3] {
        cache.verify(b.clone()).unwrap();
    }
    // Touch the oldest: now bundles[1] is the least recently used.
    cache.verify(bundles[0].clone()).unwrap();
    cache.verify(bundles[3].clone()).unwrap();
    assert_eq!(cache.len(), 3);
    assert!(cache.contains(&bundles[0]));
    assert!(!cache.contains(&bundles[1]));
    assert!(cache.contains(&bundles[2]));
    assert!(cache.contains(&bundles[3]));
    cache.verify(bundles[4].clone()).unwrap();
    assert!(!cache.contains(&bundles[2]));
    assert_eq!(cache.stats(), stats(1, 5, 0, 2));
    // An evicted bundle is verified again, and is good on its own.
    cache.verify(bundles[1].clone()).unwrap();
    assert_eq!(cache.stats().verifications, 6);

    // A limit of 0 caches nothing.
    let mut none = VerifiedBundleCache::with_limit(0);
    none.verify(bundles[0].clone()).unwrap();
    none.verify(bundles[0].clone()).unwrap();
    assert_eq!(none.stats(), stats(0, 2, 0, 0));
    assert!(none.is_empty());
}

#[test]
fn the_default_limit_holds() {
    let bundles = distinct_bundles(VERIFIED_BUNDLE_CACHE_LIMIT + 1, 6);
    let mut cache = VerifiedBundleCache::new();
    for b in &bundles {
        cache.verify(b.clone()).unwrap();
    }
    assert_eq!(cache.len(), VERIFIED_BUNDLE_CACHE_LIMIT);
    assert_eq!(cache.stats().evictions, 1);
    assert!(!cache.contains(&bundles[0]));
    assert!(cache.contains(&bundles[VERIFIED_BUNDLE_CACHE_LIMIT]));
}

#[test]
fn forgetting_an_identity_drops_only_its_entries() {
    let (_, one) = bob(7);
    let (_, other) = bob(8);
    let mut cache = VerifiedBundleCache::new();
    cache.verify(one.default_bundle().unwrap()).unwrap();
    cache.verify(other.default_bundle().unwrap()).unwrap();
    assert_eq!(cache.forget_identity(one.identity().public_key()), 1);
    assert!(!cache.contains(&one.default_bundle().unwrap()));
    assert!(cache.contains(&other.default_bundle().unwrap()));
    assert_eq!(cache.forget_identity(one.identity().public_key()), 0);
    cache.clear();
    assert!(cache.is_empty());
}
