//! Whole handshake sides, as a peer runs them: the initiator from a decoded bundle to a header
//! ready to send (bundle signature checks, EK generation, encapsulation with its FIPS 203 7.2 key
//! check, DHs, HKDF, session id, `to_bytes`), and the responder from received header bytes to the
//! shared keys (`from_bytes` + `respond`). Classical X3DH and PQXDH with each KEM and backend,
//! with and without a one-time prekey. The PQXDH initiator again through the verified-bundle
//! cache, cold (signatures checked) and warm (a hit on the same signed material).
//!
//! Also writes `sizes.json` (bundle and header sizes) next to criterion's results for
//! `scripts/bench_report.py`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::hint::black_box;

use criterion::{BatchSize, Criterion};
use pqxdh::handshake::InitialHeader;
use pqxdh::handshake::agreement as hs;
use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::handshake::bundle_cache::VerifiedBundleCache;
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey::OneTimePreKey;
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::{Backend, KemType};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

mod common;

/// One-time prekey id used by the `_opk` variants.
const OPK_ID: u32 = 5;

/// (id prefix, KEM of the PQ prekey, backend, PQ?) for every handshake kind.
const KINDS: [(&str, KemType, Backend, bool); 4] = [
    ("x3dh", KemType::MlKem1024, Backend::Libcrux, false),
    (
        "pqxdh_mlkem1024_libcrux",
        KemType::MlKem1024,
        Backend::Libcrux,
        true,
    ),
    (
        "pqxdh_mlkem1024_pqclean",
        KemType::MlKem1024,
        Backend::PqClean,
        true,
    ),
    (
        "pqxdh_kyber1024_libcrux",
        KemType::Kyber1024,
        Backend::Libcrux,
        true,
    ),
];

struct Setup {
    rng: ChaCha20Rng,
    alice: IdentityKeyPair,
    store: PreKeyStore,
}

fn setup(kem: KemType) -> Setup {
    let mut rng = ChaCha20Rng::seed_from_u64(0xb0b);
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    let mut store = PreKeyStore::generate(bob, kem, &mut rng).unwrap();
    store.add_one_time_prekey(OneTimePreKey::generate(OPK_ID, &mut rng));
    Setup { rng, alice, store }
}

fn initiate(
    alice: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    backend: Backend,
    pq: bool,
    rng: &mut ChaCha20Rng,
) -> Vec<u8> {
    let init = if pq {
        hs::initiate(alice, bundle, backend, rng).unwrap()
    } else {
        hs::initiate_x3dh(alice, bundle, rng).unwrap()
    };
    black_box(&init.keys);
    init.header.to_bytes()
}

fn handshakes(c: &mut Criterion) {
    let mut g = c.benchmark_group("handshake");
    for (name, kem, backend, pq) in KINDS {
        let Setup {
            mut rng,
            alice,
            store,
        } = setup(kem);
        for opk in [None, Some(OPK_ID)] {
            let suffix = if opk.is_some() { "_opk" } else { "" };
            let bundle = store.bundle(1, 1, opk).unwrap();
            // One-time prekeys are not consumed by `respond` (only by `PreKeyStore::consume`),
            // so the same store answers every iteration; each initiation draws a fresh EK.
            g.bench_function(format!("{name}_initiator{suffix}"), |b| {
                b.iter(|| initiate(&alice, black_box(&bundle), backend, pq, &mut rng))
            });
            let header = initiate(&alice, &bundle, backend, pq, &mut rng);
            g.bench_function(format!("{name}_responder{suffix}"), |b| {
                b.iter(|| {
                    let parsed = InitialHeader::from_bytes(black_box(&header)).unwrap();
                    black_box(hs::respond(&store, &parsed, backend, pq).unwrap())
                })
            });
        }
    }
    // The bundle's two signature checks alone (both under the identity key).
    let Setup { store, .. } = setup(KemType::MlKem1024);
    let bundle = store.bundle(1, 1, None).unwrap();
    g.bench_function("bundle_verify", |b| {
        b.iter(|| black_box(&bundle).verify().unwrap())
    });
    verified_bundle_cache(&mut g);
    // Decoding a bundle from JSON (hex, key decoding, FIPS 203 7.2 check): what a client pays
    // before `initiate` when the bundle arrives from a server.
    let Setup { store, .. } = setup(KemType::MlKem1024);
    let json = store.bundle(1, 1, Some(OPK_ID)).unwrap().to_json();
    g.bench_function("bundle_from_json", |b| {
        b.iter(|| black_box(PreKeyBundle::from_json(black_box(&json)).unwrap()))
    });
    g.finish();
}

