//! The PQXDH key agreement (Signal's PQXDH specification, revision 3) and, for comparison, the
//! classical X3DH it extends, both with libsignal's byte-level choices.
//!
//! ```text
//! DH1 = DH(IK_A, SPK_B)   DH2 = DH(EK_A, IK_B)   DH3 = DH(EK_A, SPK_B)   [DH4 = DH(EK_A, OPK_B)]
//! (CT, SS) = PQKEM-ENC(PQPK_B)
//! root key || chain key || SPQR auth key
//!     = HKDF-SHA256(salt = 0*32, IKM = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4] || SS,
//!                   info = "WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024", 96)
//! AD = EncodeEC(IK_A) || EncodeEC(IK_B)
//! ```

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

use crate::handshake::bundle::PreKeyBundle;
use crate::handshake::error::HandshakeError;
use crate::handshake::header::{InitialHeader, PqHeader};
use crate::handshake::identity::IdentityKeyPair;
use crate::handshake::prekey::PreKeyId;
use crate::handshake::protocol::Protocol;
use crate::handshake::session_id::SessionId;
use crate::handshake::store::PreKeySource;
use crate::handshake::verified_bundle::VerifiedBundle;
use crate::primitives::kem::{Backend, KemCiphertext, KemSecretKey, KemSharedSecret};
use crate::primitives::keys::{
    DhOutput, ENCODED_EC_LEN, EphemeralKeyPair, KeyError, KeyPair, PublicKey,
};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::root_key::RootKey;

/// `F`: 32 bytes of 0xFF before the key material, for domain separation from XEdDSA
/// (PQXDH section 2.2, X3DH section 2.2).
pub const KDF_PREFIX: [u8; 32] = [0xFF; 32];

/// HKDF salt: a hash-length string of zeros (PQXDH section 2.2).
pub const KDF_SALT: [u8; 32] = [0u8; 32];

/// Bytes taken from the HKDF: root key (0..32), the first chain key (32..64) and the SPQR auth
/// key (64..96), as libsignal expands since the triple ratchet (HKDF output is prefix-stable, so
/// the first 64 bytes are those of a 64-byte expansion).
pub const KDF_OUTPUT_LEN: usize = 96;

crate::primitives::secret::secret_bytes!(
    /// The SPQR auth key: PQXDH's HKDF output bytes 64..96, which seeds the post-quantum half of
    /// a triple ratchet (SPEC.md section 14). Zeroized on drop; redacted in `Debug`.
    SpqrAuthKey,
    32
);

/// Everything the key schedule derives.
pub struct DerivedKeys {
    /// The first root key (bytes 0..32).
    pub root_key: RootKey,
    /// The first chain key (bytes 32..64).
    pub chain_key: ChainKey,
    /// The SPQR auth key (bytes 64..96).
    pub spqr_auth_key: SpqrAuthKey,
}

/// Length of the associated data: two `EncodeEC` identity keys.
pub const ASSOCIATED_DATA_LEN: usize = 2 * ENCODED_EC_LEN;

/// The keys both sides agree on.
pub struct SharedKeys {
    /// The first root key (HKDF output bytes 0..32).
    pub root_key: RootKey,
    /// The first chain key (bytes 32..64): the responder's sending chain.
    pub chain_key: ChainKey,
    /// The SPQR auth key (bytes 64..96), for a triple ratchet.
    pub spqr_auth_key: SpqrAuthKey,
    /// `AD = EncodeEC(IK_A) || EncodeEC(IK_B)`.
    pub associated_data: Vec<u8>,
    /// The transcript-derived session id.
    pub session_id: SessionId,
}

impl core::fmt::Debug for SharedKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SharedKeys")
            .field("root_key", &self.root_key)
            .field("chain_key", &self.chain_key)
            .field(
                "associated_data",
                &format_args!("{}", hex::encode(&self.associated_data)),
            )
            .field("session_id", &self.session_id)
            .finish()
    }
}

/// The root and chain keys wipe themselves on drop; the rest is public.
impl zeroize::ZeroizeOnDrop for SharedKeys {}

/// What the initiator gets: the shared keys and the header to send.
#[derive(Debug)]
pub struct Initiation {
    /// The agreed keys.
    pub keys: SharedKeys,
    /// The header of the initial message.
    pub header: InitialHeader,
}

/// Wiped on drop through its [`SharedKeys`].
impl zeroize::ZeroizeOnDrop for Initiation {}

