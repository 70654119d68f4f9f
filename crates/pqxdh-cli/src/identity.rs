//! `identity new`, `identity rotate` and `identity prune`, and the identity-file helpers other
//! commands share: [`load_identity`], and rewriting a file with the protection it had.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::Args;
use zeroize::Zeroizing;

use pqxdh::handshake::clock::{Clock, DAY, SystemClock};
use pqxdh::handshake::identity::{self, IdentityKeyPair};
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::KemType;
use pqxdh_files::identity_file::{
    self, IdentityFileError, KdfParams, MAX_IDENTITY_FILE_LEN, Protection,
};

use crate::error::{CliError, io_err};
use crate::fs::{create_private_dir, replace_file, write_new_file};
use crate::passphrase::{PassphraseArgs, PassphrasePurpose, get_passphrase};

/// Suffix of private identity files.
pub const IDENTITY_SUFFIX: &str = ".identity";
/// Suffix of published bundle files.
pub const BUNDLE_SUFFIX: &str = ".bundle.json";

/// `pqxdh identity new`
#[derive(Debug, Args)]
pub struct IdentityNewArgs {
    /// Name of the identity (letters, digits, '-', '_', '.').
    pub name: String,
    /// Directory to write the files into (created, mode 0700, if missing).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// The KEM of the PQ prekey: ml-kem-1024 or kyber1024.
    #[arg(long, default_value = "ml-kem-1024", value_parser = parse_kem)]
    pub kem: KemType,
    /// Protect the identity file with a passphrase.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

fn parse_kem(s: &str) -> Result<KemType, String> {
    s.parse()
        .map_err(|_| format!("unknown KEM {s:?} (ml-kem-1024 or kyber1024)"))
}

/// `pqxdh identity rotate`
#[derive(Debug, Args)]
pub struct IdentityRotateArgs {
    /// The identity file (NAME.identity); NAME.bundle.json beside it is rewritten.
    pub identity: PathBuf,
    /// Passphrase of the identity file (kept for the rewritten file).
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// `pqxdh identity prune`
#[derive(Debug, Args)]
pub struct IdentityPruneArgs {
    /// The identity file (NAME.identity).
    pub identity: PathBuf,
    /// Delete prekeys retired at least this long ago: a number with a unit, `d` (days), `h`
    /// (hours) or `s` (seconds), such as `30d`; `0s` deletes every retired prekey.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: u64,
    /// Passphrase of the identity file (kept for the rewritten file).
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// Parses `30d`, `12h` or `90s` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{s:?}: give a unit: d, h or s (such as 30d)"))?;
    let (number, unit) = s.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{s:?}: expected a number followed by d, h or s"))?;
    let unit = match unit {
        "d" => DAY,
        "h" => 60 * 60,
        "s" => 1,
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (d, h or s)")),
    };
    n.checked_mul(unit)
        .ok_or_else(|| format!("{s:?}: duration too long"))
}

fn check_name(name: &str) -> Result<(), CliError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "invalid identity name {name:?}: use 1-64 letters, digits, '-', '_' or '.', not starting with '.'"
        )))
    }
}

/// `pqxdh identity new NAME`: creates the identity, signed prekey (id 1) and last-resort PQ
/// prekey (id 1), and writes NAME.identity (0600) and NAME.bundle.json. Refuses to overwrite.
pub fn run_identity(args: &IdentityNewArgs) -> Result<(), CliError> {
    check_name(&args.name)?;
    create_private_dir(&args.dir)?;
    let identity_path = args.dir.join(format!("{}{IDENTITY_SUFFIX}", args.name));
    let bundle_path = args.dir.join(format!("{}{BUNDLE_SUFFIX}", args.name));
    for path in [&identity_path, &bundle_path] {
        if path.exists() {
            return Err(CliError::Usage(format!(
                "{} already exists; not overwriting it",
                path.display()
            )));
        }
    }
    let passphrase = get_passphrase(&args.passphrase, PassphrasePurpose::New)?;
    let mut rng = rand::rng();
    let store = PreKeyStore::generate(IdentityKeyPair::generate(&mut rng), args.kem, &mut rng)
        .map_err(|e| CliError::Usage(format!("key generation failed: {e}")))?;
    let bundle = store
        .default_bundle()
        .map_err(|e| CliError::Usage(format!("bundle: {e}")))?;
    let protection = match &passphrase {
        Some(p) => Protection::Passphrase {
            passphrase: p.as_bytes(),
            params: KdfParams::DEFAULT,
        },
        None => Protection::None,
    };
    let bytes = identity_file::encode(&store, protection, &mut rng).map_err(|source| {
        CliError::IdentityFile {
            path: identity_path.display().to_string(),
            source,
        }
    })?;
    write_new_file(&identity_path, &bytes, true)?;
    let mut json = bundle.to_json();
    json.push('\n');
    write_new_file(&bundle_path, json.as_bytes(), false)?;
    println!(
        "created identity {} ({}, {})",
        args.name,
        args.kem,
        if passphrase.is_some() {
            "passphrase-protected"
        } else {
            "not passphrase-protected"
        }
    );
    println!("  private: {}", identity_path.display());
    println!("  bundle:  {}", bundle_path.display());
    println!(
        "  fingerprint: {}",
        identity::fingerprint(store.identity().public_key())
    );
    Ok(())
}

/// An identity file's bytes, read into a buffer sized from the file's length (so that no
/// reallocation leaves unwiped copies of its keys), and the passphrase that opened it.
struct OpenedIdentity {
    store: PreKeyStore,
    passphrase: Option<Zeroizing<String>>,
    kdf: Option<KdfParams>,
}

