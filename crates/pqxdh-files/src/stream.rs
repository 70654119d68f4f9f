//! The STREAM body shared by the recipient container and attachments (SPEC.md section 9.1,
//! "Segments"), sealed or opened a bounded batch of segments at a time: batches are read in order
//! on the calling thread, their segments sealed or opened on the other cores (rayon's global
//! pool), then written in order, the next batch read and the previous written while the pool
//! works. The pool is used only when the cryptography, not the reading and writing, is what takes
//! the time ([`Schedule::Auto`] measures its first [`PROBE_SEGMENTS`] segments to tell).
//! Segments are independent under STREAM (each has its own nonce), so the bytes are those of one
//! segment at a time; only the memory bound changes, from one segment to [`IN_FLIGHT_BATCHES`]
//! batches.

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::segment_cipher::NONCE_LEN;
use crate::{FileError, MAX_SEGMENT_SIZE, NONCE_PREFIX_LEN, PayloadKeys, TAG_LEN, read_full};

/// Segments a batch holds per worker thread: eight (512 KiB at the default segment size), so
/// that a batch's work (about 8 x 10 µs per thread with AWS-LC here) outweighs waking the pool
/// for it, and a thread that finishes its share early takes another instead of idling.
pub const SEGMENTS_PER_THREAD: usize = 8;

/// Largest batch, in bytes of segment buffers (segment size + tag, each); the body holds
/// [`IN_FLIGHT_BATCHES`] of them whatever the file size and the number of cores (12 MiB). A
/// segment larger than this (segment sizes go up to 16 MiB) makes a batch of one.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;

/// A batch of fewer segments than this is sealed or opened on the calling thread: below it the
/// work (about 10 µs per 64 KiB segment with AWS-LC on one core of the 2-core machine of
/// BENCHMARKS.md) is of the order of waking a sleeping pool thread, so small files (under 4
/// segments, 256 KiB by default) stay on one core.
pub const PARALLEL_MIN_SEGMENTS: usize = 4;

/// Which threads run the body: [`Schedule::Auto`] everywhere but in tests, which compare it with
/// the others byte for byte.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// One segment at a time on the calling thread for the first [`PROBE_SEGMENTS`], timed;
    /// then, if sealing or opening took longer than reading and writing, batches sized for
    /// rayon's pool (a batch under [`PARALLEL_MIN_SEGMENTS`] segments still runs on the calling
    /// thread); otherwise on as before. A pool of one thread never leaves the calling thread.
    Auto,
    /// One segment at a time on the calling thread.
    Serial,
    /// Batches sized for `threads`, every batch handed to rayon's pool however small.
    Parallel {
        /// The thread count the batch size is computed for.
        threads: usize,
    },
}

/// Segments per batch for `threads` worker threads and `chunk_len`-byte segment buffers:
/// [`SEGMENTS_PER_THREAD`] per thread, capped so that the batch stays within
/// [`MAX_BATCH_BYTES`] (at least one segment).
#[doc(hidden)]
pub fn batch_segments(threads: usize, chunk_len: usize) -> usize {
    let by_memory = (MAX_BATCH_BYTES / chunk_len.max(1)).max(1);
    threads
        .saturating_mul(SEGMENTS_PER_THREAD)
        .clamp(1, by_memory)
}

/// What the STREAM body of a container held.
pub(crate) struct StreamSummary {
    /// Plaintext bytes.
    pub(crate) plaintext_len: u64,
    /// Number of segments.
    pub(crate) segments: u64,
}

impl StreamSummary {
    /// Bytes of the segments on disk: the plaintext and one tag per segment.
    pub(crate) fn body_len(&self) -> u64 {
        self.plaintext_len + self.segments * TAG_LEN as u64
    }
}

/// Which way [`stream_segments`] runs.
#[derive(Clone, Copy)]
pub(crate) enum Direction {
    /// Read plaintext, write segments.
    Seal,
    /// Read segments, write plaintext.
    Open,
}