/// `AD = EncodeEC(IK_A) || EncodeEC(IK_B)` (PQXDH section 3.3), initiator first.
pub fn associated_data(initiator: &PublicKey, responder: &PublicKey) -> Vec<u8> {
    let mut ad = Vec::with_capacity(ASSOCIATED_DATA_LEN);
    ad.extend_from_slice(&initiator.encode());
    ad.extend_from_slice(&responder.encode());
    ad
}

/// KDF(KM) = HKDF-SHA256(salt = zeros, IKM = F || DH1 || DH2 || DH3 [|| DH4] [|| SS], info), 64 bytes.
pub(crate) fn derive_keys(
    dhs: &[&DhOutput],
    shared_secret: Option<&KemSharedSecret>,
    info: &[u8],
) -> DerivedKeys {
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 * (dhs.len() + 2)));
    ikm.extend_from_slice(&KDF_PREFIX);
    for dh in dhs {
        ikm.extend_from_slice(dh.as_bytes());
    }
    if let Some(ss) = shared_secret {
        ikm.extend_from_slice(ss.as_bytes());
    }
    let mut okm = [0u8; KDF_OUTPUT_LEN];
    // 96 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    let _ = Hkdf::<Sha256>::new(Some(&KDF_SALT), &ikm).expand(info, &mut okm);
    let (root, rest) = okm.split_at(32);
    let (chain, auth) = rest.split_at(32);
    let keys = DerivedKeys {
        root_key: RootKey::from_slice(root).unwrap_or_else(|| RootKey::from_bytes([0; 32])),
        chain_key: ChainKey::from_slice(chain).unwrap_or_else(|| ChainKey::from_bytes([0; 32])),
        spqr_auth_key: SpqrAuthKey::from_slice(auth)
            .unwrap_or_else(|| SpqrAuthKey::from_bytes([0; 32])),
    };
    okm.zeroize();
    keys
}

/// The initiator's DH computations and KDF, from her keys and the responder's public keys: the
/// raw key schedule of SPEC.md section 6, for vectors; [`initiate`] is the checked entry point.
pub fn initiator_keys(
    identity: &KeyPair,
    ephemeral: &KeyPair,
    their_identity: &PublicKey,
    their_signed_prekey: &PublicKey,
    their_one_time_prekey: Option<&PublicKey>,
    shared_secret: Option<&KemSharedSecret>,
    info: &[u8],
) -> Result<(RootKey, ChainKey), KeyError> {
    let keys = initiator_key_schedule(
        identity,
        ephemeral,
        their_identity,
        their_signed_prekey,
        their_one_time_prekey,
        shared_secret,
        info,
    )?;
    Ok((keys.root_key, keys.chain_key))
}

/// [`initiator_keys`] with the SPQR auth key too.
pub fn initiator_key_schedule(
    identity: &KeyPair,
    ephemeral: &KeyPair,
    their_identity: &PublicKey,
    their_signed_prekey: &PublicKey,
    their_one_time_prekey: Option<&PublicKey>,
    shared_secret: Option<&KemSharedSecret>,
    info: &[u8],
) -> Result<DerivedKeys, KeyError> {
    let dh1 = identity.diffie_hellman(their_signed_prekey)?;
    let dh2 = ephemeral.diffie_hellman(their_identity)?;
    let dh3 = ephemeral.diffie_hellman(their_signed_prekey)?;
    let dh4 = their_one_time_prekey
        .map(|opk| ephemeral.diffie_hellman(opk))
        .transpose()?;
    let mut dhs = vec![&dh1, &dh2, &dh3];
    dhs.extend(dh4.as_ref());
    Ok(derive_keys(&dhs, shared_secret, info))
}

/// The responder's DH computations and KDF, from his private keys and the initiator's public keys:
/// the raw key schedule of SPEC.md section 6, for vectors; [`respond`] is the checked entry point.
pub fn responder_keys(
    identity: &KeyPair,
    signed_prekey: &KeyPair,
    one_time_prekey: Option<&KeyPair>,
    their_identity: &PublicKey,
    their_ephemeral: &PublicKey,
    shared_secret: Option<&KemSharedSecret>,
    info: &[u8],
) -> Result<(RootKey, ChainKey), KeyError> {
    let keys = responder_key_schedule(
        identity,
        signed_prekey,
        one_time_prekey,
        their_identity,
        their_ephemeral,
        shared_secret,
        info,
    )?;
    Ok((keys.root_key, keys.chain_key))
}

