//! The braid's authenticator: a MAC key ratcheted with every epoch secret, which authenticates
//! each epoch's encapsulation-key header and ciphertext.

use hkdf::Hkdf;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Epoch;

/// Length of the authenticator's keys and of its MACs (HMAC-SHA256, untruncated).
pub const MAC_LEN: usize = 32;

/// HKDF info prefix of an authenticator update (ML-KEM Braid V1 labels, `spqr` 1.5.3).
pub const UPDATE_INFO: &[u8] = b"Signal_PQCKA_V1_MLKEM768:Authenticator Update";
/// MAC label of an epoch's ciphertext `ct1 || ct2`.
pub const CIPHERTEXT_LABEL: &[u8] = b"Signal_PQCKA_V1_MLKEM768:ciphertext";
/// MAC label of an epoch's encapsulation-key header.
pub const HEADER_LABEL: &[u8] = b"Signal_PQCKA_V1_MLKEM768:ekheader";

/// A MAC did not verify: the header or ciphertext was not made with this session's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadMac;

/// The authenticator's root key and MAC key. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Authenticator {
    root_key: [u8; MAC_LEN],
    mac_key: [u8; MAC_LEN],
}

impl core::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Authenticator(<redacted>)")
    }
}

impl Authenticator {
    /// The authenticator of epoch 1: a zero root key updated with the session's auth key.
    pub fn new(auth_key: &[u8], epoch: Epoch) -> Self {
        let mut out = Self {
            root_key: [0; MAC_LEN],
            mac_key: [0; MAC_LEN],
        };
        out.update(epoch, auth_key);
        out
    }

    /// Restores an authenticator from its two keys.
    pub fn from_keys(root_key: [u8; MAC_LEN], mac_key: [u8; MAC_LEN]) -> Self {
        Self { root_key, mac_key }
    }

    /// The root key and MAC key, for the saved state.
    pub fn keys(&self) -> (&[u8; MAC_LEN], &[u8; MAC_LEN]) {
        (&self.root_key, &self.mac_key)
    }

    /// `root, mac = HKDF-SHA256(salt = 0^32, IKM = root || key, info = UPDATE_INFO || epoch
    /// u64be)`, 64 bytes.
    pub fn update(&mut self, epoch: Epoch, key: &[u8]) {
        let mut ikm = zeroize::Zeroizing::new(Vec::with_capacity(MAC_LEN + key.len()));
        ikm.extend_from_slice(&self.root_key);
        ikm.extend_from_slice(key);
        let mut info = Vec::with_capacity(UPDATE_INFO.len() + 8);
        info.extend_from_slice(UPDATE_INFO);
        info.extend_from_slice(&epoch.to_be_bytes());
        let mut okm = zeroize::Zeroizing::new([0u8; 2 * MAC_LEN]);
        // 64 bytes is far below HKDF-SHA256's limit: this cannot fail.
        let _ = Hkdf::<Sha256>::new(Some(&[0u8; 32]), &ikm).expand(&info, &mut *okm);
        let (root, mac) = okm.split_at(MAC_LEN);
        self.root_key.copy_from_slice(root);
        self.mac_key.copy_from_slice(mac);
    }

    fn mac(&self, label: &[u8], epoch: Epoch, data: &[u8]) -> [u8; MAC_LEN] {
        // HMAC takes keys of any length: this cannot fail.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.mac_key) else {
            return [0; MAC_LEN];
        };
        mac.update(label);
        mac.update(&epoch.to_be_bytes());
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// HMAC-SHA256(mac key, CIPHERTEXT_LABEL || epoch u64be || ct).
    pub fn mac_ciphertext(&self, epoch: Epoch, ct: &[u8]) -> [u8; MAC_LEN] {
        self.mac(CIPHERTEXT_LABEL, epoch, ct)
    }

    /// HMAC-SHA256(mac key, HEADER_LABEL || epoch u64be || header).
    pub fn mac_header(&self, epoch: Epoch, header: &[u8]) -> [u8; MAC_LEN] {
        self.mac(HEADER_LABEL, epoch, header)
    }

    /// Checks a ciphertext MAC in constant time.
    pub fn verify_ciphertext(&self, epoch: Epoch, ct: &[u8], mac: &[u8]) -> Result<(), BadMac> {
        check(&self.mac_ciphertext(epoch, ct), mac)
    }

    /// Checks a header MAC in constant time.
    pub fn verify_header(&self, epoch: Epoch, header: &[u8], mac: &[u8]) -> Result<(), BadMac> {
        check(&self.mac_header(epoch, header), mac)
    }
}

fn check(expected: &[u8; MAC_LEN], got: &[u8]) -> Result<(), BadMac> {
    if got.len() == MAC_LEN && bool::from(expected.ct_eq(got)) {
        Ok(())
    } else {
        Err(BadMac)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_depend_on_label_epoch_data_and_key() {
        let a = Authenticator::new(&[7; 32], 1);
        let hdr = a.mac_header(1, b"header");
        assert_ne!(hdr, a.mac_ciphertext(1, b"header"));
        assert_ne!(hdr, a.mac_header(2, b"header"));
        assert_ne!(hdr, a.mac_header(1, b"headeR"));
        assert_ne!(
            hdr,
            Authenticator::new(&[8; 32], 1).mac_header(1, b"header")
        );
        assert_eq!(a.verify_header(1, b"header", &hdr), Ok(()));
        assert_eq!(a.verify_header(1, b"header", &hdr[..31]), Err(BadMac));
        let mut b = a.clone();
        b.update(1, &[1; 32]);
        assert_eq!(b.verify_header(1, b"header", &hdr), Err(BadMac));
    }
}
