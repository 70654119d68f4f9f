//! `demo`: the whole story on a bundled picture, through the other commands, then a Double
//! Ratchet conversation.

use std::fs;
use std::path::{Path, PathBuf};

use clap::Args;
use sha2::{Digest, Sha256};

use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::primitives::kem::{Backend, KemType};
use pqxdh_files::{self as files, DEFAULT_SEGMENT_SIZE};

use crate::bundle::{BundleShowArgs, run_bundle};
use crate::decrypt::{DecryptArgs, run_decrypt};
use crate::encrypt::{EncryptArgs, run_encrypt};
use crate::error::{CliError, io_err};
use crate::identity::{IdentityNewArgs, run_identity};
use crate::passphrase::PassphraseArgs;

/// The picture the demo encrypts: a 64x64 PNG made for this project (examples/picture.png).
const DEMO_PICTURE: &[u8] = include_bytes!("../../../examples/picture.png");

/// `pqxdh demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Encrypt this file instead of the bundled picture.
    #[arg(long)]
    pub picture: Option<PathBuf>,
    /// Run the exchange through a pqxdh-server started on 127.0.0.1, with client stores.
    #[arg(long)]
    pub network: bool,
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A failure of the demo's conversation, displayed as `demo: ...`.
fn demo_err(what: impl std::fmt::Display) -> CliError {
    CliError::Demo(what.to_string())
}

/// The demo's last act: Alice and Bob, who now trust each other's bundles, talk through the
/// Double Ratchet: a pre-key message, an out-of-order message, a reply, a refused replay.
pub fn demo_conversation(dir: &Path) -> Result<(), CliError> {
    let load = |name: &str| -> Result<pqxdh::handshake::prekey_store::PreKeyStore, CliError> {
        let path = dir.join(format!("{name}.identity"));
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        pqxdh_files::identity_file::decode(&bytes, None).map_err(|source| CliError::IdentityFile {
            path: path.display().to_string(),
            source,
        })
    };
    let alice = load("alice")?;
    let mut bob = load("bob")?;
    let bundle_path = dir.join("bob.bundle.json");
    let json = fs::read_to_string(&bundle_path).map_err(io_err(&bundle_path))?;
    let bundle = PreKeyBundle::from_json(&json).map_err(|source| CliError::Bundle {
        path: bundle_path.display().to_string(),
        source,
    })?;
    let mut rng = rand::rng();
    println!(
        "\n== 7. Alice starts a Double Ratchet session from Bob's bundle (PQXDH, 3 DH + ML-KEM)"
    );
    let mut a =
        pqxdh::sessions::establish::initiate(alice.identity(), &bundle, Backend::Libcrux, &mut rng)
            .map_err(demo_err)?;
    println!("   session id {}", a.session_id);
    let first = a
        .session
        .encrypt(b"Did the picture arrive?", &mut rng)
        .map_err(demo_err)?;
    let second = a
        .session
        .encrypt(b"It is a gradient with rings.", &mut rng)
        .map_err(demo_err)?;
    println!(
        "   two pre-key messages: {} and {} bytes (each carries the 1645-byte PQXDH header)",
        first.len(),
        second.len()
    );
    println!("\n== 8. Bob receives them out of order");
    let (mut b, text) = pqxdh::sessions::establish::accept(&mut bob, &second, Backend::Libcrux)
        .map_err(demo_err)?;
    println!(
        "   Bob: {:?} (same session id: {})",
        String::from_utf8_lossy(&text),
        b.session_id == a.session_id
    );
    let text = b.session.decrypt(&first).map_err(demo_err)?;
    println!("   Bob: {:?}", String::from_utf8_lossy(&text));
    match b.session.decrypt(&first) {
        Err(e) => println!("   a replay of the first message is refused: {e}"),
        Ok(_) => return Err(demo_err("a replayed message was accepted")),
    }
    println!("\n== 9. Bob replies; the DH ratchet turns");
    let reply = b
        .session
        .encrypt(b"Yes, byte for byte.", &mut rng)
        .map_err(demo_err)?;
    let text = a.session.decrypt(&reply).map_err(demo_err)?;
    println!(
        "   Alice: {:?} ({} bytes on the wire)",
        String::from_utf8_lossy(&text),
        reply.len()
    );
    let next = a.session.encrypt(b"Great.", &mut rng).map_err(demo_err)?;
    println!(
        "   Alice's next message is a normal message: {} bytes",
        next.len()
    );
    let text = b.session.decrypt(&next).map_err(demo_err)?;
    println!("   Bob: {:?}", String::from_utf8_lossy(&text));
    println!(
        "   saved session sizes: Alice {} bytes, Bob {} bytes",
        a.session.saved_len(),
        b.session.saved_len()
    );
    Ok(())
}

