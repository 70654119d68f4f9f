//! Deterministic SPQR transcripts (`kat/spqr/`): a generator driven by seeded ChaCha20 and a
//! runner that replays a transcript file and checks every byte.
//!
//! The format is described in `kat/spqr/README.md`. Each party draws its randomness from its own
//! ChaCha20 generator, and only when it sends (key generation and encapsulation draw from the
//! sender's generator), so the runner recreates both generators from the recorded seeds and needs
//! nothing else. Delivery decisions (loss, order) were taken at generation time and appear only as
//! the events they produced.

use rand::rngs::ChaCha20Rng;
use rand::{RngExt, SeedableRng};
use rand_core::Rng;
use serde_json::{Map, Value, json};

use pqxdh::spqr::{ChainKey, Direction, Epoch, EpochSecret, Received, Sent, SpqrError, SpqrState};

use crate::{array_field, expect_eq, field, fixed, hex_field, str_field, usize_field};

/// The `format` field of an SPQR transcript file.
pub const SPQR_TRANSCRIPT_FORMAT: &str = "pqxdh-spqr-transcripts-v1";

/// Length of the auth key and of each party's ChaCha20 seed.
const KEY_LEN: usize = 32;

/// Upper bound on the messages a scenario sends, so that a generator bug cannot loop forever or
/// write a huge file.
const MAX_MESSAGES: usize = 1200;

/// The probability that the lossy scenario drops a message (the brief of scenario 3).
const LOSS: f64 = 0.3;

/// A short name for each SPQR error, as written in transcripts.
pub fn error_name(error: &SpqrError) -> &'static str {
    match error {
        SpqrError::MessageDecode => "MessageDecode",
        SpqrError::VersionTooLow => "VersionTooLow",
        SpqrError::StateDecode => "StateDecode",
        SpqrError::MacVerifyFailed => "MacVerifyFailed",
        SpqrError::KeyDoesNotMatchHeader => "KeyDoesNotMatchHeader",
        SpqrError::EpochOutOfRange(_) => "EpochOutOfRange",
        SpqrError::KeyJump { .. } => "KeyJump",
        SpqrError::KeyTrimmed(_) => "KeyTrimmed",
        SpqrError::KeyAlreadyUsed(_) => "KeyAlreadyUsed",
        SpqrError::SendEpochDecreased { .. } => "SendEpochDecreased",
        SpqrError::ChainErased => "ChainErased",
        SpqrError::ChainExhausted => "ChainExhausted",
        SpqrError::MissingKey => "MissingKey",
        _ => "Other",
    }
}

/// One of the two parties.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Party {
    A,
    B,
}

use Party::{A, B};

impl Party {
    fn name(self) -> &'static str {
        match self {
            A => "a",
            B => "b",
        }
    }

    fn parse(name: &str) -> Result<Self, String> {
        match name {
            "a" => Ok(A),
            "b" => Ok(B),
            _ => Err(format!("party must be \"a\" or \"b\", got {name:?}")),
        }
    }

    fn other(self) -> Self {
        match self {
            A => B,
            B => A,
        }
    }
}

/// Both parties' states and generators, as the generator and the runner drive them.
struct Parties {
    a: SpqrState,
    b: SpqrState,
    rng_a: ChaCha20Rng,
    rng_b: ChaCha20Rng,
}

impl Parties {
    fn new(auth_key: &[u8], seed_a: [u8; KEY_LEN], seed_b: [u8; KEY_LEN]) -> Self {
        Self {
            a: SpqrState::new(auth_key, Direction::AToB),
            b: SpqrState::new(auth_key, Direction::BToA),
            rng_a: ChaCha20Rng::from_seed(seed_a),
            rng_b: ChaCha20Rng::from_seed(seed_b),
        }
    }

    fn state(&self, party: Party) -> &SpqrState {
        match party {
            A => &self.a,
            B => &self.b,
        }
    }

