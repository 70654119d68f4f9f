//! GF(2^16), the field of the erasure code's polynomials.
//!
//! Elements are 16-bit polynomials over GF(2) reduced modulo x^16 + x^12 + x^3 + x + 1 (0x1100B,
//! the ML-KEM Braid's choice). Addition is XOR. Multiplication is a carry-less product reduced
//! bit by bit: a fixed 16-step loop with no table lookups, so its timing does not depend on the
//! operands. [`MulBy`] multiplies many values by one element through lookup tables, several
//! times faster; the erasure encoder and decoder use it to evaluate polynomials at a point,
//! where every value is public (pieces and chunks are sent in the clear).

/// The reduction polynomial x^16 + x^12 + x^3 + x + 1 (ML-KEM Braid specification, section
/// "Erasure code": GF(2^16) with this modulus).
pub const MODULUS: u32 = 0x1_100B;

/// An element of GF(2^16).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Gf16(pub u16);

impl Gf16 {
    /// The additive identity.
    pub const ZERO: Self = Self(0);
    /// The multiplicative identity.
    pub const ONE: Self = Self(1);

    /// `self * other` reduced modulo [`MODULUS`].
    #[inline]
    #[must_use]
    const fn product(self, other: Self) -> Self {
        // Carry-less product of two 16-bit values: at most 31 bits.
        let a = self.0 as u32;
        let b = other.0 as u32;
        let mut product = 0u32;
        let mut i = 0;
        while i < 16 {
            // Mask is all ones when bit i of b is set: no branch on the operand.
            let mask = 0u32.wrapping_sub((b >> i) & 1);
            product ^= (a << i) & mask;
            i += 1;
        }
        // Reduce bits 30..16 from the top down.
        let mut bit = 30;
        while bit >= 16 {
            let mask = 0u32.wrapping_sub((product >> bit) & 1);
            product ^= (MODULUS << (bit - 16)) & mask;
            bit -= 1;
        }
        Self(product as u16)
    }

    /// `self^(2^16 - 2)`, the inverse of a non-zero element (zero maps to zero).
    #[must_use]
    pub fn inverse(self) -> Self {
        // Square-and-multiply over the fixed exponent 0xFFFE: 15 squarings, 14 products.
        let mut result = Self::ONE;
        let mut base = self;
        let mut exponent: u32 = 0xFFFE;
        while exponent > 0 {
            if exponent & 1 == 1 {
                result = result.product(base);
            }
            base = base.product(base);
            exponent >>= 1;
        }
        result
    }
}

impl core::ops::Add for Gf16 {
    type Output = Self;

    /// `self + other` (and `self - other`: the field has characteristic 2).
    #[inline]
    #[allow(clippy::suspicious_arithmetic_impl)]
    fn add(self, other: Self) -> Self {
        Self(self.0 ^ other.0)
    }
}

impl core::ops::Mul for Gf16 {
    type Output = Self;

    #[inline]
    fn mul(self, other: Self) -> Self {
        self.product(other)
    }
}

impl core::ops::Div for Gf16 {
    type Output = Self;

    /// `self / other`; dividing by zero gives zero (callers only divide by differences of
    /// distinct points, which are never zero).
    #[allow(clippy::suspicious_arithmetic_impl)]
    fn div(self, other: Self) -> Self {
        self.product(other.inverse())
    }
}

/// Multiplication by one fixed element through two 256-entry tables: the product is linear in
/// the other operand over GF(2), so `v * c = lo[v & 0xFF] ^ hi[v >> 8]` with `lo[i] = i * c` and
/// `hi[i] = (i << 8) * c`. Building the tables costs about 512 XORs; each product is then two
/// lookups instead of the multiplication's 31 masked steps. The lookups are indexed by the
/// other operand, so this is for public values only: the erasure encoder evaluates its
/// polynomials (whose coefficients come from pieces sent in the clear) at a chunk's index.
pub struct MulBy {
    lo: [u16; 256],
    hi: [u16; 256],
}

impl MulBy {
    /// The tables for multiplying by `c`.
    #[must_use]
    pub fn new(c: Gf16) -> Self {
        // basis[k] = x^k * c, by the field's own product.
        let basis: [u16; 16] = core::array::from_fn(|k| (Gf16(1 << k) * c).0);
        let (mut lo, mut hi) = ([0u16; 256], [0u16; 256]);
        for i in 1..256usize {
            // `i` is `i & (i - 1)` (itself without its lowest set bit) plus that bit.
            let rest = i & (i - 1);
            let bit = i.trailing_zeros() as usize;
            let (lo_rest, hi_rest) = (
                lo.get(rest).copied().unwrap_or(0),
                hi.get(rest).copied().unwrap_or(0),
            );
            let (lo_bit, hi_bit) = (
                basis.get(bit).copied().unwrap_or(0),
                basis.get(bit + 8).copied().unwrap_or(0),
            );
            if let (Some(l), Some(h)) = (lo.get_mut(i), hi.get_mut(i)) {
                *l = lo_rest ^ lo_bit;
                *h = hi_rest ^ hi_bit;
            }
        }
        Self { lo, hi }
    }

    /// `v * c`.
    #[inline]
    #[must_use]
    pub fn mul(&self, v: Gf16) -> Gf16 {
        let [high, low] = v.0.to_be_bytes();
        // Both indices are below 256: the lookups cannot miss.
        let lo = self.lo.get(usize::from(low)).copied().unwrap_or(0);
        let hi = self.hi.get(usize::from(high)).copied().unwrap_or(0);
        Gf16(lo ^ hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplying_by_a_table_matches_the_product() {
        for c in [0u16, 1, 2, 0x8000, 0x100B, 0xFFFF, 0x1234, 37] {
            let by = MulBy::new(Gf16(c));
            for v in 0..=u16::MAX {
                assert_eq!(by.mul(Gf16(v)), Gf16(v) * Gf16(c), "{v:#x} * {c:#x}");
            }
        }
    }

    /// Reference product: shift-and-add with reduction after every shift.
    fn slow_mul(a: u16, b: u16) -> u16 {
        let mut a = a as u32;
        let mut b = b;
        let mut out = 0u32;
        while b != 0 {
            if b & 1 == 1 {
                out ^= a;
            }
            a <<= 1;
            if a & 0x1_0000 != 0 {
                a ^= MODULUS;
            }
            b >>= 1;
        }
        out as u16
    }

    #[test]
    fn product_matches_the_reference_on_a_grid() {
        for a in (0..=u16::MAX).step_by(251) {
            for b in (0..=u16::MAX).step_by(509) {
                assert_eq!((Gf16(a) * Gf16(b)).0, slow_mul(a, b), "{a:#x} * {b:#x}");
            }
        }
    }

    #[test]
    fn reduction_of_the_top_bit() {
        // x^15 * x = x^16 = x^12 + x^3 + x + 1.
        assert_eq!(Gf16(0x8000) * Gf16(2), Gf16(0x100B));
    }

    #[test]
    fn every_sampled_element_has_its_inverse() {
        for a in (1..=u16::MAX).step_by(97) {
            assert_eq!(Gf16(a) * Gf16(a).inverse(), Gf16::ONE, "{a:#x}");
        }
        assert_eq!(Gf16::ZERO.inverse(), Gf16::ZERO);
    }
}
