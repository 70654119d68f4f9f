//! The node's line handler: every input line, valid or not, gets exactly one reply line of JSON.
//! Each input is a few lines run against a fresh, seeded node.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh_node::{Node, NodeConfig};

/// Lines per input: enough for a handshake, a send and a receive.
const MAX_LINES: usize = 6;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut node = Node::new(NodeConfig {
        seed: Some(pqxdh_fuzz::SEED),
        ..NodeConfig::default()
    });
    for line in text.lines().take(MAX_LINES) {
        let reply = node.handle_line(line);
        assert!(!reply.contains('\n'), "reply spans lines: {reply}");
        serde_json::from_str::<serde_json::Value>(&reply).expect("reply is JSON");
    }
});