/// One segment of a batch: its buffer (segment size + tag), what was read into it, and, once
/// sealed or opened, the plaintext length or the segment's error.
struct Slot {
    buf: Vec<u8>,
    filled: usize,
    index: u32,
    last: bool,
    outcome: Result<usize, FileError>,
}

impl Slot {
    fn new(chunk_len: usize) -> Self {
        Self {
            buf: vec![0u8; chunk_len],
            filled: 0,
            index: 0,
            last: false,
            outcome: Ok(0),
        }
    }

    /// Seals the plaintext in place and puts its tag after it, or opens ciphertext || tag in
    /// place; the outcome is the plaintext length.
    fn run(&mut self, direction: Direction, keys: &PayloadKeys) {
        let nonce = segment_nonce(&keys.nonce_prefix, self.index, self.last);
        self.outcome = match direction {
            Direction::Seal => self.seal(keys, nonce),
            Direction::Open => self.open(keys, nonce),
        };
    }

    fn seal(&mut self, keys: &PayloadKeys, nonce: [u8; NONCE_LEN]) -> Result<usize, FileError> {
        let (data, rest) = self.buf.split_at_mut(self.filled);
        let tag = keys
            .cipher
            .seal(nonce, data)
            .map_err(|_| FileError::Encryption)?;
        rest.get_mut(..TAG_LEN)
            .ok_or(FileError::Encryption)?
            .copy_from_slice(&tag);
        Ok(self.filled)
    }

    fn open(&mut self, keys: &PayloadKeys, nonce: [u8; NONCE_LEN]) -> Result<usize, FileError> {
        let index = self.index;
        if self.filled < TAG_LEN {
            return Err(if index == 0 && self.filled == 0 {
                FileError::Truncated("no segments")
            } else {
                FileError::SegmentAuthentication(index)
            });
        }
        let sealed = self
            .buf
            .get_mut(..self.filled)
            .ok_or(FileError::Encryption)?;
        keys.cipher
            .open(nonce, sealed)
            .map_err(|_| FileError::SegmentAuthentication(index))
    }

    /// The tag as read (open) or as made (seal), and the bytes to write.
    fn tag_and_output(&self, direction: Direction, plain_len: usize) -> Option<(&[u8], &[u8])> {
        let tag = self.buf.get(plain_len..plain_len + TAG_LEN)?;
        let out = match direction {
            Direction::Seal => self.buf.get(..plain_len + TAG_LEN)?,
            Direction::Open => self.buf.get(..plain_len)?,
        };
        Some((tag, out))
    }
}

