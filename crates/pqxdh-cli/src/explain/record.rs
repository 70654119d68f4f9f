//! The explained run: a real PQXDH handshake and a short Double Ratchet conversation through the
//! library's public functions, every step recorded as data for the terminal and HTML views.
//!
//! Seeded runs draw everything from one `ChaCha20Rng::seed_from_u64(seed)`, in this order: Bob's
//! identity (`IdentityKeyPair::generate`), his store (`PreKeyStore::generate`, signed prekey 1 and
//! last-resort PQ prekey 1), with `--one-time-prekey` a one-time prekey 1
//! (`OneTimePreKey::generate`), Alice's identity, then `pqxdh::initiate` and every `encrypt`.
//! Values the library does not return (EK_A, the DH outputs, the KEM randomness, the ratchet
//! chains) are recomputed here with the same primitives, and each is checked against what the
//! library produced before it is shown.

use hkdf::Hkdf;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use sha2::{Digest, Sha256};

use pqxdh::handshake::agreement::{self as hs, KDF_PREFIX, KDF_SALT};
use pqxdh::handshake::identity;
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, SignedPreKey};
use pqxdh::handshake::protocol::PQXDH_INFO;
use pqxdh::handshake::session_id::SESSION_ID_LABEL;
use pqxdh::primitives::kem::{ENCAPS_SEED_LEN, KemKeyPair, KemSecretKey};
use pqxdh::primitives::keys::EphemeralKeyPair;
use pqxdh::ratchet::chain_key::ChainKey;
use pqxdh::ratchet::message_key::{SALT_LEN, TAG_LEN};
use pqxdh::ratchet::root_key::RATCHET_INFO;
use pqxdh::{
    Backend, IdentityKeyPair, InitialHeader, KemType, KeyPair, PreKeyStore, PrivateKey, PublicKey,
    RootKey, Session, SessionId, WireMessage,
};

use super::ExplainError;

/// The PQXDH vectors, replayed by `--vector ID`.
const VECTORS: &str = include_str!("../../../../kat/pqxdh/vectors.json");

/// Who holds a key or sends a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Party {
    /// The initiator.
    Alice,
    /// The responder.
    Bob,
}

impl Party {
    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            Party::Alice => "Alice",
            Party::Bob => "Bob",
        }
    }

    fn other(self) -> Party {
        match self {
            Party::Alice => Party::Bob,
            Party::Bob => Party::Alice,
        }
    }
}

/// A key of the run: its public part, and the private part of this throw-away run.
#[derive(Clone, Debug)]
pub struct Key {
    /// Short name (`IK_A`, `SPK_B`, ...).
    pub name: String,
    /// Who holds the private part.
    pub owner: Party,
    /// What it is.
    pub role: String,
    /// The public bytes.
    pub public: Vec<u8>,
    /// The private bytes (throw-away run only).
    pub private: Vec<u8>,
}

/// A signature check of the bundle.
#[derive(Clone, Debug)]
pub struct Check {
    /// What is signed.
    pub what: String,
    /// The signed message.
    pub message: Vec<u8>,
    /// The XEdDSA signature.
    pub signature: Vec<u8>,
    /// The library's verdict (always true here: a failure aborts the run).
    pub ok: bool,
}

/// One DH output of the handshake.
#[derive(Clone, Debug)]
pub struct Dh {
    /// `DH1` .. `DH4`.
    pub name: String,
    /// Alice's key of the pair.
    pub alice_key: String,
    /// Bob's key of the pair.
    pub bob_key: String,
    /// The 32-byte output (the same from both sides).
    pub output: Vec<u8>,
}

/// A named byte range.
#[derive(Clone, Debug)]
pub struct Field {
    /// Name.
    pub name: String,
    /// What it means.
    pub explain: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// The KEM step.
#[derive(Clone, Debug)]
pub struct KemStep {
    /// KEM name.
    pub kem: String,
    /// The encapsulation randomness `m`.
    pub randomness: Vec<u8>,
    /// The ciphertext.
    pub ciphertext: Vec<u8>,
    /// The shared secret (Alice's and Bob's, equal).
    pub shared_secret: Vec<u8>,
}

/// One turn of the DH ratchet: a new sending chain.
#[derive(Clone, Debug)]
pub struct Turn {
    /// Who sends on the new chain.
    pub sender: Party,
    /// The sender's new ratchet key name.
    pub ratchet_key: String,
    /// Its public bytes.
    pub public: Vec<u8>,
    /// The peer key it is combined with.
    pub peer_key: String,
    /// The DH output.
    pub dh: Vec<u8>,
    /// Root key before.
    pub root_before: Vec<u8>,
    /// Root key after.
    pub root_after: Vec<u8>,
    /// The new chain key.
    pub chain_key: Vec<u8>,
}

/// A message of the conversation.
#[derive(Clone, Debug)]
pub struct Message {
    /// 1-based number in sending order.
    pub number: usize,
    /// Sender.
    pub from: Party,
    /// The plaintext.
    pub plaintext: String,
    /// Index of the turn (sending chain) it belongs to.
    pub turn: usize,
    /// N in that chain.
    pub counter: u32,
    /// PN.
    pub previous_counter: u32,
    /// `pre-key` or `normal`.
    pub kind: &'static str,
    /// The message-key seed, recomputed and checked by decrypting the library's bytes.
    pub seed: Vec<u8>,
    /// The wire bytes, field by field (their concatenation is the message).
    pub fields: Vec<Field>,
}

impl Message {
    /// The wire bytes.
    pub fn wire(&self) -> Vec<u8> {
        self.fields.iter().flat_map(|f| f.bytes.clone()).collect()
    }
}

/// A delivery event.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// The message number.
    pub number: usize,
    /// What happened.
    pub outcome: String,
}

