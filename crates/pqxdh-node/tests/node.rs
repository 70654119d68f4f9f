//! The node driven as a real subprocess: the task's sample cases, multi-party conversations,
//! hostile lines.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

const NODE: &str = env!("CARGO_BIN_EXE_pqxdh-node");

struct Node {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    next_id: u64,
}

impl Node {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(NODE)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
            next_id: 1,
        }
    }

    fn raw(&mut self, line: &str) -> String {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
        let mut reply = String::new();
        self.stdout.read_line(&mut reply).unwrap();
        assert!(reply.ends_with('\n'), "no reply line for {line:.80}");
        reply.trim_end().to_owned()
    }

    fn req(&mut self, src: &str, mut body: Value) -> Value {
        body["msg_id"] = self.next_id.into();
        self.next_id += 1;
        let line = json!({"src": src, "dest": "e2ee", "body": body}).to_string();
        let reply: Value = serde_json::from_str(&self.raw(&line)).unwrap();
        assert_eq!(reply["in_reply_to"], body["msg_id"], "{reply}");
        reply
    }

    fn send(&mut self, from: &str, to: &str, text: &str) -> Value {
        let r = self.req(
            from,
            json!({"type": "send_message", "recipient": to, "plaintext": text}),
        );
        assert_eq!(r["type"], "message_encrypted", "{r}");
        r["encrypted_message"].clone()
    }

    fn receive(&mut self, at: &str, from: &str, message: &Value) -> Value {
        self.req(
            at,
            json!({"type": "receive_message", "sender": from, "encrypted_message": message}),
        )
    }

    fn expect_text(&mut self, at: &str, from: &str, message: &Value, text: &str) {
        let r = self.receive(at, from, message);
        assert_eq!(r["type"], "message_decrypted", "{r}");
        assert_eq!(r["plaintext"], text);
    }

    fn expect_error(&mut self, at: &str, from: &str, message: &Value, code: u64) {
        let r = self.receive(at, from, message);
        assert_eq!(r["type"], "error", "{r}");
        assert_eq!(r["code"], code, "{r}");
    }

    /// `src` starts a session with `recipient`, giving `keys` as `bob_public_key`.
    fn initiate_with(&mut self, src: &str, recipient: &str, keys: Value) -> Value {
        self.req(
            src,
            json!({"type": "initiate_conversation", "recipient": recipient, "bob_public_key": keys}),
        )
    }

    /// `src` starts a session with the outsider `recipient` through placeholders (the keys the
    /// directory lists for it) and sends `text`, which `outsider` decrypts.
    fn reach_through_placeholders(
        &mut self,
        src: &str,
        recipient: &str,
        outsider: &mut Outsider,
        require_pq: bool,
        text: &str,
    ) -> Value {
        let r = self.initiate_with(
            src,
            recipient,
            json!({"identity_key": "IK", "signed_pre_key": "SPK"}),
        );
        assert_eq!(r["type"], "conversation_initiated", "{r}");
        let m = self.send(src, recipient, text);
        assert_eq!(outsider.decrypt(&m, require_pq).unwrap(), text.as_bytes());
        m
    }

    fn finish(mut self) {
        drop(self.stdin.take());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        assert_eq!(rest, "", "no output after the last reply");
        assert!(self.child.wait().unwrap().success());
    }
}

#[test]
fn task_sample_cases_pass_the_published_checker() {
    let out = Command::new("python3")
        .args(["tests/grader/check.py", "--", NODE])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
}

