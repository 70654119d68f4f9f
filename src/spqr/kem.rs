//! ML-KEM-768 with the incremental interface (libcrux): the encapsulation key in two parts, a
//! 64-byte header and a 1,152-byte vector, and the ciphertext in two parts, ct1 (960 bytes,
//! from the header alone) and ct2 (128 bytes, once the vector arrives).

use libcrux_ml_kem::mlkem768::incremental;
use rand_core::CryptoRng;
use zeroize::Zeroizing;

/// Header: the part of the encapsulation key that ct1 needs (seed rho and the key's hash).
pub const HEADER_LEN: usize = incremental::pk1_len();
/// The encapsulation key's vector t.
pub const ENCAPSULATION_KEY_LEN: usize = incremental::pk2_len();
/// First ciphertext part.
pub const CT1_LEN: usize = incremental::Ciphertext1::len();
/// Second ciphertext part.
pub const CT2_LEN: usize = incremental::Ciphertext2::len();
/// Compressed decapsulation key.
pub const DECAPSULATION_KEY_LEN: usize = incremental::key_pair_compressed_len();
/// Encapsulation state kept between ct1 and ct2 (libcrux's layout).
pub const ENCAPSULATION_STATE_LEN: usize = incremental::encaps_state_len();
/// Shared secret length.
pub const SHARED_SECRET_LEN: usize = 32;

/// A fresh key pair: header, encapsulation key vector, decapsulation key.
pub struct KeyPair {
    /// The header ([`HEADER_LEN`] bytes).
    pub header: Vec<u8>,
    /// The encapsulation key vector ([`ENCAPSULATION_KEY_LEN`] bytes).
    pub encapsulation_key: Vec<u8>,
    /// The decapsulation key ([`DECAPSULATION_KEY_LEN`] bytes). Wiped on drop.
    pub decapsulation_key: Zeroizing<Vec<u8>>,
}

/// Generates a key pair from 64 random bytes.
pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> KeyPair {
    let mut seed = Zeroizing::new([0u8; libcrux_ml_kem::KEY_GENERATION_SEED_SIZE]);
    rng.fill_bytes(&mut *seed);
    let keys = incremental::KeyPairCompressedBytes::from_seed(*seed);
    KeyPair {
        header: keys.pk1().to_vec(),
        encapsulation_key: keys.pk2().to_vec(),
        decapsulation_key: Zeroizing::new(keys.sk().to_vec()),
    }
}

/// Whether `encapsulation_key` belongs to `header` (its hash matches and it decodes).
pub fn matches_header(encapsulation_key: &[u8], header: &[u8]) -> bool {
    incremental::validate_pk_bytes(header, encapsulation_key).is_ok()
}

/// The encapsulator's half after the header: ct1, the state for ct2, and the shared secret.
pub struct FirstHalf {
    /// ct1.
    pub ct1: Vec<u8>,
    /// The state [`encapsulate2`] needs. Wiped on drop.
    pub state: Zeroizing<Vec<u8>>,
    /// The shared secret. Wiped on drop.
    pub shared_secret: Zeroizing<Vec<u8>>,
}

/// Encapsulates against a header. `None` if the header is not [`HEADER_LEN`] bytes.
pub fn encapsulate1<R: CryptoRng + ?Sized>(header: &[u8], rng: &mut R) -> Option<FirstHalf> {
    let mut randomness = Zeroizing::new([0u8; SHARED_SECRET_LEN]);
    rng.fill_bytes(&mut *randomness);
    let mut state = Zeroizing::new(vec![0u8; ENCAPSULATION_STATE_LEN]);
    let mut shared_secret = Zeroizing::new(vec![0u8; SHARED_SECRET_LEN]);
    let ct1 =
        incremental::encapsulate1(header, *randomness, &mut state, &mut shared_secret).ok()?;
    Some(FirstHalf {
        ct1: ct1.value.to_vec(),
        state,
        shared_secret,
    })
}

/// ct2 from the saved state and the encapsulation key vector. `None` on wrong lengths.
pub fn encapsulate2(state: &[u8], encapsulation_key: &[u8]) -> Option<Vec<u8>> {
    let state: &[u8; ENCAPSULATION_STATE_LEN] = state.try_into().ok()?;
    let key: &[u8; ENCAPSULATION_KEY_LEN] = encapsulation_key.try_into().ok()?;
    Some(incremental::encapsulate2(state, key).value.to_vec())
}

/// The shared secret from the decapsulation key and both ciphertext parts (implicit rejection:
/// a wrong ciphertext gives an unrelated secret). `None` on wrong lengths.
pub fn decapsulate(decapsulation_key: &[u8], ct1: &[u8], ct2: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let key: &[u8; DECAPSULATION_KEY_LEN] = decapsulation_key.try_into().ok()?;
    let ct1 = incremental::Ciphertext1 {
        value: ct1.try_into().ok()?,
    };
    let ct2 = incremental::Ciphertext2 {
        value: ct2.try_into().ok()?,
    };
    Some(Zeroizing::new(
        incremental::decapsulate_compressed_key(key, &ct1, &ct2).to_vec(),
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sizes_are_the_braids() {
        assert_eq!(
            (
                HEADER_LEN,
                ENCAPSULATION_KEY_LEN,
                CT1_LEN,
                CT2_LEN,
                DECAPSULATION_KEY_LEN
            ),
            (64, 1152, 960, 128, 2400)
        );
    }

    #[test]
    fn incremental_round_trip() {
        let mut rng = rand::rng();
        let keys = generate(&mut rng);
        assert!(matches_header(&keys.encapsulation_key, &keys.header));
        let other = generate(&mut rng);
        assert!(!matches_header(&other.encapsulation_key, &keys.header));
        let first = encapsulate1(&keys.header, &mut rng).unwrap();
        let ct2 = encapsulate2(&first.state, &keys.encapsulation_key).unwrap();
        let ss = decapsulate(&keys.decapsulation_key, &first.ct1, &ct2).unwrap();
        assert_eq!(*ss, *first.shared_secret);
    }
}