/// The whole recorded run.
#[derive(Clone, Debug)]
pub struct Record {
    /// What was run (`seed 1`, `vector ...`).
    pub title: String,
    /// The KEM.
    pub kem: String,
    /// The vector replayed and its expected root key.
    pub vector: Option<(String, Vec<u8>)>,
    /// The keys.
    pub keys: Vec<Key>,
    /// The bundle's signature checks.
    pub checks: Vec<Check>,
    /// DH1..DH3 or DH4.
    pub dhs: Vec<Dh>,
    /// Encapsulation.
    pub kem_step: KemStep,
    /// The HKDF input, field by field.
    pub ikm: Vec<Field>,
    /// HKDF salt.
    pub salt: Vec<u8>,
    /// HKDF info.
    pub info: Vec<u8>,
    /// The root key.
    pub root_key: Vec<u8>,
    /// The first chain key.
    pub chain_key: Vec<u8>,
    /// `AD`.
    pub associated_data: Vec<u8>,
    /// The session id.
    pub session_id: String,
    /// The session-id hash input.
    pub session_id_input: Vec<Field>,
    /// The DH ratchet turns.
    pub turns: Vec<Turn>,
    /// The messages, in sending order.
    pub messages: Vec<Message>,
    /// What happened on delivery, in delivery order.
    pub deliveries: Vec<Delivery>,
}

/// What the run starts from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A seeded ChaCha20 generator.
    Seed {
        /// The seed.
        seed: u64,
        /// The KEM of Bob's PQ prekey.
        kem: KemType,
        /// Whether the bundle carries a one-time prekey.
        one_time_prekey: bool,
    },
    /// The inputs of a vector of kat/pqxdh/vectors.json (messages salted from `seed`).
    Vector {
        /// The vector id.
        id: String,
        /// The seed of the conversation's randomness.
        seed: u64,
    },
}

fn err(what: impl std::fmt::Display) -> ExplainError {
    ExplainError(what.to_string())
}

/// Fails the run if a recomputed value differs from the library's.
fn same(what: &str, ours: &[u8], library: &[u8]) -> Result<(), ExplainError> {
    if ours == library {
        Ok(())
    } else {
        Err(err(format!(
            "recomputed {what} differs from the library's: {} vs {}",
            hex::encode(ours),
            hex::encode(library)
        )))
    }
}

fn field(name: &str, explain: &str, bytes: &[u8]) -> Field {
    Field {
        name: name.into(),
        explain: explain.into(),
        bytes: bytes.to_vec(),
    }
}

fn key(name: &str, owner: Party, role: &str, public: &[u8], private: &[u8]) -> Key {
    Key {
        name: name.into(),
        owner,
        role: role.into(),
        public: public.to_vec(),
        private: private.to_vec(),
    }
}

fn x25519(name: &str, owner: Party, role: &str, pair: &KeyPair) -> Key {
    key(
        name,
        owner,
        role,
        pair.public_key().as_bytes(),
        pair.private_key().as_bytes(),
    )
}

/// Alice's side as the library started it, with the values it drew.
struct Start {
    session: Session,
    session_id: SessionId,
    root_key: RootKey,
    header: InitialHeader,
    ephemeral: KeyPair,
    kem_randomness: [u8; ENCAPS_SEED_LEN],
    ratchet: KeyPair,
}

/// Bob's store, Alice's identity, and the ids of the bundle's prekeys.
struct Parties {
    bob: PreKeyStore,
    alice: IdentityKeyPair,
    signed_id: u32,
    pq_id: u32,
    one_time_id: Option<u32>,
}

fn seeded_parties(
    rng: &mut ChaCha20Rng,
    kem: KemType,
    one_time_prekey: bool,
) -> Result<Parties, ExplainError> {
    let bob_identity = IdentityKeyPair::generate(rng);
    let mut bob = PreKeyStore::generate(bob_identity, kem, rng).map_err(err)?;
    let one_time_id = one_time_prekey.then(|| {
        bob.add_one_time_prekey(OneTimePreKey::generate(1, rng));
        1
    });
    let alice = IdentityKeyPair::generate(rng);
    Ok(Parties {
        bob,
        alice,
        signed_id: 1,
        pq_id: 1,
        one_time_id,
    })
}

/// A generator at the same position as `rng`: replays the draws the library makes from it.
fn fork(rng: &ChaCha20Rng) -> ChaCha20Rng {
    let mut copy = ChaCha20Rng::from_seed(rng.get_seed());
    copy.set_stream(rng.get_stream());
    copy.set_word_pos(rng.get_word_pos());
    copy
}