/// [`responder_keys`] with the SPQR auth key too.
pub fn responder_key_schedule(
    identity: &KeyPair,
    signed_prekey: &KeyPair,
    one_time_prekey: Option<&KeyPair>,
    their_identity: &PublicKey,
    their_ephemeral: &PublicKey,
    shared_secret: Option<&KemSharedSecret>,
    info: &[u8],
) -> Result<DerivedKeys, KeyError> {
    let dh1 = signed_prekey.diffie_hellman(their_identity)?;
    let dh2 = identity.diffie_hellman(their_ephemeral)?;
    let dh3 = signed_prekey.diffie_hellman(their_ephemeral)?;
    let dh4 = one_time_prekey
        .map(|opk| opk.diffie_hellman(their_ephemeral))
        .transpose()?;
    let mut dhs = vec![&dh1, &dh2, &dh3];
    dhs.extend(dh4.as_ref());
    Ok(derive_keys(&dhs, shared_secret, info))
}

/// Runs the initiator's side of PQXDH against a bundle with fresh randomness: verifies the bundle,
/// encapsulates to its PQ prekey, and derives the keys. The ephemeral key is consumed. The same
/// as [`VerifiedBundle::verify`] followed by [`initiate_verified`], without copying the bundle.
pub fn initiate<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    backend: Backend,
    rng: &mut R,
) -> Result<Initiation, HandshakeError> {
    bundle.verify()?;
    initiate_checked(identity, bundle, backend, rng)
}

/// [`initiate`] from a bundle whose signatures were already checked (by
/// [`VerifiedBundle::verify`] or a hit of the
/// [`VerifiedBundleCache`](crate::handshake::bundle_cache::VerifiedBundleCache)): the same
/// handshake without the two XEdDSA verifications.
pub fn initiate_verified<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &VerifiedBundle,
    backend: Backend,
    rng: &mut R,
) -> Result<Initiation, HandshakeError> {
    initiate_checked(identity, bundle.bundle(), backend, rng)
}

/// The initiator after the signature checks: private, so that only a verified bundle reaches it.
fn initiate_checked<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    backend: Backend,
    rng: &mut R,
) -> Result<Initiation, HandshakeError> {
    let ephemeral = EphemeralKeyPair::generate(rng);
    let (ciphertext, shared_secret) = bundle.pq_prekey.key.encapsulate(backend, rng)?;
    finish_initiation(
        identity,
        bundle,
        ephemeral,
        Some((ciphertext, shared_secret)),
    )
}

/// The initiator's side with caller-chosen ephemeral key and KEM randomness, for known-answer
/// vectors and seeded runs. Verifies the bundle like [`initiate`].
pub fn initiate_deterministic(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    ephemeral: EphemeralKeyPair,
    kem_randomness: &[u8; crate::primitives::kem::ENCAPS_SEED_LEN],
) -> Result<Initiation, HandshakeError> {
    bundle.verify()?;
    let (ciphertext, shared_secret) = bundle
        .pq_prekey
        .key
        .encapsulate_deterministic(kem_randomness)?;
    finish_initiation(
        identity,
        bundle,
        ephemeral,
        Some((ciphertext, shared_secret)),
    )
}

/// Classical X3DH initiator (no KEM), for the cost comparison. Only the signed prekey's
/// signature is checked, since the PQ prekey is not used.
pub fn initiate_x3dh<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    rng: &mut R,
) -> Result<Initiation, HandshakeError> {
    bundle.verify_signed_prekey()?;
    finish_initiation(identity, bundle, EphemeralKeyPair::generate(rng), None)
}

/// A responder known only by its identity key and a signed prekey whose signature is unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsignedResponder {
    /// `IK_B`.
    pub identity_key: PublicKey,
    /// `SPK_B`, unverified.
    pub signed_prekey: PublicKey,
    /// The id the initial-message header names for `SPK_B`.
    pub signed_prekey_id: PreKeyId,
}

/// Classical X3DH initiator over a responder's identity key and signed prekey alone, for a
/// party known only by those two keys: no signature exists to check (the caller must say so),
/// no KEM is used and no one-time prekey.
pub fn initiate_x3dh_unsigned<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    responder: &UnsignedResponder,
    rng: &mut R,
) -> Result<Initiation, HandshakeError> {
    finish_with(
        identity,
        Responder {
            identity_key: &responder.identity_key,
            signed_prekey: (responder.signed_prekey_id, &responder.signed_prekey),
            one_time_prekey: None,
        },
        EphemeralKeyPair::generate(rng),
        None,
    )
}