/// Runs the STREAM body (SPEC.md section 9.1, "Segments") under `keys` with `segment_size`
/// plaintext bytes per segment, handing each tag to `on_tag` in order. Sealing cuts `input` into
/// segments and writes them to `output`; opening writes each segment's plaintext to `output` only
/// once its tag has verified, and fails on a modified, reordered, truncated or extended stream.
/// Both look one byte ahead to tell the last segment.
///
/// Batches go through a pipeline of [`IN_FLIGHT_BATCHES`]: while the pool seals or opens one,
/// the calling thread writes the one before it and reads the one after it (the reader and writer
/// need not be `Send`). What reaches `output` before an error is the same as one segment at a
/// time: every segment before the first failing one, nothing of it or after it (an open that
/// fails in a batch writes the batch's earlier, authenticated segments first; read-ahead only
/// reads). Memory use is [`IN_FLIGHT_BATCHES`] batches ([`batch_segments`]).
pub(crate) fn stream_segments<R, W>(
    direction: Direction,
    keys: &PayloadKeys,
    segment_size: u32,
    schedule: Schedule,
    input: &mut R,
    output: &mut W,
    on_tag: impl FnMut(&[u8]),
) -> Result<StreamSummary, FileError>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
{
    let segment_len = usize::try_from(segment_size).map_err(|_| FileError::TooLarge)?;
    let threads = match schedule {
        Schedule::Serial => 1,
        Schedule::Auto => rayon::current_num_threads(),
        Schedule::Parallel { threads } => threads,
    };
    let parallel_batch = batch_segments(threads, segment_len + TAG_LEN);
    let pieces = compute_pieces(threads);
    // Auto starts one segment at a time on the calling thread, timing it (`probe`); Parallel
    // hands every batch to the pool from the start.
    let (per_batch, mut min_parallel, mut probe) = match schedule {
        Schedule::Auto if threads > 1 => (1, usize::MAX, Some(Probe::default())),
        Schedule::Serial | Schedule::Auto => (1, usize::MAX, None),
        Schedule::Parallel { .. } => (parallel_batch, 1, None),
    };
    let mut reader = BatchReader {
        input,
        direction,
        segment_len,
        per_batch,
        pending: None,
        next_index: Some(0),
    };
    let mut writer = BatchWriter {
        output,
        direction,
        on_tag,
        plaintext_len: 0,
        segments: 0,
    };
    let crypt = |batch: &mut Batch, parallel: bool| {
        let slots = batch.slots.get_mut(..batch.used).unwrap_or_default();
        if parallel {
            let min_len = slots.len().div_ceil(pieces);
            slots
                .par_iter_mut()
                .with_min_len(min_len)
                .for_each(|s| s.run(direction, keys));
        } else {
            slots.iter_mut().for_each(|s| s.run(direction, keys));
        }
    };

    // `done`: sealed or opened, to write; `current`: read, to seal or open; `ahead`: to read.
    let mut done = Batch::default();
    let mut current = Batch::default();
    let mut ahead = Batch::default();
    reader.fill(&mut current);
    loop {
        let more = current.continues();
        if current.used >= min_parallel {
            rayon::in_place_scope(|scope| {
                let (crypt, current) = (&crypt, &mut current);
                scope.spawn(move |_| crypt(current, true));
                writer.write(&mut done)?;
                if more {
                    reader.fill(&mut ahead);
                }
                Ok::<(), FileError>(())
            })?;
        } else {
            // Timed only while probing.
            let started = probe.as_ref().map(|_| Instant::now());
            crypt(&mut current, false);
            let crypted = started.map(|started| (started, Instant::now()));
            writer.write(&mut done)?;
            if more {
                reader.fill(&mut ahead);
            }
            if let (Some(p), Some((started, crypted))) = (probe.as_mut(), crypted) {
                p.segments += current.used;
                p.crypt += crypted.duration_since(started);
                p.io += crypted.elapsed();
                if p.segments >= PROBE_SEGMENTS {
                    if p.crypto_bound() {
                        reader.per_batch = parallel_batch;
                        min_parallel = PARALLEL_MIN_SEGMENTS;
                    }
                    probe = None;
                }
            }
        }
        std::mem::swap(&mut done, &mut current);
        std::mem::swap(&mut current, &mut ahead);
        if !more {
            writer.write(&mut done)?;
            return Ok(StreamSummary {
                plaintext_len: writer.plaintext_len,
                segments: writer.segments,
            });
        }
    }
}

/// Segments [`Schedule::Auto`] seals or opens on the calling thread, timing that against its
/// reads and writes, before it decides whether the pool pays: 32 (2 MiB at the default segment
/// size, a few hundred microseconds).
pub const PROBE_SEGMENTS: usize = 32;

/// What [`Schedule::Auto`] measured over its first [`PROBE_SEGMENTS`] segments.
#[derive(Default)]
struct Probe {
    segments: usize,
    /// Time spent sealing or opening.
    crypt: Duration,
    /// Time spent writing the previous segments and reading the next.
    io: Duration,
}

impl Probe {
    /// Whether sealing or opening takes longer than reading and writing: only then does the pool
    /// pay. When the reads and writes dominate (a file in the page cache here: the kernel's
    /// copies cost about three times AES-256-GCM's work), handing each batch to another core
    /// adds the cache traffic of moving every byte between cores, in CPU time and in wall time
    /// both (BENCHMARKS.md, "File encryption against age and rage"), and saves nothing.
    fn crypto_bound(&self) -> bool {
        self.crypt > self.io
    }
}

