//! `pqxdh-node`: a simulated end-to-end encrypted network in one process, spoken to in JSON lines.
//!
//! Each request's `src` is a party (a device holding its own private keys); the [`Directory`]
//! plays the server and holds only public prekeys. Replies are written as bare bodies, or as full
//! Maelstrom envelopes once an `init` message arrives (see README.md for every message and error).

pub mod directory;
pub mod error;
pub mod json_line;

use std::collections::{BTreeMap, VecDeque};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use serde_json::{Map, Value, json};

use crate::bundle::PreKeyBundle;
use crate::establish::{self, EstablishError, Established};
use crate::identity::IdentityKeyPair;
use crate::kem::{Backend, KemType};
use crate::keys::PublicKey;
use crate::pqxdh::HandshakeError;
use crate::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, PreKeyId};
use crate::prekey_store::PreKeyStore;
use crate::ratchet::{DecryptError, Session};
use crate::session_id::SessionId;
pub use directory::{Directory, Published};
pub use error::{ErrorCode, NodeError};

/// Longest request line accepted, in bytes: room for a 1 MiB plaintext even if every byte needs
/// a six-character JSON escape, and for a 4 MiB message in base64.
pub const MAX_LINE_LEN: usize = 8 * 1024 * 1024;

/// Previous sessions kept per peer so that messages in flight still decrypt (libsignal keeps 40
/// archived session states: rust/protocol/src/consts.rs `ARCHIVED_STATES_MAX_LENGTH`).
pub const MAX_ARCHIVED_SESSIONS: usize = 40;

/// Length of the AES-GCM tag at the end of every wire message.
const TAG_LEN: usize = 16;

/// First id of generated one-time EC prekeys.
const FIRST_ONE_TIME_EC_ID: PreKeyId = 100;
/// First id of generated one-time PQ prekeys (the last-resort one is id 1).
const FIRST_ONE_TIME_PQ_ID: PreKeyId = 1000;

/// How replies are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Envelope {
    /// Bare bodies until an `init` message arrives, full envelopes after it.
    #[default]
    Auto,
    /// Always full Maelstrom envelopes `{"src", "dest", "body"}`.
    Always,
    /// Always bare bodies.
    Never,
}

/// Node options.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// KEM of newly created parties.
    pub kem: KemType,
    /// ML-KEM-1024 implementation.
    pub backend: Backend,
    /// One-time EC prekeys each new party publishes (0: the three-DH handshake).
    pub one_time_ec_prekeys: u32,
    /// One-time PQ prekeys each new party publishes (0: the last-resort key is used).
    pub one_time_pq_prekeys: u32,
    /// Seed for a deterministic run; `None` draws from the operating system.
    pub seed: Option<u64>,
    /// Reply framing.
    pub envelope: Envelope,
}

impl Default for NodeConfig {
    fn default() -> Self {
        Self {
            kem: KemType::MlKem1024,
            backend: Backend::Libcrux,
            one_time_ec_prekeys: 0,
            one_time_pq_prekeys: 0,
            seed: None,
            envelope: Envelope::Auto,
        }
    }
}

/// Which side of the handshake a session was made on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Initiator,
    Responder,
}

struct SessionEntry {
    id: SessionId,
    session: Session,
    kem: Option<KemType>,
    role: Role,
    sent: u64,
    received: u64,
}

#[derive(Default)]
struct PeerSessions {
    current: Option<SessionEntry>,
    archived: VecDeque<SessionEntry>,
}

impl PeerSessions {
    fn install(&mut self, entry: SessionEntry) {
        if let Some(old) = self.current.replace(entry) {
            self.archived.push_front(old);
            self.archived.truncate(MAX_ARCHIVED_SESSIONS);
        }
    }

    fn position(&self, id: &SessionId) -> Option<Option<usize>> {
        if self.current.as_ref().is_some_and(|e| &e.id == id) {
            return Some(None);
        }
        self.archived.iter().position(|e| &e.id == id).map(Some)
    }

    fn entry_mut(&mut self, at: Option<usize>) -> Option<&mut SessionEntry> {
        match at {
            None => self.current.as_mut(),
            Some(i) => self.archived.get_mut(i),
        }
    }
}

struct Party {
    store: PreKeyStore,
    peers: BTreeMap<String, PeerSessions>,
}

/// The simulated network.
pub struct Node {
    config: NodeConfig,
    rng: ChaCha20Rng,
    directory: Directory,
    parties: BTreeMap<String, Party>,
    full_envelopes: bool,
    node_id: String,
    next_msg_id: u64,
    seen_first: bool,
}

