//! The wire-message parser: never panics, and whatever it accepts re-encodes to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh::WireMessage;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = WireMessage::parse(data) {
        assert_eq!(message.to_bytes(), data, "parse/encode round trip");
    }
});