    /// `party` sends: its state moves on; returns the message, its key and any epoch secret.
    fn send(&mut self, party: Party) -> Result<Sent, SpqrError> {
        let (state, rng) = match party {
            A => (&mut self.a, &mut self.rng_a),
            B => (&mut self.b, &mut self.rng_b),
        };
        let (next, sent) = state.send(rng)?;
        *state = next;
        Ok(sent)
    }

    /// `party` receives `message`: its state moves on only when the message is accepted.
    fn recv(&mut self, party: Party, message: &[u8]) -> Result<Received, SpqrError> {
        let state = match party {
            A => &mut self.a,
            B => &mut self.b,
        };
        let (next, received) = state.recv(message)?;
        *state = next;
        Ok(received)
    }
}

fn key_json(key: Option<&ChainKey>) -> Value {
    key.map_or(Value::Null, |k| json!(hex::encode(k.0)))
}

fn secret_json(secret: Option<&EpochSecret>) -> Option<Value> {
    secret.map(|s| json!({"epoch": s.epoch, "secret": hex::encode(*s.secret)}))
}

/// A message sent during generation.
struct Flight {
    message: Vec<u8>,
    key: Option<ChainKey>,
    /// The sender's braid epoch when it sent the message (the message's epoch).
    epoch: Epoch,
}

/// A scenario being generated: the parties, what they sent, and the events so far.
struct Gen {
    parties: Parties,
    sent: Vec<Flight>,
    events: Vec<Value>,
}

impl Gen {
    fn epoch(&self, party: Party) -> Epoch {
        self.parties.state(party).epoch()
    }

    fn min_epoch(&self) -> Epoch {
        self.epoch(A).min(self.epoch(B))
    }

    fn flight(&self, id: usize) -> Result<&Flight, String> {
        self.sent.get(id).ok_or_else(|| format!("no message {id}"))
    }

    /// `from` sends the next message; returns its id.
    fn send(&mut self, from: Party) -> Result<usize, String> {
        if self.sent.len() >= MAX_MESSAGES {
            return Err(format!("more than {MAX_MESSAGES} messages"));
        }
        let epoch = self.epoch(from);
        let sent = self
            .parties
            .send(from)
            .map_err(|e| format!("send by {}: {e}", from.name()))?;
        let id = self.sent.len();
        let mut event = Map::new();
        event.insert("op".into(), json!("send"));
        event.insert("from".into(), json!(from.name()));
        event.insert("id".into(), json!(id));
        event.insert("message".into(), json!(hex::encode(&sent.message)));
        event.insert("key".into(), key_json(sent.key.as_ref()));
        if let Some(secret) = secret_json(sent.epoch_secret.as_ref()) {
            event.insert("epoch_secret".into(), secret);
        }
        event.insert("epoch".into(), json!(self.epoch(from)));
        self.events.push(Value::Object(event));
        self.sent.push(Flight {
            message: sent.message,
            key: sent.key,
            epoch,
        });
        Ok(id)
    }

    /// Delivers message `id` to `to` as sent; it must be accepted with its sender's key.
    fn deliver(&mut self, to: Party, id: usize) -> Result<(), String> {
        let flight = self.flight(id)?;
        let (message, key) = (flight.message.clone(), flight.key.clone());
        let received = self
            .parties
            .recv(to, &message)
            .map_err(|e| format!("delivery of {id} to {}: {e}", to.name()))?;
        if received.key != key {
            return Err(format!("delivery of {id}: the keys differ"));
        }
        let mut event = Map::new();
        event.insert("op".into(), json!("deliver"));
        event.insert("to".into(), json!(to.name()));
        event.insert("id".into(), json!(id));
        event.insert("key".into(), key_json(received.key.as_ref()));
        if let Some(secret) = secret_json(received.epoch_secret.as_ref()) {
            event.insert("epoch_secret".into(), secret);
        }
        event.insert("epoch".into(), json!(self.epoch(to)));
        self.events.push(Value::Object(event));
        Ok(())
    }

