//! `pqxdh-node`: a simulated end-to-end encrypted network in one process, spoken to in JSON lines.
//!
//! Each request's `src` is a party (a device holding its own private keys); the [`Directory`]
//! plays the server and holds only public prekeys. Replies are written as bare bodies, or as full
//! Maelstrom envelopes once an `init` message arrives (see README.md for every message and error).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod directory;
pub mod error;
pub mod json_line;
mod request;

use std::collections::{BTreeMap, VecDeque};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rand::SeedableRng;
use rand::rngs::ChaCha20Rng;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub use directory::{Directory, Published, UnsignedKeys};
pub use error::{ErrorCode, NodeError};
use pqxdh::handshake::agreement as hs;
use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::handshake::clock::{Clock, SystemClock, Timestamp};
use pqxdh::handshake::identity::IdentityKeyPair;
use pqxdh::handshake::prekey::{OneTimePreKey, PqPreKey, PqPreKeyKind, PreKeyId};
use pqxdh::handshake::prekey_store::{PreKeyStore, RETIRED_PREKEY_RETENTION};
use pqxdh::handshake::replay_record::{ReplayError, ReplayLimits};
use pqxdh::handshake::session_id::SessionId;
use pqxdh::handshake::{HandshakeError, Protocol};
use pqxdh::primitives::kem::{Backend, KemType};
use pqxdh::primitives::keys::PublicKey;
use pqxdh::ratchet::{DecryptError, Session};
use pqxdh::sessions::establish::{self, EstablishError, Established};
use request::{
    Field, GetBundle, Init, InitiateConversation, ReceiveMessage, Request, SendMessage, SessionInfo,
};

/// Longest request line accepted, in bytes: room for a 1 MiB plaintext even if every byte needs
/// a six-character JSON escape, and for a 4 MiB message in base64.
pub const MAX_LINE_LEN: usize = 8 * 1024 * 1024;

/// Previous sessions kept per peer so that messages in flight still decrypt (libsignal keeps 40
/// archived session states: rust/protocol/src/consts.rs `ARCHIVED_STATES_MAX_LENGTH`).
pub const MAX_ARCHIVED_SESSIONS: usize = 40;

/// Largest gap an archived session accepts: a message in flight on an old session is at most a
/// few dozen messages past what its receiver decrypted, and refusing wider gaps keeps a forged
/// message from costing more than 40 x 64 chain steps. Archived sessions never take a new
/// ratchet key (no DH or root step); only the current session may, with the full
/// [`pqxdh::ratchet::session::MAX_MESSAGE_GAP`].
pub const ARCHIVED_MAX_GAP: u32 = 64;

/// Most parties one node simulates: each holds a KEM key pair (about 5 KB), so this bounds the
/// node's key memory to tens of megabytes.
pub const MAX_PARTIES: usize = 10_000;

/// Most peers one party keeps sessions with.
pub const MAX_PEERS_PER_PARTY: usize = 1_000;

/// Most sessions (current and archived) in the whole node: a session with a full skipped-key
/// store is about 140 KB, and most are far smaller.
pub const MAX_SESSIONS: usize = 100_000;

/// Most one-time prekeys of each kind a new party publishes: ids stay far below
/// `PreKeyId::MAX`, and generating them (a KEM key pair each) stays under a second.
pub const MAX_ONE_TIME_PREKEYS: u32 = 1_000;

/// Most external parties (recipients known only by the keys a request gave) the directory lists.
pub const MAX_EXTERNAL_PARTIES: usize = 10_000;

/// Signed prekey id named in the header of a classical X3DH handshake with an external party
/// given only as keys (no id was given; the node's own parties use id 1 too).
pub const EXTERNAL_SIGNED_PREKEY_ID: PreKeyId = 1;

