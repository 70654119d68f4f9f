//! The bundle JSON parser and verifier: no panic; a parsed bundle re-encodes to a bundle that
//! parses to the same JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh::PreKeyBundle;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(bundle) = PreKeyBundle::from_json(text) {
        let _ = bundle.verify();
        let json = bundle.to_json();
        let again = PreKeyBundle::from_json(&json).expect("re-encoded bundle parses");
        assert_eq!(again.to_json(), json, "bundle JSON round trip");
    }
});
