//! The file-sharing commands of the `pqxdh` tool: `identity new`, `bundle show`, `encrypt`,
//! `decrypt` and `demo`. The binary only parses arguments and calls [`run`]; everything else lives
//! here so that it can be tested and reused.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use pqxdh::handshake::bundle::{BundleError, PreKeyBundle};
use pqxdh::handshake::clock::{Clock, DAY, SystemClock};
use pqxdh::handshake::identity::{self, IdentityKeyPair};
use pqxdh::handshake::prekey_store::PreKeyStore;
use pqxdh::primitives::kem::{Backend, KemType};
use pqxdh_files::armor::{self, ArmorReader, ArmorWriter};
use pqxdh_files::identity_file::{
    self, IdentityFileError, KdfParams, MAX_IDENTITY_FILE_LEN, Protection,
};
use pqxdh_files::{self as files, DEFAULT_SEGMENT_SIZE, EncryptOptions, FileError};

/// Suffix of private identity files.
pub const IDENTITY_SUFFIX: &str = ".identity";
/// Suffix of published bundle files.
pub const BUNDLE_SUFFIX: &str = ".bundle.json";
/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Buffer size of file readers and writers.
const IO_BUFFER: usize = 256 * 1024;
/// The picture the demo encrypts: a 64x64 PNG made for this project (examples/picture.png).
const DEMO_PICTURE: &[u8] = include_bytes!("../../../examples/picture.png");

/// Errors of the file-sharing commands; each displays as one line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// Reading or writing a path failed.
    #[error("{path}: {source}")]
    Io {
        /// The path (or `-`).
        path: String,
        /// The error.
        source: io::Error,
    },
    /// An identity file could not be read or written.
    #[error("{path}: {source}")]
    IdentityFile {
        /// The identity file.
        path: String,
        /// The error.
        source: IdentityFileError,
    },
    /// A bundle file is malformed or its signatures do not verify.
    #[error("{path}: {source}")]
    Bundle {
        /// The bundle file.
        path: String,
        /// The error.
        source: BundleError,
    },
    /// Encrypting or decrypting failed.
    #[error("{path}: {source}")]
    File {
        /// The input file.
        path: String,
        /// The error.
        source: FileError,
    },
    /// The passphrase could not be obtained.
    #[error("passphrase: {0}")]
    Passphrase(String),
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The demo's final check failed.
    #[error("demo: {0}")]
    Demo(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// The file-sharing subcommands.
#[derive(Debug, Subcommand)]
pub enum FileCommand {
    /// Create identities.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Inspect prekey bundles.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Encrypt a file to one or more recipients' bundles.
    Encrypt(EncryptArgs),
    /// Decrypt a file encrypted to one of your identities.
    Decrypt(DecryptArgs),
    /// Run the whole story on a bundled picture: identities, bundles, encrypt, decrypt, check.
    Demo(DemoArgs),
}

/// `pqxdh identity ...`
#[derive(Debug, Subcommand)]
pub enum IdentityCommand {
    /// Create an identity with a signed prekey and a last-resort PQ prekey: writes NAME.identity
    /// (private, mode 0600) and NAME.bundle.json (public).
    New(IdentityNewArgs),
    /// Make a new signed prekey and last-resort PQ prekey and publish them in a new bundle file.
    /// The previous prekeys are kept, so files already encrypted to them still decrypt, until
    /// `identity prune` deletes them.
    Rotate(IdentityRotateArgs),
    /// Delete prekeys retired by `identity rotate` at least DURATION ago. Files encrypted to them
    /// no longer decrypt afterwards: that is what makes them unreadable to a later thief.
    Prune(IdentityPruneArgs),
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

/// Where a passphrase comes from (never from an argument).
#[derive(Debug, Clone, Default, Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "passphrase_prompt")]
    pub passphrase_env: Option<String>,
    /// Prompt for the passphrase on the terminal.
    #[arg(long)]
    pub passphrase_prompt: bool,
}

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

/// `pqxdh bundle ...`
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Show a bundle's fingerprint, KEM and key ids, and check its signatures (exit 1 if bad).
    Show(BundleShowArgs),
}

