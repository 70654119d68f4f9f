//! What a message carries inside its Double Ratchet encryption (SPEC.md section 13.3): a text, or
//! a shared file's reference, key and digest. Encoded as one JSON object.

use serde::{Deserialize, Serialize};

/// Longest file name kept from a received file reference (longer names are cut).
pub const MAX_FILE_NAME_LEN: usize = 255;

/// A message's content.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Content {
    /// A text message.
    Text {
        /// The text.
        text: String,
    },
    /// A file shared through the server: encrypted once under `key` (an attachment body,
    /// SPEC.md section 9.4) and uploaded as attachment `attachment`.
    File {
        /// The file's name, as the sender had it (a base name; never trusted as a path).
        name: String,
        /// The plaintext size in bytes.
        size: u64,
        /// The server's attachment id.
        attachment: String,
        /// SHA-256 of the uploaded ciphertext (hex), checked before decrypting.
        sha256: String,
        /// The attachment key (hex, 32 bytes): it travels only inside this message.
        key: String,
    },
}

/// Never shows the attachment key.
impl core::fmt::Debug for Content {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Content({})", describe(self))
    }
}

/// Redacts the attachment key.
pub(crate) fn describe(content: &Content) -> String {
    match content {
        Content::Text { text } => text.clone(),
        Content::File { name, size, .. } => format!("[file {name}, {size} bytes]"),
    }
}

impl Content {
    /// The JSON bytes sealed into a ratchet message.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings and numbers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a decrypted message.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// A one-line description, never showing a key.
    pub fn summary(&self) -> String {
        describe(self)
    }
}

/// The last path component of `name`, without control characters, never empty, `.` or `..`.
pub fn safe_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_LEN)
        .collect();
    match cleaned.trim() {
        "" | "." | ".." => "received-file".to_owned(),
        s => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_exact_encoding() {
        let text = Content::Text { text: "hi".into() };
        assert_eq!(text.to_bytes(), br#"{"type":"text","text":"hi"}"#);
        assert_eq!(Content::from_bytes(&text.to_bytes()).unwrap(), text);
        assert!(Content::from_bytes(br#"{"type":"sticker"}"#).is_err());
    }

    #[test]
    fn file_names_cannot_escape() {
        assert_eq!(safe_file_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_file_name("a\\b\\c.txt"), "c.txt");
        assert_eq!(safe_file_name(".."), "received-file");
        assert_eq!(safe_file_name("x\u{7}y"), "xy");
        assert_eq!(safe_file_name(""), "received-file");
    }
}