    /// Delivers `message` (message `id` as sent, or a tampered copy) and expects `expected`.
    fn refused(
        &mut self,
        to: Party,
        id: usize,
        tampered: Option<Vec<u8>>,
        expected: &str,
    ) -> Result<(), String> {
        let message = match &tampered {
            Some(bytes) => bytes.clone(),
            None => self.flight(id)?.message.clone(),
        };
        match self.parties.recv(to, &message) {
            Err(e) if error_name(&e) == expected => {}
            other => {
                return Err(format!(
                    "delivery of {id} to {}: expected {expected}, got {:?}",
                    to.name(),
                    other.map(|r| r.key)
                ));
            }
        }
        let mut event = Map::new();
        event.insert("op".into(), json!("deliver"));
        event.insert("to".into(), json!(to.name()));
        event.insert("id".into(), json!(id));
        if let Some(bytes) = tampered {
            event.insert("tampered_message".into(), json!(hex::encode(bytes)));
        }
        event.insert("error".into(), json!(expected));
        event.insert("epoch".into(), json!(self.epoch(to)));
        self.events.push(Value::Object(event));
        Ok(())
    }

    /// Message `id` with its last byte (inside the chunk, when it carries one) flipped, if `to`
    /// would refuse that copy with `MacVerifyFailed`: the chunk completes a MAC'd piece.
    fn tamper_completing(&self, to: Party, id: usize) -> Result<Option<Vec<u8>>, String> {
        let mut bytes = self.flight(id)?.message.clone();
        if let Some(last) = bytes.last_mut() {
            *last ^= 0x01;
        }
        let refused = self.parties.state(to).recv(&bytes);
        Ok((refused.err() == Some(SpqrError::MacVerifyFailed)).then_some(bytes))
    }
}

/// A scenario: its name and the function that drives it (with the generator's own network
/// randomness for loss and order decisions).
type Scenario = (
    &'static str,
    fn(&mut Gen, &mut ChaCha20Rng) -> Result<(), String>,
);

/// The scenarios of `kat/spqr/transcripts.json`.
fn scenarios() -> [Scenario; 5] {
    [
        ("ping-pong through three completed epochs", ping_pong),
        (
            "one-sided burst: A sends 120 with B receiving, then B answers",
            burst,
        ),
        ("30% loss in both directions, decided at generation", lossy),
        (
            "reordering inside an epoch and across epoch boundaries",
            reordering,
        ),
        (
            "tampered chunks completing the header and ct2 (MacVerifyFailed), replays (KeyAlreadyUsed)",
            tampering,
        ),
    ]
}

/// One message each way, delivered at once.
fn exchange(g: &mut Gen) -> Result<(), String> {
    for from in [A, B] {
        let id = g.send(from)?;
        g.deliver(from.other(), id)?;
    }
    Ok(())
}

fn ping_pong(g: &mut Gen, _: &mut ChaCha20Rng) -> Result<(), String> {
    while g.min_epoch() < 4 {
        exchange(g)?;
    }
    Ok(())
}

fn burst(g: &mut Gen, _: &mut ChaCha20Rng) -> Result<(), String> {
    for _ in 0..120 {
        let id = g.send(A)?;
        g.deliver(B, id)?;
    }
    for _ in 0..60 {
        let id = g.send(B)?;
        g.deliver(A, id)?;
    }
    while g.min_epoch() < 2 {
        exchange(g)?;
    }
    Ok(())
}

fn lossy(g: &mut Gen, network: &mut ChaCha20Rng) -> Result<(), String> {
    while g.min_epoch() < 3 {
        for from in [A, B] {
            let id = g.send(from)?;
            if !network.random_bool(LOSS) {
                g.deliver(from.other(), id)?;
            }
        }
    }
    Ok(())
}