/// `pqxdh bundle show`
#[derive(Debug, Args)]
pub struct BundleShowArgs {
    /// The bundle file (NAME.bundle.json).
    pub file: PathBuf,
}

/// `pqxdh encrypt`
#[derive(Debug, Args)]
pub struct EncryptArgs {
    /// A recipient's bundle file; repeat for several recipients.
    #[arg(long = "to", value_name = "BUNDLE", required = true)]
    pub to: Vec<PathBuf>,
    /// The sender's identity file.
    #[arg(long = "from", value_name = "IDENTITY")]
    pub from: PathBuf,
    /// The file to encrypt, or - for standard input.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the encrypted file, or - for standard output.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Write ASCII armor instead of binary.
    #[arg(long)]
    pub armor: bool,
    /// Plaintext bytes per segment.
    #[arg(long, default_value_t = DEFAULT_SEGMENT_SIZE, hide = true)]
    pub segment_size: u32,
    /// Passphrase of the sender's identity file.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// `pqxdh decrypt`
#[derive(Debug, Args)]
pub struct DecryptArgs {
    /// Your identity file.
    #[arg(long = "as", value_name = "IDENTITY")]
    pub identity: PathBuf,
    /// The encrypted file (binary or armored), or - for standard input.
    #[arg(value_name = "IN")]
    pub input: PathBuf,
    /// Where to write the plaintext, or - for standard output. Written only once the whole file
    /// has authenticated.
    #[arg(value_name = "OUT")]
    pub output: PathBuf,
    /// Passphrase of the identity file.
    #[command(flatten)]
    pub passphrase: PassphraseArgs,
}

/// `pqxdh demo`
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Encrypt this file instead of the bundled picture.
    #[arg(long)]
    pub picture: Option<PathBuf>,
}

/// Runs one file-sharing command.
pub fn run(command: FileCommand) -> Result<(), CliError> {
    match command {
        FileCommand::Identity(IdentityCommand::New(args)) => run_identity(&args),
        FileCommand::Identity(IdentityCommand::Rotate(args)) => run_rotate(&args),
        FileCommand::Identity(IdentityCommand::Prune(args)) => run_prune(&args),
        FileCommand::Bundle(BundleCommand::Show(args)) => run_bundle(&args),
        FileCommand::Encrypt(args) => run_encrypt(&args),
        FileCommand::Decrypt(args) => run_decrypt(&args),
        FileCommand::Demo(args) => run_demo(&args),
    }
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

// ---------------------------------------------------------------------------------------------
// Passphrases

enum PassphrasePurpose {
    New,
    Open,
}

fn get_passphrase(
    args: &PassphraseArgs,
    purpose: PassphrasePurpose,
) -> Result<Option<Zeroizing<String>>, CliError> {
    if let Some(var) = &args.passphrase_env {
        let value = std::env::var(var).map_err(|_| {
            CliError::Passphrase(format!(
                "environment variable {var} is not set or not UTF-8"
            ))
        })?;
        if value.is_empty() {
            return Err(CliError::Passphrase(format!(
                "environment variable {var} is empty"
            )));
        }
        return Ok(Some(Zeroizing::new(value)));
    }
    if !args.passphrase_prompt {
        return Ok(None);
    }
    let prompt = |text: &str| {
        rpassword::prompt_password(text)
            .map(Zeroizing::new)
            .map_err(|e| CliError::Passphrase(format!("cannot read from the terminal: {e}")))
    };
    let first = prompt("Passphrase: ")?;
    if first.is_empty() {
        return Err(CliError::Passphrase("empty passphrase".into()));
    }
    if let PassphrasePurpose::New = purpose {
        let again = prompt("Passphrase (again): ")?;
        if *again != *first {
            return Err(CliError::Passphrase("the passphrases differ".into()));
        }
    }
    Ok(Some(first))
}

// ---------------------------------------------------------------------------------------------
// identity new

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

fn write_new_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), CliError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(if private { 0o600 } else { 0o644 });
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(io_err(path))?;
    file.write_all(bytes).map_err(io_err(path))?;
    file.sync_all().map_err(io_err(path))
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

