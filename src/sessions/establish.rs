//! Sessions from handshakes: the initiator's session from a bundle, and the responder's session
//! from a pre-key message, joining PQXDH to the Double Ratchet.

use rand_core::CryptoRng;

use crate::handshake::agreement as hs;
use crate::handshake::bundle::PreKeyBundle;
use crate::handshake::error::HandshakeError;
use crate::handshake::header::InitialHeader;
use crate::handshake::identity::IdentityKeyPair;
use crate::handshake::replay_record::ReplayError;
use crate::handshake::session_id::SessionId;
use crate::handshake::store::{PreKeySink, PreKeySource, PreKeyUse, prekey_use};
use crate::handshake::verified_bundle::VerifiedBundle;
use crate::primitives::kem::{Backend, KemType};
use crate::primitives::keys::PublicKey;
#[cfg(feature = "spqr")]
use crate::ratchet::message::WIRE_VERSION_TRIPLE;
use crate::ratchet::root_key::RootKey;
use crate::ratchet::{DecryptError, EncryptError, Session, WireMessage};

/// Errors from establishing a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EstablishError {
    /// The PQXDH handshake failed.
    #[error("handshake: {0}")]
    Handshake(#[from] HandshakeError),
    /// The first message did not decrypt (nothing was stored, no prekey was consumed).
    #[error("first message: {0}")]
    Decrypt(#[from] DecryptError),
    /// The session could not start (the signed prekey gives a non-contributory DH output).
    #[error("session start: {0}")]
    Start(#[from] EncryptError),
    /// The pre-key message already established a session (or the replay record of its keys is
    /// full); nothing was changed.
    #[error("{0}")]
    Replay(#[from] ReplayError),
    /// A normal message arrived where a pre-key message was needed.
    #[error("not a pre-key message: no session exists to decrypt it")]
    NotPreKeyMessage,
}

/// A freshly established session and what the handshake produced.
#[derive(Debug)]
pub struct Established {
    /// The Double Ratchet session.
    pub session: Session,
    /// The transcript-derived session id.
    pub session_id: SessionId,
    /// The handshake's root key (the node reports it; a real client never should).
    pub handshake_root_key: RootKey,
    /// The KEM used, `None` for classical X3DH.
    pub kem: Option<KemType>,
}

/// The session and the root key wipe themselves on drop; the rest is public.
impl zeroize::ZeroizeOnDrop for Established {}

/// Which ratchet a new session runs (SPEC.md section 8.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RatchetKind {
    /// The Double Ratchet alone (wire version 0x02): X25519 steps only.
    Classical,
    /// The triple ratchet (wire version 0x03): the Double Ratchet plus SPQR, whose ML-KEM-768
    /// epochs make the message keys post-quantum after a compromise too. Needs the `spqr`
    /// feature.
    #[cfg(feature = "spqr")]
    Triple,
}

impl Default for RatchetKind {
    /// The triple ratchet when the `spqr` feature is on (the default), else the classical one.
    fn default() -> Self {
        #[cfg(feature = "spqr")]
        {
            Self::Triple
        }
        #[cfg(not(feature = "spqr"))]
        {
            Self::Classical
        }
    }
}

/// The initiator: verifies the bundle, runs PQXDH and starts a session whose messages are
/// pre-key messages until the first reply arrives. The session is a triple ratchet
/// ([`RatchetKind::default`]); [`initiate_with_ratchet`] chooses.
pub fn initiate<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    backend: Backend,
    rng: &mut R,
) -> Result<Established, EstablishError> {
    initiate_with_ratchet(identity, bundle, backend, RatchetKind::default(), rng)
}

/// [`initiate`] with an explicit ratchet: the classical Double Ratchet stays available for
/// comparison and for peers without SPQR.
pub fn initiate_with_ratchet<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &PreKeyBundle,
    backend: Backend,
    ratchet: RatchetKind,
    rng: &mut R,
) -> Result<Established, EstablishError> {
    let init = hs::initiate(identity, bundle, backend, rng)?;
    start_initiator(init, bundle.signed_prekey.key, ratchet, rng)
}

/// [`initiate`] from a bundle whose signatures were already checked ([`VerifiedBundle::verify`],
/// or a hit of the [`VerifiedBundleCache`](crate::handshake::bundle_cache::VerifiedBundleCache)):
/// PQXDH without the two XEdDSA verifications, then the same session.
pub fn initiate_verified<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    bundle: &VerifiedBundle,
    backend: Backend,
    rng: &mut R,
) -> Result<Established, EstablishError> {
    let init = hs::initiate_verified(identity, bundle, backend, rng)?;
    start_initiator(
        init,
        bundle.bundle().signed_prekey.key,
        RatchetKind::default(),
        rng,
    )
}

/// The initiator over a responder known only by its identity key and a signed prekey whose
/// signature is unknown: classical X3DH ([`hs::initiate_x3dh_unsigned`]; the caller must say
/// the session is neither post-quantum nor checked), then a session as [`initiate`] starts one.
pub fn initiate_x3dh_unsigned<R: CryptoRng + ?Sized>(
    identity: &IdentityKeyPair,
    responder: &hs::UnsignedResponder,
    rng: &mut R,
) -> Result<Established, EstablishError> {
    let init = hs::initiate_x3dh_unsigned(identity, responder, rng)?;
    start_initiator(init, responder.signed_prekey, RatchetKind::Classical, rng)
}

