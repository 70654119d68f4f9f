//! [`CliError`], the one error type of the commands, and the helper that wraps I/O errors with
//! their path.

use std::io;
use std::path::Path;

use pqxdh::handshake::bundle::BundleError;
use pqxdh_files::FileError;
use pqxdh_files::identity_file::IdentityFileError;

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
    /// A messaging command failed (store, server, session or trust).
    #[error("{0}")]
    Client(#[from] pqxdh_client::Error),
}

/// Wraps an I/O error on `path` as [`CliError::Io`].
pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CliError + '_ {
    move |source| CliError::Io {
        path: path.display().to_string(),
        source,
    }
}
