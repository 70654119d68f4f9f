//! NIST SP 800-90A CTR_DRBG with AES-256 and no derivation function, exactly as the NIST PQC
//! known-answer generators use it (`rng.c`: `randombytes_init(entropy, NULL, 256)` and
//! `randombytes`). For reproducing `.rsp` files only: it is not a general-purpose RNG.

use aes::Aes256;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};

/// Length of the seed material: key length plus block length (32 + 16).
pub const SEED_LEN: usize = 48;

/// The DRBG state: AES-256 key `Key` and counter block `V`.
pub struct CtrDrbg {
    key: [u8; 32],
    v: [u8; 16],
}

impl CtrDrbg {
    /// `randombytes_init(entropy_input, NULL, 256)`: instantiate from 48 bytes of entropy, no
    /// personalization string.
    pub fn new(entropy: &[u8; SEED_LEN]) -> Self {
        let mut drbg = Self {
            key: [0; 32],
            v: [0; 16],
        };
        drbg.update(Some(entropy));
        drbg
    }

    fn increment_v(&mut self) {
        for byte in self.v.iter_mut().rev() {
            let (next, carry) = byte.overflowing_add(1);
            *byte = next;
            if !carry {
                break;
            }
        }
    }

    fn block(&self, cipher: &Aes256) -> [u8; 16] {
        let mut block = Array::from(self.v);
        cipher.encrypt_block(&mut block);
        block.into()
    }

    /// `AES256_CTR_DRBG_Update`: refresh `Key` and `V`, mixing in `provided` when given.
    fn update(&mut self, provided: Option<&[u8; SEED_LEN]>) {
        let cipher = Aes256::new(&Array::from(self.key));
        let mut temp = [0u8; SEED_LEN];
        for chunk in temp.chunks_mut(16) {
            self.increment_v();
            chunk.copy_from_slice(&self.block(&cipher));
        }
        if let Some(data) = provided {
            for (t, d) in temp.iter_mut().zip(data) {
                *t ^= d;
            }
        }
        let (key, v) = temp.split_at(32);
        self.key.copy_from_slice(key);
        self.v.copy_from_slice(v);
    }

    /// `randombytes(out, out.len())`: one generate call (then the state update).
    pub fn fill(&mut self, out: &mut [u8]) {
        let cipher = Aes256::new(&Array::from(self.key));
        for chunk in out.chunks_mut(16) {
            self.increment_v();
            let block = self.block(&cipher);
            for (o, b) in chunk.iter_mut().zip(block) {
                *o = b;
            }
        }
        self.update(None);
    }

    /// One generate call of `N` bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.fill(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_nist_kat_seed() {
        // PQCgenKAT: entropy_input[i] = i; the first 48-byte draw is record 0's `seed`.
        let entropy: [u8; 48] = core::array::from_fn(|i| i as u8);
        let mut drbg = CtrDrbg::new(&entropy);
        let seed: [u8; 48] = drbg.bytes();
        assert_eq!(
            hex::encode_upper(seed),
            "061550234D158C5EC95595FE04EF7A25767F2E24CC2BC479D09D86DC9ABCFDE7056A8C266F9EF97ED08541DBD2E1FFA1"
        );
    }
}