/// The responder's public keys an initiation uses.
struct Responder<'a> {
    identity_key: &'a PublicKey,
    signed_prekey: (PreKeyId, &'a PublicKey),
    one_time_prekey: Option<(PreKeyId, &'a PublicKey)>,
}

fn finish_initiation(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    ephemeral: EphemeralKeyPair,
    kem: Option<(KemCiphertext, KemSharedSecret)>,
) -> Result<Initiation, HandshakeError> {
    finish_with(
        identity,
        Responder {
            identity_key: &bundle.identity_key,
            signed_prekey: (bundle.signed_prekey.id, &bundle.signed_prekey.key),
            one_time_prekey: bundle.one_time_prekey.as_ref().map(|o| (o.id, &o.key)),
        },
        ephemeral,
        kem.map(|(ct, ss)| (bundle.pq_prekey.id, ct, ss)),
    )
}

fn finish_with(
    identity: &IdentityKeyPair,
    responder: Responder<'_>,
    ephemeral: EphemeralKeyPair,
    kem: Option<(PreKeyId, KemCiphertext, KemSharedSecret)>,
) -> Result<Initiation, HandshakeError> {
    let protocol = if kem.is_some() {
        Protocol::Pqxdh
    } else {
        Protocol::X3dh
    };
    let (signed_prekey_id, signed_prekey) = responder.signed_prekey;
    let DerivedKeys {
        root_key,
        chain_key,
        spqr_auth_key,
    } = initiator_key_schedule(
        identity.key_pair(),
        ephemeral.key_pair(),
        responder.identity_key,
        signed_prekey,
        responder.one_time_prekey.map(|(_, key)| key),
        kem.as_ref().map(|(_, _, ss)| ss),
        protocol.info(),
    )?;
    let ephemeral_key = *ephemeral.public_key();
    // EK_A's private key is wiped here, as PQXDH section 3.3 asks.
    drop(ephemeral);
    let pq = kem.map(|(prekey_id, ciphertext, _shared_secret)| PqHeader {
        prekey_id,
        ciphertext,
    });
    let session_id = SessionId::derive(
        identity.public_key(),
        responder.identity_key,
        &ephemeral_key,
        pq.as_ref().map(|p| &p.ciphertext),
    );
    Ok(Initiation {
        keys: SharedKeys {
            root_key,
            chain_key,
            spqr_auth_key,
            associated_data: associated_data(identity.public_key(), responder.identity_key),
            session_id,
        },
        header: InitialHeader {
            identity_key: *identity.public_key(),
            ephemeral_key,
            signed_prekey_id,
            one_time_prekey_id: responder.one_time_prekey.map(|(id, _)| id),
            pq,
        },
    })
}

/// Runs the responder's side from his prekey store. Nothing is deleted here: call
/// [`PreKeyStore::consume`](crate::handshake::prekey_store::PreKeyStore::consume) once the first message has decrypted (PQXDH section 3.4).
/// `require_pq` refuses headers without a KEM ciphertext (set it unless X3DH is wanted).
pub fn respond<S: PreKeySource + ?Sized>(
    store: &S,
    header: &InitialHeader,
    backend: Backend,
    require_pq: bool,
) -> Result<SharedKeys, HandshakeError> {
    let signed = store
        .load_signed_prekey(header.signed_prekey_id)?
        .ok_or(HandshakeError::UnknownSignedPreKey(header.signed_prekey_id))?;
    let one_time = match header.one_time_prekey_id {
        Some(id) => Some(
            store
                .load_one_time_prekey(id)?
                .ok_or(HandshakeError::UnknownOneTimePreKey(id))?,
        ),
        None => None,
    };
    let shared_secret = match &header.pq {
        Some(pq) => {
            let prekey = store
                .load_pq_prekey(pq.prekey_id)?
                .ok_or(HandshakeError::UnknownPqPreKey(pq.prekey_id))?;
            Some(decapsulate(
                prekey.key_pair().secret_key(),
                &pq.ciphertext,
                backend,
            )?)
        }
        None if require_pq => return Err(HandshakeError::MissingKemCiphertext),
        None => None,
    };
    let identity = store.identity_key_pair();
    let DerivedKeys {
        root_key,
        chain_key,
        spqr_auth_key,
    } = responder_key_schedule(
        identity.key_pair(),
        signed.key_pair(),
        one_time.as_ref().map(|o| o.key_pair()),
        &header.identity_key,
        &header.ephemeral_key,
        shared_secret.as_ref(),
        header.protocol().info(),
    )?;
    Ok(SharedKeys {
        root_key,
        chain_key,
        spqr_auth_key,
        associated_data: associated_data(&header.identity_key, identity.public_key()),
        session_id: SessionId::derive(
            &header.identity_key,
            identity.public_key(),
            &header.ephemeral_key,
            header.pq.as_ref().map(|p| &p.ciphertext),
        ),
    })
}

fn decapsulate(
    secret: &KemSecretKey,
    ciphertext: &KemCiphertext,
    backend: Backend,
) -> Result<KemSharedSecret, HandshakeError> {
    if secret.kem() != ciphertext.kem() {
        return Err(HandshakeError::KemMismatch {
            expected: secret.kem(),
            actual: ciphertext.kem(),
        });
    }
    Ok(secret.decapsulate(ciphertext, backend)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::handshake::prekey_store::PreKeyStore;
    use crate::handshake::protocol::X3DH_INFO;
    use crate::primitives::kem::KemType;
    use rand::SeedableRng;
    use rand::rngs::ChaCha20Rng;

    #[test]
    fn x3dh_over_unsigned_keys_agrees_with_the_x3dh_responder() {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = IdentityKeyPair::generate(&mut rng);
        let store = PreKeyStore::generate(bob, KemType::MlKem1024, &mut rng).unwrap();
        let spk = store.current_signed_prekey().unwrap();
        let responder = UnsignedResponder {
            identity_key: *store.identity().public_key(),
            signed_prekey: *spk.key_pair().public_key(),
            signed_prekey_id: spk.id(),
        };
        let init = initiate_x3dh_unsigned(&alice, &responder, &mut rng).unwrap();
        assert_eq!(init.header.pq, None);
        assert_eq!(init.header.one_time_prekey_id, None);
        assert_eq!(init.header.protocol(), Protocol::X3dh);
        let header = InitialHeader::from_bytes(&init.header.to_bytes()).unwrap();
        assert_eq!(
            respond(&store, &header, Backend::Libcrux, true).unwrap_err(),
            HandshakeError::MissingKemCiphertext
        );
        let bob_keys = respond(&store, &header, Backend::Libcrux, false).unwrap();
        assert_eq!(bob_keys.root_key, init.keys.root_key);
        assert_eq!(bob_keys.chain_key, init.keys.chain_key);
        assert_eq!(bob_keys.associated_data, init.keys.associated_data);
        assert_eq!(bob_keys.session_id, init.keys.session_id);

        // The same keys as the bundle-based X3DH initiator with the same ephemeral key.
        let bundle = store.default_bundle().unwrap();
        let via_bundle =
            finish_initiation(&alice, &bundle, EphemeralKeyPair::generate(&mut rng), None).unwrap();
        let (root, _) = initiator_keys(
            alice.key_pair(),
            // Not the same ephemeral: only the shape of the header is compared here.
            &KeyPair::generate(&mut rng),
            &bundle.identity_key,
            &bundle.signed_prekey.key,
            None,
            None,
            X3DH_INFO,
        )
        .unwrap();
        assert_ne!(root, via_bundle.keys.root_key);
        assert_eq!(via_bundle.header.signed_prekey_id, header.signed_prekey_id);
        assert_eq!(via_bundle.header.pq, None);
    }

    #[test]
    fn x3dh_over_a_small_order_signed_prekey_fails() {
        let mut rng = ChaCha20Rng::seed_from_u64(12);
        let alice = IdentityKeyPair::generate(&mut rng);
        let bob = IdentityKeyPair::generate(&mut rng);
        let zero = PublicKey::from_slice(&[0u8; 32]).unwrap();
        let responder = UnsignedResponder {
            identity_key: *bob.public_key(),
            signed_prekey: zero,
            signed_prekey_id: 1,
        };
        let r = initiate_x3dh_unsigned(&alice, &responder, &mut rng);
        assert!(matches!(r, Err(HandshakeError::Key(_))), "{r:?}");
    }
}