/// Each direction's messages are delivered in pairs, the later one first. A's pairs are delivered
/// on odd steps and B's on even steps, so each party receives between the two sends of its pair:
/// when that completes an epoch, the pair straddles the boundary and the older message arrives
/// after the receiver has moved to the new epoch.
fn reordering(g: &mut Gen, _: &mut ChaCha20Rng) -> Result<(), String> {
    let mut queues: [Vec<usize>; 2] = [Vec::new(), Vec::new()];
    let mut crossed = [0usize; 2];
    let mut step = 0usize;
    while g.min_epoch() < 4 || crossed.contains(&0) {
        for (from, queue) in [A, B].into_iter().zip(queues.iter_mut()) {
            queue.push(g.send(from)?);
        }
        let from = if step % 2 == 1 { A } else { B };
        let index = usize::from(from == B);
        let pending = queues
            .get_mut(index)
            .map(core::mem::take)
            .unwrap_or_default();
        for &id in pending.iter().rev() {
            let to = from.other();
            if g.flight(id)?.epoch < g.epoch(to)
                && let Some(count) = crossed.get_mut(index)
            {
                *count += 1;
            }
            g.deliver(to, id)?;
        }
        step += 1;
    }
    Ok(())
}

fn tampering(g: &mut Gen, _: &mut ChaCha20Rng) -> Result<(), String> {
    // The receivers still to see a tampered chunk: the header completes at B (MAC_hdr), then ct2
    // completes at A (MAC_ct), ending epoch 1.
    let mut pending = vec![B, A];
    let mut replayed = false;
    while g.min_epoch() < 2 || !pending.is_empty() {
        for from in [A, B] {
            let id = g.send(from)?;
            let to = from.other();
            if pending.contains(&to)
                && let Some(bytes) = g.tamper_completing(to, id)?
            {
                g.refused(to, id, Some(bytes), "MacVerifyFailed")?;
                g.deliver(to, id)?;
                g.refused(to, id, None, "KeyAlreadyUsed")?;
                pending.retain(|p| *p != to);
                continue;
            }
            g.deliver(to, id)?;
            if !replayed {
                g.refused(to, id, None, "KeyAlreadyUsed")?;
                replayed = true;
            }
        }
    }
    Ok(())
}

/// Generates the transcript file's content.
pub fn generate() -> Result<Value, String> {
    let mut transcripts = Vec::new();
    for (number, (name, drive)) in (1u64..).zip(scenarios()) {
        transcripts.push(generate_one(name, number, drive).map_err(|e| format!("{name}: {e}"))?);
    }
    Ok(json!({
        "format": SPQR_TRANSCRIPT_FORMAT,
        "description": "Deterministic SPQR (ML-KEM Braid, protocol V1) transcripts of pqxdh::spqr; see kat/spqr/README.md",
        "transcripts": transcripts,
    }))
}

fn generate_one(
    name: &str,
    setup_seed: u64,
    drive: fn(&mut Gen, &mut ChaCha20Rng) -> Result<(), String>,
) -> Result<Value, String> {
    let mut setup = ChaCha20Rng::seed_from_u64(setup_seed);
    let mut draw = || {
        let mut out = [0u8; KEY_LEN];
        setup.fill_bytes(&mut out);
        out
    };
    let (auth_key, seed_a, seed_b) = (draw(), draw(), draw());
    let mut network = ChaCha20Rng::from_seed(draw());
    let mut g = Gen {
        parties: Parties::new(&auth_key, seed_a, seed_b),
        sent: Vec::new(),
        events: Vec::new(),
    };
    drive(&mut g, &mut network)?;
    Ok(json!({
        "name": name,
        "setup_seed": setup_seed,
        "auth_key": hex::encode(auth_key),
        "seed_a": hex::encode(seed_a),
        "seed_b": hex::encode(seed_b),
        "events": g.events,
    }))
}

/// Replays every transcript of a file with `pqxdh::spqr`: checks each sent message's bytes, key
/// and epoch secret, each delivery's key, epoch secret or error, and both parties' epochs. Returns
/// the number of events checked, or the first failure.
pub fn run_transcript_file(doc: &Value) -> Result<usize, String> {
    if doc.get("format").and_then(Value::as_str) != Some(SPQR_TRANSCRIPT_FORMAT) {
        return Err(format!("`format` is not {SPQR_TRANSCRIPT_FORMAT}"));
    }
    let mut checked = 0;
    for (t, transcript) in array_field(doc, "transcripts")?.iter().enumerate() {
        checked += run_one(transcript).map_err(|e| format!("transcript {t}: {e}"))?;
    }
    Ok(checked)
}

