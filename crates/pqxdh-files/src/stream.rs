//! The STREAM body shared by the recipient container and attachments (SPEC.md section 9.1,
//! "Segments"), sealed or opened a bounded batch of segments at a time: the batch is read in
//! order on the calling thread, its segments are sealed or opened on every core (rayon's global
//! pool), then written in order. Segments are independent under STREAM (each has its own nonce),
//! so the bytes are those of one segment at a time; only the memory bound changes, from one
//! segment to one batch.

use std::io::{self, Read, Write};

use rayon::prelude::*;

use crate::segment_cipher::NONCE_LEN;
use crate::{FileError, NONCE_PREFIX_LEN, PayloadKeys, TAG_LEN, read_full};

/// Segments a batch holds per worker thread: two, so that a thread that finishes its share early
/// takes another instead of idling until the batch ends.
pub const SEGMENTS_PER_THREAD: usize = 2;

/// Largest batch, in bytes of segment buffers (segment size + tag, each): the body's whole
/// buffer whatever the file size and the number of cores. A segment larger than this (segment
/// sizes go up to 16 MiB) makes a batch of one.
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;

/// A batch of fewer segments than this is sealed or opened on the calling thread: a full batch
/// for two threads. Below it the work (about 15 µs per 64 KiB segment with AWS-LC on one core
/// of the 2-core machine of BENCHMARKS.md) is of the order of waking a sleeping pool thread, so
/// small files (under 4 segments, 256 KiB by default) stay on one core.
pub const PARALLEL_MIN_SEGMENTS: usize = 4;

/// Which threads run the body: [`Schedule::Auto`] everywhere but in tests, which compare it with
/// the others byte for byte.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schedule {
    /// Batches sized for rayon's pool; a batch under [`PARALLEL_MIN_SEGMENTS`] segments, or a
    /// pool of one thread, runs on the calling thread.
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
/// Both look one byte ahead to tell the last segment. What reaches `output` before an error is
/// the same as one segment at a time: every segment before the first failing one, nothing of it
/// or after it (an open that fails in a batch writes the batch's earlier, authenticated segments
/// first). Memory use is one batch ([`batch_segments`], at most [`MAX_BATCH_BYTES`] or one
/// segment).
pub(crate) fn stream_segments<R, W>(
    direction: Direction,
    keys: &PayloadKeys,
    segment_size: u32,
    schedule: Schedule,
    input: &mut R,
    output: &mut W,
    mut on_tag: impl FnMut(&[u8]),
) -> Result<StreamSummary, FileError>
where
    R: Read + ?Sized,
    W: Write + ?Sized,
{
    let segment_len = usize::try_from(segment_size).map_err(|_| FileError::TooLarge)?;
    let chunk_len = segment_len + TAG_LEN;
    let read_len = match direction {
        Direction::Seal => segment_len,
        Direction::Open => chunk_len,
    };
    let (per_batch, min_parallel) = match schedule {
        Schedule::Serial => (1, usize::MAX),
        Schedule::Auto => match rayon::current_num_threads() {
            0 | 1 => (1, usize::MAX),
            threads => (batch_segments(threads, chunk_len), PARALLEL_MIN_SEGMENTS),
        },
        Schedule::Parallel { threads } => (batch_segments(threads, chunk_len), 1),
    };
    // Buffers are added as segments arrive, so a small file allocates only what it fills.
    let mut slots: Vec<Slot> = Vec::with_capacity(per_batch);
    let mut pending: Option<u8> = None;
    let mut next_index: Option<u32> = Some(0);
    let mut plaintext_len: u64 = 0;
    let mut segments: u64 = 0;
    loop {
        let (used, ended, read_error) = read_batch(
            input,
            &mut slots,
            per_batch,
            read_len,
            chunk_len,
            &mut pending,
            &mut next_index,
        );
        let batch = slots.get_mut(..used).ok_or(FileError::Encryption)?;
        if used >= min_parallel {
            batch.par_iter_mut().for_each(|s| s.run(direction, keys));
        } else {
            batch.iter_mut().for_each(|s| s.run(direction, keys));
        }
        for slot in batch.iter_mut() {
            let plain_len = std::mem::replace(&mut slot.outcome, Ok(0))?;
            let (tag, out) = slot
                .tag_and_output(direction, plain_len)
                .ok_or(FileError::Encryption)?;
            on_tag(tag);
            output.write_all(out)?;
            plaintext_len += plain_len as u64;
            segments += 1;
        }
        if let Some(e) = read_error {
            return Err(e);
        }
        if ended {
            return Ok(StreamSummary {
                plaintext_len,
                segments,
            });
        }
    }
}

/// Reads up to `per_batch` segments into `slots` (growing it as needed), stopping after the last
/// segment or at a read error. Returns how many were read, whether the last was among them, and
/// the error that stopped it, reported only after the segments read before it are written.
fn read_batch<R: Read + ?Sized>(
    input: &mut R,
    slots: &mut Vec<Slot>,
    per_batch: usize,
    read_len: usize,
    chunk_len: usize,
    pending: &mut Option<u8>,
    next_index: &mut Option<u32>,
) -> (usize, bool, Option<FileError>) {
    let mut used = 0;
    while used < per_batch {
        // The counter ran out after a segment that was not the last (2^32 segments).
        let Some(index) = *next_index else {
            return (used, false, Some(FileError::TooLarge));
        };
        if slots.len() == used {
            slots.push(Slot::new(chunk_len));
        }
        let Some(slot) = slots.get_mut(used) else {
            return (used, false, Some(FileError::Encryption));
        };
        let buf = slot.buf.get_mut(..read_len).unwrap_or_default();
        match read_segment(input, buf, pending) {
            Ok((filled, last)) => {
                slot.filled = filled;
                slot.index = index;
                slot.last = last;
                used += 1;
                if last {
                    return (used, true, None);
                }
                *next_index = index.checked_add(1);
            }
            Err(e) => return (used, false, Some(FileError::Io(e))),
        }
    }
    (used, false, None)
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
    use crate::MAX_SEGMENT_SIZE;

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
        // The default segment size on 2 cores: 4 segments of 64 KiB + 16 in flight.
        assert_eq!(batch_segments(2, 65_536 + TAG_LEN), 4);
        // Sixteen cores fill the batch limit at 64 KiB: 8 MiB / (64 KiB + 16) = 127.
        assert_eq!(batch_segments(1024, 65_536 + TAG_LEN), 127);
        assert_eq!(batch_segments(64, MAX_SEGMENT_SIZE as usize + TAG_LEN), 1);
        assert_eq!(batch_segments(0, 100), 1);
    }
}
