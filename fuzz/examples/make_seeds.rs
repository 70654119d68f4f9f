//! Writes the seed corpora under `fuzz/seeds/<target>/` from the fixtures and the repository's
//! example conversation: `cargo run --example make_seeds` in `fuzz/`.

use std::fs;
use std::path::Path;

use pqxdh_files::armor::ArmorWriter;
use std::io::Write;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("seeds")
        .join(target);
    fs::create_dir_all(&dir).expect("seed folder");
    fs::write(dir.join(name), bytes).expect("seed file");
}

fn main() {
    let f = pqxdh_fuzz::fixture();
    let header = pqxdh::sessions::establish::prekey_header(&f.prekey_message)
        .expect("header parses")
        .expect("pre-key message");

    write("wire_message", "prekey", &f.prekey_message);
    write("session_decrypt", "prekey", &f.prekey_message);
    write("initial_header", "pqxdh", &header.to_bytes());
    for (i, m) in f.pending.iter().enumerate() {
        write("wire_message", &format!("normal{i}"), m);
        write("session_decrypt", &format!("normal{i}"), m);
    }
    write("bundle_json", "bundle", f.bundle_json.as_bytes());
    write("file_header", "file", &f.file);
    write("file_decrypt", "file", &f.file);
    let mut armored = ArmorWriter::new(Vec::new()).expect("armor");
    armored.write_all(&f.file).expect("armor");
    write("file_header", "armored", &armored.finish().expect("armor"));

    // The example conversation, a few lines at a time (the node target runs up to six lines).
    let conversation = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/conversation.jsonl"),
    )
    .expect("examples/conversation.jsonl");
    let lines: Vec<&str> = conversation.lines().collect();
    for (i, chunk) in lines.chunks(5).enumerate() {
        write(
            "node_line",
            &format!("conversation{i}"),
            chunk.join("\n").as_bytes(),
        );
    }
}