/// A request's reply: the body's type and fields after `type` and `in_reply_to`.
type Reply = Result<(&'static str, Map<String, Value>), NodeError>;

impl Node {
    /// A node with no parties yet.
    pub fn new(config: NodeConfig) -> Self {
        let rng = match config.seed {
            Some(seed) => ChaCha20Rng::seed_from_u64(seed),
            None => rand::make_rng(),
        };
        Self {
            full_envelopes: config.envelope == Envelope::Always,
            config,
            rng,
            directory: Directory::default(),
            parties: BTreeMap::new(),
            node_id: String::from("e2ee"),
            next_msg_id: 1,
            seen_first: false,
        }
    }

    /// Handles one request line and returns the reply line (without a newline).
    pub fn handle_line(&mut self, line: &str) -> String {
        let first = !self.seen_first;
        self.seen_first = true;
        if line.len() > MAX_LINE_LEN {
            return self.frame(
                None,
                None,
                Err(NodeError::malformed(format!(
                    "request line of {} bytes exceeds the {MAX_LINE_LEN}-byte limit",
                    line.len()
                ))),
            );
        }
        let request: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                return self.frame(
                    None,
                    None,
                    Err(NodeError::malformed(format!("not JSON: {e}"))),
                );
            }
        };
        let src = request
            .get("src")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let body = request.get("body");
        let msg_id = body.and_then(|b| b.get("msg_id")).and_then(Value::as_u64);
        let reply = match body {
            Some(Value::Object(body)) => {
                if first && body.get("type").and_then(Value::as_str) == Some("init") {
                    self.init(body)
                } else {
                    self.dispatch(src.as_deref(), body)
                }
            }
            Some(_) => Err(NodeError::malformed("`body` is not an object")),
            None if request.is_object() => Err(NodeError::malformed("missing `body`")),
            None => Err(NodeError::malformed("the request is not a JSON object")),
        };
        self.frame(src.as_deref(), msg_id, reply)
    }

    /// A reply line for a line that could not be read at all (too long, not UTF-8).
    pub fn reject_line(&mut self, why: &str) -> String {
        self.seen_first = true;
        self.frame(None, None, Err(NodeError::malformed(why)))
    }

    fn frame(&mut self, dest: Option<&str>, in_reply_to: Option<u64>, reply: Reply) -> String {
        let mut body = Map::new();
        let (kind, fields) = match reply {
            Ok(ok) => ok,
            Err(e) => {
                let mut f = Map::new();
                f.insert("code".into(), e.code.code().into());
                f.insert("text".into(), e.text.into());
                ("error", f)
            }
        };
        body.insert("type".into(), kind.into());
        if self.full_envelopes {
            body.insert("msg_id".into(), self.next_msg_id.into());
            self.next_msg_id += 1;
        }
        if let Some(id) = in_reply_to {
            body.insert("in_reply_to".into(), id.into());
        }
        body.extend(fields);
        let value = if self.full_envelopes {
            json!({
                "src": self.node_id,
                "dest": dest.unwrap_or_default(),
                "body": Value::Object(body),
            })
        } else {
            Value::Object(body)
        };
        json_line::to_line(&value)
    }

    fn init(&mut self, body: &Map<String, Value>) -> Reply {
        if let Some(id) = body.get("node_id").and_then(Value::as_str) {
            self.node_id = id.to_owned();
        }
        if self.config.envelope == Envelope::Auto {
            self.full_envelopes = true;
        }
        Ok(("init_ok", Map::new()))
    }

    fn dispatch(&mut self, src: Option<&str>, body: &Map<String, Value>) -> Reply {
        let kind = body
            .get("type")
            .ok_or_else(|| NodeError::malformed("missing `body.type`"))?
            .as_str()
            .ok_or_else(|| NodeError::malformed("`body.type` is not a string"))?;
        let known = matches!(
            kind,
            "initiate_conversation"
                | "send_message"
                | "receive_message"
                | "get_bundle"
                | "session_info"
        );
        if !known {
            return Err(NodeError::new(
                ErrorCode::NotSupported,
                format!("unknown message type `{kind}`"),
            ));
        }
        let src = party_name(src, "src")?;
        match kind {
            "initiate_conversation" => self.initiate_conversation(src, body),
            "send_message" => self.send_message(src, body),
            "receive_message" => self.receive_message(src, body),
            "get_bundle" => self.get_bundle(src, body),
            _ => self.session_info(src, body),
        }
    }

    /// Creates a party with fresh keys and publishes its prekeys, if it does not exist yet.
    fn ensure_party(&mut self, name: &str) -> Result<(), NodeError> {
        if self.parties.contains_key(name) {
            return Ok(());
        }
        let rng = &mut self.rng;
        let kem = self.config.kem;
        let internal = |e: crate::kem::KemError| NodeError::new(ErrorCode::BadKey, e.to_string());
        let identity = IdentityKeyPair::generate(rng);
        let mut store = PreKeyStore::generate(identity.clone(), kem, rng).map_err(internal)?;
        for i in 0..self.config.one_time_ec_prekeys {
            store.add_one_time_prekey(OneTimePreKey::generate(FIRST_ONE_TIME_EC_ID + i, rng));
        }
        for i in 0..self.config.one_time_pq_prekeys {
            store.add_pq_prekey(
                PqPreKey::generate(
                    FIRST_ONE_TIME_PQ_ID + i,
                    PqPreKeyKind::OneTime,
                    kem,
                    &identity,
                    rng,
                )
                .map_err(internal)?,
            );
        }
        let bundle = store
            .default_bundle()
            .map_err(|e| NodeError::new(ErrorCode::HandshakeFailed, e.to_string()))?;
        self.directory.publish(
            name,
            Published {
                identity_key: bundle.identity_key,
                signed_prekey: bundle.signed_prekey,
                last_resort_pq: bundle.pq_prekey,
                one_time_pq: store
                    .pq_prekeys()
                    .filter(|k| k.kind() == PqPreKeyKind::OneTime)
                    .map(PqPreKey::public)
                    .collect(),
                one_time_ec: store
                    .one_time_prekeys()
                    .map(OneTimePreKey::public)
                    .collect(),
            },
        );
        self.parties.insert(
            name.to_owned(),
            Party {
                store,
                peers: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn initiate_conversation(&mut self, src: &str, body: &Map<String, Value>) -> Reply {
        let recipient = party_name(body.get("recipient").and_then(Value::as_str), "recipient")?;
        if body.get("recipient").is_some_and(|v| !v.is_string()) {
            return Err(NodeError::malformed("`recipient` is not a string"));
        }
        if recipient == src {
            return Err(NodeError::new(
                ErrorCode::NotAllowed,
                "a party cannot start a conversation with itself",
            ));
        }
        let given = body.get("bob_public_key");
        let bundle = match given {
            None | Some(Value::Null) => None,
            Some(Value::Object(fields)) if fields.contains_key("pq_prekey") => {
                let bundle = PreKeyBundle::from_json_value(&Value::Object(fields.clone()))
                    .map_err(|e| {
                        NodeError::new(ErrorCode::BadKey, format!("bob_public_key: {e}"))
                    })?;
                if let Some(known) = self.directory.identity_key(recipient)
                    && known != &bundle.identity_key
                {
                    return Err(NodeError::new(
                        ErrorCode::KeyMismatch,
                        format!(
                            "bob_public_key.identity_key differs from the directory's identity key of `{recipient}`"
                        ),
                    ));
                }
                Some(bundle)
            }
            Some(Value::Object(_)) => None,
            Some(_) => return Err(NodeError::malformed("`bob_public_key` is not an object")),
        };
        self.ensure_party(src)?;
        let bundle = match bundle {
            Some(b) => b,
            None => {
                self.ensure_party(recipient)?;
                if let Some(Value::Object(fields)) = given {
                    self.check_given_keys(recipient, fields)?;
                }
                self.directory.fetch_bundle(recipient).ok_or_else(|| {
                    NodeError::new(
                        ErrorCode::UnknownParty,
                        format!("no bundle for `{recipient}`"),
                    )
                })?
            }
        };
        let established = self.start_session(src, recipient, &bundle)?;
        let mut out = Map::new();
        out.insert("session_id".into(), established.0.to_string().into());
        out.insert("root_key".into(), established.1.into());
        Ok(("conversation_initiated", out))
    }

    /// Checks the key fields of `bob_public_key`: a value that decodes as an X25519 key must be
    /// the directory's key; other strings (like the task's "IK", "SPK") stand for the directory's.
    fn check_given_keys(
        &self,
        recipient: &str,
        fields: &Map<String, Value>,
    ) -> Result<(), NodeError> {
        let published = self.directory.published(recipient).ok_or_else(|| {
            NodeError::new(
                ErrorCode::UnknownParty,
                format!("unknown party `{recipient}`"),
            )
        })?;
        for (name, value) in fields {
            let expected = match name.as_str() {
                "identity_key" | "identity" | "ik" | "IK" => published.identity_key,
                "signed_pre_key" | "signed_prekey" | "spk" | "SPK" => published.signed_prekey.key,
                _ => continue,
            };
            let Some(text) = value.as_str() else {
                return Err(NodeError::malformed(format!(
                    "`bob_public_key.{name}` is not a string"
                )));
            };
            if let Some(key) = decode_ec_key(text)
                && key != expected
            {
                return Err(NodeError::new(
                    ErrorCode::KeyMismatch,
                    format!(
                        "bob_public_key.{name} differs from the directory's key for `{recipient}`"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Runs PQXDH from `src` to `recipient` and installs the new session. Returns its id and the
    /// PQXDH root key in hex.
    fn start_session(
        &mut self,
        src: &str,
        recipient: &str,
        bundle: &PreKeyBundle,
    ) -> Result<(SessionId, String), NodeError> {
        let party = self.parties.get_mut(src).ok_or_else(|| {
            NodeError::new(ErrorCode::UnknownParty, format!("unknown party `{src}`"))
        })?;
        let Established {
            session,
            session_id,
            handshake_root_key,
            kem,
        } = establish::initiate(
            party.store.identity(),
            bundle,
            self.config.backend,
            &mut self.rng,
        )
        .map_err(establish_error)?;
        party
            .peers
            .entry(recipient.to_owned())
            .or_default()
            .install(SessionEntry {
                id: session_id,
                session,
                kem,
                role: Role::Initiator,
                sent: 0,
                received: 0,
            });
        Ok((session_id, hex::encode(handshake_root_key.as_bytes())))
    }

    fn send_message(&mut self, src: &str, body: &Map<String, Value>) -> Reply {
        let recipient = party_name(body.get("recipient").and_then(Value::as_str), "recipient")?;
        let plaintext = body
            .get("plaintext")
            .ok_or_else(|| NodeError::malformed("missing `plaintext`"))?
            .as_str()
            .ok_or_else(|| NodeError::malformed("`plaintext` is not a string"))?;
        if recipient == src {
            return Err(NodeError::new(
                ErrorCode::NotAllowed,
                "a party cannot message itself",
            ));
        }
        self.ensure_party(src)?;
        let has_session = self
            .parties
            .get(src)
            .and_then(|p| p.peers.get(recipient))
            .is_some_and(|s| s.current.is_some());
        if !has_session {
            // First contact: establish a session as a Signal client does.
            self.ensure_party(recipient)?;
            let bundle = self.directory.fetch_bundle(recipient).ok_or_else(|| {
                NodeError::new(
                    ErrorCode::UnknownParty,
                    format!("no bundle for `{recipient}`"),
                )
            })?;
            self.start_session(src, recipient, &bundle)?;
        }
        let entry = self
            .parties
            .get_mut(src)
            .and_then(|p| p.peers.get_mut(recipient))
            .and_then(|s| s.current.as_mut())
            .ok_or_else(|| {
                NodeError::new(
                    ErrorCode::NoSession,
                    format!("no session with `{recipient}`"),
                )
            })?;
        let wire = entry
            .session
            .encrypt(plaintext.as_bytes(), &mut self.rng)
            .map_err(|e| NodeError::new(ErrorCode::HandshakeFailed, e.to_string()))?;
        entry.sent += 1;
        let split = wire.len().saturating_sub(TAG_LEN);
        let (ciphertext, tag) = wire.split_at(split);
        let mut out = Map::new();
        out.insert(
            "encrypted_message".into(),
            json!({"ciphertext": BASE64.encode(ciphertext), "auth_tag": hex::encode(tag)}),
        );
        Ok(("message_encrypted", out))
    }

    fn receive_message(&mut self, src: &str, body: &Map<String, Value>) -> Reply {
        let sender = party_name(body.get("sender").and_then(Value::as_str), "sender")?;
        let message = body
            .get("encrypted_message")
            .ok_or_else(|| NodeError::malformed("missing `encrypted_message`"))?
            .as_object()
            .ok_or_else(|| NodeError::malformed("`encrypted_message` is not an object"))?;
        let text = |name: &str| -> Result<&str, NodeError> {
            message
                .get(name)
                .ok_or_else(|| NodeError::malformed(format!("missing `encrypted_message.{name}`")))?
                .as_str()
                .ok_or_else(|| {
                    NodeError::malformed(format!("`encrypted_message.{name}` is not a string"))
                })
        };
        let mut wire = BASE64.decode(text("ciphertext")?).map_err(|_| {
            NodeError::new(
                ErrorCode::MalformedMessage,
                "`ciphertext` is not valid base64",
            )
        })?;
        let tag = hex::decode(text("auth_tag")?).map_err(|_| {
            NodeError::new(ErrorCode::MalformedMessage, "`auth_tag` is not valid hex")
        })?;
        if tag.len() != TAG_LEN {
            return Err(NodeError::new(
                ErrorCode::MalformedMessage,
                format!("`auth_tag` must be {TAG_LEN} bytes, got {}", tag.len()),
            ));
        }
        wire.extend_from_slice(&tag);
        let header = establish::prekey_header(&wire).map_err(establish_error)?;
        if !self.parties.contains_key(src) {
            return Err(NodeError::new(
                ErrorCode::NoSession,
                format!("`{src}` has no keys and no session with `{sender}`"),
            ));
        }
        let sender_identity = self.directory.identity_key(sender).copied();
        let party = self.parties.get_mut(src).ok_or_else(|| {
            NodeError::new(ErrorCode::UnknownParty, format!("unknown party `{src}`"))
        })?;
        let plaintext = match header {
            Some(header) => {
                if let Some(known) = sender_identity
                    && known != header.identity_key
                {
                    return Err(NodeError::new(
                        ErrorCode::KeyMismatch,
                        format!("the message's identity key is not `{sender}`'s"),
                    ));
                }
                let id = establish::session_id_of(&header, party.store.identity());
                // Looked up, not created: a refused pre-key message leaves no trace.
                let known = party.peers.get_mut(sender).and_then(|peers| {
                    let at = peers.position(&id)?;
                    peers.entry_mut(at)
                });
                if let Some(entry) = known {
                    let plaintext = entry.session.decrypt(&wire).map_err(decrypt_error)?;
                    entry.received += 1;
                    plaintext
                } else {
                    let (established, plaintext) =
                        establish::accept(&mut party.store, &wire, self.config.backend)
                            .map_err(establish_error)?;
                    let entry = SessionEntry {
                        id: established.session_id,
                        session: established.session,
                        kem: established.kem,
                        role: Role::Responder,
                        sent: 0,
                        received: 1,
                    };
                    party
                        .peers
                        .entry(sender.to_owned())
                        .or_default()
                        .install(entry);
                    plaintext
                }
            }
            None => {
                let peers = party
                    .peers
                    .get_mut(sender)
                    .filter(|p| p.current.is_some())
                    .ok_or_else(|| {
                        NodeError::new(
                            ErrorCode::NoSession,
                            format!("`{src}` has no session with `{sender}`"),
                        )
                    })?;
                decrypt_any(peers, &wire)?
            }
        };
        let mut out = Map::new();
        match String::from_utf8(plaintext) {
            Ok(text) => out.insert("plaintext".into(), text.into()),
            Err(e) => out.insert(
                "plaintext_base64".into(),
                BASE64.encode(e.as_bytes()).into(),
            ),
        };
        Ok(("message_decrypted", out))
    }

    fn get_bundle(&mut self, _src: &str, body: &Map<String, Value>) -> Reply {
        let party = party_name(body.get("party").and_then(Value::as_str), "party")?;
        self.ensure_party(party)?;
        let bundle = self.directory.public_bundle(party).ok_or_else(|| {
            NodeError::new(ErrorCode::UnknownParty, format!("unknown party `{party}`"))
        })?;
        let mut out = Map::new();
        out.insert("party".into(), party.into());
        out.insert("kem".into(), bundle.pq_prekey.key.kem().name().into());
        out.insert(
            "fingerprint".into(),
            crate::identity::fingerprint(&bundle.identity_key).into(),
        );
        out.insert("bundle".into(), bundle.to_json_value());
        Ok(("bundle", out))
    }

    fn session_info(&mut self, src: &str, body: &Map<String, Value>) -> Reply {
        let peer = party_name(body.get("peer").and_then(Value::as_str), "peer")?;
        let peers = self
            .parties
            .get(src)
            .and_then(|p| p.peers.get(peer))
            .filter(|p| p.current.is_some())
            .ok_or_else(|| {
                NodeError::new(
                    ErrorCode::NoSession,
                    format!("`{src}` has no session with `{peer}`"),
                )
            })?;
        let entry = peers.current.as_ref().ok_or_else(|| {
            NodeError::new(
                ErrorCode::NoSession,
                format!("`{src}` has no session with `{peer}`"),
            )
        })?;
        let mut out = Map::new();
        out.insert("peer".into(), peer.into());
        out.insert("session_id".into(), entry.id.to_string().into());
        out.insert(
            "kem".into(),
            entry.kem.map_or(Value::Null, |k| k.name().into()),
        );
        out.insert(
            "role".into(),
            match entry.role {
                Role::Initiator => "initiator",
                Role::Responder => "responder",
            }
            .into(),
        );
        out.insert("messages_sent".into(), entry.sent.into());
        out.insert("messages_received".into(), entry.received.into());
        let info = entry.session.info();
        out.insert(
            "our_ratchet_key".into(),
            hex::encode(info.our_ratchet_key.as_bytes()).into(),
        );
        out.insert(
            "their_ratchet_key".into(),
            info.their_ratchet_key
                .map_or(Value::Null, |k| hex::encode(k.as_bytes()).into()),
        );
        out.insert("sending_counter".into(), info.sending_counter.into());
        out.insert("previous_counter".into(), info.previous_counter.into());
        out.insert("receiving_counter".into(), info.receiving_counter.into());
        out.insert("receiving_chains".into(), info.receiving_chains.into());
        out.insert("skipped_message_keys".into(), info.skipped_keys.into());
        out.insert(
            "sends_prekey_messages".into(),
            info.sends_prekey_messages.into(),
        );
        out.insert("archived_sessions".into(), peers.archived.len().into());
        Ok(("session_info", out))
    }
}

/// Tries the current session, then archived ones (newest first); reports the current session's
/// error when none decrypts. Each attempt leaves its session unchanged on failure.
fn decrypt_any(peers: &mut PeerSessions, wire: &[u8]) -> Result<Vec<u8>, NodeError> {
    let first_error = match peers.current.as_mut() {
        Some(entry) => match entry.session.decrypt(wire) {
            Ok(p) => {
                entry.received += 1;
                return Ok(p);
            }
            Err(e) => e,
        },
        None => return Err(NodeError::new(ErrorCode::NoSession, "no session")),
    };
    for entry in peers.archived.iter_mut() {
        if let Ok(p) = entry.session.decrypt(wire) {
            entry.received += 1;
            return Ok(p);
        }
    }
    Err(decrypt_error(first_error))
}

fn party_name<'a>(name: Option<&'a str>, field: &str) -> Result<&'a str, NodeError> {
    match name {
        Some(n) if !n.is_empty() => Ok(n),
        Some(_) => Err(NodeError::malformed(format!("`{field}` is empty"))),
        None => Err(NodeError::malformed(format!(
            "missing or non-string `{field}`"
        ))),
    }
}

/// An X25519 key given as hex or base64, either 33 bytes `0x05 || u` or 32 bytes `u`.
fn decode_ec_key(text: &str) -> Option<PublicKey> {
    let bytes = hex::decode(text)
        .ok()
        .or_else(|| BASE64.decode(text).ok())?;
    match bytes.len() {
        33 => PublicKey::decode(&bytes).ok(),
        32 => PublicKey::from_slice(&bytes).ok(),
        _ => None,
    }
}

fn decrypt_error(e: DecryptError) -> NodeError {
    let code = match &e {
        DecryptError::InvalidTag => ErrorCode::AuthenticationFailed,
        DecryptError::Duplicate => ErrorCode::Duplicate,
        DecryptError::TooFarAhead => ErrorCode::TooFarAhead,
        _ => ErrorCode::MalformedMessage,
    };
    NodeError::new(code, e.to_string())
}

fn establish_error(e: EstablishError) -> NodeError {
    match e {
        EstablishError::Decrypt(d) => decrypt_error(d),
        EstablishError::Handshake(HandshakeError::Bundle(b)) => {
            NodeError::new(ErrorCode::BadKey, b.to_string())
        }
        EstablishError::Handshake(
            h @ (HandshakeError::MalformedHeader(_) | HandshakeError::UnknownHeaderVersion(_)),
        ) => NodeError::new(ErrorCode::MalformedMessage, h.to_string()),
        EstablishError::Handshake(h) => NodeError::new(ErrorCode::HandshakeFailed, h.to_string()),
        other => NodeError::new(ErrorCode::MalformedMessage, other.to_string()),
    }
}
