//! Known-answer vector runner: recognizes each vector file's format from its content and checks
//! every vector against this crate's primitives.
//!
//! One sub-module per format family: Wycheproof JSON, NIST ACVP JSON, NIST `.rsp` (round-3
//! Kyber1024), C2SP CCTV text files, our RFC transcriptions, libsignal-derived JSON and the PQXDH
//! vectors. A malformed file or vector never panics: it becomes a failure with a message.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::Value;

pub mod acvp;
pub mod cctv;
pub mod ctr_drbg;
pub mod libsignal;
pub mod mlkem;
pub mod nist_rsp;
pub mod pqxdh_vectors;
pub mod rfc;
pub mod spqr_transcript;
pub mod transcript;
pub mod wycheproof;

/// I/O problems while collecting or reading vector files (malformed content is not an error: it is
/// reported as a failed vector).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KatError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that failed.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// The result of running one vector file (or one labelled part of it).
#[derive(Debug, Clone, Default)]
pub struct FileReport {
    /// The file's path as given.
    pub path: String,
    /// The recognized format.
    pub format: String,
    /// Vectors that matched.
    pub passed: usize,
    /// Vectors that did not.
    pub failed: usize,
    /// One line per failed vector: its id and the first field that differed.
    pub failures: Vec<String>,
    /// Vectors deliberately not run (for example the slow RFC 7748 case); not failures.
    pub skipped: usize,
    /// Why vectors were skipped, or other remarks printed with the result line.
    pub notes: Vec<String>,
}

impl FileReport {
    /// An empty report for `format`.
    pub fn new(format: impl Into<String>) -> Self {
        Self {
            format: format.into(),
            ..Self::default()
        }
    }

    /// Records the outcome of one vector: `Ok` passes, `Err(why)` fails as `id: why`.
    pub fn record(&mut self, id: impl core::fmt::Display, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(why) => {
                self.failed += 1;
                self.failures.push(format!("{id}: {why}"));
            }
        }
    }

    /// Counts `count` vectors as skipped, for `reason`.
    pub fn skip(&mut self, count: usize, reason: impl Into<String>) {
        if count > 0 {
            self.skipped += count;
            self.notes.push(reason.into());
        }
    }

    /// A report of a file that could not be run at all: one failure with `why`.
    pub fn malformed(format: impl Into<String>, why: impl Into<String>) -> Self {
        let mut report = Self::new(format);
        report.record("file", Err(why.into()));
        report
    }

    /// The result line (`ok   path (format): N passed` or `FAIL ...`) and one indented line per
    /// failure.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let status = if self.failed == 0 { "ok  " } else { "FAIL" };
        let _ = write!(
            out,
            "{status} {} ({}): {} passed",
            self.path, self.format, self.passed
        );
        if self.failed > 0 {
            let _ = write!(out, ", {} failed", self.failed);
        }
        if self.skipped > 0 {
            let _ = write!(out, ", {} skipped", self.skipped);
        }
        if !self.notes.is_empty() {
            let _ = write!(out, " [{}]", self.notes.join("; "));
        }
        for failure in &self.failures {
            let _ = write!(out, "\n    {failure}");
        }
        out
    }
}

/// Totals across reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Number of reports (result lines).
    pub reports: usize,
    /// Vectors that matched.
    pub passed: usize,
    /// Vectors that did not.
    pub failed: usize,
    /// Vectors deliberately not run.
    pub skipped: usize,
}

impl Summary {
    /// Adds up `reports`.
    pub fn of(reports: &[FileReport]) -> Self {
        reports.iter().fold(Self::default(), |acc, r| Self {
            reports: acc.reports + 1,
            passed: acc.passed + r.passed,
            failed: acc.failed + r.failed,
            skipped: acc.skipped + r.skipped,
        })
    }

    /// Whether nothing failed.
    pub fn ok(&self) -> bool {
        self.failed == 0
    }

    /// The closing line: `N passed, N failed`, then `, N skipped` when some were skipped.
    pub fn line(&self) -> String {
        let mut out = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            let _ = write!(out, ", {} skipped", self.skipped);
        }
        out
    }
}