/// `pqxdh::initiate_with_ratchet` on the classical Double Ratchet (the explainer shows its
/// fields byte by byte; the SPQR layer of the default triple ratchet is SPEC.md section 14),
/// then the values it drew, recomputed from a copy of the generator.
fn seeded_start(
    parties: &Parties,
    bundle: &pqxdh::PreKeyBundle,
    rng: &mut ChaCha20Rng,
) -> Result<Start, ExplainError> {
    let mut replay = fork(rng);
    let pqxdh::Established {
        session,
        session_id,
        handshake_root_key,
        ..
    } = pqxdh::initiate_with_ratchet(
        &parties.alice,
        bundle,
        Backend::Libcrux,
        pqxdh::RatchetKind::Classical,
        rng,
    )
    .map_err(err)?;
    // The same draws, in the library's order: EK_A, the KEM randomness, the first ratchet key.
    let ephemeral = KeyPair::generate(&mut replay);
    let mut kem_randomness = [0u8; ENCAPS_SEED_LEN];
    rand::Rng::fill_bytes(&mut replay, &mut kem_randomness);
    let ratchet = KeyPair::generate(&mut replay);
    let header_bytes = session
        .pending_prekey_header()
        .ok_or_else(|| err("the new session has no pre-key header"))?;
    let header = InitialHeader::from_bytes(header_bytes).map_err(err)?;
    same(
        "EK_A",
        ephemeral.public_key().as_bytes(),
        header.ephemeral_key.as_bytes(),
    )?;
    same(
        "first ratchet key",
        ratchet.public_key().as_bytes(),
        session.info().our_ratchet_key.as_bytes(),
    )?;
    Ok(Start {
        root_key: handshake_root_key,
        session_id,
        session,
        header,
        ephemeral,
        kem_randomness,
        ratchet,
    })
}

fn vector_bytes(v: &serde_json::Value, path: &str) -> Result<Vec<u8>, ExplainError> {
    let text = path
        .split('.')
        .try_fold(v, |node, key| node.get(key))
        .and_then(serde_json::Value::as_str)
        .ok_or_else(|| err(format!("vector field `{path}` missing")))?;
    hex::decode(text).map_err(|_| err(format!("vector field `{path}` is not hex")))
}

fn vector_key(v: &serde_json::Value, path: &str) -> Result<KeyPair, ExplainError> {
    PrivateKey::from_slice(&vector_bytes(v, path)?)
        .map(KeyPair::from_private)
        .map_err(err)
}

/// The vector with this id.
fn find_vector(id: &str) -> Result<serde_json::Value, ExplainError> {
    let doc: serde_json::Value = serde_json::from_str(VECTORS).map_err(err)?;
    doc.get("vectors")
        .and_then(serde_json::Value::as_array)
        .and_then(|all| {
            all.iter()
                .find(|v| v.get("id").and_then(serde_json::Value::as_str) == Some(id))
        })
        .cloned()
        .ok_or_else(|| err(format!("no vector `{id}` in kat/pqxdh/vectors.json")))
}

/// The vector ids.
pub fn vector_ids() -> Vec<String> {
    serde_json::from_str::<serde_json::Value>(VECTORS)
        .ok()
        .and_then(|doc| {
            doc.get("vectors")
                .and_then(serde_json::Value::as_array)
                .map(|all| {
                    all.iter()
                        .filter_map(|v| v.get("id").and_then(serde_json::Value::as_str))
                        .map(str::to_owned)
                        .collect()
                })
        })
        .unwrap_or_default()
}

/// Bob's store and Alice's identity from a vector's secrets (ids 1, 7 and 42, as generated).
fn vector_parties(v: &serde_json::Value, rng: &mut ChaCha20Rng) -> Result<Parties, ExplainError> {
    let kem: KemType = v
        .get("kem")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .parse()
        .map_err(err)?;
    let bob = IdentityKeyPair::from_private(
        PrivateKey::from_slice(&vector_bytes(v, "bob_identity_secret")?).map_err(err)?,
    );
    let alice = IdentityKeyPair::from_private(
        PrivateKey::from_slice(&vector_bytes(v, "alice_identity_secret")?).map_err(err)?,
    );
    let secret =
        KemSecretKey::from_slice(kem, &vector_bytes(v, "bob_kem_secret_key")?).map_err(err)?;
    let pair = KemKeyPair::from_parts(
        kem,
        &vector_bytes(v, "bob_kem_public_key")?,
        secret.as_bytes(),
    )
    .map_err(err)?;
    let signed =
        SignedPreKey::from_key_pair(1, vector_key(v, "bob_signed_prekey_secret")?, &bob, rng);
    let pq = PqPreKey::from_key_pair(7, PqPreKeyKind::LastResort, pair, &bob, rng);
    let mut store = PreKeyStore::new(bob);
    store.add_signed_prekey(signed);
    store.add_pq_prekey(pq);
    let one_time_id = match v.get("bob_one_time_prekey_secret") {
        Some(serde_json::Value::String(_)) => {
            store.add_one_time_prekey(OneTimePreKey::from_key_pair(
                42,
                vector_key(v, "bob_one_time_prekey_secret")?,
            ));
            Some(42)
        }
        _ => None,
    };
    Ok(Parties {
        bob: store,
        alice,
        signed_id: 1,
        pq_id: 7,
        one_time_id,
    })
}

/// `initiate_deterministic` with the vector's EK_A and KEM randomness, then the initiator's
/// session with the vector's first ratchet key (what `pqxdh::initiate` does with drawn values).
fn vector_start(
    v: &serde_json::Value,
    parties: &Parties,
    bundle: &pqxdh::PreKeyBundle,
) -> Result<Start, ExplainError> {
    let ephemeral = vector_key(v, "alice_ephemeral_secret")?;
    let kem_randomness: [u8; ENCAPS_SEED_LEN] =
        vector_bytes(v, "intermediate.kem_encapsulation_randomness")?
            .try_into()
            .map_err(|_| err("the KEM randomness must be 32 bytes"))?;
    let ratchet = vector_key(v, "first_ratchet.alice_ratchet_secret")?;
    let init = hs::initiate_deterministic(
        &parties.alice,
        bundle,
        EphemeralKeyPair::from_private(ephemeral.private_key().clone()),
        &kem_randomness,
    )
    .map_err(err)?;
    let session = Session::new_initiator_with_ratchet_key(
        init.keys.root_key.clone(),
        init.keys.chain_key.clone(),
        bundle.signed_prekey.key,
        init.keys.associated_data.clone(),
        init.header.to_bytes(),
        ratchet.clone(),
    )
    .map_err(err)?;
    Ok(Start {
        session,
        session_id: init.keys.session_id,
        root_key: init.keys.root_key.clone(),
        header: init.header.clone(),
        ephemeral,
        kem_randomness,
        ratchet,
    })
}

