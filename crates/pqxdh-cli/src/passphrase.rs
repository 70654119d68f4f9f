//! Where a passphrase comes from: an environment variable or the terminal, never an argument.

use clap::Args;
use zeroize::Zeroizing;

use crate::error::CliError;

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

/// Whether the passphrase protects a new file (asked twice) or opens an existing one.
pub(crate) enum PassphrasePurpose {
    New,
    Open,
}

/// The passphrase `args` names, or `None` when they name none.
pub(crate) fn get_passphrase(
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
