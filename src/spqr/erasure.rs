//! The erasure code that splits each braid piece into 32-byte chunks, one per message.
//!
//! A piece of `2N` bytes is read as `N` big-endian 16-bit field elements; element `i` is the
//! value at `x = i / 16` of polynomial `i % 16`. Polynomial `p` is the one of least degree through
//! its values at `x = 0, 1, ...` Chunk `k` carries, for `p = 0..16`, polynomial `p` at `x = k`:
//! chunks below the piece's length are the piece itself (a systematic code), later chunks are
//! fresh evaluations. Any `ceil(N / 16)` distinct chunks rebuild the piece, so lost or reordered
//! messages only delay it (ML-KEM Braid specification, "Erasure code").

use core::ops::{Add, Div, Mul};

use super::gf16::{Gf16, MulBy};

/// Bytes of data in a chunk: 16 field elements (ML-KEM Braid V1).
pub const CHUNK_DATA_LEN: usize = 32;

/// Polynomials per piece: one per 16-bit lane of a chunk.
pub const LANES: usize = CHUNK_DATA_LEN / 2;

/// Longest piece the code accepts: 2^16 evaluation points per lane of 2 bytes each. The braid's
/// pieces are at most 1,152 bytes.
pub const MAX_PIECE_LEN: usize = (1 << 16) * LANES * 2;

/// One chunk: its evaluation point and the 16 values there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The evaluation point `x` shared by the 16 lanes.
    pub index: u16,
    /// Lane `p`'s value at `x`, big-endian, at bytes `2p..2p + 2`.
    pub data: [u8; CHUNK_DATA_LEN],
}

/// A polynomial by its coefficients, lowest degree first.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Polynomial(Vec<Gf16>);

impl Polynomial {
    /// The polynomial of least degree through `points` (distinct `x`), by Lagrange's formula:
    /// `sum_i y_i * prod_{j != i} (x - x_j) / (x_i - x_j)`, in O(n^2).
    fn interpolate(points: &[(Gf16, Gf16)]) -> Self {
        let n = points.len();
        // master = prod_j (x - x_j), degree n, lowest coefficient first.
        let mut master = vec![Gf16::ZERO; n + 1];
        if let Some(top) = master.first_mut() {
            *top = Gf16::ONE;
        }
        for (degree, &(xj, _)) in points.iter().enumerate() {
            // Multiply the degree-`degree` polynomial in master[..=degree] by (x - xj).
            for k in (0..=degree + 1).rev() {
                let shifted = if k > 0 {
                    master.get(k - 1).copied().unwrap_or(Gf16::ZERO)
                } else {
                    Gf16::ZERO
                };
                let own = master.get(k).copied().unwrap_or(Gf16::ZERO);
                if let Some(slot) = master.get_mut(k) {
                    *slot = shifted.add(own.mul(xj));
                }
            }
        }
        let mut out = vec![Gf16::ZERO; n];
        let mut quotient = vec![Gf16::ZERO; n];
        for &(xi, yi) in points {
            // quotient = master / (x - xi) by synthetic division from the top.
            let mut carry = Gf16::ZERO;
            for k in (0..n).rev() {
                carry = master
                    .get(k + 1)
                    .copied()
                    .unwrap_or(Gf16::ZERO)
                    .add(carry.mul(xi));
                if let Some(slot) = quotient.get_mut(k) {
                    *slot = carry;
                }
            }
            let denominator = Self::horner(&quotient, xi);
            let scale = yi.div(denominator);
            for (o, q) in out.iter_mut().zip(&quotient) {
                *o = o.add(q.mul(scale));
            }
        }
        Self(out)
    }

    fn horner(coefficients: &[Gf16], x: Gf16) -> Gf16 {
        coefficients
            .iter()
            .rev()
            .fold(Gf16::ZERO, |acc, &c| acc.mul(x).add(c))
    }

    /// The value at the point `by_x` multiplies by (Horner's rule, one table product a step).
    fn at(&self, by_x: &MulBy) -> Gf16 {
        self.0
            .iter()
            .rev()
            .fold(Gf16::ZERO, |acc, &c| by_x.mul(acc).add(c))
    }
}

/// Number of values lane `lane` holds in a piece of `values` field elements.
fn lane_len(values: usize, lane: usize) -> usize {
    values / LANES + usize::from(lane < values % LANES)
}

fn element(bytes: &[u8], i: usize) -> Gf16 {
    let hi = bytes.get(2 * i).copied().unwrap_or(0);
    let lo = bytes.get(2 * i + 1).copied().unwrap_or(0);
    Gf16(u16::from_be_bytes([hi, lo]))
}

/// The piece is not an even number of bytes, or is longer than [`MAX_PIECE_LEN`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPieceLength(pub usize);

/// Emits the chunks of one piece, in order `0, 1, 2, ...`
#[derive(Clone, Debug)]
pub struct Encoder {
    piece: Vec<u8>,
    /// The index of the next chunk. 32 bits as in the reference state; chunks use its low 16.
    next: u32,
    /// Interpolated lanes, computed the first time a chunk beyond the piece is asked for.
    lanes: Option<Vec<Polynomial>>,
}

