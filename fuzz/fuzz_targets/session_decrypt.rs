//! Session decryption of arbitrary bytes, and session establishment from them: no panic, and a
//! message that is refused leaves the session byte-for-byte as it was.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh::Backend;

fuzz_target!(|data: &[u8]| {
    let fixture = pqxdh_fuzz::fixture();
    let mut session = pqxdh_fuzz::bob_session();
    if session.decrypt(data).is_err() {
        assert_eq!(
            *session.to_bytes(),
            *fixture.bob_session,
            "a refused message changed the session"
        );
    }
    let mut store = fixture.bob_store.clone();
    let _ = pqxdh::sessions::establish::accept(&mut store, data, Backend::Libcrux);
});