fn read_identity_bytes(path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let file = File::open(path).map_err(io_err(path))?;
    let len = file.metadata().map_err(io_err(path))?.len();
    if len > MAX_IDENTITY_FILE_LEN {
        return Err(CliError::IdentityFile {
            path: path.display().to_string(),
            source: IdentityFileError::Malformed("file too large"),
        });
    }
    // One byte more than the length, so a file that grew while being read is seen whole and
    // still without a reallocation up to that point; the take() bounds the read.
    let capacity = usize::try_from(len).unwrap_or(0).saturating_add(1);
    let mut bytes = Zeroizing::new(Vec::with_capacity(capacity));
    file.take(MAX_IDENTITY_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    if bytes.len() as u64 > MAX_IDENTITY_FILE_LEN {
        return Err(CliError::IdentityFile {
            path: path.display().to_string(),
            source: IdentityFileError::Malformed("file too large"),
        });
    }
    Ok(bytes)
}

fn open_identity(path: &Path, passphrase: &PassphraseArgs) -> Result<OpenedIdentity, CliError> {
    let bytes = read_identity_bytes(path)?;
    let wrap = |source| CliError::IdentityFile {
        path: path.display().to_string(),
        source,
    };
    let given = passphrase.passphrase_env.is_some() || passphrase.passphrase_prompt;
    let (secret, kdf) = if identity_file::is_protected(&bytes).map_err(wrap)? {
        let p = get_passphrase(passphrase, PassphrasePurpose::Open)?.ok_or_else(|| {
            CliError::Passphrase(format!(
                "{} is passphrase-protected: use --passphrase-env VAR or --passphrase-prompt",
                path.display()
            ))
        })?;
        (Some(p), identity_file::kdf_params(&bytes).map_err(wrap)?)
    } else if given {
        return Err(wrap(IdentityFileError::UnexpectedPassphrase));
    } else {
        (None, None)
    };
    let store =
        identity_file::decode(&bytes, secret.as_ref().map(|s| s.as_bytes())).map_err(wrap)?;
    Ok(OpenedIdentity {
        store,
        passphrase: secret,
        kdf,
    })
}

/// Loads an identity file, asking for its passphrase only if it is protected. A passphrase
/// option given for an unprotected file is an error rather than silently ignored.
pub fn load_identity(path: &Path, passphrase: &PassphraseArgs) -> Result<PreKeyStore, CliError> {
    open_identity(path, passphrase).map(|opened| opened.store)
}

/// Encodes `store` with the protection the file had (same passphrase and Argon2id costs).
fn encode_like(opened: &OpenedIdentity, path: &Path) -> Result<Zeroizing<Vec<u8>>, CliError> {
    let protection = match &opened.passphrase {
        Some(p) => Protection::Passphrase {
            passphrase: p.as_bytes(),
            params: opened.kdf.unwrap_or(KdfParams::DEFAULT),
        },
        None => Protection::None,
    };
    identity_file::encode(&opened.store, protection, &mut rand::rng()).map_err(|source| {
        CliError::IdentityFile {
            path: path.display().to_string(),
            source,
        }
    })
}

/// NAME.bundle.json beside NAME.identity.
fn bundle_path_of(identity: &Path) -> Result<PathBuf, CliError> {
    let name = identity
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_suffix(IDENTITY_SUFFIX))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: an identity file's name ends in {IDENTITY_SUFFIX}",
                identity.display()
            ))
        })?;
    Ok(identity.with_file_name(format!("{name}{BUNDLE_SUFFIX}")))
}

/// `pqxdh identity rotate IDENTITY`: new current prekeys; the identity file and its bundle file
/// are each replaced atomically (identity first, so a crash between them leaves a bundle of keys
/// the identity still holds).
pub fn run_rotate(args: &IdentityRotateArgs) -> Result<(), CliError> {
    let bundle_path = bundle_path_of(&args.identity)?;
    let mut opened = open_identity(&args.identity, &args.passphrase)?;
    let now = SystemClock.now();
    let before: Vec<_> = opened.store.signed_prekeys().map(|k| k.id()).collect();
    opened
        .store
        .rotate(now, &mut rand::rng())
        .map_err(|e| CliError::Usage(format!("rotation failed: {e}")))?;
    let bundle = opened
        .store
        .default_bundle()
        .map_err(|e| CliError::Usage(format!("bundle: {e}")))?;
    let bytes = encode_like(&opened, &args.identity)?;
    replace_file(&args.identity, &bytes, true)?;
    let mut json = bundle.to_json();
    json.push('\n');
    replace_file(&bundle_path, json.as_bytes(), false)?;
    println!(
        "rotated: signed prekey id {}, PQ prekey id {} are now published",
        bundle.signed_prekey.id, bundle.pq_prekey.id
    );
    println!("  bundle:  {}", bundle_path.display());
    println!(
        "  kept:    {} retired signed prekey(s) and their PQ prekeys, so files already \
         encrypted to them still decrypt; delete them with `pqxdh identity prune --older-than 30d`",
        before.len()
    );
    Ok(())
}

/// `pqxdh identity prune IDENTITY --older-than DURATION`.
pub fn run_prune(args: &IdentityPruneArgs) -> Result<(), CliError> {
    let mut opened = open_identity(&args.identity, &args.passphrase)?;
    let deleted = opened.store.prune(SystemClock.now(), args.older_than);
    if deleted == 0 {
        println!("nothing to prune: no prekey was retired that long ago");
        return Ok(());
    }
    let bytes = encode_like(&opened, &args.identity)?;
    replace_file(&args.identity, &bytes, true)?;
    println!(
        "pruned {deleted} retired prekey(s); files encrypted to them can no longer be decrypted"
    );
    Ok(())
}