impl Encoder {
    /// An encoder of `piece`, starting at chunk 0.
    pub fn new(piece: &[u8]) -> Result<Self, BadPieceLength> {
        Self::resume(piece, 0)
    }

    /// An encoder of `piece` whose next chunk is `next` (a restored state).
    pub fn resume(piece: &[u8], next: u32) -> Result<Self, BadPieceLength> {
        if !piece.len().is_multiple_of(2) || piece.len() > MAX_PIECE_LEN {
            return Err(BadPieceLength(piece.len()));
        }
        Ok(Self {
            piece: piece.to_vec(),
            next,
            lanes: None,
        })
    }

    /// The piece being sent.
    pub fn piece(&self) -> &[u8] {
        &self.piece
    }

    /// The index of the chunk [`Encoder::next_chunk`] returns next.
    pub fn next_index(&self) -> u32 {
        self.next
    }

    /// The next chunk.
    pub fn next_chunk(&mut self) -> Chunk {
        // The index wraps at 2^16 as the chunk's 16-bit point does.
        let chunk = self.chunk_at(self.next as u16);
        self.next = self.next.wrapping_add(1);
        chunk
    }

    /// Chunk `index`: the piece's own bytes below its length, evaluations beyond.
    pub fn chunk_at(&mut self, index: u16) -> Chunk {
        let values = self.piece.len() / 2;
        let x = usize::from(index);
        let mut data = [0u8; CHUNK_DATA_LEN];
        // Every lane is evaluated at the same `x`: one multiplication table serves them all.
        let mut by_x: Option<MulBy> = None;
        for (lane, out) in data.chunks_exact_mut(2).enumerate() {
            let value = if x < lane_len(values, lane) {
                element(&self.piece, x * LANES + lane)
            } else {
                let lanes = self.lanes.get_or_insert_with(|| {
                    (0..LANES)
                        .map(|lane| {
                            let points: Vec<(Gf16, Gf16)> = (0..lane_len(values, lane))
                                .map(|j| (Gf16(j as u16), element(&self.piece, j * LANES + lane)))
                                .collect();
                            Polynomial::interpolate(&points)
                        })
                        .collect()
                });
                let by_x = by_x.get_or_insert_with(|| MulBy::new(Gf16(index)));
                lanes.get(lane).map_or(Gf16::ZERO, |p| p.at(by_x))
            };
            out.copy_from_slice(&value.0.to_be_bytes());
        }
        Chunk { index, data }
    }
}

/// Collects chunks of one piece of known length until it can be rebuilt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoder {
    piece_len: usize,
    /// Per lane, the points received, sorted by `x`, one per `x`.
    lanes: Vec<Vec<(Gf16, Gf16)>>,
}

impl Decoder {
    /// A decoder of a piece of `piece_len` bytes.
    pub fn new(piece_len: usize) -> Result<Self, BadPieceLength> {
        if !piece_len.is_multiple_of(2) || piece_len > MAX_PIECE_LEN {
            return Err(BadPieceLength(piece_len));
        }
        Ok(Self::of_valid_length(piece_len))
    }

    /// A decoder of a length the caller knows to be even and at most [`MAX_PIECE_LEN`] (the
    /// braid's constant piece lengths, checked at compile time there).
    pub(super) fn of_valid_length(piece_len: usize) -> Self {
        Self {
            piece_len,
            lanes: vec![Vec::new(); LANES],
        }
    }

    /// A decoder restored from its points (see [`Decoder::points`]). Points must be sorted by
    /// `x` without repeats, and no lane may hold more than it could have collected.
    pub fn restore(piece_len: usize, lanes: Vec<Vec<(u16, u16)>>) -> Option<Self> {
        let mut decoder = Self::new(piece_len).ok()?;
        if lanes.len() != LANES {
            return None;
        }
        for (lane, points) in lanes.into_iter().enumerate() {
            let needed = decoder.needed(lane);
            if points.len() > 2 * needed + 1 || !points.is_sorted_by(|a, b| a.0 < b.0) {
                return None;
            }
            if let Some(slot) = decoder.lanes.get_mut(lane) {
                *slot = points
                    .into_iter()
                    .map(|(x, y)| (Gf16(x), Gf16(y)))
                    .collect();
            }
        }
        Some(decoder)
    }

    /// The piece length this decoder expects.
    pub fn piece_len(&self) -> usize {
        self.piece_len
    }

    /// The points held, per lane, as `(x, y)`.
    pub fn points(&self) -> Vec<Vec<(u16, u16)>> {
        self.lanes
            .iter()
            .map(|l| l.iter().map(|&(x, y)| (x.0, y.0)).collect())
            .collect()
    }

    fn needed(&self, lane: usize) -> usize {
        lane_len(self.piece_len / 2, lane)
    }