/// Options for a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Also run slow vectors (the 1,000,000-iteration X25519 case of RFC 7748).
    pub include_slow: bool,
}

/// Runs every vector file under `paths` (files, or folders searched recursively in sorted order,
/// skipping READMEs, licenses, checksums, schemas and other non-vector files).
pub fn run_paths(paths: &[PathBuf], include_slow: bool) -> Result<Vec<FileReport>, KatError> {
    let options = Options { include_slow };
    let mut files = Vec::new();
    for path in paths {
        collect(path, true, &mut files)?;
    }
    let mut reports = Vec::new();
    for file in files {
        reports.extend(run_file(&file, options)?);
    }
    Ok(reports)
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> KatError + '_ {
    move |source| KatError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Adds `path` (a file) or the vector files under it (a folder) to `out`. A file named explicitly
/// is always run; inside folders only files that look like vector files are.
fn collect(path: &Path, explicit: bool, out: &mut Vec<PathBuf>) -> Result<(), KatError> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    if meta.is_dir() {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let linked = std::fs::symlink_metadata(path)
            .map_err(io_error(path))?
            .file_type()
            .is_symlink();
        // Schemas are not vectors; linked folders could loop.
        if !explicit && (name == "schemas" || linked) {
            return Ok(());
        }
        let mut entries = std::fs::read_dir(path)
            .map_err(io_error(path))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io_error(path))?;
        entries.sort();
        for entry in entries {
            collect(&entry, false, out)?;
        }
    } else if explicit || is_vector_file_name(path) {
        out.push(path.to_path_buf());
    }
    Ok(())
}

/// Whether a file found inside a folder should be run: `.json`, `.rsp`, `.txt` and `.txt.gz`, but
/// not READMEs, licenses or checksum lists.
pub fn is_vector_file_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let upper = name.to_ascii_uppercase();
    if upper.starts_with("README")
        || upper.starts_with("LICENSE")
        || upper.starts_with("SHA256SUMS")
    {
        return false;
    }
    [".json", ".rsp", ".txt", ".txt.gz"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

/// The format family of a vector file, recognized from its name and content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Wycheproof JSON (has a `schema` field).
    Wycheproof,
    /// NIST ACVP JSON (`algorithm` and `mode`).
    Acvp,
    /// NIST PQC `.rsp` known-answer file.
    NistRsp,
    /// C2SP CCTV ML-KEM text vectors (`.txt`, `.txt.gz`).
    Cctv,
    /// Our transcription of RFC 7748 section 5.2 / 6.1.
    Rfc7748,
    /// Our transcription of RFC 8032 section 7.1.
    Rfc8032,
    /// Our transcription of RFC 5869 appendix A.
    Rfc5869,
    /// libsignal's XEdDSA signature vector.
    LibsignalXeddsa,
    /// libsignal's X3DH (v3) ratchet-initialisation vector.
    LibsignalX3dh,
    /// PQXDH vectors (`"format": "pqxdh-kat-v1"`).
    Pqxdh,
    /// Double Ratchet transcripts (`"format": "pqxdh-ratchet-transcripts-v2"`).
    RatchetTranscripts,
    /// SPQR transcripts (`"format": "pqxdh-spqr-transcripts-v1"`).
    SpqrTranscripts,
}

/// Recognizes the format of a parsed JSON document, or `None`.
pub fn detect_json(doc: &Value) -> Option<Format> {
    let has = |key: &str| doc.get(key).is_some();
    let source = doc.get("source").and_then(Value::as_str).unwrap_or("");
    let format = doc.get("format").and_then(Value::as_str);
    if format == Some(pqxdh_vectors::FORMAT) {
        Some(Format::Pqxdh)
    } else if format == Some(crate::transcript::TRANSCRIPT_FORMAT) {
        Some(Format::RatchetTranscripts)
    } else if format == Some(crate::spqr_transcript::SPQR_TRANSCRIPT_FORMAT) {
        Some(Format::SpqrTranscripts)
    } else if has("schema") && has("testGroups") {
        Some(Format::Wycheproof)
    } else if has("algorithm") && has("mode") && has("testGroups") {
        Some(Format::Acvp)
    } else if has("scalar_mult") || has("iterated") || source.starts_with("RFC 7748") {
        Some(Format::Rfc7748)
    } else if source.starts_with("RFC 8032") {
        Some(Format::Rfc8032)
    } else if source.starts_with("RFC 5869") {
        Some(Format::Rfc5869)
    } else if has("identity_public_x25519") && has("signature") {
        Some(Format::LibsignalXeddsa)
    } else if doc
        .get("values")
        .is_some_and(|v| v.get("expected_chain_key").is_some())
    {
        Some(Format::LibsignalX3dh)
    } else {
        None
    }
}

