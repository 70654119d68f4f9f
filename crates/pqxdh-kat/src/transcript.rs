//! Deterministic ratchet transcripts (`kat/ratchet/`): a generator driven by seeded ChaCha20 and
//! a runner that replays a transcript file and checks every byte.
//!
//! The format is described in `kat/ratchet/README.md`. Every random value a session draws (the
//! initiator's first ratchet key and each deferred sending step's new ratchet key) is recorded, so
//! the runner needs no random number generator.

use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use rand_core::Rng;
use serde_json::{Value, json};

use pqxdh::primitives::keys::{KeyPair, PrivateKey};
use pqxdh::ratchet::chain_key::ChainKey;
use pqxdh::ratchet::message::SALT_LEN;
use pqxdh::ratchet::message_key::MESSAGE_KEYS_INFO;
use pqxdh::ratchet::root_key::RootKey;
use pqxdh::ratchet::{DecryptError, Randomness, Session};

/// The `format` field of a transcript file.
pub const TRANSCRIPT_FORMAT: &str = "pqxdh-ratchet-transcripts-v2";

/// A short name for each decryption error, as written in transcripts.
pub fn error_name(error: &DecryptError) -> &'static str {
    match error {
        DecryptError::InvalidTag => "InvalidTag",
        DecryptError::Duplicate => "Duplicate",
        DecryptError::TooFarAhead => "TooFarAhead",
        DecryptError::Malformed(_) => "Malformed",
        DecryptError::UnknownVersion(_) => "UnknownVersion",
        DecryptError::UnknownType(_) => "UnknownType",
        DecryptError::NonContributory => "NonContributory",
        DecryptError::UnexpectedRatchetKey => "UnexpectedRatchetKey",
        _ => "Other",
    }
}

/// One action of a generated scenario; messages are numbered in the order they are sent.
#[derive(Clone, Copy)]
enum Act {
    /// `(alice sends?, plaintext)`.
    Send(bool, &'static str),
    /// `(alice receives?, message number)`.
    Recv(bool, usize),
    /// Deliver a copy of a message with byte `.2` flipped.
    Tamper(bool, usize, usize),
}

use Act::{Recv, Send, Tamper};

const A: bool = true;
const B: bool = false;

/// The scenarios of `kat/ratchet/transcripts.json`.
fn scenarios() -> Vec<(&'static str, u64, Vec<Act>)> {
    vec![
        (
            "ping-pong: several DH ratchet turns in both directions",
            1,
            vec![
                Send(A, "hello Bob"),
                Send(A, "second pre-key message"),
                Recv(B, 0),
                Recv(B, 1),
                Send(B, "hello Alice"),
                Recv(A, 2),
                Send(A, "first normal message"),
                Send(A, "another"),
                Recv(B, 3),
                Recv(B, 4),
                Send(B, "turn 2"),
                Send(B, "turn 2 again"),
                Recv(A, 6),
                Recv(A, 5),
                Send(A, "turn 3"),
                Recv(B, 7),
                Send(B, "turn 4"),
                Recv(A, 8),
                Send(A, ""),
                Recv(B, 9),
            ],
        ),
        (
            "out of order across a ratchet turn, a replay and a tampered message",
            2,
            vec![
                Send(A, "a0"),
                Send(A, "a1"),
                Send(A, "a2"),
                Send(A, "a3"),
                Recv(B, 2),
                Recv(B, 0),
                Send(B, "b0"),
                Recv(A, 4),
                Send(A, "a4 on a new ratchet key"),
                Send(A, "a5"),
                Recv(B, 6),
                Recv(B, 3),
                Recv(B, 1),
                Recv(B, 5),
                Recv(B, 0),
                Send(A, "a6"),
                Tamper(B, 7, 50),
                Recv(B, 7),
                Recv(B, 7),
            ],
        ),
        (
            "responder sends first on the PQXDH chain key",
            3,
            vec![
                Send(B, "early b0"),
                Send(B, "early b1"),
                Send(A, "a0"),
                Recv(A, 1),
                Recv(B, 2),
                Recv(A, 0),
                Send(B, "b2 after the ratchet"),
                Send(A, "a1 still on the first chain"),
                Recv(A, 3),
                Recv(B, 4),
                Send(A, "a2 after the ratchet"),
                Recv(B, 5),
            ],
        ),
    ]
}

fn random_bytes<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut out = [0u8; N];
    rng.fill_bytes(&mut out);
    out
}