    /// Adds a chunk. A point is kept when its lane still lacks points, or when it is one of the
    /// piece's own values (cheaper to decode); a repeated point is ignored. This bounds each
    /// lane to about twice the points it needs.
    pub fn add_chunk(&mut self, chunk: &Chunk) {
        let x = Gf16(chunk.index);
        for lane in 0..LANES {
            let needed = self.needed(lane);
            let y = element(&chunk.data, lane);
            let Some(points) = self.lanes.get_mut(lane) else {
                continue;
            };
            if (usize::from(chunk.index) < needed || points.len() < needed)
                && let Err(at) = points.binary_search_by(|p| p.0.cmp(&x))
            {
                points.insert(at, (x, y));
            }
        }
    }

    /// The piece, once every lane has enough points.
    pub fn decoded(&self) -> Option<Vec<u8>> {
        let values = self.piece_len / 2;
        let mut lanes = Vec::with_capacity(LANES);
        for (lane, points) in self.lanes.iter().enumerate() {
            let needed = self.needed(lane);
            if points.len() < needed {
                return None;
            }
            // Points are sorted: a lane whose first `needed` points are x = 0..needed holds
            // the piece's own values and needs no interpolation.
            let basis = points.get(..needed)?;
            let direct = basis.iter().enumerate().all(|(j, p)| p.0 == Gf16(j as u16));
            lanes.push(if direct {
                None
            } else {
                Some(Polynomial::interpolate(basis))
            });
        }
        let mut out = Vec::with_capacity(self.piece_len);
        // Value `i` is lane `i % 16` at `x = i / 16`: row by row, one multiplication table per
        // `x` for the interpolated lanes.
        for x in 0..values.div_ceil(LANES) {
            let mut by_x: Option<MulBy> = None;
            for lane in 0..LANES.min(values - x * LANES) {
                let value = match lanes.get(lane) {
                    Some(Some(poly)) => {
                        poly.at(by_x.get_or_insert_with(|| MulBy::new(Gf16(x as u16))))
                    }
                    _ => self
                        .lanes
                        .get(lane)
                        .and_then(|points| points.get(x))
                        .map_or(Gf16::ZERO, |p| p.1),
                };
                out.extend_from_slice(&value.0.to_be_bytes());
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    fn piece(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 37 + 11) as u8).collect()
    }

    #[test]
    fn first_chunks_are_the_piece_itself() {
        let p = piece(96);
        let mut e = Encoder::new(&p).unwrap();
        for k in 0..3 {
            let c = e.next_chunk();
            assert_eq!(c.index, k as u16);
            assert_eq!(&c.data[..], &p[32 * k..32 * k + 32]);
        }
    }

    #[test]
    fn any_enough_chunks_rebuild_each_braid_piece() {
        // The braid's pieces: header + MAC, encapsulation key, ct1, ct2 + MAC.
        for len in [96, 1152, 960, 160] {
            let p = piece(len);
            let mut e = Encoder::new(&p).unwrap();
            let needed = len / 32;
            // Only chunks past the piece: every lane must be interpolated.
            let mut d = Decoder::new(len).unwrap();
            for k in 0..needed {
                assert!(d.decoded().is_none());
                d.add_chunk(&e.chunk_at((needed + 3 + 2 * k) as u16));
            }
            assert_eq!(d.decoded().unwrap(), p, "len {len}");
            // A mix of own and fresh chunks, in reverse order, with a repeat.
            let mut d = Decoder::new(len).unwrap();
            d.add_chunk(&e.chunk_at(1));
            d.add_chunk(&e.chunk_at(1));
            for k in (needed..2 * needed - 1).rev() {
                d.add_chunk(&e.chunk_at(k as u16));
            }
            assert_eq!(d.decoded().unwrap(), p, "len {len}");
        }
    }

    #[test]
    fn short_pieces_leave_empty_lanes_at_zero() {
        let p = b"abcdefghij".to_vec();
        let mut e = Encoder::new(&p).unwrap();
        let mut d = Decoder::new(10).unwrap();
        d.add_chunk(&e.chunk_at(1));
        d.add_chunk(&e.chunk_at(2));
        assert_eq!(d.decoded().unwrap(), p);
    }

    #[test]
    fn odd_or_huge_lengths_are_refused() {
        assert_eq!(Encoder::new(&[1, 2, 3]).unwrap_err(), BadPieceLength(3));
        assert!(Decoder::new(MAX_PIECE_LEN + 2).is_err());
    }

    #[test]
    fn restored_decoder_continues() {
        let p = piece(160);
        let mut e = Encoder::new(&p).unwrap();
        let mut d = Decoder::new(160).unwrap();
        d.add_chunk(&e.chunk_at(7));
        d.add_chunk(&e.chunk_at(9));
        let mut r = Decoder::restore(160, d.points()).unwrap();
        assert_eq!(r, d);
        for k in 10..13 {
            r.add_chunk(&e.chunk_at(k));
        }
        assert_eq!(r.decoded().unwrap(), p);
        // Unsorted points are refused.
        let mut bad = d.points();
        bad[0].reverse();
        assert!(Decoder::restore(160, bad).is_none());
    }
}
