//! File-system helpers of the commands: standard input and output as `-`, files created or
//! replaced durably (temporary file beside the target, fsync, rename, fsync of the directory),
//! and the progress bar of long encryptions and decryptions.

use std::fs::{self, File, OpenOptions};
use std::io::{self, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{CliError, io_err};

/// Inputs at least this large get a progress bar (when stderr is a terminal).
const PROGRESS_THRESHOLD: u64 = 16 * 1024 * 1024;
/// Buffer size of file readers and writers.
pub(crate) const IO_BUFFER: usize = 256 * 1024;

/// Whether `path` is `-`: standard input or output.
pub(crate) fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// Creates `path` with `bytes` (mode 0600 when `private`) and fsyncs it; refuses to overwrite.
pub(crate) fn write_new_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), CliError> {
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

/// Creates `dir` (and its parents) with mode 0700 if it does not exist.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), CliError> {
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

/// Replaces `path` with `bytes` atomically: a new file beside it (mode 0600 when `private`),
/// written and fsynced, renamed over `path`, then the directory fsynced. A crash leaves either
/// the old file or the new one, never a mix.
pub(crate) fn replace_file(path: &Path, bytes: &[u8], private: bool) -> Result<(), CliError> {
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

/// A progress bar of `len` bytes when stderr is a terminal and `len` is large enough.
pub(crate) fn progress_bar(
    len: Option<u64>,
    message: &'static str,
) -> Option<indicatif::ProgressBar> {
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

/// Opens a file or standard input (`-`), with the length when it is a regular file.
pub(crate) fn open_input(path: &Path) -> Result<(Box<dyn Read>, Option<u64>), CliError> {
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
pub(crate) fn temp_beside(out: &Path) -> Result<tempfile::NamedTempFile, CliError> {
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
pub(crate) fn publish(temp: tempfile::NamedTempFile, out: &Path) -> Result<(), CliError> {
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