/// The keys of a reply object, in order.
fn keys_of(reply: &Value) -> Vec<&str> {
    reply
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Checks that `line` is a `conversation_initiated` reply to message 1 in the task's exact form,
/// and returns it parsed.
fn initiated_reply(line: &str) -> Value {
    assert!(
        line.starts_with(r#"{"type": "conversation_initiated", "in_reply_to": 1, "session_id": ""#),
        "{line}"
    );
    let reply: Value = serde_json::from_str(line).unwrap();
    assert_eq!(
        keys_of(&reply),
        ["type", "in_reply_to", "session_id", "root_key"]
    );
    reply
}

#[test]
fn sample_reply_lines_have_the_exact_form() {
    let mut node = Node::start(&[]);
    let line = node.raw(r#"{"src": "alice", "dest": "e2ee", "body": {"type": "initiate_conversation", "msg_id": 1, "recipient": "bob", "bob_public_key": {"identity_key": "IK", "signed_pre_key": "SPK"}}}"#);
    let reply = initiated_reply(&line);
    let id = reply["session_id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 8);
    assert_eq!(
        hex::decode(reply["root_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let line = node.raw(r#"{"src": "alice", "dest": "e2ee", "body": {"type": "send_message", "msg_id": 2, "recipient": "bob", "plaintext": "Secret message"}}"#);
    assert!(line.starts_with(
        r#"{"type": "message_encrypted", "in_reply_to": 2, "encrypted_message": {"ciphertext": ""#
    ));
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        reply["encrypted_message"]["auth_tag"]
            .as_str()
            .unwrap()
            .len(),
        32
    );
    node.finish();
}

#[test]
fn three_parties_talk_in_every_direction() {
    let mut node = Node::start(&[]);
    let big = "x".repeat(1 << 20);
    for (a, b) in [("alice", "bob"), ("bob", "carol"), ("carol", "alice")] {
        let first = node.send(a, b, "hello");
        node.expect_text(b, a, &first, "hello");
        for round in 0..3 {
            let m = node.send(b, a, &format!("reply {round} ✓ 日本語"));
            node.expect_text(a, b, &m, &format!("reply {round} ✓ 日本語"));
            let m = node.send(a, b, "");
            node.expect_text(b, a, &m, "");
        }
        let m = node.send(a, b, &big);
        node.expect_text(b, a, &m, &big);
    }
    let info = node.req("alice", json!({"type": "session_info", "peer": "bob"}));
    assert_eq!(info["type"], "session_info", "{info}");
    assert_eq!(info["role"], "initiator");
    assert_eq!(info["kem"], "ml-kem-1024");
    assert_eq!(info["messages_sent"], 5);
    assert_eq!(info["messages_received"], 3);
    assert_eq!(info["sends_prekey_messages"], false);
    node.finish();
}

#[test]
fn out_of_order_replay_and_tampering() {
    let mut node = Node::start(&["--kem", "kyber1024"]);
    let init = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob"}),
    );
    assert_eq!(init["type"], "conversation_initiated");
    let messages: Vec<Value> = (0..6)
        .map(|i| node.send("alice", "bob", &format!("m{i}")))
        .collect();
    // Tampered copies of the first (pre-key) message and of a later one fail and change nothing.
    for (index, field) in [(0, "auth_tag"), (3, "ciphertext"), (3, "auth_tag")] {
        let mut bad = messages[index].clone();
        let text = bad[field].as_str().unwrap().to_owned();
        let flipped = if field == "auth_tag" {
            format!(
                "{}{}",
                if text.starts_with('0') { "1" } else { "0" },
                &text[1..]
            )
        } else {
            let mut bytes = base64_decode(&text);
            let last = bytes.len() - 1;
            bytes[last] ^= 0x01;
            base64_encode(&bytes)
        };
        bad[field] = flipped.into();
        node.expect_error("bob", "alice", &bad, 1001);
    }
    for i in [4, 1, 5, 0, 2, 3] {
        node.expect_text("bob", "alice", &messages[i], &format!("m{i}"));
    }
    for m in &messages {
        node.expect_error("bob", "alice", m, 1003);
    }
    let info = node.req("bob", json!({"type": "session_info", "peer": "alice"}));
    assert_eq!(info["kem"], "kyber1024");
    assert_eq!(info["skipped_message_keys"], 0);
    assert_eq!(info["messages_received"], 6);
    let reply = node.send("bob", "alice", "ok");
    node.expect_text("alice", "bob", &reply, "ok");
    node.finish();
}

#[test]
fn a_new_session_keeps_messages_in_flight_decryptable() {
    let mut node = Node::start(&["--one-time-prekeys", "3", "--one-time-pq-prekeys", "2"]);
    let first = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob"}),
    );
    let old = node.send("alice", "bob", "under the first session");
    let second = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob"}),
    );
    assert_ne!(first["session_id"], second["session_id"]);
    assert_ne!(first["root_key"], second["root_key"]);
    let new = node.send("alice", "bob", "under the second session");
    node.expect_text("bob", "alice", &new, "under the second session");
    node.expect_text("bob", "alice", &old, "under the first session");
    let info = node.req("bob", json!({"type": "session_info", "peer": "alice"}));
    assert_eq!(
        info["session_id"], first["session_id"],
        "the newest accepted session is current"
    );
    assert_eq!(info["archived_sessions"], 1);
    assert_eq!(
        (
            &info["role"],
            &info["protocol"],
            &info["signed_prekey_verified"]
        ),
        (&json!("responder"), &json!("pqxdh"), &Value::Null),
        "a responder's signed prekey is its own: {info}"
    );
    let info = node.req("alice", json!({"type": "session_info", "peer": "bob"}));
    assert_eq!(
        (
            &info["role"],
            &info["protocol"],
            &info["signed_prekey_verified"]
        ),
        (&json!("initiator"), &json!("pqxdh"), &json!(true)),
        "{info}"
    );
    node.finish();
}

#[test]
fn keys_given_by_the_requester_are_checked() {
    let mut node = Node::start(&[]);
    let bundle = node.req("bob", json!({"type": "get_bundle", "party": "bob"}));
    assert_eq!(bundle["type"], "bundle", "{bundle}");
    let ik = bundle["bundle"]["identity_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let spk = bundle["bundle"]["signed_prekey"]["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let ok = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob",
        "bob_public_key": {"identity_key": ik, "signed_pre_key": spk}}),
    );
    assert_eq!(ok["type"], "conversation_initiated", "{ok}");
    let other = node.req("carol", json!({"type": "get_bundle", "party": "carol"}));
    let carol_ik = other["bundle"]["identity_key"].as_str().unwrap().to_owned();
    let bad = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob",
        "bob_public_key": {"identity_key": carol_ik, "signed_pre_key": "SPK"}}),
    );
    assert_eq!(
        (bad["type"].as_str(), bad["code"].as_u64()),
        (Some("error"), Some(1004)),
        "{bad}"
    );
    // A complete bundle is verified and used as is; a forged signature is refused.
    let full = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob",
        "bob_public_key": bundle["bundle"]}),
    );
    assert_eq!(full["type"], "conversation_initiated", "{full}");
    let mut forged = bundle["bundle"].clone();
    let sig = forged["signed_prekey"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    forged["signed_prekey"]["signature"] = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    )
    .into();
    let refused = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob", "bob_public_key": forged}),
    );
    assert_eq!(refused["code"], 1000, "{refused}");
    // A message claiming to come from another party is refused.
    let m = node.send("alice", "bob", "hi");
    node.expect_error("bob", "carol", &m, 1004);
    node.expect_text("bob", "alice", &m, "hi");
    node.finish();
}