/// Runs the explained handshake and conversation.
pub fn run(source: &Source) -> Result<Record, ExplainError> {
    let (mut rng, parties, title, vector) = match source {
        Source::Seed {
            seed,
            kem,
            one_time_prekey,
        } => {
            let mut rng = ChaCha20Rng::seed_from_u64(*seed);
            let parties = seeded_parties(&mut rng, *kem, *one_time_prekey)?;
            (rng, parties, format!("seed {seed}"), None)
        }
        Source::Vector { id, seed } => {
            let mut rng = ChaCha20Rng::seed_from_u64(*seed);
            let v = find_vector(id)?;
            let parties = vector_parties(&v, &mut rng)?;
            let expected = vector_bytes(&v, "expected.root_key")?;
            (rng, parties, format!("vector {id}"), Some((v, expected)))
        }
    };
    let bundle = parties
        .bob
        .bundle(parties.signed_id, parties.pq_id, parties.one_time_id)
        .map_err(err)?;
    let start = match &vector {
        None => seeded_start(&parties, &bundle, &mut rng)?,
        Some((v, _)) => vector_start(v, &parties, &bundle)?,
    };
    let mut record = handshake(&parties, &bundle, &start, title)?;
    if let Some((v, expected)) = vector {
        same("vector root key", &record.root_key, &expected)?;
        let id = v
            .get("id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        record.vector = Some((id, expected));
    }
    conversation(&mut record, parties, start, &mut rng)?;
    Ok(record)
}

/// Keys, signature checks, DHs, KEM, HKDF and session id, each checked against the library.
fn handshake(
    parties: &Parties,
    bundle: &pqxdh::PreKeyBundle,
    start: &Start,
    title: String,
) -> Result<Record, ExplainError> {
    let bob = &parties.bob;
    let bob_ik = bob.identity().key_pair();
    let spk = bob
        .signed_prekey(parties.signed_id)
        .ok_or_else(|| err("no signed prekey"))?;
    let pq = bob
        .pq_prekey(parties.pq_id)
        .ok_or_else(|| err("no PQ prekey"))?;
    let opk = parties
        .one_time_id
        .and_then(|id| bob.one_time_prekey(id))
        .map(|o| o.key_pair().clone());
    let alice_ik = parties.alice.key_pair();
    let ek = &start.ephemeral;
    let kem = pq.key_pair().public_key().kem();

    let mut keys = vec![
        x25519("IK_A", Party::Alice, "Alice's identity key", alice_ik),
        x25519(
            "EK_A",
            Party::Alice,
            "Alice's ephemeral (base) key, wiped after the handshake",
            ek,
        ),
        x25519("IK_B", Party::Bob, "Bob's identity key", bob_ik),
        x25519(
            "SPK_B",
            Party::Bob,
            "Bob's signed prekey (id in the header)",
            spk.key_pair(),
        ),
        key(
            "PQPK_B",
            Party::Bob,
            &format!("Bob's last-resort {} prekey", kem.name()),
            pq.key_pair().public_key().as_bytes(),
            pq.key_pair().secret_key().as_bytes(),
        ),
    ];
    if let Some(o) = &opk {
        keys.push(x25519("OPK_B", Party::Bob, "Bob's one-time prekey", o));
    }

    // Signature checks: each separately, then the library's bundle check.
    let mut checks = Vec::new();
    for (what, message, signature) in [
        (
            "Sig(IK_B, EncodeEC(SPK_B))",
            bundle.signed_prekey.key.encode().to_vec(),
            bundle.signed_prekey.signature,
        ),
        (
            "Sig(IK_B, EncodeKEM(PQPK_B))",
            bundle.pq_prekey.key.encode(),
            bundle.pq_prekey.signature,
        ),
    ] {
        identity::verify(&bundle.identity_key, &message, &signature).map_err(err)?;
        checks.push(Check {
            what: what.into(),
            message,
            signature: signature.as_bytes().to_vec(),
            ok: true,
        });
    }
    bundle.verify().map_err(err)?;

    // The DH outputs, from Alice's side and from Bob's: equal.
    let dh = |a: &KeyPair, b: &PublicKey| a.diffie_hellman(b).map_err(err);
    let mut pairs = vec![
        ("DH1", "IK_A", "SPK_B", alice_ik, spk.key_pair()),
        ("DH2", "EK_A", "IK_B", ek, bob_ik),
        ("DH3", "EK_A", "SPK_B", ek, spk.key_pair()),
    ];
    if let Some(o) = &opk {
        pairs.push(("DH4", "EK_A", "OPK_B", ek, o));
    }
    let mut dhs = Vec::new();
    for (name, ak, bk, a, b) in pairs {
        let from_alice = dh(a, b.public_key())?;
        let from_bob = dh(b, a.public_key())?;
        same(name, from_alice.as_bytes(), from_bob.as_bytes())?;
        dhs.push(Dh {
            name: name.into(),
            alice_key: ak.into(),
            bob_key: bk.into(),
            output: from_alice.as_bytes().to_vec(),
        });
    }

    // KEM: Alice's encapsulation with the drawn randomness, Bob's decapsulation.
    let pq_header = start
        .header
        .pq
        .as_ref()
        .ok_or_else(|| err("the header has no KEM ciphertext"))?;
    let (ct, ss) = pq
        .key_pair()
        .public_key()
        .encapsulate_deterministic(&start.kem_randomness)
        .map_err(err)?;
    same(
        "KEM ciphertext",
        ct.as_bytes(),
        pq_header.ciphertext.as_bytes(),
    )?;
    let decapsulated = pq
        .key_pair()
        .secret_key()
        .decapsulate(&pq_header.ciphertext, Backend::Libcrux)
        .map_err(err)?;
    same("KEM shared secret", ss.as_bytes(), decapsulated.as_bytes())?;

    // HKDF, laid out field by field.
    let mut ikm = vec![field(
        "F",
        "32 bytes of 0xFF: domain separation from XEdDSA",
        &KDF_PREFIX,
    )];
    for d in &dhs {
        ikm.push(field(
            &d.name,
            &format!("X25519({}, {})", d.alice_key, d.bob_key),
            &d.output,
        ));
    }
    ikm.push(field(
        "SS",
        &format!("{} shared secret, always last", kem.name()),
        ss.as_bytes(),
    ));
    let ikm_bytes: Vec<u8> = ikm.iter().flat_map(|f| f.bytes.clone()).collect();
    let mut okm = [0u8; 64];
    Hkdf::<Sha256>::new(Some(&KDF_SALT), &ikm_bytes)
        .expand(PQXDH_INFO, &mut okm)
        .map_err(|_| err("HKDF output length"))?;
    let (root, chain) = okm.split_at(32);
    same("root key", root, start.root_key.as_bytes())?;
    // Bob's side through the library's responder function: the same keys and session id.
    let responded = hs::respond(bob, &start.header, Backend::Libcrux, true).map_err(err)?;
    same("root key (responder)", root, responded.root_key.as_bytes())?;
    same(
        "chain key (responder)",
        chain,
        responded.chain_key.as_bytes(),
    )?;

    // Session id: SHA-256 over the transcript, first 16 bytes, UUID v8 bits.
    let session_id_input = vec![
        field("label", "SESSION_ID_LABEL", SESSION_ID_LABEL),
        field("IK_A", "EncodeEC(IK_A)", &alice_ik.public_key().encode()),
        field("IK_B", "EncodeEC(IK_B)", &bob_ik.public_key().encode()),
        field("EK_A", "EncodeEC(EK_A)", &ek.public_key().encode()),
        field("kem", "KEM type byte", &[kem.type_byte()]),
        field("CT", "KEM ciphertext", ct.as_bytes()),
    ];
    let digest = session_id_input
        .iter()
        .fold(Sha256::new(), |h, f| h.chain_update(&f.bytes))
        .finalize();
    // RFC 9562: version 8 in the high nibble of byte 6, variant 0b10 in byte 8.
    let ours: Vec<u8> = digest
        .iter()
        .take(16)
        .enumerate()
        .map(|(i, b)| match i {
            6 => (b & 0x0f) | 0x80,
            8 => (b & 0x3f) | 0x80,
            _ => *b,
        })
        .collect();
    same("session id", &ours, start.session_id.uuid().as_bytes())?;
    same(
        "session id (responder)",
        &ours,
        responded.session_id.uuid().as_bytes(),
    )?;

    Ok(Record {
        title,
        kem: kem.name().into(),
        vector: None,
        keys,
        checks,
        dhs,
        kem_step: KemStep {
            kem: kem.name().into(),
            randomness: start.kem_randomness.to_vec(),
            ciphertext: ct.as_bytes().to_vec(),
            shared_secret: ss.as_bytes().to_vec(),
        },
        ikm,
        salt: KDF_SALT.to_vec(),
        info: PQXDH_INFO.to_vec(),
        root_key: root.to_vec(),
        chain_key: chain.to_vec(),
        associated_data: responded.associated_data.clone(),
        session_id: start.session_id.to_string(),
        session_id_input,
        turns: Vec::new(),
        messages: Vec::new(),
        deliveries: Vec::new(),
    })
}

/// The ratchet as recomputed here: the current root key, and the sending chain of the last turn.
struct Mirror {
    root: RootKey,
    chain: ChainKey,
    counter: u32,
    previous_counter: u32,
    /// Each party's latest ratchet key pair (Bob's first is SPK_B).
    latest: [(String, KeyPair); 2],
    turns_of: [usize; 2],
    /// Messages each party sent on its current chain.
    sent: [u32; 2],
}

impl Mirror {
    fn slot(party: Party) -> usize {
        match party {
            Party::Alice => 0,
            Party::Bob => 1,
        }
    }

    /// A DH ratchet turn: `sender` draws `ratchet`; `(RK, CKs) = KDF_RK(RK, DH(ratchet, peer))`.
    fn turn(
        &mut self,
        record: &mut Record,
        sender: Party,
        ratchet: KeyPair,
    ) -> Result<(), ExplainError> {
        let (peer_name, peer) = self
            .latest
            .get(Self::slot(sender.other()))
            .map(|(n, k)| (n.clone(), *k.public_key()))
            .ok_or_else(|| err("no peer ratchet key"))?;
        let count = self
            .turns_of
            .get_mut(Self::slot(sender))
            .ok_or_else(|| err("party"))?;
        *count += 1;
        let initial = sender.name().chars().next().unwrap_or('?');
        let name = format!("{initial}{count}");
        let dh = ratchet.diffie_hellman(&peer).map_err(err)?;
        let (root, chain) = self.root.kdf_rk(&dh);
        record.keys.push(x25519(
            &name,
            sender,
            &format!(
                "{}'s ratchet key, turn {}",
                sender.name(),
                record.turns.len() + 1
            ),
            &ratchet,
        ));
        record.turns.push(Turn {
            sender,
            ratchet_key: name.clone(),
            public: ratchet.public_key().as_bytes().to_vec(),
            peer_key: peer_name,
            dh: dh.as_bytes().to_vec(),
            root_before: self.root.as_bytes().to_vec(),
            root_after: root.as_bytes().to_vec(),
            chain_key: chain.as_bytes().to_vec(),
        });
        let sent = self
            .sent
            .get_mut(Self::slot(sender))
            .ok_or_else(|| err("party"))?;
        // PN: the length of the sender's previous sending chain.
        self.previous_counter = *sent;
        *sent = 0;
        self.root = root;
        self.chain = chain;
        self.counter = 0;
        if let Some(slot) = self.latest.get_mut(Self::slot(sender)) {
            *slot = (name, ratchet);
        }
        Ok(())
    }
}

/// A message's fields, named from its parsed form and checked to cover the wire bytes exactly.
fn message_fields(wire: &[u8]) -> Result<(Vec<Field>, &'static str), ExplainError> {
    let parsed = WireMessage::parse(wire).map_err(err)?;
    let mut layout: Vec<(&str, String, usize)> = Vec::new();
    let kind = match parsed.prekey_header() {
        Some(header) => {
            let h = InitialHeader::from_bytes(header).map_err(err)?;
            layout.push(("version", "wire version 0x02".into(), 1));
            layout.push(("type", "0x02: pre-key message".into(), 1));
            layout.push(("H", "length of the pre-key header".into(), 4));
            layout.push(("header version", "pre-key header version 0x01".into(), 1));
            layout.push(("IK_A", "EncodeEC(IK_A): Alice's identity key".into(), 33));
            layout.push(("EK_A", "EncodeEC(EK_A): Alice's ephemeral key".into(), 33));
            layout.push(("SPK id", "which signed prekey of Bob's".into(), 4));
            layout.push((
                "flags",
                "0x01 one-time prekey id follows, 0x02 PQ part".into(),
                1,
            ));
            if h.one_time_prekey_id.is_some() {
                layout.push(("OPK id", "which one-time prekey (deleted on use)".into(), 4));
            }
            if let Some(pq) = &h.pq {
                layout.push(("PQ id", "which PQ prekey".into(), 4));
                layout.push(("KEM type", format!("{}", pq.ciphertext.kem()), 1));
                layout.push(("CT", "KEM ciphertext: Bob decapsulates it".into(), 1568));
            }
            "pre-key"
        }
        None => "normal",
    };
    let m = parsed.message();
    layout.push(("version", "wire version 0x02".into(), 1));
    layout.push(("type", "0x01: normal message".into(), 1));
    layout.push((
        "ratchet key",
        "EncodeEC(sender's ratchet public key)".into(),
        33,
    ));
    layout.push((
        "PN",
        format!("previous chain length: {}", m.previous_counter),
        4,
    ));
    layout.push((
        "N",
        format!("message number in this chain: {}", m.counter),
        4,
    ));
    layout.push((
        "salt",
        "fresh per-message salt of the message keys".into(),
        SALT_LEN,
    ));
    let body = m.ciphertext.len().saturating_sub(TAG_LEN);
    layout.push(("ciphertext", "AES-256-GCM ciphertext".into(), body));
    layout.push((
        "tag",
        "GCM tag over AD || every byte before the ciphertext".into(),
        TAG_LEN,
    ));
    let mut fields = Vec::new();
    let mut at = 0usize;
    for (name, explain, len) in layout {
        let bytes = wire
            .get(at..at + len)
            .ok_or_else(|| err("message shorter than its fields"))?;
        fields.push(field(name, &explain, bytes));
        at += len;
    }
    if at != wire.len() {
        return Err(err("message fields do not cover the message"));
    }
    Ok((fields, kind))
}

/// Encrypts with the library; recomputes the message key from the mirror and opens the bytes.
fn send(
    record: &mut Record,
    mirror: &mut Mirror,
    session: &mut Session,
    from: Party,
    text: &str,
    rng: &mut ChaCha20Rng,
) -> Result<Vec<u8>, ExplainError> {
    let deferred = session.info().sending_counter.is_none();
    let mut probe = fork(rng);
    let wire = session.encrypt(text.as_bytes(), rng).map_err(err)?;
    if deferred {
        let ratchet = KeyPair::generate(&mut probe);
        mirror.turn(record, from, ratchet)?;
    }
    let (fields, kind) = message_fields(&wire)?;
    let parsed = WireMessage::parse(&wire).map_err(err)?;
    let m = parsed.message();
    same(
        "ratchet key",
        m.ratchet_key.as_bytes(),
        &record
            .turns
            .last()
            .map(|t| t.public.clone())
            .unwrap_or_default(),
    )?;
    if m.counter != mirror.counter || m.previous_counter != mirror.previous_counter {
        return Err(err("recomputed counters differ from the message's"));
    }
    let (seed, next) = mirror.chain.kdf_ck();
    let authenticated_len = wire.len() - m.ciphertext.len();
    let mut ad = record.associated_data.clone();
    ad.extend_from_slice(wire.get(..authenticated_len).unwrap_or_default());
    let opened = seed
        .decrypt(&m.salt, &ad, &m.ciphertext)
        .map_err(|_| err("the recomputed message key does not open the library's message"))?;
    same("plaintext", &opened, text.as_bytes())?;
    record.messages.push(Message {
        number: record.messages.len() + 1,
        from,
        plaintext: text.into(),
        turn: record.turns.len().saturating_sub(1),
        counter: mirror.counter,
        previous_counter: mirror.previous_counter,
        kind,
        seed: seed.as_bytes().to_vec(),
        fields,
    });
    mirror.chain = next;
    mirror.counter += 1;
    if let Some(sent) = mirror.sent.get_mut(Mirror::slot(from)) {
        *sent += 1;
    }
    Ok(wire)
}

fn delivered(record: &mut Record, number: usize, text: &[u8], note: &str) {
    record.deliveries.push(Delivery {
        number,
        outcome: format!("decrypted{note}: {:?}", String::from_utf8_lossy(text)),
    });
}

/// The conversation: two pre-key messages delivered out of order, a refused replay, and replies
/// that turn the DH ratchet.
fn conversation(
    record: &mut Record,
    parties: Parties,
    start: Start,
    rng: &mut ChaCha20Rng,
) -> Result<(), ExplainError> {
    let mut bob_store = parties.bob;
    let spk = bob_store
        .signed_prekey(parties.signed_id)
        .map(|s| s.key_pair().clone())
        .ok_or_else(|| err("no signed prekey"))?;
    let mut mirror = Mirror {
        root: RootKey::from_slice(&record.root_key).ok_or_else(|| err("root key"))?,
        chain: ChainKey::from_slice(&record.chain_key).ok_or_else(|| err("chain key"))?,
        counter: 0,
        previous_counter: 0,
        latest: [
            ("EK_A".into(), start.ephemeral.clone()),
            ("SPK_B".into(), spk),
        ],
        turns_of: [0, 0],
        sent: [0, 0],
    };
    // Alice's first turn happened inside the session's start.
    mirror.turn(record, Party::Alice, start.ratchet.clone())?;
    let mut alice = start.session;
    let first = send(
        record,
        &mut mirror,
        &mut alice,
        Party::Alice,
        "Hello Bob, this is Alice.",
        rng,
    )?;
    let second = send(
        record,
        &mut mirror,
        &mut alice,
        Party::Alice,
        "This one will arrive first.",
        rng,
    )?;

    let (established, text) =
        pqxdh::accept(&mut bob_store, &second, Backend::Libcrux).map_err(err)?;
    same(
        "Bob's root key",
        &record.root_key,
        established.handshake_root_key.as_bytes(),
    )?;
    if established.session_id.to_string() != record.session_id {
        return Err(err("Bob's session id differs"));
    }
    delivered(
        record,
        2,
        &text,
        " first (out of order), establishing Bob's session",
    );
    let mut bob = established.session;
    let text = bob.decrypt(&first).map_err(err)?;
    delivered(record, 1, &text, " second, with the key skipped for it");
    match bob.decrypt(&first) {
        Err(e) => record.deliveries.push(Delivery {
            number: 1,
            outcome: format!("replayed: refused ({e})"),
        }),
        Ok(_) => return Err(err("a replayed message was accepted")),
    }

    let reply = send(
        record,
        &mut mirror,
        &mut bob,
        Party::Bob,
        "Hi Alice, both arrived.",
        rng,
    )?;
    let text = alice.decrypt(&reply).map_err(err)?;
    delivered(record, 3, &text, "; Alice's pre-key messages stop");
    let next = send(
        record,
        &mut mirror,
        &mut alice,
        Party::Alice,
        "Great, a normal message now.",
        rng,
    )?;
    let text = bob.decrypt(&next).map_err(err)?;
    delivered(record, 4, &text, "");
    let last = send(
        record,
        &mut mirror,
        &mut bob,
        Party::Bob,
        "And the ratchet turns again.",
        rng,
    )?;
    let text = alice.decrypt(&last).map_err(err)?;
    delivered(record, 5, &text, "");
    Ok(())
}

/// A value shown in a section row.
#[derive(Clone, Debug)]
pub enum Value {
    /// Text.
    Text(String),
    /// Bytes, shown as aligned hex.
    Bytes(Vec<u8>),
    /// Private bytes of this throw-away run, shown as such.
    Private(Vec<u8>),
}

/// One row: a label and a value.
#[derive(Clone, Debug)]
pub struct Row {
    /// The label.
    pub label: String,
    /// The value.
    pub value: Value,
}

/// One step of the explanation, as both views show it.
#[derive(Clone, Debug)]
pub struct Section {
    /// Anchor id (html).
    pub id: &'static str,
    /// Heading.
    pub title: String,
    /// One line on what happens.
    pub intro: String,
    /// The values.
    pub rows: Vec<Row>,
}

fn text(label: &str, value: impl Into<String>) -> Row {
    Row {
        label: label.into(),
        value: Value::Text(value.into()),
    }
}

fn bytes(label: &str, value: &[u8]) -> Row {
    Row {
        label: label.into(),
        value: Value::Bytes(value.to_vec()),
    }
}

impl Record {
    /// The name of the party whose key this is, by key name.
    pub fn owner_of(&self, key: &str) -> Option<Party> {
        self.keys.iter().find(|k| k.name == key).map(|k| k.owner)
    }

    /// The steps, in order.
    pub fn sections(&self) -> Vec<Section> {
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for k in &self.keys {
            keys.push(text(
                &k.name,
                format!(
                    "{} ({}, {} bytes public)",
                    k.role,
                    k.owner.name(),
                    k.public.len()
                ),
            ));
            keys.push(bytes(&format!("{} public", k.name), &k.public));
            keys.push(Row {
                label: format!("{} private", k.name),
                value: Value::Private(k.private.clone()),
            });
        }
        out.push(Section {
            id: "keys",
            title: "Keys".into(),
            intro: format!(
                "Every key of this run ({}; {}). The private parts are those of this throw-away run, shown to make every step checkable: never show a real one.",
                self.title, self.kem
            ),
            rows: keys,
        });
        let mut rows = Vec::new();
        for c in &self.checks {
            rows.push(text(
                &c.what,
                if c.ok {
                    "valid (XEdDSA under IK_B)"
                } else {
                    "INVALID"
                },
            ));
            rows.push(bytes("signed message", &c.message));
            rows.push(bytes("signature", &c.signature));
        }
        out.push(Section {
            id: "signatures",
            title: "Bundle signature checks".into(),
            intro: "Alice verifies both prekey signatures before using Bob's bundle; either failing aborts the handshake.".into(),
            rows,
        });
        let mut rows = Vec::new();
        for d in &self.dhs {
            rows.push(bytes(
                &format!("{} = X25519({}, {})", d.name, d.alice_key, d.bob_key),
                &d.output,
            ));
        }
        out.push(Section {
            id: "dh",
            title: "Diffie-Hellman outputs".into(),
            intro: "Alice combines her private keys with Bob's public keys; Bob computes the same values from his private keys and her public keys.".into(),
            rows,
        });
        out.push(Section {
            id: "kem",
            title: format!("{} encapsulation", self.kem_step.kem),
            intro: "Alice encapsulates to Bob's PQ prekey; Bob decapsulates the ciphertext to the same shared secret.".into(),
            rows: vec![
                Row {
                    label: "randomness m".into(),
                    value: Value::Private(self.kem_step.randomness.clone()),
                },
                bytes("ciphertext CT", &self.kem_step.ciphertext),
                bytes("shared secret SS", &self.kem_step.shared_secret),
            ],
        });
        let mut rows: Vec<Row> = self
            .ikm
            .iter()
            .map(|f| bytes(&format!("{}: {}", f.name, f.explain), &f.bytes))
            .collect();
        rows.push(bytes("salt", &self.salt));
        rows.push(text("info", String::from_utf8_lossy(&self.info)));
        rows.push(bytes("root key (bytes 0..32)", &self.root_key));
        rows.push(bytes("chain key (bytes 32..64)", &self.chain_key));
        if let Some((id, expected)) = &self.vector {
            rows.push(bytes(&format!("vector {id} root key"), expected));
            rows.push(text("vector check", "equal to the root key above"));
        }
        out.push(Section {
            id: "hkdf",
            title: "HKDF-SHA256".into(),
            intro: format!(
                "IKM = F || {} || SS ({} bytes), salt 32 zero bytes, 64 bytes out.",
                self.dhs
                    .iter()
                    .map(|d| d.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" || "),
                self.ikm.iter().map(|f| f.bytes.len()).sum::<usize>()
            ),
            rows,
        });
        out.push(Section {
            id: "session",
            title: "Associated data and session id".into(),
            intro: "AD = EncodeEC(IK_A) || EncodeEC(IK_B); the session id is SHA-256 over the transcript, 16 bytes as a UUID v8.".into(),
            rows: vec![
                bytes("AD", &self.associated_data),
                text("session id", self.session_id.clone()),
            ],
        });
        let mut rows = Vec::new();
        for (i, t) in self.turns.iter().enumerate() {
            rows.push(text(
                &format!("turn {}", i + 1),
                format!(
                    "{} sends with {}: KDF_RK(RK, X25519({}, {}))",
                    t.sender.name(),
                    t.ratchet_key,
                    t.ratchet_key,
                    t.peer_key
                ),
            ));
            rows.push(bytes("DH", &t.dh));
            rows.push(bytes("root key before", &t.root_before));
            rows.push(bytes("root key after", &t.root_after));
            rows.push(bytes("sending chain key", &t.chain_key));
        }
        out.push(Section {
            id: "ratchet",
            title: "Double Ratchet turns".into(),
            intro: format!(
                "Each new ratchet key turns the root chain (HKDF, info \"{}\") and starts a sending chain.",
                String::from_utf8_lossy(RATCHET_INFO)
            ),
            rows,
        });
        for m in &self.messages {
            let mut rows = vec![
                text(
                    "message",
                    format!(
                        "{} -> {}, {} message, turn {}, N={}, PN={}, {} bytes: {:?}",
                        m.from.name(),
                        m.from.other().name(),
                        m.kind,
                        m.turn + 1,
                        m.counter,
                        m.previous_counter,
                        m.wire().len(),
                        m.plaintext
                    ),
                ),
                Row {
                    label: "message-key seed".into(),
                    value: Value::Private(m.seed.clone()),
                },
            ];
            for f in &m.fields {
                rows.push(bytes(&format!("{}: {}", f.name, f.explain), &f.bytes));
            }
            out.push(Section {
                id: "message",
                title: format!("Message {}", m.number),
                intro: "The wire bytes, field by field.".into(),
                rows,
            });
        }
        out.push(Section {
            id: "delivery",
            title: "Delivery".into(),
            intro: "What the receiving sessions did, in delivery order.".into(),
            rows: self
                .deliveries
                .iter()
                .map(|d| text(&format!("message {}", d.number), d.outcome.clone()))
                .collect(),
        });
        out.push(Section {
            id: "summary",
            title: "Summary".into(),
            intro: "Each value above was checked against what the library produced.".into(),
            rows: vec![
                text("root key", hex::encode(&self.root_key)),
                text("session id", self.session_id.clone()),
            ],
        });
        out
    }
}
