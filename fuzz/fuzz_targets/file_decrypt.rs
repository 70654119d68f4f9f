//! File decryption by the intended recipient: no panic, and plaintext is only reported complete
//! when the input is exactly the fixture's file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh_files as files;

fuzz_target!(|data: &[u8]| {
    let fixture = pqxdh_fuzz::fixture();
    let mut out = Vec::new();
    if files::decrypt(&fixture.bob_store, data, &mut out).is_ok() {
        assert_eq!(data, fixture.file.as_slice(), "a modified file decrypted");
    }
});