#[test]
fn malformed_lines_get_error_replies_and_the_node_keeps_serving() {
    let mut node = Node::start(&[]);
    let cases: &[(&str, u64, Option<u64>)] = &[
        ("not json", 12, None),
        ("[1, 2, 3]", 12, None),
        ("\"text\"", 12, None),
        ("{}", 12, None),
        (r#"{"src": "alice", "body": 5}"#, 12, None),
        (r#"{"src": "alice", "body": {"msg_id": 7}}"#, 12, Some(7)),
        (
            r#"{"src": "alice", "body": {"type": 3, "msg_id": 8}}"#,
            12,
            Some(8),
        ),
        (
            r#"{"src": "alice", "body": {"type": "dance", "msg_id": 9}}"#,
            10,
            Some(9),
        ),
        (
            r#"{"body": {"type": "send_message", "msg_id": 10, "recipient": "bob", "plaintext": "x"}}"#,
            12,
            Some(10),
        ),
        (
            r#"{"src": "alice", "body": {"type": "send_message", "msg_id": 11, "recipient": 5, "plaintext": "x"}}"#,
            12,
            Some(11),
        ),
        (
            r#"{"src": "alice", "body": {"type": "send_message", "msg_id": 12, "recipient": "bob"}}"#,
            12,
            Some(12),
        ),
        (
            r#"{"src": "alice", "body": {"type": "send_message", "msg_id": 13, "recipient": "alice", "plaintext": "x"}}"#,
            1009,
            Some(13),
        ),
        (
            r#"{"src": "bob", "body": {"type": "receive_message", "msg_id": 14, "sender": "alice", "encrypted_message": {"ciphertext": "!!", "auth_tag": "00"}}}"#,
            1006,
            Some(14),
        ),
        (
            r#"{"src": "bob", "body": {"type": "receive_message", "msg_id": 15, "sender": "alice", "encrypted_message": {"ciphertext": "AAAA", "auth_tag": "00112233445566778899aabbccddeeff"}}}"#,
            1006,
            Some(15),
        ),
        (
            r#"{"src": "bob", "body": {"type": "receive_message", "msg_id": 16, "sender": "alice", "encrypted_message": "x"}}"#,
            12,
            Some(16),
        ),
        (
            r#"{"src": "alice", "body": {"type": "session_info", "msg_id": 17, "peer": "nobody"}}"#,
            1005,
            Some(17),
        ),
    ];
    for (line, code, in_reply_to) in cases {
        let reply: Value = serde_json::from_str(&node.raw(line)).unwrap();
        assert_eq!(reply["type"], "error", "{line} -> {reply}");
        assert_eq!(reply["code"], *code, "{line} -> {reply}");
        assert_eq!(
            reply.get("in_reply_to").and_then(Value::as_u64),
            *in_reply_to,
            "{line}"
        );
        assert!(!reply["text"].as_str().unwrap().is_empty());
    }
    let huge = format!(
        r#"{{"src": "a", "body": {{"type": "x", "pad": "{}"}}}}"#,
        "a".repeat(9 << 20)
    );
    let reply: Value = serde_json::from_str(&node.raw(&huge)).unwrap();
    assert_eq!(reply["code"], 12, "{reply}");
    let m = node.send("alice", "bob", "still here");
    node.expect_text("bob", "alice", &m, "still here");
    node.finish();
}

#[test]
fn maelstrom_init_switches_to_envelopes() {
    let mut node = Node::start(&[]);
    let reply: Value = serde_json::from_str(&node.raw(
        r#"{"src": "c1", "dest": "n1", "body": {"type": "init", "msg_id": 1, "node_id": "n1", "node_ids": ["n1"]}}"#,
    ))
    .unwrap();
    assert_eq!(
        reply,
        json!({"src": "n1", "dest": "c1", "body": {"type": "init_ok", "msg_id": 1, "in_reply_to": 1}})
    );
    let reply: Value = serde_json::from_str(&node.raw(
        r#"{"src": "alice", "dest": "n1", "body": {"type": "initiate_conversation", "msg_id": 2, "recipient": "bob"}}"#,
    ))
    .unwrap();
    assert_eq!(reply["dest"], "alice");
    assert_eq!(reply["body"]["type"], "conversation_initiated");
    assert_eq!(reply["body"]["msg_id"], 2);
    assert_eq!(reply["body"]["in_reply_to"], 2);
    node.finish();
}

#[test]
fn a_seed_makes_runs_repeatable() {
    let run = || {
        let mut node = Node::start(&["--seed", "42"]);
        let a = node.req(
            "alice",
            json!({"type": "initiate_conversation", "recipient": "bob"}),
        );
        let m = node.send("alice", "bob", "same");
        node.finish();
        (a, m)
    };
    assert_eq!(run(), run());
}

#[test]
fn bundled_example_conversation_runs_without_errors() {
    let input = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/conversation.jsonl"
    ))
    .unwrap();
    let out = Command::new(NODE)
        .args(["--seed", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), input.lines().count());
    for line in lines {
        let reply: Value = serde_json::from_str(line).unwrap();
        assert_ne!(reply["type"], "error", "{line}");
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn a_pre_key_message_from_a_sender_the_directory_never_saw_is_refused() {
    let mut node = Node::start(&[]);
    let m = node.send("alice", "bob", "hi");
    node.expect_error("bob", "mallory", &m, 1007);
    let info = node.req("bob", json!({"type": "session_info", "peer": "mallory"}));
    assert_eq!(
        info["code"], 1005,
        "no session was filed under mallory: {info}"
    );
    node.expect_text("bob", "alice", &m, "hi");
    node.finish();
}

#[test]
fn given_keys_in_any_common_encoding_are_checked() {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let mut node = Node::start(&[]);
    let carol = node.req("carol", json!({"type": "get_bundle", "party": "carol"}));
    let carol_ik = hex::decode(carol["bundle"]["identity_key"].as_str().unwrap()).unwrap();
    node.req("bob", json!({"type": "get_bundle", "party": "bob"}));
    let raw = &carol_ik[1..];
    let wrong = [
        format!("0x{}", hex::encode(raw)),
        format!("  {}  ", hex::encode(&carol_ik)),
        STANDARD.encode(raw),
        URL_SAFE_NO_PAD.encode(&carol_ik),
    ];
    for ik in wrong {
        let r = node.req(
            "alice",
            json!({"type": "initiate_conversation", "recipient": "bob",
            "bob_public_key": {"identity_key": ik, "signed_pre_key": "SPK"}}),
        );
        assert_eq!(r["code"], 1004, "{ik:?}: {r}");
    }
    for bad in [hex::encode([7u8; 20]), STANDARD.encode([7u8; 31])] {
        let r = node.req(
            "alice",
            json!({"type": "initiate_conversation", "recipient": "bob",
            "bob_public_key": {"identity_key": bad, "signed_pre_key": "SPK"}}),
        );
        assert_eq!(r["code"], 1000, "{bad:?}: {r}");
    }
    let r = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob",
        "bob_public_key": {"identity_key": "IK", "signed_pre_key": "SPK"}}),
    );
    assert_eq!(r["type"], "conversation_initiated", "{r}");
    node.finish();
}

