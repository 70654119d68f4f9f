//! ASCII armor for encrypted files: a BEGIN line, the bytes as standard padded base64 in lines of
//! 64 characters, and an END line. Both directions stream in constant memory.

use std::io::{self, BufRead, Write};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// First line of an armored file.
pub const BEGIN: &str = "-----BEGIN PQXDH ENCRYPTED FILE-----";
/// Last line of an armored file.
pub const END: &str = "-----END PQXDH ENCRYPTED FILE-----";
/// Base64 characters per line.
pub const LINE_LEN: usize = 64;
/// Bytes per full line (64 base64 characters).
const LINE_BYTES: usize = LINE_LEN / 4 * 3;
/// Longest line the reader accepts before giving up (guards memory on garbage input).
const MAX_LINE: u64 = 1024;

/// Whether `prefix` (the first bytes of an input) starts an armored file.
pub fn is_armored(prefix: &[u8]) -> bool {
    prefix.starts_with(BEGIN.as_bytes())
}

/// Encodes everything written to it as armor. Call [`ArmorWriter::finish`] to write the last line
/// and the END line.
pub struct ArmorWriter<W: Write> {
    inner: W,
    pending: Vec<u8>,
    lines: Vec<u8>,
}

impl<W: Write> ArmorWriter<W> {
    /// Writes the BEGIN line and wraps `inner`.
    pub fn new(mut inner: W) -> io::Result<Self> {
        inner.write_all(BEGIN.as_bytes())?;
        inner.write_all(b"\n")?;
        Ok(Self {
            inner,
            pending: Vec::with_capacity(LINE_BYTES * 1024),
            lines: Vec::with_capacity((LINE_LEN + 1) * 1024),
        })
    }

    fn flush_lines(&mut self, all: bool) -> io::Result<()> {
        let full = if all {
            self.pending.len()
        } else {
            self.pending.len() / LINE_BYTES * LINE_BYTES
        };
        self.lines.clear();
        for chunk in self
            .pending
            .get(..full)
            .unwrap_or_default()
            .chunks(LINE_BYTES)
        {
            let mut line = [0u8; LINE_LEN];
            let n = STANDARD
                .encode_slice(chunk, &mut line)
                .map_err(|e| io::Error::other(e.to_string()))?;
            self.lines
                .extend_from_slice(line.get(..n).unwrap_or_default());
            self.lines.push(b'\n');
        }
        self.inner.write_all(&self.lines)?;
        self.pending.drain(..full);
        Ok(())
    }

    /// Writes the remaining bytes and the END line; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.flush_lines(true)?;
        self.inner.write_all(END.as_bytes())?;
        self.inner.write_all(b"\n")?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ArmorWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if self.pending.len() >= LINE_BYTES * 1024 {
            self.flush_lines(false)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_lines(false)?;
        self.inner.flush()
    }
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("malformed armor: {what}"),
    )
}

/// Decodes an armored file read from `inner`, checking the BEGIN and END lines and the line
/// lengths; anything but whitespace after the END line is an error.
pub struct ArmorReader<R: BufRead> {
    inner: R,
    decoded: Vec<u8>,
    pos: usize,
    line: String,
    line_no: usize,
    state: State,
}

#[derive(PartialEq, Eq)]
enum State {
    Begin,
    Body,
    /// A short (final) base64 line was seen: only END may follow.
    AfterShort,
    Done,
}

