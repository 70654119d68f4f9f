//! The encrypted-file container header parser, plain and armored: no panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pqxdh_files::armor::ArmorReader;
use pqxdh_files::FileHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = FileHeader::read_from(&mut &data[..]) {
        assert!(
            header.len_on_disk() <= data.len(),
            "header longer than its input"
        );
    }
    let mut armored = ArmorReader::new(data);
    let _ = FileHeader::read_from(&mut armored);
});