#[test]
fn one_time_prekey_counts_are_bounded() {
    for arg in ["--one-time-prekeys", "--one-time-pq-prekeys"] {
        let out = Command::new(NODE)
            .args([arg, "4294967295"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{arg}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not in"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A party outside the node: its own prekey store, and the node's messages to it decrypted here.
struct Outsider {
    store: pqxdh::PreKeyStore,
    session: Option<pqxdh::Session>,
}

impl Outsider {
    fn new(seed: u64) -> Self {
        use rand::SeedableRng;
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(seed);
        let identity = pqxdh::IdentityKeyPair::generate(&mut rng);
        let store =
            pqxdh::PreKeyStore::generate(identity, pqxdh::KemType::MlKem1024, &mut rng).unwrap();
        Self {
            store,
            session: None,
        }
    }

    fn identity_key(&self) -> Vec<u8> {
        self.store.identity().public_key().encode().to_vec()
    }

    fn signed_prekey(&self) -> Vec<u8> {
        self.store
            .current_signed_prekey()
            .unwrap()
            .key_pair()
            .public_key()
            .encode()
            .to_vec()
    }

    /// Decrypts a message the node sent, running the responder's handshake on its first one
    /// (`require_pq` false accepts classical X3DH).
    fn decrypt(&mut self, message: &Value, require_pq: bool) -> Result<Vec<u8>, String> {
        let mut wire = base64_decode(message["ciphertext"].as_str().unwrap());
        wire.extend(hex::decode(message["auth_tag"].as_str().unwrap()).unwrap());
        if self.session.is_none() {
            let header = pqxdh::sessions::establish::prekey_header(&wire)
                .map_err(|e| e.to_string())?
                .ok_or("not a pre-key message")?;
            let keys = pqxdh::handshake::agreement::respond(
                &self.store,
                &header,
                pqxdh::Backend::Libcrux,
                require_pq,
            )
            .map_err(|e| e.to_string())?;
            let signed = self
                .store
                .signed_prekey(header.signed_prekey_id)
                .unwrap()
                .key_pair()
                .clone();
            let session = pqxdh::Session::new_responder(
                keys.root_key,
                keys.chain_key,
                signed,
                keys.associated_data,
            );
            // The node's PQXDH sessions are triple ratchets (wire version 0x03), its X3DH ones
            // classical: follow the version byte as `establish::accept` does.
            self.session = Some(
                if wire.first() == Some(&pqxdh::ratchet::message::WIRE_VERSION_TRIPLE) {
                    session.with_triple_ratchet(keys.spqr_auth_key.as_bytes(), false)
                } else {
                    session
                },
            );
        }
        self.session
            .as_mut()
            .unwrap()
            .decrypt(&wire)
            .map_err(|e| e.to_string())
    }
}

#[test]
fn real_keys_for_a_never_seen_recipient_are_its_published_keys_over_x3dh() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let mut dave = Outsider::new(41);
    let mut node = Node::start(&[]);
    // The exact request of the task, with Dave's real keys in base64 and hex.
    let line = format!(
        r#"{{"src": "alice", "dest": "e2ee", "body": {{"type": "initiate_conversation", "msg_id": 1, "recipient": "dave", "bob_public_key": {{"identity_key": "{}", "signed_pre_key": "{}"}}}}}}"#,
        STANDARD.encode(&dave.identity_key()[1..]),
        hex::encode(dave.signed_prekey()),
    );
    let reply = initiated_reply(&node.raw(&line));
    assert_eq!(
        hex::decode(reply["root_key"].as_str().unwrap())
            .unwrap()
            .len(),
        32
    );
    let info = node.req("alice", json!({"type": "session_info", "peer": "dave"}));
    assert_eq!(
        keys_of(&info),
        [
            "type",
            "in_reply_to",
            "peer",
            "session_id",
            "kem",
            "protocol",
            "signed_prekey_verified",
            "role",
            "messages_sent",
            "messages_received",
            "our_ratchet_key",
            "their_ratchet_key",
            "sending_counter",
            "previous_counter",
            "receiving_counter",
            "receiving_chains",
            "skipped_message_keys",
            "sends_prekey_messages",
            "archived_sessions",
        ]
    );
    assert_eq!(info["role"], "initiator", "{info}");
    assert_eq!(info["protocol"], "x3dh", "{info}");
    assert_eq!(info["signed_prekey_verified"], false, "{info}");
    assert_eq!(info["kem"], Value::Null, "{info}");
    assert_eq!(info["session_id"], reply["session_id"], "{info}");

    // Dave, outside the node, decrypts every message with his own private keys.
    for text in ["Secret message", "second"] {
        let m = node.send("alice", "dave", text);
        assert_eq!(dave.decrypt(&m, false).unwrap(), text.as_bytes());
    }

    // The directory lists what was given, marked incomplete; the node holds no key of Dave's.
    let bundle = node.req("alice", json!({"type": "get_bundle", "party": "dave"}));
    assert_eq!(bundle["complete"], false, "{bundle}");
    assert_eq!(bundle["external"], true, "{bundle}");
    assert_eq!(bundle["kem"], Value::Null, "{bundle}");
    assert_eq!(
        bundle["bundle"]["identity_key"],
        hex::encode(dave.identity_key()),
        "{bundle}"
    );
    assert_eq!(
        bundle["bundle"]["signed_prekey"]["key"],
        hex::encode(dave.signed_prekey()),
        "{bundle}"
    );
    for body in [
        json!({"type": "send_message", "recipient": "alice", "plaintext": "x"}),
        json!({"type": "initiate_conversation", "recipient": "alice"}),
        json!({"type": "session_info", "peer": "alice"}),
        json!({"type": "get_bundle", "party": "dave"}),
        json!({"type": "receive_message", "sender": "alice",
            "encrypted_message": {"ciphertext": "AAAA", "auth_tag": "00"}}),
    ] {
        let r = node.req("dave", body);
        assert_eq!(r["code"], 1012, "{r}");
        assert!(
            r["text"].as_str().unwrap().contains("external party"),
            "{r}"
        );
    }

    // Dave is known now: his keys are checked like any party's, placeholders stand for them.
    let other = Outsider::new(42);
    let r = node.initiate_with(
        "alice",
        "dave",
        json!({"identity_key": hex::encode(other.identity_key()), "signed_pre_key": "SPK"}),
    );
    assert_eq!(r["code"], 1004, "{r}");
    let r = node.initiate_with(
        "alice",
        "dave",
        json!({"identity_key": "IK", "signed_pre_key": hex::encode(other.signed_prekey())}),
    );
    assert_eq!(r["code"], 1004, "{r}");
    let m = node.reach_through_placeholders(
        "carol",
        "dave",
        &mut Outsider::new(41),
        false,
        "from carol",
    );
    // The X3DH header is refused where PQXDH is required: it is no PQXDH handshake.
    let mut strict = Outsider::new(41);
    assert!(strict.decrypt(&m, true).unwrap_err().contains("KEM"));
    node.finish();
}

#[test]
fn a_complete_bundle_for_a_never_seen_recipient_runs_pqxdh() {
    let mut erin = Outsider::new(43);
    let given = erin.store.default_bundle().unwrap().to_json_value();
    let mut node = Node::start(&[]);
    let r = node.initiate_with("alice", "erin", given.clone());
    assert_eq!(r["type"], "conversation_initiated", "{r}");
    let info = node.req("alice", json!({"type": "session_info", "peer": "erin"}));
    assert_eq!(info["protocol"], "pqxdh", "{info}");
    assert_eq!(info["signed_prekey_verified"], true, "{info}");
    assert_eq!(info["kem"], "ml-kem-1024", "{info}");
    let m = node.send("alice", "erin", "post-quantum");
    assert_eq!(erin.decrypt(&m, true).unwrap(), b"post-quantum");
    let bundle = node.req("bob", json!({"type": "get_bundle", "party": "erin"}));
    assert_eq!(
        (&bundle["complete"], &bundle["external"]),
        (&json!(true), &json!(true)),
        "{bundle}"
    );
    assert_eq!(bundle["bundle"]["identity_key"], given["identity_key"]);
    let r = node.req("erin", json!({"type": "get_bundle", "party": "alice"}));
    assert_eq!(r["code"], 1012, "{r}");
    // Later sessions use the listed bundle.
    node.reach_through_placeholders("bob", "erin", &mut Outsider::new(43), true, "again");
    node.finish();
}

#[test]
fn one_real_key_for_a_never_seen_recipient_is_refused() {
    let dave = Outsider::new(44);
    let ik = hex::encode(dave.identity_key());
    let mut node = Node::start(&[]);
    for given in [
        json!({"identity_key": ik, "signed_pre_key": "SPK"}),
        json!({"identity_key": "IK", "signed_pre_key": ik}),
        json!({"identity_key": ik}),
    ] {
        let r = node.initiate_with("alice", "dave", given.clone());
        assert_eq!(r["code"], 1000, "{given}: {r}");
    }
    let r = node.req("alice", json!({"type": "session_info", "peer": "dave"}));
    assert_eq!(r["code"], 1005, "{r}");
    // Placeholders for a never-seen recipient still create it, with keys of its own.
    let r = node.initiate_with(
        "alice",
        "dave",
        json!({"identity_key": "IK", "signed_pre_key": "SPK"}),
    );
    assert_eq!(r["type"], "conversation_initiated", "{r}");
    let bundle = node.req("alice", json!({"type": "get_bundle", "party": "dave"}));
    assert_eq!(
        (&bundle["complete"], &bundle["external"]),
        (&json!(true), &json!(false)),
        "{bundle}"
    );
    assert_ne!(bundle["bundle"]["identity_key"], ik);
    let info = node.req("alice", json!({"type": "session_info", "peer": "dave"}));
    assert_eq!(info["protocol"], "pqxdh", "{info}");
    node.finish();
}

#[test]
fn a_known_partys_substituted_signed_prekey_is_refused() {
    let mut node = Node::start(&[]);
    let bob = node.req("bob", json!({"type": "get_bundle", "party": "bob"}));
    let ik = bob["bundle"]["identity_key"].as_str().unwrap().to_owned();
    let forged = hex::encode(Outsider::new(45).signed_prekey());
    let r = node.initiate_with(
        "alice",
        "bob",
        json!({"identity_key": ik, "signed_pre_key": forged}),
    );
    assert_eq!(r["code"], 1004, "{r}");
    let r = node.req("alice", json!({"type": "session_info", "peer": "bob"}));
    assert_eq!(r["code"], 1005, "no session was made: {r}");
    node.finish();
}

#[test]
fn a_replayed_pre_key_message_never_establishes_a_second_session() {
    let mut node = Node::start(&["--seed", "3"]);
    let first = node.req(
        "alice",
        json!({"type": "initiate_conversation", "recipient": "bob"}),
    );
    let m = node.send("alice", "bob", "once");
    node.expect_text("bob", "alice", &m, "once");
    // While its session is held, the copy goes to that session: a duplicate.
    node.expect_error("bob", "alice", &m, 1003);
    // Push the session out of the archive with newer sessions from Alice.
    for i in 0..=40 {
        node.req(
            "alice",
            json!({"type": "initiate_conversation", "recipient": "bob"}),
        );
        let w = node.send("alice", "bob", &format!("newer {i}"));
        node.expect_text("bob", "alice", &w, &format!("newer {i}"));
    }
    let before = node.req("bob", json!({"type": "session_info", "peer": "alice"}));
    assert_ne!(before["session_id"], first["session_id"]);
    // Now the copy reaches the prekey store, whose replay record refuses it.
    node.expect_error("bob", "alice", &m, 1010);
    // Under another sender's name it is refused for its identity key.
    node.req("carol", json!({"type": "get_bundle", "party": "carol"}));
    node.expect_error("bob", "carol", &m, 1004);
    let after = node.req("bob", json!({"type": "session_info", "peer": "alice"}));
    assert_eq!(after, {
        let mut same = before.clone();
        same["in_reply_to"] = after["in_reply_to"].clone();
        same
    });
    let reply = node.send("bob", "alice", "the real session carries on");
    node.expect_text("alice", "bob", &reply, "the real session carries on");
    node.finish();
}

#[test]
fn the_x3dh_fallback_is_logged_to_stderr() {
    let dave = Outsider::new(46);
    let input = format!(
        "{}\n",
        json!({"src": "alice", "dest": "e2ee", "body": {"type": "initiate_conversation", "msg_id": 1,
        "recipient": "dave", "bob_public_key": {"identity_key": hex::encode(dave.identity_key()),
        "signed_pre_key": hex::encode(dave.signed_prekey())}}})
    );
    let mut child = Command::new(NODE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("conversation_initiated"), "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("classical X3DH"), "{stderr}");
    assert!(stderr.contains("unverified"), "{stderr}");
}

#[test]
fn a_party_rotates_its_prekeys_when_its_replay_record_fills() {
    let mut node = Node::start(&["--seed", "4", "--replay-rotate-at", "2"]);
    let ids = |node: &mut Node| {
        let b = node.req("bob", json!({"type": "get_bundle", "party": "bob"}));
        (
            b["bundle"]["signed_prekey"]["id"].as_u64().unwrap(),
            b["bundle"]["pq_prekey"]["id"].as_u64().unwrap(),
        )
    };
    let old = ids(&mut node);
    // Dave's first message is in flight, sent to the old keys.
    node.req(
        "dave",
        json!({"type": "initiate_conversation", "recipient": "bob"}),
    );
    let in_flight = node.send("dave", "bob", "sent before the rotation");
    for sender in ["alice", "carol"] {
        node.req(
            sender,
            json!({"type": "initiate_conversation", "recipient": "bob"}),
        );
        let w = node.send(sender, "bob", "hello");
        node.expect_text("bob", sender, &w, "hello");
    }
    // Two sessions on the old key set: Bob published new keys.
    let new = ids(&mut node);
    assert_eq!(new, (old.0 + 1, old.1 + 1));
    node.expect_text("bob", "dave", &in_flight, "sent before the rotation");
    node.req(
        "erin",
        json!({"type": "initiate_conversation", "recipient": "bob"}),
    );
    let w = node.send("erin", "bob", "to the new keys");
    node.expect_text("bob", "erin", &w, "to the new keys");
    node.finish();
}
