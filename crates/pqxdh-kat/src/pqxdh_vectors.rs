//! PQXDH vectors in the `pqxdh-kat-v1` format (`kat/README.md`), libsignal's X3DH (session
//! version 3) ratchet-initialisation vector, and the generator of our own PQXDH vectors.

use serde_json::{Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::FileReport;
use pqxdh::handshake::Protocol;
use pqxdh::handshake::agreement as hs;
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, SignedPreKey};
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::{
    Backend, KemCiphertext, KemKeyPair, KemSecretKey, KemSharedSecret, KemType,
};
use pqxdh::primitives::keys::{EphemeralKeyPair, KeyPair, PrivateKey, PublicKey};
use pqxdh::ratchet::root_key::RootKey;

/// The `format` value of PQXDH vector files.
pub const FORMAT: &str = "pqxdh-kat-v1";

/// Runs every vector of a `pqxdh-kat-v1` document.
pub fn run(doc: &Value) -> FileReport {
    let mut report = FileReport {
        format: FORMAT.into(),
        ..FileReport::default()
    };
    let Some(vectors) = doc.get("vectors").and_then(Value::as_array) else {
        report.failed = 1;
        report.failures.push("no `vectors` array".into());
        return report;
    };
    for (index, vector) in vectors.iter().enumerate() {
        let id = vector
            .get("id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("#{index}"), str::to_owned);
        match check_vector(vector) {
            Ok(()) => report.passed += 1,
            Err(why) => {
                report.failed += 1;
                report.failures.push(format!("{id}: {why}"));
            }
        }
    }
    report
}

fn field<'a>(v: &'a Value, path: &str) -> Result<&'a Value, String> {
    path.split('.')
        .try_fold(v, |node, key| node.get(key))
        .ok_or_else(|| format!("missing field `{path}`"))
}

fn bytes(v: &Value, path: &str) -> Result<Vec<u8>, String> {
    let text = field(v, path)?
        .as_str()
        .ok_or_else(|| format!("`{path}` is not a string"))?;
    hex::decode(text).map_err(|_| format!("`{path}` is not valid hex"))
}

fn optional_bytes(v: &Value, path: &str) -> Result<Option<Vec<u8>>, String> {
    match v.get(path) {
        None | Some(Value::Null) => Ok(None),
        Some(_) => bytes(v, path).map(Some),
    }
}

fn key_pair(v: &Value, path: &str) -> Result<KeyPair, String> {
    let secret = bytes(v, path)?;
    PrivateKey::from_slice(&secret)
        .map(KeyPair::from_private)
        .map_err(|e| format!("`{path}`: {e}"))
}

fn expect_eq(path: &str, expected: &[u8], actual: &[u8]) -> Result<(), String> {
    if expected == actual {
        Ok(())
    } else {
        Err(format!(
            "`{path}` differs: expected {}, got {}",
            hex::encode(expected),
            hex::encode(actual)
        ))
    }
}

