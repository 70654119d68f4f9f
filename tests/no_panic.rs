//! Every parser and every entry point that takes bytes from the outside, fed random bytes and
//! mutations of valid inputs: none may panic, failures leave state unchanged, and whatever is
//! accepted is exactly what was sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::io::Read;
use std::sync::LazyLock;

use common::{OPK_ID, bundle_with_opk, conversation, parties};
use pqxdh::ratchet::{Session, WireMessage};
use pqxdh::sessions::establish;
use pqxdh::{Backend, InitialHeader, KemType, PreKeyBundle, PreKeyStore};
use pqxdh_files::armor::{ArmorReader, ArmorWriter};
use pqxdh_files::identity_file::{self, KdfParams, Protection};
use pqxdh_files::{self as files, FileHeader};
use pqxdh_node::{Node, NodeConfig};
use proptest::prelude::*;
use serde_json::Value;

const CASES: u32 = 256;
const PLAINTEXT: &[u8] = b"a message for Bob";
const FILE_PLAINTEXT: &[u8] = &[0x42; 700];
const PASSPHRASE: &[u8] = b"correct horse";
/// Bytes 10..22 of a protected identity file are the Argon2id parameters: mutating them could
/// ask for a gigabyte of memory (within the format's limits), so those mutations are skipped.
const KDF_PARAMS: std::ops::Range<usize> = 10..22;

struct Fixture {
    /// Bob's prekey store before the handshake.
    store: PreKeyStore,
    /// Alice's first (pre-key) message.
    prekey_wire: Vec<u8>,
    /// Its initial header.
    header: Vec<u8>,
    /// Bob's saved session after the handshake and a reply.
    bob_state: Vec<u8>,
    /// A normal message from Alice that Bob has not decrypted yet.
    normal_wire: Vec<u8>,
    bundle_json: String,
    sealed: Vec<u8>,
    armored: Vec<u8>,
    identity: Vec<u8>,
    protected_identity: Vec<u8>,
    /// Requests to the node: the two that set it up, then others to mutate.
    node_setup: Vec<String>,
    node_lines: Vec<String>,
}

const NODE_SEED: u64 = 11;

fn node() -> Node {
    Node::new(NodeConfig {
        seed: Some(NODE_SEED),
        ..NodeConfig::default()
    })
}

fn request(src: &str, body: Value) -> String {
    serde_json::json!({"src": src, "dest": "e2ee", "body": body}).to_string()
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let (mut rng, alice, store) = parties(30, KemType::MlKem1024);
    let bundle = bundle_with_opk(&store);
    let mut a = establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rng).unwrap();
    let prekey_wire = a.session.encrypt(PLAINTEXT, &mut rng).unwrap();
    let header = WireMessage::parse(&prekey_wire)
        .unwrap()
        .prekey_header()
        .unwrap()
        .to_vec();

    let mut c = conversation(31);
    let normal_wire = c.alice.encrypt(PLAINTEXT, &mut c.rng).unwrap();

    let mut sealed = Vec::new();
    files::encrypt(
        &alice,
        &[store.default_bundle().unwrap()],
        files::EncryptOptions { segment_size: 256 },
        FILE_PLAINTEXT,
        &mut sealed,
        &mut rng,
    )
    .unwrap();
    let mut writer = ArmorWriter::new(Vec::new()).unwrap();
    std::io::Write::write_all(&mut writer, &sealed).unwrap();
    let armored = writer.finish().unwrap();

    let identity = identity_file::encode(&store, Protection::None, &mut rng).unwrap();
    let protected_identity = identity_file::encode(
        &store,
        Protection::Passphrase {
            passphrase: PASSPHRASE,
            params: KdfParams::INSECURE_FAST,
        },
        &mut rng,
    )
    .unwrap();

    let node_setup = vec![
        request(
            "alice",
            serde_json::json!({"type": "initiate_conversation", "msg_id": 1, "recipient": "bob",
                "bob_public_key": {"identity_key": "IK", "signed_pre_key": "SPK"}}),
        ),
        request(
            "alice",
            serde_json::json!({"type": "send_message", "msg_id": 2, "recipient": "bob",
                "plaintext": "hello"}),
        ),
    ];
    let mut n = node();
    let replies: Vec<Value> = node_setup
        .iter()
        .map(|l| serde_json::from_str(&n.handle_line(l)).unwrap())
        .collect();
    let message = replies[1]["encrypted_message"].clone();
    assert!(message["ciphertext"].is_string(), "{replies:?}");
    let bundle_reply: Value = serde_json::from_str(&n.handle_line(&request(
        "carol",
        serde_json::json!({"type": "get_bundle", "msg_id": 3, "party": "bob"}),
    )))
    .unwrap();
    let node_lines = vec![
        request(
            "bob",
            serde_json::json!({"type": "receive_message", "msg_id": 4, "sender": "alice",
                "encrypted_message": message}),
        ),
        request(
            "carol",
            serde_json::json!({"type": "initiate_conversation", "msg_id": 5, "recipient": "bob",
                "bob_public_key": bundle_reply["bundle"]}),
        ),
        request(
            "alice",
            serde_json::json!({"type": "session_info", "msg_id": 6, "peer": "bob"}),
        ),
        serde_json::json!({"src": "c1", "dest": "e2ee", "body": {"type": "init", "msg_id": 1,
            "node_id": "e2ee", "node_ids": ["e2ee"]}})
        .to_string(),
    ];
    // The requests are valid: on a node set up the same way, Bob decrypts Alice's message.
    let mut check = node();
    for line in &node_setup {
        check.handle_line(line);
    }
    let reply: Value = serde_json::from_str(&check.handle_line(&node_lines[0])).unwrap();
    assert_eq!(reply["plaintext"], "hello", "{reply}");
    let reply: Value = serde_json::from_str(&check.handle_line(&node_lines[1])).unwrap();
    assert_eq!(reply["type"], "conversation_initiated", "{reply}");
    Fixture {
        store,
        prekey_wire,
        header,
        bob_state: c.bob.to_bytes().to_vec(),
        normal_wire,
        bundle_json: bundle.to_json(),
        sealed,
        armored,
        identity: identity.to_vec(),
        protected_identity: protected_identity.to_vec(),
        node_setup,
        node_lines,
    }
});