/// Recognizes a file's format from its name and content (`None`: not a known vector format).
pub fn detect(path: &Path, content: &[u8]) -> Option<Format> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".rsp") {
        return Some(Format::NistRsp);
    }
    if name.ends_with(".txt") || name.ends_with(".txt.gz") {
        return Some(Format::Cctv);
    }
    let doc: Value = serde_json::from_slice(content).ok()?;
    detect_json(&doc)
}

/// Runs one file. Returns more than one report when a file is checked through several backends
/// (each backend gets its own labelled line).
pub fn run_file(path: &Path, options: Options) -> Result<Vec<FileReport>, KatError> {
    let raw = std::fs::read(path).map_err(io_error(path))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let mut reports = if name.ends_with(".gz") {
        let mut text = String::new();
        match flate2::read::GzDecoder::new(raw.as_slice()).read_to_string(&mut text) {
            Ok(_) => run_content(path, text.as_bytes(), options),
            Err(e) => vec![FileReport::malformed(
                "gzip",
                format!("cannot decompress: {e}"),
            )],
        }
    } else {
        run_content(path, &raw, options)
    };
    for report in &mut reports {
        report.path = path.display().to_string();
    }
    Ok(reports)
}

/// Runs already-read (and decompressed) file content; `path` only guides format recognition.
pub fn run_content(path: &Path, content: &[u8], options: Options) -> Vec<FileReport> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.ends_with(".rsp") {
        return vec![match std::str::from_utf8(content) {
            Ok(text) => nist_rsp::run(text),
            Err(_) => FileReport::malformed("nist-rsp", "not UTF-8 text"),
        }];
    }
    if name.ends_with(".txt") || name.ends_with(".txt.gz") {
        return vec![match std::str::from_utf8(content) {
            Ok(text) => cctv::run(text),
            Err(_) => FileReport::malformed("cctv", "not UTF-8 text"),
        }];
    }
    let doc: Value = match serde_json::from_slice(content) {
        Ok(doc) => doc,
        Err(e) => {
            return vec![FileReport::malformed(
                "json",
                format!("malformed JSON: {e}"),
            )];
        }
    };
    run_json(&doc, options)
}

/// Runs a parsed JSON vector document of any recognized format.
pub fn run_json(doc: &Value, options: Options) -> Vec<FileReport> {
    match detect_json(doc) {
        Some(Format::Pqxdh) => vec![pqxdh_vectors::run(doc)],
        Some(Format::LibsignalX3dh) => vec![pqxdh_vectors::run_x3dh(doc)],
        Some(Format::RatchetTranscripts) => vec![run_transcripts(
            doc,
            crate::transcript::TRANSCRIPT_FORMAT,
            crate::transcript::run_transcript_file,
        )],
        Some(Format::SpqrTranscripts) => vec![run_transcripts(
            doc,
            crate::spqr_transcript::SPQR_TRANSCRIPT_FORMAT,
            crate::spqr_transcript::run_transcript_file,
        )],
        Some(Format::LibsignalXeddsa) => vec![libsignal::run_xeddsa(doc)],
        Some(Format::Wycheproof) => wycheproof::run(doc),
        Some(Format::Acvp) => acvp::run(doc),
        Some(Format::Rfc7748) => vec![rfc::run_x25519(doc, options)],
        Some(Format::Rfc8032) => vec![rfc::run_ed25519(doc)],
        Some(Format::Rfc5869) => vec![rfc::run_hkdf(doc)],
        Some(Format::NistRsp | Format::Cctv) | None => vec![FileReport::malformed(
            "unknown",
            "unrecognized vector format (no Wycheproof `schema`, ACVP `algorithm`/`mode`, RFC `source` or `format` field)",
        )],
    }
}