fn check_vector(v: &Value) -> Result<(), String> {
    let kem_name = field(v, "kem")?.as_str().ok_or("`kem` is not a string")?;
    let kem: KemType = kem_name
        .parse()
        .map_err(|_| format!("unknown kem `{kem_name}`"))?;
    let info = field(v, "info")?.as_str().ok_or("`info` is not a string")?;
    let alice_identity = key_pair(v, "alice_identity_secret")?;
    let alice_ephemeral = key_pair(v, "alice_ephemeral_secret")?;
    let bob_identity = key_pair(v, "bob_identity_secret")?;
    let bob_signed = key_pair(v, "bob_signed_prekey_secret")?;
    let bob_one_time = optional_bytes(v, "bob_one_time_prekey_secret")?
        .map(|s| PrivateKey::from_slice(&s).map(KeyPair::from_private))
        .transpose()
        .map_err(|e| format!("`bob_one_time_prekey_secret`: {e}"))?;
    let kem_public = bytes(v, "bob_kem_public_key")?;
    let kem_secret = KemSecretKey::from_slice(kem, &bytes(v, "bob_kem_secret_key")?)
        .map_err(|e| format!("`bob_kem_secret_key`: {e}"))?;
    let pair = KemKeyPair::from_parts(kem, &kem_public, kem_secret.as_bytes())
        .map_err(|e| format!("`bob_kem_public_key`: {e}"))?;
    // FIPS 203 layout: the expanded secret key embeds the public key at 384k (k = 4).
    expect_eq(
        "bob_kem_public_key (as embedded in the secret key)",
        &kem_public,
        kem_secret
            .as_bytes()
            .get(1536..1536 + 1568)
            .unwrap_or_default(),
    )?;
    let ciphertext = KemCiphertext::from_slice(kem, &bytes(v, "kem_ciphertext")?)
        .map_err(|e| format!("`kem_ciphertext`: {e}"))?;
    let expected_ss = bytes(v, "expected.kem_shared_secret")?;
    let expected_root = bytes(v, "expected.root_key")?;
    let expected_chain = bytes(v, "expected.chain_key")?;

    // Responder: decapsulate (both backends for ML-KEM-1024), then the DHs from Bob's secrets.
    let backends: &[Backend] = match kem {
        KemType::MlKem1024 => &[Backend::Libcrux, Backend::PqClean],
        KemType::Kyber1024 => &[Backend::Libcrux],
    };
    let mut shared = None;
    for &backend in backends {
        let ss = pair
            .secret_key()
            .decapsulate(&ciphertext, backend)
            .map_err(|e| format!("decapsulation: {e}"))?;
        expect_eq(
            &format!("expected.kem_shared_secret ({backend:?})"),
            &expected_ss,
            ss.as_bytes(),
        )?;
        shared = Some(ss);
    }
    let (root, chain) = hs::responder_keys(
        &bob_identity,
        &bob_signed,
        bob_one_time.as_ref(),
        alice_identity.public_key(),
        alice_ephemeral.public_key(),
        shared.as_ref(),
        info.as_bytes(),
    )
    .map_err(|e| format!("responder: {e}"))?;
    expect_eq(
        "expected.root_key (responder)",
        &expected_root,
        root.as_bytes(),
    )?;
    expect_eq(
        "expected.chain_key (responder)",
        &expected_chain,
        chain.as_bytes(),
    )?;

    // Initiator: the DHs from Alice's secrets and Bob's public keys, with the shared secret.
    let ss = KemSharedSecret::from_slice(&expected_ss)
        .ok_or("`expected.kem_shared_secret` must be 32 bytes")?;
    let (root_a, chain_a) = hs::initiator_keys(
        &alice_identity,
        &alice_ephemeral,
        bob_identity.public_key(),
        bob_signed.public_key(),
        bob_one_time.as_ref().map(KeyPair::public_key),
        Some(&ss),
        info.as_bytes(),
    )
    .map_err(|e| format!("initiator: {e}"))?;
    expect_eq(
        "expected.root_key (initiator)",
        &expected_root,
        root_a.as_bytes(),
    )?;
    expect_eq(
        "expected.chain_key (initiator)",
        &expected_chain,
        chain_a.as_bytes(),
    )?;

    if let Some(first) = v.get("first_ratchet").filter(|f| !f.is_null()) {
        check_first_ratchet(first, &root_a, bob_signed.public_key())?;
    }
    Ok(())
}

fn check_first_ratchet(
    first: &Value,
    root: &RootKey,
    bob_signed: &PublicKey,
) -> Result<(), String> {
    let info = field(first, "info")?
        .as_str()
        .ok_or("`first_ratchet.info` is not a string")?;
    let ratchet =
        key_pair(first, "alice_ratchet_secret").map_err(|e| format!("first_ratchet.{e}"))?;
    let dh = ratchet
        .diffie_hellman(bob_signed)
        .map_err(|e| format!("first_ratchet: {e}"))?;
    let (new_root, chain) = pqxdh::ratchet::root_key::kdf_rk_with_info(root, &dh, info.as_bytes());
    expect_eq(
        "first_ratchet.root_key",
        &bytes(first, "root_key")?,
        new_root.as_bytes(),
    )?;
    expect_eq(
        "first_ratchet.chain_key",
        &bytes(first, "chain_key")?,
        chain.as_bytes(),
    )
}