/// One edit of a byte string; positions are taken modulo the length.
#[derive(Debug, Clone)]
enum Edit {
    Xor(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Edit::Xor(i, x)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Edit::Set(i, b)),
        1 => (any::<usize>(), prop::collection::vec(any::<u8>(), 1..40))
            .prop_map(|(i, v)| Edit::Insert(i, v)),
        1 => (any::<usize>(), 1..64usize).prop_map(|(i, n)| Edit::Remove(i, n)),
        1 => any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(base: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = base.to_vec();
    for e in edits {
        let len = out.len().max(1);
        match e {
            Edit::Xor(i, x) => {
                if let Some(b) = out.get_mut(i % len) {
                    *b ^= x;
                }
            }
            Edit::Set(i, v) => {
                if let Some(b) = out.get_mut(i % len) {
                    *b = *v;
                }
            }
            Edit::Insert(i, v) => {
                let at = i % (out.len() + 1);
                out.splice(at..at, v.iter().copied());
            }
            Edit::Remove(i, n) => {
                let at = i % len;
                let end = (at + n).min(out.len());
                if at < end {
                    out.drain(at..end);
                }
            }
            Edit::Truncate(i) => out.truncate(i % len),
        }
    }
    out
}

fn edits() -> impl Strategy<Value = Vec<Edit>> {
    prop::collection::vec(edit(), 1..4)
}

fn random_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..2048)
}

/// Random bytes or an edited copy of `base`.
fn hostile(base: fn(&Fixture) -> &[u8]) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        random_bytes(),
        edits().prop_map(move |e| apply(base(&FIXTURE), &e)),
    ]
}

/// Random text, or an edited copy of a valid JSON document (made valid UTF-8 again).
fn hostile_text(base: fn(&Fixture) -> Vec<String>) -> impl Strategy<Value = String> {
    let n = base(&FIXTURE).len();
    prop_oneof![
        ".{0,300}",
        (0..n, edits()).prop_map(move |(i, e)| {
            String::from_utf8_lossy(&apply(base(&FIXTURE)[i].as_bytes(), &e)).into_owned()
        }),
        (0..n, json_path_edit()).prop_map(move |(i, (path, value))| {
            let mut doc: Value = serde_json::from_str(&base(&FIXTURE)[i]).unwrap();
            replace_at(&mut doc, &path, value);
            doc.to_string()
        }),
    ]
}

