//! One JSON value on one line, in the style of Python's `json.dumps`: `", "` between items and
//! `": "` after keys, keys in insertion order. The node's replies use it so that they match the
//! task's sample replies exactly.

use serde_json::Value;
use serde_json::ser::Formatter;

/// serde_json formatter writing `", "` and `": "` separators.
struct PythonStyle;

impl Formatter for PythonStyle {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// `", "` before every item but the first, in arrays and objects alike.
fn separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

/// Serializes `value` on one line with Python-style separators (no trailing newline).
pub fn to_line(value: &Value) -> String {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonStyle);
    // Writing a `Value` into a Vec cannot fail: there is no I/O error and no non-string key.
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return String::from("null");
    }
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn matches_python_separators_and_order() {
        let v = json!({"type": "x", "in_reply_to": 1, "nested": {"b": [1, 2], "a": "é\n"}});
        assert_eq!(
            to_line(&v),
            r#"{"type": "x", "in_reply_to": 1, "nested": {"b": [1, 2], "a": "é\n"}}"#
        );
    }
}