/// The PQXDH initiator (ML-KEM-1024, libcrux) through a [`VerifiedBundleCache`], from an owned
/// decoded bundle (its copy is made outside the timing): cold, an empty cache (lookup, both
/// signature checks, insertion, handshake); warm, a hit on the same signed material (lookup,
/// handshake). With a one-time prekey the warm bundle carries another one than the cached one,
/// as a second claim does. `bundle_cache_hit`: the lookup alone.
fn verified_bundle_cache(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    let Setup {
        mut rng,
        alice,
        mut store,
    } = setup(KemType::MlKem1024);
    store.add_one_time_prekey(OneTimePreKey::generate(OPK_ID + 1, &mut rng));
    let backend = Backend::Libcrux;
    for opk in [None, Some(OPK_ID)] {
        let suffix = if opk.is_some() { "_opk" } else { "" };
        let bundle = store.bundle(1, 1, opk).unwrap();
        g.bench_function(
            format!("pqxdh_mlkem1024_libcrux_initiator_cold{suffix}"),
            |b| {
                b.iter_batched(
                    || (VerifiedBundleCache::new(), bundle.clone()),
                    |(mut cache, bundle)| {
                        let verified = cache.verify(bundle).unwrap();
                        let init =
                            hs::initiate_verified(&alice, &verified, backend, &mut rng).unwrap();
                        black_box(&init.keys);
                        (cache, init.header.to_bytes())
                    },
                    BatchSize::SmallInput,
                )
            },
        );
        let mut cache = VerifiedBundleCache::new();
        cache.verify(bundle.clone()).unwrap();
        // The next claim brings the next one-time prekey (unsigned: the entry still matches).
        let again = store.bundle(1, 1, opk.map(|id| id + 1)).unwrap();
        g.bench_function(
            format!("pqxdh_mlkem1024_libcrux_initiator_warm{suffix}"),
            |b| {
                b.iter_batched(
                    || again.clone(),
                    |bundle| {
                        let verified = cache.verify(bundle).unwrap();
                        let init =
                            hs::initiate_verified(&alice, &verified, backend, &mut rng).unwrap();
                        black_box(&init.keys);
                        init.header.to_bytes()
                    },
                    BatchSize::SmallInput,
                )
            },
        );
        assert_eq!(
            cache.stats().verifications,
            1,
            "every warm iteration was a hit"
        );
        if opk.is_none() {
            g.bench_function("bundle_cache_hit", |b| {
                b.iter_batched(
                    || again.clone(),
                    |bundle| cache.verify(bundle).unwrap(),
                    BatchSize::SmallInput,
                )
            });
        }
    }
}

/// Bundle and header sizes, written as JSON for the report.
fn sizes() -> String {
    let mut rows = Vec::new();
    for (name, kem, backend, pq) in KINDS {
        let Setup {
            mut rng,
            alice,
            store,
        } = setup(kem);
        for opk in [None, Some(OPK_ID)] {
            let bundle = store.bundle(1, 1, opk).unwrap();
            let json = bundle.to_json();
            let compact = serde_json::to_string(&bundle.to_json_value()).unwrap();
            // Binary equivalent: EncodeEC(IK) + EncodeEC(SPK) + sig + EncodeKEM(PQPK) + sig
            // [+ EncodeEC(OPK)] + u32 ids (SPK, PQ [, OPK]).
            let binary = 33
                + 33
                + 64
                + 1
                + pqxdh::primitives::kem::PUBLIC_KEY_LEN
                + 64
                + if opk.is_some() { 33 } else { 0 }
                + 4 * (2 + usize::from(opk.is_some()));
            let header = initiate(&alice, &bundle, backend, pq, &mut rng);
            let suffix = if opk.is_some() { "_opk" } else { "" };
            rows.push(format!(
                "    {{\"kind\": \"{name}{suffix}\", \"bundle_json_pretty\": {}, \"bundle_json_compact\": {}, \"bundle_binary\": {binary}, \"header\": {}}}",
                json.len(),
                compact.len(),
                header.len()
            ));
        }
    }
    // Load average when the run started: timings taken while other work runs are noisy.
    let loadavg = common::loadavg();
    format!(
        "{{\n  \"loadavg_at_start\": \"{loadavg}\",\n  \"handshakes\": [\n{}\n  ]\n}}\n",
        rows.join(",\n")
    )
}

fn main() {
    common::write_record("sizes.json", &sizes());
    let mut c = common::criterion(30);
    handshakes(&mut c);
    c.final_summary();
}
