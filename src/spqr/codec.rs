//! The byte codec of the saved SPQR state: fixed-width big-endian integers and length-prefixed
//! byte strings, read back with every length checked.

use zeroize::Zeroizing;

/// Appends fields to a buffer that is wiped on drop (the state holds secrets).
#[derive(Default)]
pub struct Writer(Zeroizing<Vec<u8>>);

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }

    /// Raw bytes of a length both sides know.
    pub fn fixed(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }

    /// A u32 length, then the bytes.
    pub fn bytes(&mut self, v: &[u8]) {
        // Pieces are at most a few KiB: the length fits in 32 bits.
        self.u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(v);
    }

    /// The encoded bytes.
    pub fn finish(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

/// Reads fields back; every getter returns `None` past the end.
pub struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// A reader over `bytes`.
    pub fn new(bytes: &'a [u8]) -> Self {
        Self(bytes)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Some(head)
    }

    /// One byte.
    pub fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    /// A big-endian u32.
    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// A big-endian u64.
    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    /// `N` raw bytes.
    pub fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    /// A length-prefixed byte string of at most `max` bytes.
    pub fn bytes(&mut self, max: usize) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > max {
            return None;
        }
        self.take(len)
    }

    /// Whether every byte was read.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