impl<R: BufRead> ArmorReader<R> {
    /// Wraps `inner`; the BEGIN line is checked on the first read.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            decoded: Vec::with_capacity(LINE_BYTES),
            pos: 0,
            line: String::with_capacity(LINE_LEN + 2),
            line_no: 0,
            state: State::Begin,
        }
    }

    /// Reads one line without its line ending; `None` at end of input.
    fn next_line(&mut self) -> io::Result<Option<()>> {
        self.line.clear();
        let n = <&mut R as io::Read>::take(&mut self.inner, MAX_LINE)
            .read_line(&mut self.line)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::InvalidData {
                    malformed("not ASCII")
                } else {
                    e
                }
            })?;
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        if !self.line.ends_with('\n') && n as u64 >= MAX_LINE {
            return Err(malformed(&format!("line {} is too long", self.line_no)));
        }
        let trimmed = self.line.trim_end_matches(['\n', '\r']).len();
        self.line.truncate(trimmed);
        Ok(Some(()))
    }

    /// Decodes the next line into `decoded`; false at the END line.
    fn refill(&mut self) -> io::Result<bool> {
        loop {
            match self.state {
                State::Done => return Ok(false),
                State::Begin => {
                    if self.next_line()?.is_none() || self.line != BEGIN {
                        return Err(malformed("missing BEGIN line"));
                    }
                    self.state = State::Body;
                }
                State::Body | State::AfterShort => {
                    if self.next_line()?.is_none() {
                        return Err(malformed("missing END line (the file is truncated)"));
                    }
                    if self.line == END {
                        self.check_trailer()?;
                        self.state = State::Done;
                        return Ok(false);
                    }
                    if self.state == State::AfterShort {
                        return Err(malformed(&format!(
                            "line {}: data after a short line",
                            self.line_no
                        )));
                    }
                    if self.line.len() > LINE_LEN || self.line.is_empty() {
                        return Err(malformed(&format!(
                            "line {} has {} characters (expected {LINE_LEN} or a shorter last line)",
                            self.line_no,
                            self.line.len()
                        )));
                    }
                    if self.line.len() < LINE_LEN {
                        self.state = State::AfterShort;
                    }
                    self.decoded.clear();
                    self.decoded.resize(LINE_BYTES, 0);
                    let n = STANDARD
                        .decode_slice(self.line.as_bytes(), &mut self.decoded)
                        .map_err(|_| {
                            malformed(&format!("line {} is not valid base64", self.line_no))
                        })?;
                    self.decoded.truncate(n);
                    self.pos = 0;
                    if n > 0 {
                        return Ok(true);
                    }
                }
            }
        }
    }

    fn check_trailer(&mut self) -> io::Result<()> {
        while self.next_line()?.is_some() {
            if !self.line.trim().is_empty() {
                return Err(malformed("data after the END line"));
            }
        }
        Ok(())
    }
}

impl<R: BufRead> io::Read for ArmorReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut written = 0;
        while written < buf.len() {
            if self.pos >= self.decoded.len() && !self.refill()? {
                break;
            }
            let avail = self.decoded.get(self.pos..).unwrap_or_default();
            let out = buf.get_mut(written..).unwrap_or_default();
            let n = avail.len().min(out.len());
            if let (Some(dst), Some(src)) = (out.get_mut(..n), avail.get(..n)) {
                dst.copy_from_slice(src);
            }
            self.pos += n;
            written += n;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn round_trip(data: &[u8]) -> io::Result<Vec<u8>> {
        let mut w = ArmorWriter::new(Vec::new())?;
        for piece in data.chunks(7) {
            w.write_all(piece)?;
        }
        let text = w.finish()?;
        let mut out = Vec::new();
        ArmorReader::new(&text[..]).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn round_trips_every_small_length() -> io::Result<()> {
        for len in 0..200usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 256) as u8).collect();
            assert_eq!(round_trip(&data)?, data);
        }
        let big: Vec<u8> = (0..200_000usize).map(|i| (i % 251) as u8).collect();
        assert_eq!(round_trip(&big)?, big);
        Ok(())
    }

    #[test]
    fn lines_are_64_characters() -> io::Result<()> {
        let mut w = ArmorWriter::new(Vec::new())?;
        w.write_all(&[7u8; 100])?;
        let text = String::from_utf8(w.finish()?).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first().copied(), Some(BEGIN));
        assert_eq!(lines.last().copied(), Some(END));
        assert_eq!(lines.get(1).map(|l| l.len()), Some(64));
        Ok(())
    }

    #[test]
    fn rejects_bad_armor() {
        let bad = [
            "nothing\n".to_string(),
            format!("{BEGIN}\nAAAA\n"),
            format!("{BEGIN}\nAA!A\n{END}\n"),
            format!("{BEGIN}\nAAAA\nAAAA\n{END}\n"),
            format!("{BEGIN}\nAAAA\n{END}\ntrailing\n"),
        ];
        for text in bad {
            let mut out = Vec::new();
            assert!(
                ArmorReader::new(text.as_bytes())
                    .read_to_end(&mut out)
                    .is_err(),
                "{text}"
            );
        }
        let mut out = Vec::new();
        let crlf = format!("{BEGIN}\r\nAAAA\r\n{END}\r\n");
        assert!(
            ArmorReader::new(crlf.as_bytes())
                .read_to_end(&mut out)
                .is_ok()
        );
        assert_eq!(out, vec![0, 0, 0]);
    }
}