/// Runs libsignal's X3DH ratchet-initialisation vector (`x3dh_v3_ratchet_init_kat.json`).
pub fn run_x3dh(doc: &Value) -> FileReport {
    let mut report = FileReport {
        format: "libsignal-x3dh-v3".into(),
        ..FileReport::default()
    };
    match check_x3dh(doc) {
        Ok(()) => report.passed = 1,
        Err(why) => {
            report.failed = 1;
            report.failures.push(format!("x3dh-v3: {why}"));
        }
    }
    report
}

fn check_x3dh(doc: &Value) -> Result<(), String> {
    let values = field(doc, "values")?;
    let pair = |name: &str| -> Result<KeyPair, String> {
        let kp = key_pair(values, &format!("{name}_private"))?;
        let public = PublicKey::decode(&bytes(values, &format!("{name}_public"))?)
            .map_err(|e| format!("`{name}_public`: {e}"))?;
        if &public != kp.public_key() {
            return Err(format!("`{name}_public` does not match `{name}_private`"));
        }
        Ok(kp)
    };
    let bob_identity = pair("bob_identity")?;
    let bob_signed = pair("bob_signed_prekey")?;
    let alice_identity = pair("alice_identity")?;
    let alice_base = pair("alice_base")?;
    let expected_chain = bytes(values, "expected_chain_key")?;
    let info = Protocol::X3dh.info();
    let (root_b, chain_b) = hs::responder_keys(
        &bob_identity,
        &bob_signed,
        None,
        alice_identity.public_key(),
        alice_base.public_key(),
        None,
        info,
    )
    .map_err(|e| format!("responder: {e}"))?;
    let (root_a, chain_a) = hs::initiator_keys(
        &alice_identity,
        &alice_base,
        bob_identity.public_key(),
        bob_signed.public_key(),
        None,
        None,
        info,
    )
    .map_err(|e| format!("initiator: {e}"))?;
    expect_eq(
        "expected_chain_key (responder)",
        &expected_chain,
        chain_b.as_bytes(),
    )?;
    expect_eq(
        "expected_chain_key (initiator)",
        &expected_chain,
        chain_a.as_bytes(),
    )?;
    expect_eq(
        "root key (initiator vs responder)",
        root_b.as_bytes(),
        root_a.as_bytes(),
    )?;
    if let Some(root) = doc.get("derived_root_key_computed_here") {
        let text = root
            .as_str()
            .ok_or("`derived_root_key_computed_here` is not a string")?;
        let expected =
            hex::decode(text).map_err(|_| "`derived_root_key_computed_here` is not hex")?;
        expect_eq(
            "derived_root_key_computed_here",
            &expected,
            root_a.as_bytes(),
        )?;
    }
    Ok(())
}

/// Label hashed with a vector id and a field name to derive each input of our own vectors.
pub const GENERATOR_LABEL: &str = "pqxdh-kat-v1 generator";

fn derive32(id: &str, name: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(GENERATOR_LABEL)
        .chain_update([0])
        .chain_update(id)
        .chain_update([0])
        .chain_update(name)
        .finalize()
        .into()
}

fn derive64(id: &str, name: &str) -> [u8; 64] {
    Sha512::new()
        .chain_update(GENERATOR_LABEL)
        .chain_update([0])
        .chain_update(id)
        .chain_update([0])
        .chain_update(name)
        .finalize()
        .into()
}

/// A deterministic "RNG" for the signatures inside generated bundles: SHA-512 in counter mode
/// over a label. Only used by the generator, so vectors do not depend on any RNG crate.
struct LabelRng {
    id: String,
    counter: u64,
}

impl rand_core::TryRng for LabelRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.try_fill_bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.try_fill_bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(64) {
            self.counter += 1;
            let block = derive64(&self.id, &format!("rng {}", self.counter));
            for (d, s) in chunk.iter_mut().zip(block.iter()) {
                *d = *s;
            }
        }
        Ok(())
    }
}

impl rand_core::TryCryptoRng for LabelRng {}