/// Generates the transcript file's content.
pub fn generate() -> Result<Value, String> {
    let mut transcripts = Vec::new();
    for (name, seed, acts) in scenarios() {
        transcripts.push(generate_one(name, seed, &acts)?);
    }
    Ok(json!({
        "format": TRANSCRIPT_FORMAT,
        "description": "Deterministic Double Ratchet transcripts of pqxdh sessions; see kat/ratchet/README.md",
        "kdf_rk_info": "WhisperRatchet",
        "message_keys_info": String::from_utf8_lossy(MESSAGE_KEYS_INFO),
        "transcripts": transcripts,
    }))
}

fn generate_one(name: &str, seed: u64, acts: &[Act]) -> Result<Value, String> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let root: [u8; 32] = random_bytes(&mut rng);
    let chain: [u8; 32] = random_bytes(&mut rng);
    let ad: [u8; 66] = random_bytes(&mut rng);
    let spk: [u8; 32] = random_bytes(&mut rng);
    let first: [u8; 32] = random_bytes(&mut rng);
    let header = format!("pre-key header of transcript {seed}").into_bytes();
    let (mut alice, mut bob) = start(&root, &chain, &ad, &spk, &first, &header)?;

    let mut sent: Vec<Vec<u8>> = Vec::new();
    let mut steps = Vec::new();
    for act in acts {
        match *act {
            Send(from_alice, plaintext) => {
                let session = if from_alice { &mut alice } else { &mut bob };
                let mut drawn = Drawn {
                    rng: &mut rng,
                    key: None,
                    salt: None,
                };
                let wire = session
                    .encrypt_with(plaintext.as_bytes(), &mut drawn)
                    .map_err(|e| format!("{name}: encrypt: {e}"))?;
                steps.push(json!({
                    "op": "encrypt",
                    "party": party(from_alice),
                    "plaintext": hex::encode(plaintext),
                    "new_ratchet_private": drawn.key,
                    "salt": drawn.salt,
                    "wire": hex::encode(&wire),
                }));
                sent.push(wire);
            }
            Recv(to_alice, index) | Tamper(to_alice, index, _) => {
                let mut wire = sent
                    .get(index)
                    .cloned()
                    .ok_or_else(|| format!("{name}: no message {index}"))?;
                if let Tamper(_, _, at) = *act
                    && let Some(byte) = wire.get_mut(at)
                {
                    *byte ^= 0x01;
                }
                let session = if to_alice { &mut alice } else { &mut bob };
                let mut step = serde_json::Map::new();
                step.insert("op".into(), json!("decrypt"));
                step.insert("party".into(), json!(party(to_alice)));
                step.insert("wire".into(), json!(hex::encode(&wire)));
                match session.decrypt(&wire) {
                    Ok(plaintext) => step.insert("plaintext".into(), json!(hex::encode(plaintext))),
                    Err(e) => step.insert("error".into(), json!(error_name(&e))),
                };
                step.insert("skipped_keys".into(), json!(session.info().skipped_keys));
                let step = Value::Object(step);
                steps.push(step);
            }
        }
    }
    Ok(json!({
        "name": name,
        "seed": seed,
        "root_key": hex::encode(root),
        "chain_key": hex::encode(chain),
        "associated_data": hex::encode(ad),
        "bob_signed_prekey_private": hex::encode(spk),
        "alice_first_ratchet_private": hex::encode(first),
        "prekey_header": hex::encode(&header),
        "steps": steps,
    }))
}

/// The generator's randomness: drawn from the scenario's ChaCha20 in the order `encrypt` draws
/// from a caller's generator (ratchet key, then salt), and recorded.
struct Drawn<'a> {
    rng: &'a mut ChaCha20Rng,
    key: Option<String>,
    salt: Option<String>,
}