/// Replays every step of a transcript file (ratchet or SPQR) with its `runner`, which returns the
/// number of steps checked: each step is one vector.
fn run_transcripts(
    doc: &Value,
    format: &str,
    runner: fn(&Value) -> Result<usize, String>,
) -> FileReport {
    let mut report = FileReport {
        format: format.into(),
        ..FileReport::default()
    };
    match runner(doc) {
        Ok(steps) => report.passed = steps,
        Err(why) => {
            report.failed = 1;
            report.failures.push(why);
        }
    }
    report
}

// ---- helpers shared by the format modules ----

/// A field of a JSON object.
pub(crate) fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    v.get(key).ok_or_else(|| format!("missing field `{key}`"))
}

/// A string field.
pub(crate) fn str_field<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    field(v, key)?
        .as_str()
        .ok_or_else(|| format!("`{key}` is not a string"))
}

/// A non-negative integer field.
pub(crate) fn usize_field(v: &Value, key: &str) -> Result<usize, String> {
    field(v, key)?
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| format!("`{key}` is not a non-negative integer"))
}

/// A hex-encoded byte string field (either case).
pub(crate) fn hex_field(v: &Value, key: &str) -> Result<Vec<u8>, String> {
    hex::decode(str_field(v, key)?).map_err(|e| format!("`{key}` is not valid hex: {e}"))
}

/// An array field.
pub(crate) fn array_field<'a>(v: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| format!("`{key}` is not an array"))
}

/// A fixed-size byte array, or an error naming `what`.
pub(crate) fn fixed<const N: usize>(what: &str, bytes: &[u8]) -> Result<[u8; N], String> {
    bytes
        .try_into()
        .map_err(|_| format!("`{what}` must be {N} bytes, got {}", bytes.len()))
}

/// Shortened hex for failure messages.
pub(crate) fn short_hex(bytes: &[u8]) -> String {
    if bytes.len() <= 40 {
        hex::encode(bytes)
    } else {
        let head = bytes.get(..20).map(hex::encode).unwrap_or_default();
        format!("{head}... ({} bytes)", bytes.len())
    }
}

/// `Ok` when `expected == actual`, otherwise a message naming `what` and the first differing byte.
pub(crate) fn expect_eq(what: &str, expected: &[u8], actual: &[u8]) -> Result<(), String> {
    if expected == actual {
        return Ok(());
    }
    let first = expected
        .iter()
        .zip(actual)
        .position(|(a, b)| a != b)
        .unwrap_or(expected.len().min(actual.len()));
    Err(format!(
        "`{what}` differs at byte {first}: expected {}, got {}",
        short_hex(expected),
        short_hex(actual)
    ))
}

/// The id of a Wycheproof or ACVP test: `tcId N` (with the group's id when given).
pub(crate) fn tc_id(test: &Value) -> String {
    match test.get("tcId") {
        Some(id) => format!("tcId {id}"),
        None => "tcId ?".into(),
    }
}