/// Generates our own PQXDH vectors: both KEMs, with and without a one-time prekey, `per_kind`
/// vectors each. Every input is `SHA-256(label || 0 || id || 0 || field)` (64-byte inputs use
/// SHA-512), so anyone can regenerate them; the keys are produced by the full public API (bundle,
/// signatures, verification, [`hs::initiate_deterministic`], [`hs::respond`]), and the
/// vectors carry the intermediate values (DH outputs, IKM) for learners.
pub fn generate(per_kind: usize) -> Result<Value, String> {
    let mut vectors = Vec::new();
    for kem in [KemType::MlKem1024, KemType::Kyber1024] {
        for with_opk in [false, true] {
            for n in 0..per_kind {
                let id = format!(
                    "pqxdh-{}-{}-{n}",
                    kem.name(),
                    if with_opk { "opk" } else { "noopk" }
                );
                vectors.push(generate_one(&id, kem, with_opk)?);
            }
        }
    }
    Ok(json!({
        "format": FORMAT,
        "source": format!(
            "pqxdh (this crate), `pqxdh kat-gen`: every input is SHA-256(\"{GENERATOR_LABEL}\" || 0x00 || id || 0x00 || field name) (SHA-512 for the 64-byte KEM key-generation seed d || z and for signature randomness); keys are computed through the public API and both sides are checked"
        ),
        "vectors": vectors,
    }))
}