fn run_one(t: &Value) -> Result<usize, String> {
    let auth_key = hex_field(t, "auth_key")?;
    let auth_key: [u8; KEY_LEN] = fixed("auth_key", &auth_key)?;
    let seed_a = fixed("seed_a", &hex_field(t, "seed_a")?)?;
    let seed_b = fixed("seed_b", &hex_field(t, "seed_b")?)?;
    let mut parties = Parties::new(&auth_key, seed_a, seed_b);
    let mut sent: Vec<Vec<u8>> = Vec::new();
    let events = array_field(t, "events")?;
    for (i, event) in events.iter().enumerate() {
        run_event(event, &mut parties, &mut sent).map_err(|e| format!("event {i}: {e}"))?;
    }
    Ok(events.len())
}

/// Compares an optional key with the event's `key` (hex or `null`).
fn check_key(event: &Value, key: Option<&ChainKey>) -> Result<(), String> {
    match (field(event, "key")?, key) {
        (Value::Null, None) => Ok(()),
        (Value::Null, Some(_)) => Err("a key came out where `key` is null".into()),
        (_, None) => Err("no key came out".into()),
        (_, Some(key)) => expect_eq("key", &hex_field(event, "key")?, &key.0),
    }
}

/// Compares an optional epoch secret with the event's `epoch_secret` (absent when none).
fn check_secret(event: &Value, secret: Option<&EpochSecret>) -> Result<(), String> {
    match (event.get("epoch_secret"), secret) {
        (None, None) => Ok(()),
        (None, Some(s)) => Err(format!("an epoch secret of epoch {} came out", s.epoch)),
        (Some(_), None) => Err("no epoch secret came out".into()),
        (Some(expected), Some(s)) => {
            let epoch = usize_field(expected, "epoch")?;
            if u64::try_from(epoch).ok() != Some(s.epoch) {
                return Err(format!(
                    "epoch secret of epoch {}, expected {epoch}",
                    s.epoch
                ));
            }
            expect_eq("epoch_secret", &hex_field(expected, "secret")?, &*s.secret)
        }
    }
}

fn check_epoch(event: &Value, state: &SpqrState) -> Result<(), String> {
    let expected = usize_field(event, "epoch")?;
    if u64::try_from(expected).ok() == Some(state.epoch()) {
        Ok(())
    } else {
        Err(format!("epoch {}, expected {expected}", state.epoch()))
    }
}