/// Pieces a batch is cut into for `threads` pool threads: one fewer than the threads, at least
/// one. The calling thread reads and writes while the pool works, so with as many pieces as
/// threads one core would run three threads (I/O and two pieces) and the pieces would wait on
/// each other; on 2 cores one pool thread seals or opens the whole batch (BENCHMARKS.md, "File
/// encryption against age and rage").
fn compute_pieces(threads: usize) -> usize {
    threads.saturating_sub(1).max(1)
}

/// Batches in flight at once: one being written, one being sealed or opened, one being read.
pub const IN_FLIGHT_BATCHES: usize = 3;

// The body's buffers, checked when the crate compiles: 12 MiB at most for segments up to
// `MAX_BATCH_BYTES`, and under 64 MiB at the largest segment size (a batch of one).
const _: () = assert!(IN_FLIGHT_BATCHES * MAX_BATCH_BYTES <= 12 << 20);
const _: () = assert!(IN_FLIGHT_BATCHES * (MAX_SEGMENT_SIZE as usize + TAG_LEN) < 64 << 20);

/// Up to one batch of segments: the first `used` slots are in use. `ended`: the last segment is
/// among them; `read_error`: what stopped reading after them, reported once they are written.
#[derive(Default)]
struct Batch {
    slots: Vec<Slot>,
    used: usize,
    ended: bool,
    read_error: Option<FileError>,
}

impl Batch {
    /// Whether reading goes on after this batch.
    fn continues(&self) -> bool {
        !self.ended && self.read_error.is_none()
    }
}

/// Cuts the input into segments, in order, a batch at a time.
struct BatchReader<'a, R: ?Sized> {
    input: &'a mut R,
    direction: Direction,
    segment_len: usize,
    per_batch: usize,
    pending: Option<u8>,
    next_index: Option<u32>,
}

impl<R: Read + ?Sized> BatchReader<'_, R> {
    /// Reads up to one batch of segments into `batch` (growing its buffers as segments arrive,
    /// so that a small file allocates only what it fills), stopping after the last segment or at
    /// a read error.
    fn fill(&mut self, batch: &mut Batch) {
        let chunk_len = self.segment_len + TAG_LEN;
        let read_len = match self.direction {
            Direction::Seal => self.segment_len,
            Direction::Open => chunk_len,
        };
        batch.used = 0;
        batch.ended = false;
        batch.read_error = None;
        while batch.used < self.per_batch {
            // The counter ran out after a segment that was not the last (2^32 segments).
            let Some(index) = self.next_index else {
                batch.read_error = Some(FileError::TooLarge);
                return;
            };
            if batch.slots.len() == batch.used {
                batch.slots.push(Slot::new(chunk_len));
            }
            let Some(slot) = batch.slots.get_mut(batch.used) else {
                batch.read_error = Some(FileError::Encryption);
                return;
            };
            let buf = slot.buf.get_mut(..read_len).unwrap_or_default();
            match read_segment(self.input, buf, &mut self.pending) {
                Ok((filled, last)) => {
                    slot.filled = filled;
                    slot.index = index;
                    slot.last = last;
                    batch.used += 1;
                    if last {
                        batch.ended = true;
                        return;
                    }
                    self.next_index = index.checked_add(1);
                }
                Err(e) => {
                    batch.read_error = Some(FileError::Io(e));
                    return;
                }
            }
        }
    }
}

/// Writes sealed or opened batches in order, handing each tag on.
struct BatchWriter<'a, W: ?Sized, T> {
    output: &'a mut W,
    direction: Direction,
    on_tag: T,
    plaintext_len: u64,
    segments: u64,
}