impl Randomness for Drawn<'_> {
    fn ratchet_key(&mut self) -> KeyPair {
        let bytes: [u8; 32] = random_bytes(self.rng);
        self.key = Some(hex::encode(bytes));
        KeyPair::from_private(PrivateKey::from_bytes(bytes))
    }

    fn salt(&mut self) -> [u8; SALT_LEN] {
        let salt: [u8; SALT_LEN] = random_bytes(self.rng);
        self.salt = Some(hex::encode(salt));
        salt
    }

    /// The transcripts are classical Double Ratchet sessions: SPQR never draws here (the SPQR
    /// transcripts are `kat/spqr/`).
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.rng.fill_bytes(dest);
    }
}

/// The runner's randomness: the recorded ratchet key and salt of one step.
struct Recorded {
    key: Option<Vec<u8>>,
    salt: [u8; SALT_LEN],
    missing_key: bool,
}

impl Randomness for Recorded {
    fn ratchet_key(&mut self) -> KeyPair {
        match self
            .key
            .take()
            .and_then(|b| PrivateKey::from_slice(&b).ok())
        {
            Some(key) => KeyPair::from_private(key),
            None => {
                self.missing_key = true;
                KeyPair::from_private(PrivateKey::from_bytes([0x42; 32]))
            }
        }
    }

    fn salt(&mut self) -> [u8; SALT_LEN] {
        self.salt
    }

    /// Nothing recorded: a classical session never asks, and asking fails the step.
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.missing_key = true;
        dest.fill(0);
    }
}

fn party(alice: bool) -> &'static str {
    if alice { "alice" } else { "bob" }
}

fn start(
    root: &[u8],
    chain: &[u8],
    ad: &[u8],
    spk: &[u8],
    first: &[u8],
    header: &[u8],
) -> Result<(Session, Session), String> {
    let root = || RootKey::from_slice(root).ok_or("root_key must be 32 bytes");
    let chain = || ChainKey::from_slice(chain).ok_or("chain_key must be 32 bytes");
    let spk = KeyPair::from_private(PrivateKey::from_slice(spk).map_err(|e| e.to_string())?);
    let first = KeyPair::from_private(PrivateKey::from_slice(first).map_err(|e| e.to_string())?);
    let alice = Session::new_initiator_with_ratchet_key(
        root()?,
        chain()?,
        *spk.public_key(),
        ad.to_vec(),
        header.to_vec(),
        first,
    )
    .map_err(|e| e.to_string())?;
    let bob = Session::new_responder(root()?, chain()?, spk, ad.to_vec());
    Ok((alice, bob))
}

fn hex_field(v: &Value, field: &str) -> Result<Vec<u8>, String> {
    let s = v
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("`{field}` is missing or not a string"))?;
    hex::decode(s).map_err(|e| format!("`{field}`: {e}"))
}

/// Replays every transcript of a file: checks each encryption's wire bytes (feeding the recorded
/// ratchet keys), each decryption's plaintext or error, and the skipped-key counts. Returns the
/// number of steps checked, or the first failure.
pub fn run_transcript_file(doc: &Value) -> Result<usize, String> {
    if doc.get("format").and_then(Value::as_str) != Some(TRANSCRIPT_FORMAT) {
        return Err(format!("`format` is not {TRANSCRIPT_FORMAT}"));
    }
    let transcripts = doc
        .get("transcripts")
        .and_then(Value::as_array)
        .ok_or("`transcripts` is missing")?;
    let mut checked = 0;
    for (t, transcript) in transcripts.iter().enumerate() {
        checked += run_one(transcript).map_err(|e| format!("transcript {t}: {e}"))?;
    }
    Ok(checked)
}

fn run_one(t: &Value) -> Result<usize, String> {
    let (mut alice, mut bob) = start(
        &hex_field(t, "root_key")?,
        &hex_field(t, "chain_key")?,
        &hex_field(t, "associated_data")?,
        &hex_field(t, "bob_signed_prekey_private")?,
        &hex_field(t, "alice_first_ratchet_private")?,
        &hex_field(t, "prekey_header")?,
    )?;
    let steps = t
        .get("steps")
        .and_then(Value::as_array)
        .ok_or("`steps` is missing")?;
    for (i, step) in steps.iter().enumerate() {
        run_step(step, &mut alice, &mut bob).map_err(|e| format!("step {i}: {e}"))?;
    }
    Ok(steps.len())
}