fn run_event(event: &Value, parties: &mut Parties, sent: &mut Vec<Vec<u8>>) -> Result<(), String> {
    let id = usize_field(event, "id")?;
    match str_field(event, "op")? {
        "send" => {
            let from = Party::parse(str_field(event, "from")?)?;
            if id != sent.len() {
                return Err(format!("message id {id}, expected {}", sent.len()));
            }
            let out = parties
                .send(from)
                .map_err(|e| format!("send failed: {e}"))?;
            expect_eq("message", &hex_field(event, "message")?, &out.message)?;
            check_key(event, out.key.as_ref())?;
            check_secret(event, out.epoch_secret.as_ref())?;
            check_epoch(event, parties.state(from))?;
            sent.push(out.message);
        }
        "deliver" => {
            let to = Party::parse(str_field(event, "to")?)?;
            let message = match event.get("tampered_message") {
                Some(_) => hex_field(event, "tampered_message")?,
                None => sent
                    .get(id)
                    .cloned()
                    .ok_or_else(|| format!("message {id} was not sent"))?,
            };
            let before = parties.state(to).to_bytes();
            match (event.get("error"), parties.recv(to, &message)) {
                (None, Ok(received)) => {
                    check_key(event, received.key.as_ref())?;
                    check_secret(event, received.epoch_secret.as_ref())?;
                }
                (Some(_), Err(e)) => {
                    let expected = str_field(event, "error")?;
                    if expected != error_name(&e) {
                        return Err(format!("expected {expected}, got {e}"));
                    }
                    if parties.state(to).to_bytes() != before {
                        return Err("a refused delivery changed the state".into());
                    }
                }
                (expected, got) => {
                    return Err(format!(
                        "expected {:?}, got {:?}",
                        expected,
                        got.map(|r| key_json(r.key.as_ref()))
                    ));
                }
            }
            check_epoch(event, parties.state(to))?;
        }
        other => {
            return Err(format!(
                "`op` must be \"send\" or \"deliver\", got {other:?}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    const PATH: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../kat/spqr/transcripts.json"
    );

    /// Files larger than this are too big to review or keep in the repository comfortably.
    const MAX_FILE_LEN: usize = 2 << 20;

    #[test]
    fn spqr_transcript_file_matches_generator_and_replays() {
        let file = generate().unwrap();
        let text = crate::generated_file_text(PATH, &file);
        assert!(text.len() < MAX_FILE_LEN, "{} bytes", text.len());
        let events: usize = file["transcripts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["events"].as_array().unwrap().len())
            .sum();
        assert_eq!(run_transcript_file(&file), Ok(events));

        // The transcripts contain the interesting cases.
        for needle in [
            "\"MacVerifyFailed\"",
            "\"KeyAlreadyUsed\"",
            "\"tampered_message\"",
        ] {
            assert!(text.contains(needle), "{needle}");
        }
        let reached = |t: usize| {
            let events = file["transcripts"][t]["events"].as_array().unwrap();
            events.iter().filter_map(|e| e["epoch"].as_u64()).max()
        };
        assert_eq!(reached(0), Some(4), "ping-pong through three epochs");
    }

    #[test]
    fn runner_reports_mismatches() {
        let file = generate().unwrap();
        let first_secret = |t: usize| {
            let events = file["transcripts"][t]["events"].as_array().unwrap();
            events
                .iter()
                .position(|e| e.get("epoch_secret").is_some())
                .unwrap()
        };
        let secret = first_secret(0);
        for (path, value) in [
            ("/transcripts/0/events/0/message", json!("0102")),
            ("/transcripts/0/events/0/key", json!("00")),
            ("/transcripts/0/events/1/key", Value::Null),
            ("/transcripts/0/events/1/epoch", json!(7)),
            ("/transcripts/1/seed_a", json!("00")),
            ("/transcripts/1/auth_key", json!(hex::encode([1u8; 32]))),
            (
                &format!("/transcripts/0/events/{secret}/epoch_secret/secret"),
                json!(hex::encode([0u8; 32])),
            ),
            (
                &format!("/transcripts/0/events/{secret}/epoch_secret/epoch"),
                json!(9),
            ),
            ("/transcripts/0/events/2/op", json!("other")),
            ("/format", json!("other")),
        ] {
            let mut doc = file.clone();
            *doc.pointer_mut(path).unwrap() = value;
            assert!(run_transcript_file(&doc).is_err(), "{path}");
        }
        // An expected error that does not happen, and a missing one.
        let mut doc = file.clone();
        doc["transcripts"][0]["events"][1]["error"] = json!("KeyAlreadyUsed");
        assert!(run_transcript_file(&doc).is_err());
        let mut doc = file.clone();
        let events = doc["transcripts"][4]["events"].as_array_mut().unwrap();
        let refused = events
            .iter()
            .position(|e| e.get("error").is_some())
            .unwrap();
        events[refused].as_object_mut().unwrap().remove("error");
        assert!(run_transcript_file(&doc).is_err());
        // An epoch secret where none comes out.
        let mut doc = file;
        doc["transcripts"][0]["events"][0]["epoch_secret"] =
            json!({"epoch": 1, "secret": hex::encode([0u8; 32])});
        assert!(run_transcript_file(&doc).is_err());
    }
}
