//! Which implementation computes X25519 and its fixed-base public key.
//!
//! With the default feature `aws-lc`, AWS-LC (`aws-lc-rs`): on x86-64 and AArch64 its X25519 is
//! s2n-bignum's formally verified, constant-time assembly, picked at run time for the CPU
//! (BMI2/ADX or not). Without the feature, curve25519-dalek (portable Rust; its AVX2 backend,
//! chosen at run time, speeds up the Edwards path below). Both give the same bytes for every
//! input: RFC 7748 X25519, clamping on use, the top bit of `u` masked and `u >= p` reduced.
//!
//! One exception, for X25519 DH: when curve25519-dalek's AVX-512 IFMA backend is compiled in
//! (`--cfg curve25519_dalek_backend="avx512"`, which this workspace's `.cargo/config.toml` sets)
//! and the CPU has IFMA at run time, the curve25519-dalek Edwards path below runs instead of
//! AWS-LC: there it is about 0.8x AWS-LC's time (BENCHMARKS.md, "X25519 and Ed25519 backends").
//! Key generation stays on AWS-LC, whose fixed-base code is faster than curve25519-dalek's
//! serial table either way.
//!
//! XEdDSA verification stays on curve25519-dalek under both: its variable-time double-scalar
//! multiplication beats AWS-LC's constant-time one (same section).

use curve25519_dalek::montgomery::MontgomeryPoint;
use zeroize::Zeroizing;

/// Length of an X25519 scalar, u-coordinate and output (RFC 7748 section 5).
pub(crate) const KEY_LEN: usize = 32;

/// X25519(`secret`, `u`) (RFC 7748 section 5), including an all-zero output: the caller checks.
pub(crate) fn x25519(secret: &[u8; KEY_LEN], u: &[u8; KEY_LEN]) -> Zeroizing<[u8; KEY_LEN]> {
    #[cfg(all(curve25519_dalek_backend = "avx512", target_arch = "x86_64"))]
    if std::arch::is_x86_feature_detected!("avx512ifma")
        && std::arch::is_x86_feature_detected!("avx512vl")
    {
        // The same features curve25519-dalek's own run-time check asks for.
        return dalek::x25519(secret, u);
    }
    #[cfg(feature = "aws-lc")]
    if let Some(shared) = aws_lc::x25519(secret, u) {
        return shared;
    }
    // AWS-LC refuses only the all-zero output (a small-order `u`); the portable code returns it
    // so that the caller's check reports it.
    dalek::x25519(secret, u)
}

/// X25519(`secret`, 9): the public key of `secret`.
pub(crate) fn x25519_base(secret: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
    #[cfg(feature = "aws-lc")]
    if let Some(public) = aws_lc::x25519_base(secret) {
        return public;
    }
    dalek::x25519_base(secret)
}

#[cfg(feature = "aws-lc")]
mod aws_lc {
    use aws_lc_rs::agreement::{self, X25519};
    use zeroize::Zeroizing;

    use super::KEY_LEN;

    /// `None` when AWS-LC refuses: an all-zero output, or a failure of its own.
    pub(super) fn x25519(
        secret: &[u8; KEY_LEN],
        u: &[u8; KEY_LEN],
    ) -> Option<Zeroizing<[u8; KEY_LEN]>> {
        // AWS-LC keeps the raw bytes and clamps a copy on use, as RFC 7748 section 5 does; it
        // wipes them when the key is freed.
        let private = agreement::PrivateKey::from_private_key(&X25519, secret).ok()?;
        let peer = agreement::UnparsedPublicKey::new(&X25519, u);
        agreement::agree(&private, peer, (), |shared| {
            let mut out = Zeroizing::new([0u8; KEY_LEN]);
            out.copy_from_slice(shared.get(..KEY_LEN).ok_or(())?);
            Ok(out)
        })
        .ok()
    }

    pub(super) fn x25519_base(secret: &[u8; KEY_LEN]) -> Option<[u8; KEY_LEN]> {
        let private = agreement::PrivateKey::from_private_key(&X25519, secret).ok()?;
        let public = private.compute_public_key().ok()?;
        public.as_ref().try_into().ok()
    }
}

mod dalek {
    use super::*;

    /// A `u` on the curve (every honest key) is mapped to Edwards form and multiplied there by the
    /// clamped scalar, which runs on curve25519-dalek's vectorised backend where the CPU has one;
    /// the result's u-coordinate is X25519's output (the clamped scalar is a multiple of 8, so it
    /// removes any small-order component exactly as the ladder does). A `u` on the twist goes
    /// through the Montgomery ladder. Which path runs depends only on the public key.
    pub(super) fn x25519(secret: &[u8; KEY_LEN], u: &[u8; KEY_LEN]) -> Zeroizing<[u8; KEY_LEN]> {
        let scalar = Zeroizing::new(*secret);
        Zeroizing::new(match MontgomeryPoint(*u).to_edwards(0) {
            Some(point) => point.mul_clamped(*scalar).to_montgomery().to_bytes(),
            None => MontgomeryPoint(*u).mul_clamped(*scalar).to_bytes(),
        })
    }

    /// The fixed-base Edwards table, then the birational map to `u`.
    pub(super) fn x25519_base(secret: &[u8; KEY_LEN]) -> [u8; KEY_LEN] {
        MontgomeryPoint::mul_base_clamped(*secret).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;
    use rand::{Rng, SeedableRng};

    /// p = 2^255 - 19, little-endian.
    const P: [u8; 32] = {
        let mut p = [0xFFu8; 32];
        p[0] = 0xED;
        p[31] = 0x7F;
        p
    };

    /// Every `u` the backends must agree on: random ones (about half on the twist, with the top
    /// bit set half the time), `u >= p` (reduced), and the small-order points.
    fn inputs() -> Vec<[u8; 32]> {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(11);
        let mut us: Vec<[u8; 32]> = (0..200)
            .map(|_| {
                let mut u = [0u8; 32];
                rng.fill_bytes(&mut u);
                u
            })
            .collect();
        for add in [0u8, 1, 2, 9, 18] {
            let mut u = P;
            u[0] += add;
            us.push(u);
            u[31] |= 0x80;
            us.push(u);
        }
        let mut one = [0u8; 32];
        one[0] = 1;
        us.extend([[0u8; 32], one, [0xFF; 32]]);
        us
    }

    #[test]
    fn x25519_matches_the_montgomery_ladder_on_every_input() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(12);
        for u in inputs() {
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            let ladder = x25519_dalek::x25519(k, u);
            assert_eq!(*x25519(&k, &u), ladder, "u = {}", hex::encode(u));
            assert_eq!(*dalek::x25519(&k, &u), ladder, "u = {}", hex::encode(u));
            // AWS-LC on its own, whichever backend `x25519` picked on this CPU.
            #[cfg(feature = "aws-lc")]
            assert_eq!(
                aws_lc::x25519(&k, &u).map(|s| *s),
                (ladder != [0u8; 32]).then_some(ladder),
                "u = {}",
                hex::encode(u)
            );
        }
    }

    #[test]
    fn public_key_is_x25519_of_nine() {
        let mut rng = rand::rngs::ChaCha20Rng::seed_from_u64(13);
        for _ in 0..64 {
            let mut k = [0u8; 32];
            rng.fill_bytes(&mut k);
            let expected = x25519_dalek::x25519(k, x25519_dalek::X25519_BASEPOINT_BYTES);
            assert_eq!(x25519_base(&k), expected);
            assert_eq!(dalek::x25519_base(&k), expected);
        }
    }
}