/// `pqxdh demo`: two identities in a temporary directory, bundle exchange, encrypt, decrypt,
/// byte-for-byte check, and two refusals (a tampered file, a third party).
pub fn run_demo(args: &DemoArgs) -> Result<(), CliError> {
    let dir = tempfile::Builder::new()
        .prefix("pqxdh-demo-")
        .tempdir()
        .map_err(io_err(&std::env::temp_dir()))?;
    let d = dir.path();
    if args.network {
        let picture = match &args.picture {
            Some(p) => fs::read(p).map_err(io_err(p))?,
            None => DEMO_PICTURE.to_vec(),
        };
        return crate::messaging::network_demo::run(&picture, d);
    }
    println!("== 1. Alice and Bob create identities in {}", d.display());
    for name in ["alice", "bob"] {
        run_identity(&IdentityNewArgs {
            name: name.into(),
            dir: d.to_path_buf(),
            kem: KemType::MlKem1024,
            passphrase: PassphraseArgs::default(),
        })?;
    }

    println!("\n== 2. Bob gives Alice his bundle; she checks it");
    run_bundle(&BundleShowArgs {
        file: d.join("bob.bundle.json"),
    })?;

    let picture = match &args.picture {
        Some(p) => fs::read(p).map_err(io_err(p))?,
        None => DEMO_PICTURE.to_vec(),
    };
    let plain = d.join("picture.png");
    fs::write(&plain, &picture).map_err(io_err(&plain))?;
    println!(
        "\n== 3. Alice encrypts a picture ({} bytes, sha256 {}) to Bob",
        picture.len(),
        sha256_hex(&picture)
    );
    let sealed = d.join("picture.png.pqx");
    run_encrypt(&EncryptArgs {
        to: vec![d.join("bob.bundle.json")],
        from: d.join("alice.identity"),
        input: plain.clone(),
        output: sealed.clone(),
        armor: false,
        segment_size: DEFAULT_SEGMENT_SIZE,
        passphrase: PassphraseArgs::default(),
    })?;
    let sealed_bytes = fs::read(&sealed).map_err(io_err(&sealed))?;
    let header =
        files::FileHeader::read_from(&mut &sealed_bytes[..]).map_err(|source| CliError::File {
            path: sealed.display().to_string(),
            source,
        })?;
    println!(
        "   {} bytes: {}-byte header (1 recipient entry, MAC), {} segment bytes",
        sealed_bytes.len(),
        header.len_on_disk(),
        sealed_bytes.len().saturating_sub(header.len_on_disk())
    );

    println!("\n== 4. Bob decrypts it");
    let opened = d.join("picture.decrypted.png");
    run_decrypt(&DecryptArgs {
        identity: d.join("bob.identity"),
        input: sealed.clone(),
        output: opened.clone(),
        passphrase: PassphraseArgs::default(),
    })?;
    let back = fs::read(&opened).map_err(io_err(&opened))?;
    if back != picture {
        return Err(CliError::Demo("the decrypted picture differs".into()));
    }
    println!("   byte-for-byte identical (sha256 {})", sha256_hex(&back));

    println!("\n== 5. A flipped byte in the last segment is refused, and no output is left");
    let mut tampered = sealed_bytes.clone();
    if let Some(b) = tampered.last_mut() {
        *b ^= 0x01;
    }
    let tampered_path = d.join("tampered.pqx");
    fs::write(&tampered_path, &tampered).map_err(io_err(&tampered_path))?;
    let refused = d.join("tampered.out");
    match run_decrypt(&DecryptArgs {
        identity: d.join("bob.identity"),
        input: tampered_path,
        output: refused.clone(),
        passphrase: PassphraseArgs::default(),
    }) {
        Err(e) if !refused.exists() => println!("   refused: {e}"),
        _ => return Err(CliError::Demo("a tampered file was accepted".into())),
    }

    println!("\n== 6. Carol, who was not a recipient, cannot decrypt");
    run_identity(&IdentityNewArgs {
        name: "carol".into(),
        dir: d.to_path_buf(),
        kem: KemType::MlKem1024,
        passphrase: PassphraseArgs::default(),
    })?;
    match run_decrypt(&DecryptArgs {
        identity: d.join("carol.identity"),
        input: sealed,
        output: d.join("carol.out"),
        passphrase: PassphraseArgs::default(),
    }) {
        Err(e) => println!("   refused: {e}"),
        Ok(()) => return Err(CliError::Demo("a non-recipient decrypted the file".into())),
    }

    demo_conversation(d)?;
    println!("\ndemo complete");
    Ok(())
}
