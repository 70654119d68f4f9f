//! GF(2^16), the field of the erasure code's polynomials.
//!
//! Elements are 16-bit polynomials over GF(2) reduced modulo x^16 + x^12 + x^3 + x + 1 (0x1100B,
//! the ML-KEM Braid's choice). Addition is XOR. Multiplication is a carry-less product reduced
//! bit by bit: a fixed 16-step loop with no table lookups, so its timing does not depend on the
//! operands (the encoded pieces are public, but the loop costs nothing extra).

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

#[cfg(test)]
mod tests {
    use super::*;

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