fn generate_one(id: &str, kem: KemType, with_opk: bool) -> Result<Value, String> {
    let mut rng = LabelRng {
        id: id.to_owned(),
        counter: 0,
    };
    let secret = |name: &str| PrivateKey::from_bytes(derive32(id, name));
    let alice = IdentityKeyPair::from_private(secret("alice_identity_secret"));
    let bob = IdentityKeyPair::from_private(secret("bob_identity_secret"));
    let signed = SignedPreKey::from_key_pair(
        1,
        KeyPair::from_private(secret("bob_signed_prekey_secret")),
        &bob,
        &mut rng,
    );
    let kem_pair = KemKeyPair::from_seed(kem, &derive64(id, "bob_kem_keygen_seed"));
    let pq = PqPreKey::from_key_pair(
        7,
        PqPreKeyKind::LastResort,
        kem_pair.clone(),
        &bob,
        &mut rng,
    );
    let mut store = PreKeyStore::new(bob.clone());
    store.add_signed_prekey(signed);
    store.add_pq_prekey(pq);
    let opk = with_opk.then(|| {
        OneTimePreKey::from_key_pair(
            42,
            KeyPair::from_private(secret("bob_one_time_prekey_secret")),
        )
    });
    if let Some(o) = &opk {
        store.add_one_time_prekey(o.clone());
    }
    let bundle = store
        .bundle(1, 7, opk.as_ref().map(OneTimePreKey::id))
        .map_err(|e| e.to_string())?;
    let ephemeral_secret = derive32(id, "alice_ephemeral_secret");
    let kem_randomness = derive32(id, "kem_encapsulation_randomness");
    let initiation = hs::initiate_deterministic(
        &alice,
        &bundle,
        EphemeralKeyPair::from_private(PrivateKey::from_bytes(ephemeral_secret)),
        &kem_randomness,
    )
    .map_err(|e| e.to_string())?;
    let responded = hs::respond(&store, &initiation.header, Backend::Libcrux, true)
        .map_err(|e| e.to_string())?;
    if responded.root_key != initiation.keys.root_key
        || responded.chain_key != initiation.keys.chain_key
    {
        return Err(format!("{id}: initiator and responder disagree"));
    }
    let pq_header = initiation
        .header
        .pq
        .as_ref()
        .ok_or("PQXDH header without ciphertext")?;
    let ss = kem_pair
        .secret_key()
        .decapsulate(&pq_header.ciphertext, Backend::Libcrux)
        .map_err(|e| e.to_string())?;

    // Intermediate values, recomputed for the worked example in SPEC.md.
    let ek = KeyPair::from_private(PrivateKey::from_bytes(ephemeral_secret));
    let bob_opk_public = opk.as_ref().map(|o| *o.key_pair().public_key());
    let dh = |a: &KeyPair, b: &PublicKey| a.diffie_hellman(b).map(|d| hex::encode(d.as_bytes()));
    let dh1 = dh(alice.key_pair(), &bundle.signed_prekey.key).map_err(|e| e.to_string())?;
    let dh2 = dh(&ek, &bundle.identity_key).map_err(|e| e.to_string())?;
    let dh3 = dh(&ek, &bundle.signed_prekey.key).map_err(|e| e.to_string())?;
    let dh4 = bob_opk_public
        .map(|k| dh(&ek, &k))
        .transpose()
        .map_err(|e| e.to_string())?;
    let ikm = format!(
        "{}{dh1}{dh2}{dh3}{}{}",
        hex::encode(hs::KDF_PREFIX),
        dh4.clone().unwrap_or_default(),
        hex::encode(ss.as_bytes())
    );

    let ratchet_secret = derive32(id, "alice_ratchet_secret");
    let ratchet = KeyPair::from_private(PrivateKey::from_bytes(ratchet_secret));
    let dh_ratchet = ratchet
        .diffie_hellman(&bundle.signed_prekey.key)
        .map_err(|e| e.to_string())?;
    let (root1, chain1) = pqxdh::ratchet::root_key::kdf_rk_with_info(
        &initiation.keys.root_key,
        &dh_ratchet,
        pqxdh::ratchet::root_key::RATCHET_INFO,
    );

    Ok(json!({
        "id": id,
        "kem": kem.name(),
        "info": String::from_utf8_lossy(pqxdh::handshake::protocol::PQXDH_INFO),
        "alice_identity_secret": hex::encode(derive32(id, "alice_identity_secret")),
        "alice_ephemeral_secret": hex::encode(ephemeral_secret),
        "bob_identity_secret": hex::encode(derive32(id, "bob_identity_secret")),
        "bob_signed_prekey_secret": hex::encode(derive32(id, "bob_signed_prekey_secret")),
        "bob_one_time_prekey_secret": opk.as_ref().map(|_| hex::encode(derive32(id, "bob_one_time_prekey_secret"))),
        "bob_kem_public_key": hex::encode(kem_pair.public_key().as_bytes()),
        "bob_kem_secret_key": hex::encode(kem_pair.secret_key().as_bytes()),
        "kem_ciphertext": hex::encode(pq_header.ciphertext.as_bytes()),
        "expected": {
            "kem_shared_secret": hex::encode(ss.as_bytes()),
            "root_key": hex::encode(initiation.keys.root_key.as_bytes()),
            "chain_key": hex::encode(initiation.keys.chain_key.as_bytes()),
        },
        "first_ratchet": {
            "info": String::from_utf8_lossy(pqxdh::ratchet::root_key::RATCHET_INFO),
            "alice_ratchet_secret": hex::encode(ratchet_secret),
            "root_key": hex::encode(root1.as_bytes()),
            "chain_key": hex::encode(chain1.as_bytes()),
        },
        "intermediate": {
            "bob_kem_keygen_seed": hex::encode(derive64(id, "bob_kem_keygen_seed")),
            "kem_encapsulation_randomness": hex::encode(kem_randomness),
            "public_keys": {
                "alice_identity": hex::encode(alice.public_key().as_bytes()),
                "alice_ephemeral": hex::encode(initiation.header.ephemeral_key.as_bytes()),
                "bob_identity": hex::encode(bundle.identity_key.as_bytes()),
                "bob_signed_prekey": hex::encode(bundle.signed_prekey.key.as_bytes()),
                "bob_one_time_prekey": bob_opk_public.map(|k| hex::encode(k.as_bytes())),
                "alice_ratchet": hex::encode(ratchet.public_key().as_bytes()),
            },
            "dh1": dh1,
            "dh2": dh2,
            "dh3": dh3,
            "dh4": dh4,
            "ikm": ikm,
            "associated_data": hex::encode(&initiation.keys.associated_data),
            "session_id": initiation.keys.session_id.to_string(),
            "initial_header": hex::encode(initiation.header.to_bytes()),
        },
    }))
}
