//! `bundle show`, and [`load_bundle`], which the other commands use to read bundle files.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;

use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::handshake::identity;

use crate::error::{CliError, io_err};

/// `pqxdh bundle show`
#[derive(Debug, Args)]
pub struct BundleShowArgs {
    /// The bundle file (NAME.bundle.json).
    pub file: PathBuf,
}

/// Reads and decodes a bundle file (signatures are not checked here).
pub fn load_bundle(path: &Path) -> Result<PreKeyBundle, CliError> {
    let file = File::open(path).map_err(io_err(path))?;
    let mut text = String::new();
    file.take(pqxdh::handshake::bundle::MAX_BUNDLE_JSON_LEN as u64 + 1)
        .read_to_string(&mut text)
        .map_err(io_err(path))?;
    PreKeyBundle::from_json(&text).map_err(|source| CliError::Bundle {
        path: path.display().to_string(),
        source,
    })
}

/// `pqxdh bundle show FILE`: prints the bundle and fails if a signature does not verify.
pub fn run_bundle(args: &BundleShowArgs) -> Result<(), CliError> {
    let bundle = load_bundle(&args.file)?;
    println!("bundle:          {}", args.file.display());
    println!(
        "fingerprint:     {}",
        identity::fingerprint(&bundle.identity_key)
    );
    println!("signed prekey:   id {}", bundle.signed_prekey.id);
    println!(
        "PQ prekey:       id {}, {}, {}",
        bundle.pq_prekey.id,
        bundle.pq_prekey.key.kem(),
        if bundle.pq_prekey.last_resort {
            "last-resort"
        } else {
            "one-time"
        }
    );
    match &bundle.one_time_prekey {
        Some(o) => println!("one-time prekey: id {}", o.id),
        None => println!("one-time prekey: none"),
    }
    match bundle.verify() {
        Ok(()) => {
            println!("signatures:      valid");
            Ok(())
        }
        Err(source) => {
            println!("signatures:      INVALID");
            Err(CliError::Bundle {
                path: args.file.display().to_string(),
                source,
            })
        }
    }
}