/// A path into a JSON document (object keys chosen by index) and a value to put there.
fn json_path_edit() -> impl Strategy<Value = (Vec<usize>, Value)> {
    (prop::collection::vec(any::<usize>(), 1..4), json_value())
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9a-fA-F]{0,80}".prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Replaces the value reached by following `path` (each step picks a member or element by index,
/// stopping at a leaf) with `value`.
fn replace_at(doc: &mut Value, path: &[usize], value: Value) {
    let Some((step, rest)) = path.split_first() else {
        *doc = value;
        return;
    };
    match doc {
        Value::Object(m) if !m.is_empty() => {
            let key = m.keys().nth(step % m.len()).unwrap().clone();
            replace_at(m.get_mut(&key).unwrap(), rest, value);
        }
        Value::Array(a) if !a.is_empty() => {
            let len = a.len();
            replace_at(&mut a[step % len], rest, value);
        }
        _ => *doc = value,
    }
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn wire_message_parse(bytes in hostile(|f| &f.prekey_wire)) {
        // Whatever parses is canonical: it serializes back to the same bytes.
        if let Ok(m) = WireMessage::parse(&bytes) {
            prop_assert_eq!(m.to_bytes(), bytes);
        }
    }

    #[test]
    fn session_decrypt_leaves_state_unchanged_on_error(
        bytes in prop_oneof![hostile(|f| &f.normal_wire), hostile(|f| &f.prekey_wire)]
    ) {
        let mut bob = Session::from_bytes(&FIXTURE.bob_state).unwrap();
        match bob.decrypt(&bytes) {
            Ok(plaintext) => {
                prop_assert_eq!(&bytes, &FIXTURE.normal_wire);
                prop_assert_eq!(plaintext, PLAINTEXT);
            }
            Err(_) => prop_assert_eq!(&*bob.to_bytes(), &FIXTURE.bob_state[..]),
        }
        // The genuine message still decrypts afterwards.
        prop_assert_eq!(bob.decrypt(&FIXTURE.normal_wire).is_ok(), bytes != FIXTURE.normal_wire);
    }

    #[test]
    fn initial_header_from_bytes(bytes in hostile(|f| &f.header)) {
        if let Ok(h) = InitialHeader::from_bytes(&bytes) {
            prop_assert_eq!(h.to_bytes(), bytes);
        }
    }

    #[test]
    fn establish_accept(bytes in hostile(|f| &f.prekey_wire)) {
        let mut store = FIXTURE.store.clone();
        match establish::accept(&mut store, &bytes, Backend::Libcrux) {
            Ok((_, plaintext)) => {
                prop_assert_eq!(&bytes, &FIXTURE.prekey_wire);
                prop_assert_eq!(plaintext, PLAINTEXT);
            }
            Err(_) => prop_assert!(store.one_time_prekey(OPK_ID).is_some()),
        }
    }

    #[test]
    fn bundle_from_json(text in hostile_text(|f| vec![f.bundle_json.clone()])) {
        if let Ok(bundle) = PreKeyBundle::from_json(&text)
            && bundle.verify().is_ok()
        {
            let alice = pqxdh::IdentityKeyPair::generate(&mut rand::rng());
            // A verified bundle may still name keys that give zero DH outputs: a typed error.
            let _ = establish::initiate(&alice, &bundle, Backend::Libcrux, &mut rand::rng());
        }
    }

    #[test]
    fn file_header_and_decrypt(bytes in hostile(|f| &f.sealed)) {
        let _ = FileHeader::read_from(&mut &bytes[..]);
        let mut out = Vec::new();
        if files::decrypt(&FIXTURE.store, &bytes[..], &mut out).is_ok() {
            prop_assert_eq!(&bytes, &FIXTURE.sealed);
            prop_assert_eq!(out, FILE_PLAINTEXT);
        }
    }

    #[test]
    fn armor_reader(bytes in hostile(|f| &f.armored)) {
        let mut decoded = Vec::new();
        if ArmorReader::new(&bytes[..]).read_to_end(&mut decoded).is_ok() && bytes == FIXTURE.armored {
            prop_assert_eq!(decoded, FIXTURE.sealed.clone());
        }
    }

    #[test]
    fn identity_file_decode(
        bytes in hostile(|f| &f.identity),
        protected_edits in edits(),
    ) {
        let _ = identity_file::decode(&bytes, None);
        let _ = identity_file::decode(&bytes, Some(PASSPHRASE));
        let edits_params = protected_edits.iter().any(|e| match e {
            Edit::Xor(i, _) | Edit::Set(i, _) => {
                KDF_PARAMS.contains(&(i % FIXTURE.protected_identity.len()))
            }
            _ => true,
        });
        if !edits_params {
            // Any change to the sealed file is refused.
            let bytes = apply(&FIXTURE.protected_identity, &protected_edits);
            let result = identity_file::decode(&bytes, Some(PASSPHRASE));
            prop_assert_eq!(result.is_ok(), bytes == FIXTURE.protected_identity);
        }
    }

    #[test]
    fn node_replies_with_one_json_line(
        text in hostile_text(|f| f.node_lines.clone()),
        setup in any::<bool>(),
    ) {
        let mut n = node();
        if setup {
            for line in &FIXTURE.node_setup {
                n.handle_line(line);
            }
        }
        let reply = n.handle_line(&text);
        prop_assert!(!reply.contains('\n'), "{}", reply);
        let value: Value = serde_json::from_str(&reply).unwrap();
        let body = value.get("body").unwrap_or(&value);
        prop_assert!(body["type"].is_string(), "{}", reply);
        // The node keeps serving.
        let again: Value = serde_json::from_str(&n.handle_line(&FIXTURE.node_lines[2])).unwrap();
        let body = again.get("body").unwrap_or(&again);
        prop_assert!(body["type"].is_string());
    }
}