/// Creates `dir` (and its parents) with mode 0700 if it does not exist.
fn create_private_dir(dir: &Path) -> Result<(), CliError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(io_err(dir))
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

/// Replaces `path` with `bytes` atomically: a new file beside it (mode 0600 when `private`),
/// written and fsynced, renamed over `path`, then the directory fsynced. A crash leaves either
/// the old file or the new one, never a mix.
fn replace_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), CliError> {
    let mut temp = temp_beside(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if private { 0o600 } else { 0o644 };
        temp.as_file()
            .set_permissions(fs::Permissions::from_mode(mode))
            .map_err(io_err(temp.path()))?;
    }
    #[cfg(not(unix))]
    let _ = private;
    temp.write_all(bytes).map_err(io_err(path))?;
    publish(temp, path)
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

// ---------------------------------------------------------------------------------------------
// bundle show

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

// ---------------------------------------------------------------------------------------------
// encrypt / decrypt

fn progress_bar(len: Option<u64>, message: &'static str) -> Option<indicatif::ProgressBar> {
    let len = len.filter(|l| *l >= PROGRESS_THRESHOLD)?;
    if !io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::default_bar()
        .template("{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(message);
    Some(bar)
}

fn open_input(path: &Path) -> Result<(Box<dyn Read>, Option<u64>), CliError> {
    if is_stdio(path) {
        return Ok((Box::new(io::stdin().lock()), None));
    }
    let file = File::open(path).map_err(io_err(path))?;
    let len = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    Ok((Box::new(file), len))
}

/// A temporary file beside `out` (same directory, so the final rename is atomic), or in the
/// system temporary directory when `out` is standard output.
fn temp_beside(out: &Path) -> Result<tempfile::NamedTempFile, CliError> {
    let dir = if is_stdio(out) {
        std::env::temp_dir()
    } else {
        match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    tempfile::Builder::new()
        .prefix(".pqxdh-")
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(io_err(&dir))
}

/// Moves a finished temporary file to `out`, or copies it to standard output.
fn publish(temp: tempfile::NamedTempFile, out: &Path) -> Result<(), CliError> {
    if is_stdio(out) {
        let mut file = temp.reopen().map_err(io_err(temp.path()))?;
        file.rewind().map_err(io_err(temp.path()))?;
        let mut stdout = io::stdout().lock();
        io::copy(&mut file, &mut stdout).map_err(io_err(out))?;
        stdout.flush().map_err(io_err(out))?;
        Ok(())
    } else {
        temp.as_file().sync_all().map_err(io_err(temp.path()))?;
        temp.persist(out).map_err(|e| CliError::Io {
            path: out.display().to_string(),
            source: e.error,
        })?;
        sync_parent(out)
    }
}

/// Makes a rename into `out`'s directory durable (fsync of the directory, where supported).
fn sync_parent(out: &Path) -> Result<(), CliError> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    #[cfg(unix)]
    {
        std::fs::File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// `pqxdh encrypt --to BUNDLE... --from IDENTITY IN OUT [--armor]`.
pub fn run_encrypt(args: &EncryptArgs) -> Result<(), CliError> {
    let store = load_identity(&args.from, &args.passphrase)?;
    let mut bundles = Vec::with_capacity(args.to.len());
    for path in &args.to {
        let bundle = load_bundle(path)?;
        bundle.verify().map_err(|source| CliError::Bundle {
            path: path.display().to_string(),
            source,
        })?;
        bundles.push(bundle);
    }
    let (input, len) = open_input(&args.input)?;
    let bar = progress_bar(len, "encrypting");
    let input: Box<dyn Read> = match &bar {
        Some(b) => Box::new(b.wrap_read(input)),
        None => input,
    };
    // To standard output the ciphertext is streamed as it is made (nothing secret is staged);
    // to a file it goes to a temporary file beside OUT, renamed into place when complete.
    let (temp, sink): (Option<tempfile::NamedTempFile>, Box<dyn Write>) = if is_stdio(&args.output)
    {
        (None, Box::new(io::stdout().lock()))
    } else {
        let temp = temp_beside(&args.output)?;
        let file = temp.reopen().map_err(io_err(temp.path()))?;
        (Some(temp), Box::new(file))
    };
    let writer = BufWriter::with_capacity(IO_BUFFER, sink);
    let in_name = args.input.display().to_string();
    let file_err = |source| CliError::File {
        path: in_name.clone(),
        source,
    };
    let options = EncryptOptions {
        segment_size: args.segment_size,
    };
    let mut rng = rand::rng();
    let summary = if args.armor {
        let mut armored = ArmorWriter::new(writer).map_err(io_err(&args.output))?;
        let s = files::encrypt(
            store.identity(),
            &bundles,
            options,
            BufReader::with_capacity(IO_BUFFER, input),
            &mut armored,
            &mut rng,
        )
        .map_err(file_err)?;
        let mut writer = armored.finish().map_err(io_err(&args.output))?;
        writer.flush().map_err(io_err(&args.output))?;
        s
    } else {
        let mut writer = writer;
        let s = files::encrypt(
            store.identity(),
            &bundles,
            options,
            BufReader::with_capacity(IO_BUFFER, input),
            &mut writer,
            &mut rng,
        )
        .map_err(file_err)?;
        writer.flush().map_err(io_err(&args.output))?;
        s
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(temp) = temp {
        publish(temp, &args.output)?;
    }
    eprintln!(
        "encrypted {} bytes to {} recipient(s) in {} segment(s): {}",
        summary.plaintext_len,
        bundles.len(),
        summary.segments,
        args.output.display()
    );
    Ok(())
}

/// `pqxdh decrypt --as IDENTITY IN OUT`: OUT appears only once every segment has authenticated.
pub fn run_decrypt(args: &DecryptArgs) -> Result<(), CliError> {
    let store = load_identity(&args.identity, &args.passphrase)?;
    let (mut input, len) = open_input(&args.input)?;
    let mut prefix = vec![0u8; armor::BEGIN.len()];
    let got = files::read_full(&mut input, &mut prefix).map_err(io_err(&args.input))?;
    prefix.truncate(got);
    let armored = armor::is_armored(&prefix);
    let input = io::Cursor::new(prefix).chain(input);
    let bar = progress_bar(len, "decrypting");
    let input: Box<dyn Read> = match &bar {
        Some(b) => Box::new(b.wrap_read(input)),
        None => Box::new(input),
    };
    let input = BufReader::with_capacity(IO_BUFFER, input);
    let input: Box<dyn Read> = if armored {
        Box::new(ArmorReader::new(input))
    } else {
        Box::new(input)
    };

    // Plaintext reaches OUT (or standard output) only after every segment and the sender's
    // signature verified. To standard output it is staged in an unnamed temporary file, which
    // the system deletes even if the process is killed; otherwise in a named one beside OUT,
    // deleted when dropped on any error below.
    let decrypt_into = |file: std::fs::File, at: &Path| -> Result<_, CliError> {
        let mut writer = BufWriter::with_capacity(IO_BUFFER, file);
        let summary =
            files::decrypt(&store, input, &mut writer).map_err(|source| CliError::File {
                path: args.input.display().to_string(),
                source,
            })?;
        writer.flush().map_err(io_err(at))?;
        let file = writer.into_inner().map_err(|e| CliError::Io {
            path: at.display().to_string(),
            source: e.into_error(),
        })?;
        Ok((summary, file))
    };
    let summary = if is_stdio(&args.output) {
        let dir = std::env::temp_dir();
        let file = tempfile::tempfile_in(&dir).map_err(io_err(&dir))?;
        let (summary, mut file) = decrypt_into(file, &dir)?;
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        file.rewind().map_err(io_err(&dir))?;
        let mut stdout = io::stdout().lock();
        io::copy(&mut file, &mut stdout).map_err(io_err(&args.output))?;
        stdout.flush().map_err(io_err(&args.output))?;
        summary
    } else {
        let temp = temp_beside(&args.output)?;
        let file = temp.reopen().map_err(io_err(temp.path()))?;
        let (summary, file) = decrypt_into(file, temp.path())?;
        file.sync_all().map_err(io_err(temp.path()))?;
        drop(file);
        if let Some(b) = &bar {
            b.finish_and_clear();
        }
        publish(temp, &args.output)?;
        summary
    };
    eprintln!(
        "decrypted {} bytes from {} ({}; one of {} recipient(s)): {}",
        summary.plaintext_len,
        identity::fingerprint(&summary.sender),
        if summary.sender_verified {
            "sender verified: signed by this identity"
        } else {
            "sender not verified: version-1 file, any recipient could have written it"
        },
        summary.recipients,
        args.output.display()
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// demo

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The demo's last act: Alice and Bob, who now trust each other's bundles, talk through the
/// Double Ratchet: a pre-key message, an out-of-order message, a reply, a refused replay.
pub fn demo_conversation(dir: &Path) -> Result<(), CliError> {
    let demo = |what: &str| CliError::Demo(what.to_owned());
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
            .map_err(|e| demo(&e.to_string()))?;
    println!("   session id {}", a.session_id);
    let first = a
        .session
        .encrypt(b"Did the picture arrive?", &mut rng)
        .map_err(|e| demo(&e.to_string()))?;
    let second = a
        .session
        .encrypt(b"It is a gradient with rings.", &mut rng)
        .map_err(|e| demo(&e.to_string()))?;
    println!(
        "   two pre-key messages: {} and {} bytes (each carries the 1645-byte PQXDH header)",
        first.len(),
        second.len()
    );
    println!("\n== 8. Bob receives them out of order");
    let (mut b, text) = pqxdh::sessions::establish::accept(&mut bob, &second, Backend::Libcrux)
        .map_err(|e| demo(&e.to_string()))?;
    println!(
        "   Bob: {:?} (same session id: {})",
        String::from_utf8_lossy(&text),
        b.session_id == a.session_id
    );
    let text = b
        .session
        .decrypt(&first)
        .map_err(|e| demo(&e.to_string()))?;
    println!("   Bob: {:?}", String::from_utf8_lossy(&text));
    match b.session.decrypt(&first) {
        Err(e) => println!("   a replay of the first message is refused: {e}"),
        Ok(_) => return Err(demo("a replayed message was accepted")),
    }
    println!("\n== 9. Bob replies; the DH ratchet turns");
    let reply = b
        .session
        .encrypt(b"Yes, byte for byte.", &mut rng)
        .map_err(|e| demo(&e.to_string()))?;
    let text = a
        .session
        .decrypt(&reply)
        .map_err(|e| demo(&e.to_string()))?;
    println!(
        "   Alice: {:?} ({} bytes on the wire)",
        String::from_utf8_lossy(&text),
        reply.len()
    );
    let next = a
        .session
        .encrypt(b"Great.", &mut rng)
        .map_err(|e| demo(&e.to_string()))?;
    println!(
        "   Alice's next message is a normal message: {} bytes",
        next.len()
    );
    let text = b.session.decrypt(&next).map_err(|e| demo(&e.to_string()))?;
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
