//! `encrypt`: one file to one or more recipients' bundles, binary or armored.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use clap::Args;

use pqxdh_files::armor::ArmorWriter;
use pqxdh_files::{self as files, DEFAULT_SEGMENT_SIZE, EncryptOptions};

use crate::bundle::load_bundle;
use crate::error::{CliError, io_err};
use crate::fs::{IO_BUFFER, is_stdio, open_input, progress_bar, publish, temp_beside};
use crate::identity::load_identity;
use crate::passphrase::PassphraseArgs;

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
    let encrypt_to = |sink: &mut dyn Write| {
        files::encrypt(
            store.identity(),
            &bundles,
            options,
            BufReader::with_capacity(IO_BUFFER, input),
            sink,
            &mut rng,
        )
        .map_err(file_err)
    };
    let summary = if args.armor {
        let mut armored = ArmorWriter::new(writer).map_err(io_err(&args.output))?;
        let s = encrypt_to(&mut armored)?;
        let mut writer = armored.finish().map_err(io_err(&args.output))?;
        writer.flush().map_err(io_err(&args.output))?;
        s
    } else {
        let mut writer = writer;
        let s = encrypt_to(&mut writer)?;
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
