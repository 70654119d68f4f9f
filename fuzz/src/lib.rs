//! Fixed, deterministic fixtures shared by the fuzz targets: one responder with published
//! prekeys, an established conversation, and an encrypted file, all built once per process from
//! a fixed seed so that every crash reproduces.

use std::sync::OnceLock;

use pqxdh_files::{self as files, EncryptOptions};
use pqxdh::{Backend, IdentityKeyPair, KemType, PreKeyStore, Session};
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;

/// Seed of every fixture.
pub const SEED: u64 = 0x7071_7864_6675_7a7a;
/// Small segments, so a short input spans several of them.
pub const FILE_SEGMENT_SIZE: u32 = 64;

/// Everything a target needs, built once.
pub struct Fixture {
    /// Bob's private prekeys (before any pre-key message was accepted).
    pub bob_store: PreKeyStore,
    /// Bob's session after a short conversation, in its saved form.
    pub bob_session: Vec<u8>,
    /// Alice's first (pre-key) message to Bob.
    pub prekey_message: Vec<u8>,
    /// Normal messages from Alice that Bob has not decrypted yet (in order).
    pub pending: Vec<Vec<u8>>,
    /// Bob's bundle as JSON.
    pub bundle_json: String,
    /// A three-segment file encrypted from Alice to Bob.
    pub file: Vec<u8>,
}

/// The fixture, built on first use.
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build)
}

/// Restores Bob's session from the fixture.
pub fn bob_session() -> Session {
    Session::from_bytes(&fixture().bob_session).expect("fixture session restores")
}

fn build() -> Fixture {
    let mut rng = ChaCha20Rng::seed_from_u64(SEED);
    let mut bob_store = PreKeyStore::generate(
        IdentityKeyPair::generate(&mut rng),
        KemType::MlKem1024,
        &mut rng,
    )
    .expect("prekeys");
    let alice = IdentityKeyPair::generate(&mut rng);
    let bundle = bob_store.default_bundle().expect("bundle");
    let bundle_json = bundle.to_json();
    let pristine = bob_store.clone();

    let mut a =
        pqxdh::sessions::establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).expect("initiate");
    let prekey_message = a.session.encrypt(b"first", &mut rng).expect("encrypt");
    let (mut b, _) = pqxdh::sessions::establish::accept(&mut bob_store, &prekey_message, Backend::Libcrux)
        .expect("accept");
    let reply = b.session.encrypt(b"reply", &mut rng).expect("encrypt");
    a.session.decrypt(&reply).expect("decrypt");
    let pending = (0..3)
        .map(|i| {
            a.session
                .encrypt(format!("m{i}").as_bytes(), &mut rng)
                .expect("encrypt")
        })
        .collect();

    let mut file = Vec::new();
    let content: Vec<u8> = (0..=u8::MAX)
        .cycle()
        .take(3 * FILE_SEGMENT_SIZE as usize - 7)
        .collect();
    files::encrypt(
        &alice,
        std::slice::from_ref(&bundle),
        EncryptOptions {
            segment_size: FILE_SEGMENT_SIZE,
        },
        content.as_slice(),
        &mut file,
        &mut rng,
    )
    .expect("file");

    Fixture {
        bob_store: pristine,
        bob_session: b.session.to_bytes().to_vec(),
        prekey_message,
        pending,
        bundle_json,
        file,
    }
}
