//! The PQXDH initial-header parser, and the responder on every header it accepts (against a fixed
//! set of private prekeys): neither may panic, and an accepted header re-encodes to its bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh::{Backend, InitialHeader};

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = InitialHeader::from_bytes(data) {
        assert_eq!(header.to_bytes(), data, "parse/encode round trip");
        let store = pqxdh_fuzz::fixture().bob_store.clone();
        let _ = pqxdh::handshake::agreement::respond(&store, &header, Backend::Libcrux, true);
    }
});