/// The initiator's session from a finished handshake with the responder's signed prekey.
fn start_initiator<R: CryptoRng + ?Sized>(
    init: hs::Initiation,
    their_signed_prekey: PublicKey,
    ratchet: RatchetKind,
    rng: &mut R,
) -> Result<Established, EstablishError> {
    let kem = init.header.pq.as_ref().map(|p| p.ciphertext.kem());
    let handshake_root_key = init.keys.root_key.clone();
    let session_id = init.keys.session_id;
    #[cfg(feature = "spqr")]
    let auth_key = init.keys.spqr_auth_key.clone();
    let session = Session::new_initiator(
        init.keys.root_key,
        init.keys.chain_key,
        their_signed_prekey,
        init.keys.associated_data,
        init.header.to_bytes(),
        rng,
    )?;
    let session = match ratchet {
        RatchetKind::Classical => session,
        #[cfg(feature = "spqr")]
        RatchetKind::Triple => session.with_triple_ratchet(auth_key.as_bytes(), true),
    };
    Ok(Established {
        session,
        session_id,
        handshake_root_key,
        kem,
    })
}

/// The pre-key header of a wire message, if it is a pre-key message.
pub fn prekey_header(wire: &[u8]) -> Result<Option<InitialHeader>, EstablishError> {
    match WireMessage::parse(wire)?.prekey_header() {
        Some(header) => Ok(Some(InitialHeader::from_bytes(header)?)),
        None => Ok(None),
    }
}

/// The session id a pre-key header leads to at the responder `identity`.
pub fn session_id_of(header: &InitialHeader, identity: &IdentityKeyPair) -> SessionId {
    SessionId::derive(
        &header.identity_key,
        identity.public_key(),
        &header.ephemeral_key,
        header.pq.as_ref().map(|p| &p.ciphertext),
    )
}

/// A pre-key message accepted without touching the store: the new session, the first
/// plaintext, and the store change to commit with them (see [`accept_pending`]).
#[derive(Debug)]
pub struct Accepted {
    /// The session and the handshake's outputs.
    pub established: Established,
    /// The first message's plaintext.
    pub plaintext: Vec<u8>,
    /// What the store must record: the consumed one-time keys, or the base key for the replay
    /// record of a last-resort key set.
    pub prekey_use: PreKeyUse,
}

/// The responder, reading the store only: checks the replay record, runs PQXDH from a pre-key
/// message's header and decrypts its ratchet message. Nothing is written: the caller commits
/// [`Accepted::prekey_use`] ([`PreKeySink::record_use`]) together with the new session in one
/// transaction, so that a crash never keeps one without the other. A pre-key message that
/// already established a session is refused ([`EstablishError::Replay`]) before any work: a
/// caller holding sessions routes the repeated pre-key headers of an existing session to it by
/// [`session_id_of`] first. Classical X3DH headers are refused.
pub fn accept_pending<S: PreKeySource + ?Sized>(
    store: &S,
    wire: &[u8],
    backend: Backend,
) -> Result<Accepted, EstablishError> {
    let header = prekey_header(wire)?.ok_or(EstablishError::NotPreKeyMessage)?;
    let prekey_use = prekey_use(store, &header).map_err(HandshakeError::from)??;
    let keys = hs::respond(store, &header, backend, true)?;
    let signed = store
        .load_signed_prekey(header.signed_prekey_id)
        .map_err(HandshakeError::from)?
        .ok_or(HandshakeError::UnknownSignedPreKey(header.signed_prekey_id))?
        .key_pair()
        .clone();
    let handshake_root_key = keys.root_key.clone();
    let session =
        Session::new_responder(keys.root_key, keys.chain_key, signed, keys.associated_data);
    // The initiator chose the ratchet; its version byte is authenticated by the first message.
    #[cfg(feature = "spqr")]
    let session = if wire.first() == Some(&WIRE_VERSION_TRIPLE) {
        session.with_triple_ratchet(keys.spqr_auth_key.as_bytes(), false)
    } else {
        session
    };
    let mut session = session;
    let plaintext = session.decrypt(wire)?;
    Ok(Accepted {
        established: Established {
            session,
            session_id: keys.session_id,
            handshake_root_key,
            kem: header.pq.as_ref().map(|p| p.ciphertext.kem()),
        },
        plaintext,
        prekey_use,
    })
}

/// [`accept_pending`], then the store change committed at once: for a store whose writes
/// cannot fail or need no transaction with anything else, such as the in-memory
/// [`PreKeyStore`](crate::handshake::prekey_store::PreKeyStore). On any error the store is
/// unchanged.
pub fn accept<S: PreKeySource + PreKeySink + ?Sized>(
    store: &mut S,
    wire: &[u8],
    backend: Backend,
) -> Result<(Established, Vec<u8>), EstablishError> {
    let accepted = accept_pending(&*store, wire, backend)?;
    store
        .record_use(&accepted.prekey_use)
        .map_err(HandshakeError::from)?;
    Ok((accepted.established, accepted.plaintext))
}
