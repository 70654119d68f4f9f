//! `decrypt`: a binary or armored file encrypted to one of your identities; the plaintext is
//! published only once the whole file has authenticated.

use std::io::{self, BufReader, BufWriter, Read, Seek, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use pqxdh::handshake::identity;
use pqxdh_files as files;
use pqxdh_files::armor::{self, ArmorReader};

use crate::error::{CliError, io_err};
use crate::fs::{IO_BUFFER, is_stdio, open_input, progress_bar, publish, temp_beside};
use crate::identity::load_identity;
use crate::passphrase::PassphraseArgs;

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