/// Most log lines kept until [`Node::take_log`] collects them (older ones are dropped).
pub const MAX_LOG_LINES: usize = 64;

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
    /// Replay-record limits of each party's prekey store (when to rotate, when to refuse).
    pub replay_limits: ReplayLimits,
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
            replay_limits: ReplayLimits::default(),
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
    protocol: Protocol,
    /// Whether the peer's signed prekey signature was checked (`None` for the responder, whose
    /// own signed prekey it is).
    signed_prekey_verified: Option<bool>,
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
    /// Installs a new current session; returns the change in the number of sessions held.
    fn install(&mut self, entry: SessionEntry) -> usize {
        match self.current.replace(entry) {
            Some(old) => {
                self.archived.push_front(old);
                if self.archived.len() > MAX_ARCHIVED_SESSIONS {
                    self.archived.truncate(MAX_ARCHIVED_SESSIONS);
                    0
                } else {
                    1
                }
            }
            None => 1,
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

/// What the directory publishes for a party: its current bundle and unused one-time keys.
fn published(store: &PreKeyStore) -> Result<Published, NodeError> {
    let bundle = store
        .default_bundle()
        .map_err(|e| NodeError::new(ErrorCode::HandshakeFailed, e.to_string()))?;
    Ok(Published {
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
    })
}

/// The time a `--seed` run reads instead of the system clock (2026-01-01T00:00:00Z), so that
/// its output does not depend on when it runs.
pub const SEEDED_RUN_TIME: Timestamp = Timestamp(1_767_225_600);

impl NodeConfig {
    /// Now: the system clock, or [`SEEDED_RUN_TIME`] in a seeded run.
    fn now(&self) -> Timestamp {
        match self.seed {
            Some(_) => SEEDED_RUN_TIME,
            None => SystemClock.now(),
        }
    }
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
    /// Sessions installed in all parties (current and archived).
    sessions: usize,
    /// Full decrypt attempts made on archived sessions (for the bounded-work test).
    archived_attempts: u64,
    /// Log lines not yet collected by [`Node::take_log`].
    log: VecDeque<String>,
}

/// The recipient's public keys a new session is made from.
enum PeerKeys {
    /// A bundle with signatures and a PQ prekey: PQXDH.
    Bundle(PreKeyBundle),
    /// Only an identity key and an unsigned signed prekey: classical X3DH.
    Unsigned(UnsignedKeys),
}

/// The key fields of a `bob_public_key` object: each a key, or `None` if absent or a placeholder.
#[derive(Default)]
struct GivenKeys {
    identity_key: Option<PublicKey>,
    signed_prekey: Option<PublicKey>,
}

impl GivenKeys {
    /// Reads the key fields under their accepted names; a name's value must be a string, and two
    /// names of one key must not give different keys.
    fn parse(fields: &Map<String, Value>) -> Result<Self, NodeError> {
        let mut given = Self::default();
        for (name, value) in fields {
            let slot = match name.as_str() {
                "identity_key" | "identity" | "ik" | "IK" => &mut given.identity_key,
                "signed_pre_key" | "signed_prekey" | "spk" | "SPK" => &mut given.signed_prekey,
                _ => continue,
            };
            let Some(text) = value.as_str() else {
                return Err(NodeError::malformed(format!(
                    "`bob_public_key.{name}` is not a string"
                )));
            };
            if let Some(key) = decode_ec_key(text, name)? {
                if slot.is_some_and(|k| k != key) {
                    return Err(NodeError::new(
                        ErrorCode::BadKey,
                        format!("bob_public_key.{name} gives another key than its other name"),
                    ));
                }
                *slot = Some(key);
            }
        }
        Ok(given)
    }
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
            sessions: 0,
            archived_attempts: 0,
            log: VecDeque::new(),
        }
    }

    /// Takes the log lines written since the last call (the binary prints them to stderr).
    pub fn take_log(&mut self) -> Vec<String> {
        self.log.drain(..).collect()
    }

    fn log_line(&mut self, line: String) {
        if self.log.len() >= MAX_LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line);
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
            Some(body @ Value::Object(_)) => self.dispatch(first, src.as_deref(), body),
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

    fn init(&mut self, init: &Init<'_>) -> Reply {
        if let Some(id) = init.node_id.as_str() {
            self.node_id = id.to_owned();
        }
        if self.config.envelope == Envelope::Auto {
            self.full_envelopes = true;
        }
        Ok(("init_ok", Map::new()))
    }

    /// Reads a request body (an object) into its typed request and runs it; `init` is taken as
    /// Maelstrom's only on the first line.
    fn dispatch(&mut self, first: bool, src: Option<&str>, body: &Value) -> Reply {
        let kind = match body.get("type") {
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => return Err(NodeError::malformed("`body.type` is not a string")),
            None => return Err(NodeError::malformed("missing `body.type`")),
        };
        let unknown = || {
            NodeError::new(
                ErrorCode::NotSupported,
                format!("unknown message type `{kind}`"),
            )
        };
        // `type` is read first: serde would take a number there for a variant's index. Every
        // other field is read as a `request::Field`, which takes any value, so an object with a
        // string `type` always reads; the handlers then check the fields with their own texts.
        let request = Request::deserialize(body)
            .map_err(|e| NodeError::malformed(format!("malformed `body`: {e}")))?;
        match request {
            Request::Init(init) if first => return self.init(&init),
            Request::Init(_) | Request::Unknown => return Err(unknown()),
            _ => {}
        }
        let src = party_name(src, "src")?;
        if self.directory.is_external(src) {
            return Err(NodeError::new(
                ErrorCode::ExternalParty,
                format!("`{src}` is an external party: the node holds none of its private keys"),
            ));
        }
        match request {
            Request::InitiateConversation(r) => self.initiate_conversation(src, r),
            Request::SendMessage(r) => self.send_message(src, &r),
            Request::ReceiveMessage(r) => self.receive_message(src, &r),
            Request::GetBundle(r) => self.get_bundle(src, &r),
            Request::SessionInfo(r) => self.session_info(src, &r),
            Request::Init(_) | Request::Unknown => Err(unknown()),
        }
    }

    /// Creates a party with fresh keys and publishes its prekeys, if it does not exist yet (an
    /// external party exists already, outside the node).
    fn ensure_party(&mut self, name: &str) -> Result<(), NodeError> {
        if self.parties.contains_key(name) || self.directory.is_external(name) {
            return Ok(());
        }
        if self.parties.len() >= MAX_PARTIES {
            return Err(NodeError::new(
                ErrorCode::LimitReached,
                format!("the node already simulates {MAX_PARTIES} parties"),
            ));
        }
        if self.config.one_time_ec_prekeys > MAX_ONE_TIME_PREKEYS
            || self.config.one_time_pq_prekeys > MAX_ONE_TIME_PREKEYS
        {
            return Err(NodeError::new(
                ErrorCode::LimitReached,
                format!("at most {MAX_ONE_TIME_PREKEYS} one-time prekeys of each kind"),
            ));
        }
        let rng = &mut self.rng;
        let kem = self.config.kem;
        let internal =
            |e: pqxdh::primitives::kem::KemError| NodeError::new(ErrorCode::BadKey, e.to_string());
        let identity = IdentityKeyPair::generate(rng);
        let now = self.config.now();
        let mut store =
            PreKeyStore::generate_at(identity.clone(), kem, now, rng).map_err(internal)?;
        store.set_replay_limits(self.config.replay_limits);
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
        self.directory.publish(name, published(&store)?);
        self.parties.insert(
            name.to_owned(),
            Party {
                store,
                peers: BTreeMap::new(),
            },
        );
        Ok(())
    }

    fn initiate_conversation(&mut self, src: &str, request: InitiateConversation<'_>) -> Reply {
        let recipient = party_name(request.recipient.as_str(), "recipient")?;
        if recipient == src {
            return Err(NodeError::new(
                ErrorCode::NotAllowed,
                "a party cannot start a conversation with itself",
            ));
        }
        let plan = match request.bob_public_key {
            Field::Missing | Field::Null => Plan::Directory(GivenKeys::default()),
            Field::Given(fields) if fields.contains_key("pq_prekey") => {
                let bundle =
                    PreKeyBundle::from_json_value(&Value::Object(fields)).map_err(|e| {
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
                Plan::Given(PeerKeys::Bundle(bundle))
            }
            Field::Given(fields) => {
                let given = GivenKeys::parse(&fields)?;
                if self.directory.contains(recipient) {
                    Plan::Directory(given)
                } else {
                    match (given.identity_key, given.signed_prekey) {
                        (Some(identity_key), Some(signed_prekey)) => {
                            Plan::Given(PeerKeys::Unsigned(UnsignedKeys {
                                identity_key,
                                signed_prekey,
                            }))
                        }
                        (None, None) => Plan::Directory(given),
                        _ => {
                            return Err(NodeError::new(
                                ErrorCode::BadKey,
                                format!(
                                    "`{recipient}` is not in the directory: give both its identity key and signed prekey, its complete bundle, or placeholders"
                                ),
                            ));
                        }
                    }
                }
            }
            Field::Mistyped => {
                return Err(NodeError::malformed("`bob_public_key` is not an object"));
            }
        };
        self.ensure_party(src)?;
        let (keys, new_external) = match plan {
            Plan::Directory(given) => {
                // Placeholders for a never-seen recipient create it here.
                self.ensure_party(recipient)?;
                self.check_given_keys(recipient, &given)?;
                (self.directory_keys(recipient)?, false)
            }
            Plan::Given(keys) => {
                let new = !self.directory.contains(recipient);
                if new && self.directory.external_count() >= MAX_EXTERNAL_PARTIES {
                    return Err(NodeError::new(
                        ErrorCode::LimitReached,
                        format!(
                            "the directory already lists {MAX_EXTERNAL_PARTIES} external parties"
                        ),
                    ));
                }
                (keys, new)
            }
        };
        let (session_id, root_key) = self.start_session(src, recipient, &keys)?;
        if new_external {
            // The given keys are the recipient's published keys from now on.
            match keys {
                PeerKeys::Bundle(bundle) => self.directory.publish_external(recipient, &bundle),
                PeerKeys::Unsigned(unsigned) => {
                    self.directory.publish_unsigned(recipient, unsigned)
                }
            }
        }
        let mut out = Map::new();
        out.insert("session_id".into(), session_id.to_string().into());
        out.insert("root_key".into(), root_key.into());
        Ok(("conversation_initiated", out))
    }

    /// Checks the keys given for a recipient the directory knows: each must be the directory's
    /// (placeholders, like the task's "IK", "SPK", stand for the directory's and were dropped).
    fn check_given_keys(&self, recipient: &str, given: &GivenKeys) -> Result<(), NodeError> {
        let checks = [
            (
                "identity_key",
                given.identity_key,
                self.directory.identity_key(recipient),
            ),
            (
                "signed_pre_key",
                given.signed_prekey,
                self.directory.signed_prekey(recipient),
            ),
        ];
        for (name, given, known) in checks {
            if let Some(key) = given
                && known != Some(&key)
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

    /// The directory's keys for a new session with `recipient` (creating the party if it is new):
    /// a bundle, handing out its one-time prekeys, or an external party's unsigned keys.
    fn directory_keys(&mut self, recipient: &str) -> Result<PeerKeys, NodeError> {
        if let Some(unsigned) = self.directory.unsigned(recipient) {
            return Ok(PeerKeys::Unsigned(unsigned.clone()));
        }
        self.ensure_party(recipient)?;
        self.directory
            .fetch_bundle(recipient)
            .map(PeerKeys::Bundle)
            .ok_or_else(|| {
                NodeError::new(
                    ErrorCode::UnknownParty,
                    format!("no bundle for `{recipient}`"),
                )
            })
    }

    /// Refuses a new session between `party` and `peer` when a node limit is reached.
    fn check_room(&self, party: &str, peer: &str) -> Result<(), NodeError> {
        if self.sessions >= MAX_SESSIONS {
            return Err(NodeError::new(
                ErrorCode::LimitReached,
                format!("the node already holds {MAX_SESSIONS} sessions"),
            ));
        }
        if let Some(p) = self.parties.get(party)
            && !p.peers.contains_key(peer)
            && p.peers.len() >= MAX_PEERS_PER_PARTY
        {
            return Err(NodeError::new(
                ErrorCode::LimitReached,
                format!("`{party}` already has sessions with {MAX_PEERS_PER_PARTY} peers"),
            ));
        }
        Ok(())
    }

    /// Runs PQXDH (or, for an external party known only by unsigned keys, classical X3DH) from
    /// `src` to `recipient` and installs the new session. Returns its id and the handshake's root
    /// key in hex.
    fn start_session(
        &mut self,
        src: &str,
        recipient: &str,
        keys: &PeerKeys,
    ) -> Result<(SessionId, String), NodeError> {
        self.check_room(src, recipient)?;
        let party = self.parties.get_mut(src).ok_or_else(|| {
            NodeError::new(ErrorCode::UnknownParty, format!("unknown party `{src}`"))
        })?;
        let (established, protocol) = match keys {
            PeerKeys::Bundle(bundle) => (
                establish::initiate(
                    party.store.identity(),
                    bundle,
                    self.config.backend,
                    &mut self.rng,
                ),
                Protocol::Pqxdh,
            ),
            PeerKeys::Unsigned(unsigned) => (
                establish::initiate_x3dh_unsigned(
                    party.store.identity(),
                    &hs::UnsignedResponder {
                        identity_key: unsigned.identity_key,
                        signed_prekey: unsigned.signed_prekey,
                        signed_prekey_id: EXTERNAL_SIGNED_PREKEY_ID,
                    },
                    &mut self.rng,
                ),
                Protocol::X3dh,
            ),
        };
        let Established {
            session,
            session_id,
            handshake_root_key,
            kem,
        } = established.map_err(establish_error)?;
        self.sessions += party
            .peers
            .entry(recipient.to_owned())
            .or_default()
            .install(SessionEntry {
                id: session_id,
                session,
                kem,
                protocol,
                signed_prekey_verified: Some(protocol == Protocol::Pqxdh),
                role: Role::Initiator,
                sent: 0,
                received: 0,
            });
        if protocol == Protocol::X3dh {
            self.log_line(format!(
                "`{src}` -> `{recipient}`: classical X3DH, not PQXDH: `{recipient}` is known only by an identity key and a signed prekey with no signature and no PQ prekey, so the session is not post-quantum and the signed prekey is unverified"
            ));
        }
        Ok((session_id, hex::encode(handshake_root_key.as_bytes())))
    }

    fn send_message(&mut self, src: &str, request: &SendMessage<'_>) -> Reply {
        let recipient = party_name(request.recipient.as_str(), "recipient")?;
        let plaintext = request.plaintext.required("plaintext")?;
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
            let keys = self.directory_keys(recipient)?;
            self.start_session(src, recipient, &keys)?;
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

    fn receive_message(&mut self, src: &str, request: &ReceiveMessage<'_>) -> Reply {
        let sender = party_name(request.sender.as_str(), "sender")?;
        let message = request.encrypted_message.required("encrypted_message")?;
        let ciphertext = message
            .ciphertext
            .required("encrypted_message.ciphertext")?;
        let mut wire = BASE64.decode(ciphertext.as_bytes()).map_err(|_| {
            NodeError::new(
                ErrorCode::MalformedMessage,
                "`ciphertext` is not valid base64",
            )
        })?;
        let auth_tag = message.auth_tag.required("encrypted_message.auth_tag")?;
        let tag = hex::decode(auth_tag.as_bytes()).map_err(|_| {
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
        if header.is_some() {
            if sender_identity.is_none() {
                return Err(NodeError::new(
                    ErrorCode::UnknownParty,
                    format!("`{sender}` is not in the directory"),
                ));
            }
            self.check_room(src, sender)?;
        }
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
                    // The replay record of the current keys is nearly full: publish new
                    // last-resort keys (SPEC.md section 11); the retired ones still answer
                    // messages in flight until the retention period ends. A failed rotation
                    // keeps the current keys (the full record then refuses, never evicts).
                    let now = self.config.now();
                    if party.store.rotation_due() && party.store.rotate(now, &mut self.rng).is_ok()
                    {
                        party.store.prune(now, RETIRED_PREKEY_RETENTION);
                        if let Ok(bundle) = party.store.default_bundle() {
                            self.directory.republish_last_resort(
                                src,
                                bundle.signed_prekey,
                                bundle.pq_prekey,
                            );
                        }
                    }
                    let entry = SessionEntry {
                        id: established.session_id,
                        session: established.session,
                        kem: established.kem,
                        protocol: Protocol::Pqxdh,
                        signed_prekey_verified: None,
                        role: Role::Responder,
                        sent: 0,
                        received: 1,
                    };
                    self.sessions += party
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
                decrypt_any(peers, &wire, &mut self.archived_attempts)?
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

    fn get_bundle(&mut self, _src: &str, request: &GetBundle<'_>) -> Reply {
        let party = party_name(request.party.as_str(), "party")?;
        self.ensure_party(party)?;
        let mut out = Map::new();
        out.insert("party".into(), party.into());
        let complete = if let Some(unsigned) = self.directory.unsigned(party) {
            // What was given, in the bundle's encoding: no signature, no PQ prekey.
            out.insert("kem".into(), Value::Null);
            out.insert(
                "fingerprint".into(),
                pqxdh::handshake::identity::fingerprint(&unsigned.identity_key).into(),
            );
            out.insert(
                "bundle".into(),
                json!({
                    "identity_key": hex::encode(unsigned.identity_key.encode()),
                    "signed_prekey": {"key": hex::encode(unsigned.signed_prekey.encode())},
                }),
            );
            false
        } else {
            let bundle = self.directory.public_bundle(party).ok_or_else(|| {
                NodeError::new(ErrorCode::UnknownParty, format!("unknown party `{party}`"))
            })?;
            out.insert("kem".into(), bundle.pq_prekey.key.kem().name().into());
            out.insert(
                "fingerprint".into(),
                pqxdh::handshake::identity::fingerprint(&bundle.identity_key).into(),
            );
            out.insert("bundle".into(), bundle.to_json_value());
            true
        };
        out.insert("complete".into(), complete.into());
        out.insert("external".into(), self.directory.is_external(party).into());
        Ok(("bundle", out))
    }

    fn session_info(&mut self, src: &str, request: &SessionInfo<'_>) -> Reply {
        let peer = party_name(request.peer.as_str(), "peer")?;
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
            "protocol".into(),
            match entry.protocol {
                Protocol::Pqxdh => "pqxdh",
                Protocol::X3dh => "x3dh",
            }
            .into(),
        );
        out.insert(
            "signed_prekey_verified".into(),
            entry
                .signed_prekey_verified
                .map_or(Value::Null, Value::from),
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
/// error when none decrypts. Each attempt leaves its session unchanged on failure. An archived
/// session only tries a message on a receiving chain it has, at most [`ARCHIVED_MAX_GAP`] ahead.
fn decrypt_any(
    peers: &mut PeerSessions,
    wire: &[u8],
    attempts: &mut u64,
) -> Result<Vec<u8>, NodeError> {
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
        if !entry.session.knows_receiving_chain(wire, ARCHIVED_MAX_GAP) {
            continue;
        }
        *attempts = attempts.saturating_add(1);
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

/// Where `initiate_conversation` takes the recipient's keys from.
enum Plan {
    /// The directory's (created for a never-seen recipient); given keys must equal its keys.
    Directory(GivenKeys),
    /// The request's: a complete bundle, or an unknown recipient's identity key and signed prekey.
    Given(PeerKeys),
}

/// Shortest decoded value taken as an attempted key rather than a placeholder like "IK".
const MIN_KEY_LIKE_LEN: usize = 16;

/// A key field of `bob_public_key`: hex (with or without `0x`), base64 or base64url (padded or
/// not), surrounding spaces trimmed. 32 bytes `u` or 33 bytes `0x05 || u` is a key; another
/// length of [`MIN_KEY_LIKE_LEN`] bytes or more is a malformed key; anything else is a
/// placeholder (`Ok(None)`).
fn decode_ec_key(text: &str, field: &str) -> Result<Option<PublicKey>, NodeError> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let unprefixed = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let bytes = hex::decode(unprefixed)
        .ok()
        .or_else(|| BASE64.decode(text).ok())
        .or_else(|| STANDARD_NO_PAD.decode(text).ok())
        .or_else(|| URL_SAFE.decode(text).ok())
        .or_else(|| URL_SAFE_NO_PAD.decode(text).ok());
    let Some(bytes) = bytes else {
        return Ok(None);
    };
    let bad =
        |why: String| NodeError::new(ErrorCode::BadKey, format!("bob_public_key.{field}: {why}"));
    match bytes.len() {
        33 if bytes.first() == Some(&0x05) => PublicKey::decode(&bytes)
            .map(Some)
            .map_err(|e| bad(e.to_string())),
        32 => PublicKey::from_slice(&bytes)
            .map(Some)
            .map_err(|e| bad(e.to_string())),
        n if n >= MIN_KEY_LIKE_LEN => Err(bad(format!(
            "{n} bytes is not an X25519 key (32 bytes, or 33 starting 0x05)"
        ))),
        _ => Ok(None),
    }
}

fn decrypt_error(e: DecryptError) -> NodeError {
    let code = match &e {
        DecryptError::InvalidTag | DecryptError::UnexpectedRatchetKey => {
            ErrorCode::AuthenticationFailed
        }
        DecryptError::Duplicate => ErrorCode::Duplicate,
        DecryptError::TooFarAhead => ErrorCode::TooFarAhead,
        _ => ErrorCode::MalformedMessage,
    };
    NodeError::new(code, e.to_string())
}

fn establish_error(e: EstablishError) -> NodeError {
    match e {
        EstablishError::Decrypt(d) => decrypt_error(d),
        EstablishError::Replay(r @ ReplayError::Replay) => {
            NodeError::new(ErrorCode::Replay, r.to_string())
        }
        EstablishError::Replay(r) => NodeError::new(ErrorCode::LimitReached, r.to_string()),
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn req(node: &mut Node, src: &str, body: Value) -> Value {
        let line = json!({"src": src, "dest": "e2ee", "body": body}).to_string();
        serde_json::from_str(&node.handle_line(&line)).unwrap()
    }

    fn wire_of(m: &Value) -> Vec<u8> {
        let mut w = BASE64.decode(m["ciphertext"].as_str().unwrap()).unwrap();
        w.extend(hex::decode(m["auth_tag"].as_str().unwrap()).unwrap());
        w
    }

    fn message_of(wire: &[u8]) -> Value {
        let (c, t) = wire.split_at(wire.len() - TAG_LEN);
        json!({"ciphertext": BASE64.encode(c), "auth_tag": hex::encode(t)})
    }

    #[test]
    fn a_forged_message_is_not_tried_on_archived_sessions() {
        let mut node = Node::new(NodeConfig {
            seed: Some(7),
            ..NodeConfig::default()
        });
        let mut in_flight = None;
        for i in 0..=MAX_ARCHIVED_SESSIONS {
            let r = req(
                &mut node,
                "alice",
                json!({"type": "initiate_conversation", "recipient": "bob"}),
            );
            assert_eq!(r["type"], "conversation_initiated", "{r}");
            let send = json!({"type": "send_message", "recipient": "bob", "plaintext": "m"});
            let m = req(&mut node, "alice", send.clone());
            let r = req(
                &mut node,
                "bob",
                json!({"type": "receive_message", "sender": "alice", "encrypted_message": m["encrypted_message"]}),
            );
            assert_eq!(r["type"], "message_decrypted", "{r}");
            // Bob replies so that Alice's later messages are normal messages.
            let reply = req(
                &mut node,
                "bob",
                json!({"type": "send_message", "recipient": "alice", "plaintext": "r"}),
            );
            let r = req(
                &mut node,
                "alice",
                json!({"type": "receive_message", "sender": "bob", "encrypted_message": reply["encrypted_message"]}),
            );
            assert_eq!(r["type"], "message_decrypted", "{r}");
            if i == 0 {
                // Alice's new chain reaches Bob once; its next message, sent on the first
                // session, is delivered after 40 newer sessions.
                let m = req(&mut node, "alice", send.clone());
                let r = req(
                    &mut node,
                    "bob",
                    json!({"type": "receive_message", "sender": "alice", "encrypted_message": m["encrypted_message"]}),
                );
                assert_eq!(r["type"], "message_decrypted", "{r}");
                in_flight = Some(req(&mut node, "alice", send)["encrypted_message"].clone());
            }
        }
        let info = req(
            &mut node,
            "bob",
            json!({"type": "session_info", "peer": "alice"}),
        );
        assert_eq!(info["archived_sessions"], MAX_ARCHIVED_SESSIONS);

        // A fresh (valid) ratchet key, counters at the skip limit, a random body.
        let fresh = pqxdh::primitives::keys::KeyPair::generate(&mut node.rng);
        let gap = pqxdh::ratchet::session::MAX_MESSAGE_GAP;
        let mut forged = pqxdh::ratchet::message::normal_header(
            fresh.public_key(),
            gap,
            gap,
            &[0x5a; pqxdh::ratchet::message::SALT_LEN],
        )
        .to_vec();
        forged.extend([0x5a; 20]);
        let before = node.archived_attempts;
        let r = req(
            &mut node,
            "bob",
            json!({"type": "receive_message", "sender": "alice", "encrypted_message": message_of(&forged)}),
        );
        assert_eq!(r["type"], "error", "{r}");
        assert_eq!(
            node.archived_attempts, before,
            "no archived session tried it"
        );

        // The in-flight message on the oldest archived session still decrypts.
        let m = in_flight.unwrap();
        assert!(wire_of(&m).len() > TAG_LEN);
        let r = req(
            &mut node,
            "bob",
            json!({"type": "receive_message", "sender": "alice", "encrypted_message": m}),
        );
        assert_eq!(r["plaintext"], "m", "{r}");
        assert_eq!(node.archived_attempts, before + 1);
    }

    /// Each field read as a typed request keeps the code and text of its own check, in the
    /// order the handlers check them.
    #[test]
    fn typed_fields_keep_their_error_texts() {
        let mut node = Node::new(NodeConfig {
            seed: Some(10),
            ..NodeConfig::default()
        });
        // Whole bodies, then `encrypted_message` values of a `receive_message` from alice.
        #[rustfmt::skip]
        let bodies = [
            (r#"{"type": 0}"#, 12, "`body.type` is not a string"),
            (r#"{"type": null}"#, 12, "`body.type` is not a string"),
            (r#"{"recipient": "bob"}"#, 12, "missing `body.type`"),
            (r#"{"type": "init", "node_id": "n"}"#, 10, "unknown message type `init`"),
            (r#"{"type": "Get_bundle"}"#, 10, "unknown message type `Get_bundle`"),
            (r#"{"type": "send_message", "recipient": 5}"#, 12, "missing or non-string `recipient`"),
            (r#"{"type": "send_message", "recipient": ""}"#, 12, "`recipient` is empty"),
            (r#"{"type": "send_message", "recipient": "bob"}"#, 12, "missing `plaintext`"),
            (r#"{"type": "send_message", "recipient": "b", "plaintext": null}"#, 12,
                "`plaintext` is not a string"),
            (r#"{"type": "send_message", "recipient": "b", "plaintext": [""]}"#, 12,
                "`plaintext` is not a string"),
            (r#"{"type": "initiate_conversation", "recipient": "b", "bob_public_key": []}"#, 12,
                "`bob_public_key` is not an object"),
            (r#"{"type": "initiate_conversation", "recipient": "b", "bob_public_key": {"ik": {}}}"#,
                12, "`bob_public_key.ik` is not a string"),
            (r#"{"type": "receive_message", "sender": "alice"}"#, 12, "missing `encrypted_message`"),
            (r#"{"type": "receive_message", "sender": 1, "encrypted_message": {}}"#, 12,
                "missing or non-string `sender`"),
            (r#"{"type": "get_bundle", "party": {"name": "bob"}}"#, 12, "missing or non-string `party`"),
            (r#"{"type": "session_info", "peer": null}"#, 12, "missing or non-string `peer`"),
        ];
        #[rustfmt::skip]
        let messages = [
            ("null", 12, "`encrypted_message` is not an object"),
            (r#"{"auth_tag": "00"}"#, 12, "missing `encrypted_message.ciphertext`"),
            (r#"{"ciphertext": 5}"#, 12, "`encrypted_message.ciphertext` is not a string"),
            // The ciphertext is decoded before the tag is looked at.
            (r#"{"ciphertext": "!!"}"#, 1006, "`ciphertext` is not valid base64"),
            (r#"{"ciphertext": "AAAA", "auth_tag": false}"#, 12,
                "`encrypted_message.auth_tag` is not a string"),
            (r#"{"ciphertext": "AAAA", "auth_tag": "zz"}"#, 1006, "`auth_tag` is not valid hex"),
        ];
        let messages = messages.map(|(m, code, text)| {
            let body = format!(
                r#"{{"type": "receive_message", "sender": "alice", "encrypted_message": {m}}}"#
            );
            (body, code, text)
        });
        // A first line that is not `init` leaves `init` an unknown type for later lines.
        let first = req(
            &mut node,
            "alice",
            json!({"type": "get_bundle", "party": "bob"}),
        );
        assert_eq!(first["type"], "bundle", "{first}");
        let bodies = bodies.map(|(b, code, text)| (b.to_owned(), code, text));
        for (body, code, text) in bodies.into_iter().chain(messages) {
            let r = req(&mut node, "alice", serde_json::from_str(&body).unwrap());
            assert_eq!(r["code"], code, "{body} -> {r}");
            assert_eq!(r["text"], text, "{body} -> {r}");
        }
        // Absent and null `bob_public_key` both mean the directory's keys; unknown fields of any
        // shape are ignored.
        for body in [
            json!({"type": "initiate_conversation", "recipient": "bob"}),
            json!({"type": "initiate_conversation", "recipient": "bob", "bob_public_key": null,
                "extra": [{"a": [1, 2]}, null]}),
        ] {
            let r = req(&mut node, "alice", body);
            assert_eq!(r["type"], "conversation_initiated", "{r}");
        }
    }

    #[test]
    fn node_limits_are_enforced() {
        let mut node = Node::new(NodeConfig {
            seed: Some(8),
            one_time_ec_prekeys: MAX_ONE_TIME_PREKEYS + 1,
            ..NodeConfig::default()
        });
        let r = req(
            &mut node,
            "alice",
            json!({"type": "get_bundle", "party": "alice"}),
        );
        assert_eq!(r["code"], 1011, "{r}");
        let mut node = Node::new(NodeConfig {
            seed: Some(9),
            ..NodeConfig::default()
        });
        node.sessions = MAX_SESSIONS;
        let r = req(
            &mut node,
            "alice",
            json!({"type": "initiate_conversation", "recipient": "bob"}),
        );
        assert_eq!(r["code"], 1011, "{r}");
    }
}