impl<W: Write + ?Sized, T: FnMut(&[u8])> BatchWriter<'_, W, T> {
    /// Writes `batch`'s segments in order up to the first that failed, whose error it returns;
    /// then the error that stopped reading after them, if any. Empties the batch.
    fn write(&mut self, batch: &mut Batch) -> Result<(), FileError> {
        let used = std::mem::take(&mut batch.used);
        for slot in batch.slots.iter_mut().take(used) {
            let plain_len = std::mem::replace(&mut slot.outcome, Ok(0))?;
            let (tag, out) = slot
                .tag_and_output(self.direction, plain_len)
                .ok_or(FileError::Encryption)?;
            (self.on_tag)(tag);
            self.output.write_all(out)?;
            self.plaintext_len += plain_len as u64;
            self.segments += 1;
        }
        batch.read_error.take().map_or(Ok(()), Err)
    }
}

/// Fills `chunk` from `input`, starting with the byte held back by the previous call, and looks
/// one byte ahead to tell whether this is the last segment (a full chunk followed by end of input
/// is last too). Returns the bytes filled and whether the segment is the last.
fn read_segment<R: Read + ?Sized>(
    input: &mut R,
    chunk: &mut [u8],
    pending: &mut Option<u8>,
) -> io::Result<(usize, bool)> {
    let mut filled = 0;
    if let (Some(b), Some(first)) = (pending.take(), chunk.first_mut()) {
        *first = b;
        filled = 1;
    }
    filled += read_full(input, chunk.get_mut(filled..).unwrap_or_default())?;
    if filled < chunk.len() {
        return Ok((filled, true));
    }
    let mut one = [0u8; 1];
    if read_full(input, &mut one)? == 0 {
        Ok((filled, true))
    } else {
        *pending = Some(one[0]);
        Ok((filled, false))
    }
}

/// `nonce_i = nonce_prefix (7) || i u32be || last u8` (SPEC.md section 9.1).
fn segment_nonce(prefix: &[u8; NONCE_PREFIX_LEN], index: u32, last: bool) -> [u8; NONCE_LEN] {
    let mut nonce = [0u8; NONCE_LEN];
    let (p, rest) = nonce.split_at_mut(NONCE_PREFIX_LEN);
    p.copy_from_slice(prefix);
    let (counter, flag) = rest.split_at_mut(4);
    counter.copy_from_slice(&index.to_be_bytes());
    if let Some(f) = flag.first_mut() {
        *f = u8::from(last);
    }
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The body's buffers are `batch_segments * (segment size + tag)` bytes: at most
    /// `MAX_BATCH_BYTES`, or one segment when a segment alone is larger, for any core count.
    #[test]
    fn batch_memory_is_bounded_for_any_core_count() {
        let sizes = [
            1usize,
            16,
            4096,
            65_536,
            1 << 20,
            8 << 20,
            MAX_SEGMENT_SIZE as usize,
        ];
        for segment in sizes {
            let chunk = segment + TAG_LEN;
            for threads in [1usize, 2, 3, 8, 64, 1024, usize::MAX] {
                let n = batch_segments(threads, chunk);
                assert!(n >= 1);
                assert!(
                    n * chunk <= MAX_BATCH_BYTES.max(chunk),
                    "{segment} {threads}"
                );
            }
        }
        // The default segment size on 2 cores: 16 segments of 64 KiB + 16 a batch.
        assert_eq!(batch_segments(2, 65_536 + TAG_LEN), 16);
        // Eight cores fill the batch limit at 64 KiB: 4 MiB / (64 KiB + 16) = 63.
        assert_eq!(batch_segments(1024, 65_536 + TAG_LEN), 63);
        // All batches in flight, at the largest segment size: 3 x (16 MiB + 16), under 64 MiB.
        let largest = MAX_SEGMENT_SIZE as usize + TAG_LEN;
        assert!(IN_FLIGHT_BATCHES * batch_segments(usize::MAX, largest) * largest < 64 << 20);
        assert_eq!(batch_segments(64, MAX_SEGMENT_SIZE as usize + TAG_LEN), 1);
        assert_eq!(batch_segments(0, 100), 1);
    }
}