/// The staleness check of a generated vector file: rewrites `path` with `generated` (pretty JSON)
/// when `PQXDH_WRITE_KAT` is set, then asserts that the file equals `generated` and returns its
/// text.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn generated_file_text(path: &str, generated: &Value) -> String {
    if std::env::var_os("PQXDH_WRITE_KAT").is_some() {
        let text = serde_json::to_string_pretty(generated).unwrap() + "\n";
        std::fs::write(path, text).unwrap();
    }
    let text = std::fs::read_to_string(path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(&file, generated, "{path} is stale");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let cases = [
            (r#"{"schema":"x.json","testGroups":[]}"#, Format::Wycheproof),
            (
                r#"{"algorithm":"ML-KEM","mode":"keyGen","testGroups":[]}"#,
                Format::Acvp,
            ),
            (r#"{"source":"RFC 8032 ...","tests":[]}"#, Format::Rfc8032),
            (r#"{"source":"RFC 5869 ...","tests":[]}"#, Format::Rfc5869),
            (r#"{"source":"x","scalar_mult":[]}"#, Format::Rfc7748),
            (r#"{"format":"pqxdh-kat-v1","vectors":[]}"#, Format::Pqxdh),
            (
                r#"{"format":"pqxdh-ratchet-transcripts-v2","transcripts":[]}"#,
                Format::RatchetTranscripts,
            ),
            (
                r#"{"format":"pqxdh-spqr-transcripts-v1","transcripts":[]}"#,
                Format::SpqrTranscripts,
            ),
            (
                r#"{"identity_public_x25519":"00","signature":"00"}"#,
                Format::LibsignalXeddsa,
            ),
            (
                r#"{"values":{"expected_chain_key":"00"}}"#,
                Format::LibsignalX3dh,
            ),
        ];
        for (text, format) in cases {
            assert_eq!(
                detect(Path::new("v.json"), text.as_bytes()),
                Some(format),
                "{text}"
            );
        }
        assert_eq!(detect(Path::new("a.rsp"), b""), Some(Format::NistRsp));
        assert_eq!(detect(Path::new("a.txt.gz"), b""), Some(Format::Cctv));
        assert_eq!(detect(Path::new("a.json"), b"{\"x\":1}"), None);
        assert_eq!(detect(Path::new("a.json"), b"not json"), None);
    }

    #[test]
    fn vector_file_names() {
        for yes in ["a.json", "b.rsp", "ML-KEM-512.txt", "ML-KEM-512.txt.gz"] {
            assert!(is_vector_file_name(Path::new(yes)), "{yes}");
        }
        for no in [
            "README.md",
            "LICENSE",
            "LICENSE.crystals-kyber-javascript",
            "SHA256SUMS",
            "verify_rfc.py",
            "README.txt",
        ] {
            assert!(!is_vector_file_name(Path::new(no)), "{no}");
        }
    }

    #[test]
    fn garbage_is_one_failure_not_a_panic() {
        let options = Options::default();
        for (name, content) in [
            ("x.json", &b"{ not json"[..]),
            ("x.json", b"[1,2,3]"),
            ("x.json", b"{\"schema\":\"a\",\"testGroups\":5}"),
            ("x.json", b"{\"algorithm\":\"ML-KEM\",\"mode\":\"keyGen\",\"testGroups\":[{\"parameterSet\":\"ML-KEM-9\",\"tests\":[{\"tcId\":1}]}]}"),
            ("x.rsp", b"count = 0\nseed = zz\n"),
            ("x.txt", b"dk = 00\nc = 00\n"),
            ("x.txt", &[0xff, 0xfe][..]),
        ] {
            let reports = run_content(Path::new(name), content, options);
            let summary = Summary::of(&reports);
            assert!(summary.failed >= 1, "{name}: {reports:?}");
            assert_eq!(summary.passed, 0, "{name}: {reports:?}");
            assert!(reports.iter().all(|r| r.failures.len() == r.failed));
        }
    }

    #[test]
    fn missing_field_names_the_vector_and_field() {
        let doc: Value = serde_json::from_str(
            r#"{"algorithm":"XDH","schema":"xdh_comp_schema_v1.json","testGroups":[{"curve":"curve25519","tests":[
                {"tcId":7,"public":"0900000000000000000000000000000000000000000000000000000000000000","shared":"00","result":"valid"}]}]}"#,
        )
        .unwrap();
        let reports = run_json(&doc, Options::default());
        assert_eq!(reports.len(), 1);
        assert_eq!((reports[0].passed, reports[0].failed), (0, 1));
        assert!(reports[0].failures[0].contains("tcId 7"));
        assert!(reports[0].failures[0].contains("`private`"));
    }

    #[test]
    fn render_and_summary_lines() {
        let mut report = FileReport::new("demo");
        report.path = "p.json".into();
        report.record("a", Ok(()));
        report.record("tcId 2", Err("`x` differs".into()));
        report.skip(1, "slow");
        let text = report.render();
        assert!(text.starts_with("FAIL p.json (demo): 1 passed, 1 failed, 1 skipped [slow]"));
        assert!(text.ends_with("\n    tcId 2: `x` differs"));
        let summary = Summary::of(&[report]);
        assert_eq!(summary.line(), "1 passed, 1 failed, 1 skipped");
        assert!(!summary.ok());
    }
}