fn run_step(step: &Value, alice: &mut Session, bob: &mut Session) -> Result<(), String> {
    let session = match step.get("party").and_then(Value::as_str) {
        Some("alice") => alice,
        Some("bob") => bob,
        _ => return Err("`party` must be \"alice\" or \"bob\"".into()),
    };
    let wire = hex_field(step, "wire")?;
    match step.get("op").and_then(Value::as_str) {
        Some("encrypt") => {
            let plaintext = hex_field(step, "plaintext")?;
            let key = match step.get("new_ratchet_private") {
                Some(Value::Null) | None => None,
                Some(_) => Some(hex_field(step, "new_ratchet_private")?),
            };
            let salt: [u8; SALT_LEN] = hex_field(step, "salt")?
                .try_into()
                .map_err(|_| format!("`salt` must be {SALT_LEN} bytes"))?;
            let expects_key = key.is_some();
            let mut recorded = Recorded {
                key,
                salt,
                missing_key: false,
            };
            let out = session
                .encrypt_with(&plaintext, &mut recorded)
                .map_err(|e| format!("encrypt failed: {e}"))?;
            if recorded.missing_key {
                return Err("encrypt drew a ratchet key but none is recorded".into());
            }
            if expects_key && recorded.key.is_some() {
                return Err("a ratchet key is recorded but encrypt drew none".into());
            }
            if out != wire {
                return Err(format!("wire mismatch: got {}", hex::encode(out)));
            }
        }
        Some("decrypt") => {
            let result = session.decrypt(&wire);
            match (step.get("error").and_then(Value::as_str), result) {
                (None, Ok(plaintext)) => {
                    if plaintext != hex_field(step, "plaintext")? {
                        return Err("plaintext mismatch".into());
                    }
                }
                (Some(expected), Err(e)) if expected == error_name(&e) => {}
                (expected, got) => {
                    return Err(format!(
                        "expected {expected:?}, got {:?}",
                        got.map(hex::encode)
                    ));
                }
            }
            if let Some(n) = step.get("skipped_keys").and_then(Value::as_u64)
                && usize::try_from(n).ok() != Some(session.info().skipped_keys)
            {
                return Err(format!(
                    "skipped_keys: expected {n}, got {}",
                    session.info().skipped_keys
                ));
            }
        }
        _ => return Err("`op` must be \"encrypt\" or \"decrypt\"".into()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../kat/ratchet/transcripts.json"
    );

    #[test]
    fn transcript_file_matches_generator_and_replays() {
        let file = generate().unwrap();
        crate::generated_file_text(PATH, &file);
        let steps: usize = scenarios().iter().map(|s| s.2.len()).sum();
        assert_eq!(run_transcript_file(&file), Ok(steps));

        // The transcripts contain the interesting cases.
        let text = file.to_string();
        for needle in ["\"Duplicate\"", "\"InvalidTag\""] {
            assert!(text.contains(needle), "{needle}");
        }
    }

    #[test]
    fn runner_reports_mismatches() {
        let file = generate().unwrap();
        for (path, value) in [
            ("/transcripts/0/steps/0/wire", json!("0102")),
            ("/transcripts/0/steps/2/plaintext", json!("00")),
            ("/transcripts/1/steps/16/error", json!("Duplicate")),
            ("/transcripts/0/root_key", json!("00")),
            ("/transcripts/1/steps/8/new_ratchet_private", Value::Null),
            ("/transcripts/0/steps/0/salt", json!("00")),
            (
                "/transcripts/0/steps/1/salt",
                json!("00000000000000000000000000000000"),
            ),
            ("/format", json!("other")),
        ] {
            let mut doc = file.clone();
            *doc.pointer_mut(path).unwrap() = value;
            assert!(run_transcript_file(&doc).is_err(), "{path}");
        }
    }
}
