//! A Double Ratchet session started from PQXDH's root and chain keys.
//!
//! The initial state follows libsignal: the responder (Bob) sends on the PQXDH chain key with his
//! signed prekey as his ratchet key; the initiator (Alice) keeps the PQXDH chain key as her
//! receiving chain for Bob's signed prekey and immediately performs a DH ratchet step with a fresh
//! ratchet key pair.
//!
//! # Deferred sending step
//!
//! A DH ratchet step has two halves: the *receive* half
//! `(RK, CKr) = KDF_RK(RK, DH(our ratchet, their new ratchet key))` and the *send* half, which
//! generates our next ratchet key pair and computes `(RK, CKs) = KDF_RK(RK, DH(new pair, their
//! key))`. libsignal performs both when a new ratchet key arrives. This session performs only the
//! receive half on [`Session::decrypt`] and defers the send half to the next
//! [`Session::encrypt`] (the Double Ratchet allows this: the new key pair is first revealed in
//! that message). A burst of received messages therefore costs one X25519 per new ratchet key
//! instead of two plus a key generation, and a session that only receives never generates keys.
//! Public keys are computed once per key pair and cached.

use std::collections::VecDeque;

use rand_core::CryptoRng;

use crate::primitives::keys::{KeyPair, PublicKey};
use crate::ratchet::chain_key::ChainKey;
use crate::ratchet::error::{DecryptError, EncryptError};
use crate::ratchet::message::SALT_LEN;
use crate::ratchet::message::{MAX_PREKEY_HEADER_LEN, MessageView};
use crate::ratchet::message::{PREKEY_PREFIX_LEN, TYPE_PREKEY, WIRE_VERSION, normal_header};
use crate::ratchet::message::{WIRE_VERSION_TRIPLE, triple_header};
use crate::ratchet::message_key::{MessageKeySeed, TAG_LEN};
use crate::ratchet::pq_ratchet::PqRatchet;
use crate::ratchet::root_key::RootKey;

/// The largest number of message keys one received message may make us skip in one chain (its
/// own chain up to N, or the previous chain up to PN). Bounds the HMAC work and the memory that a
/// single (possibly forged) header can cause before its tag is checked: 2,000 HMAC pairs take well
/// under a millisecond. libsignal allows 25,000 forward jumps; vodozemac-like stores use ~2,000.
pub const MAX_MESSAGE_GAP: u32 = 2_000;

/// The most skipped message keys kept across all chains (libsignal keeps 2,000 per chain). Each
/// costs 68 bytes saved; when full, the oldest key is evicted, so a message delayed past 2,000
/// later-sent messages can no longer be decrypted.
pub const MAX_SKIPPED_KEYS: usize = 2_000;

/// The most receiving chains remembered (libsignal keeps 5): the current one, with its chain key,
/// plus the ratchet keys of up to four earlier ones, whose chain keys are discarded after their
/// remaining keys up to PN were stored as skipped keys. Remembering the keys lets a late or replayed
/// message on an old chain be refused as [`DecryptError::Duplicate`] without a pointless DH step.
pub const MAX_RECEIVING_CHAINS: usize = 5;

/// Our sending chain.
#[derive(Clone)]
pub(super) struct SendingChain {
    /// Our ratchet key pair for this chain. Its private key is needed only while the chain
    /// exists: the peer answers our public key with a new ratchet key of its own, and the DH with
    /// that happens before the chain is dropped. A responder's first ratchet key is its signed
    /// prekey, so dropping it with the chain is what keeps prekey private keys out of sessions.
    pub(super) ratchet: KeyPair,
    pub(super) key: ChainKey,
    pub(super) counter: u32,
}

/// The current receiving chain.
#[derive(Clone)]
pub(super) struct ReceivingChain {
    pub(super) their_key: PublicKey,
    pub(super) key: ChainKey,
    pub(super) counter: u32,
}

/// A stored message key of a message not yet received.
#[derive(Clone)]
pub(super) struct SkippedKey {
    pub(super) their_key: PublicKey,
    pub(super) counter: u32,
    pub(super) seed: MessageKeySeed,
}

/// A Double Ratchet session.
pub struct Session {
    pub(super) root_key: RootKey,
    /// Our latest ratchet public key (its private key lives in, and dies with, the sending chain).
    pub(super) our_ratchet_key: PublicKey,
    /// `None` while the send half of a DH ratchet step is deferred to the next `encrypt`.
    pub(super) sending: Option<SendingChain>,
    /// PN: the length of our previous sending chain.
    pub(super) previous_counter: u32,
    pub(super) receiving: Option<ReceivingChain>,
    /// Ratchet keys of earlier receiving chains, oldest first.
    pub(super) previous_their_keys: VecDeque<PublicKey>,
    /// Skipped message keys, oldest first.
    pub(super) skipped: VecDeque<SkippedKey>,
    pub(super) associated_data: Vec<u8>,
    pub(super) pending_prekey_header: Option<Vec<u8>>,
    pub(super) received: bool,
    /// The SPQR state of a triple-ratchet session; `None` for a classical Double Ratchet.
    pub(super) pq: Option<PqRatchet>,
}

/// A snapshot of a session's counters, for debugging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Our current ratchet public key.
    pub our_ratchet_key: PublicKey,
    /// The peer's current ratchet public key, once we have a receiving chain.
    pub their_ratchet_key: Option<PublicKey>,
    /// N of our next message, or `None` while the sending step is deferred.
    pub sending_counter: Option<u32>,
    /// PN: the length of our previous sending chain.
    pub previous_counter: u32,
    /// The next expected N in the current receiving chain.
    pub receiving_counter: Option<u32>,
    /// Receiving chains remembered (current plus earlier ratchet keys).
    pub receiving_chains: usize,
    /// Stored skipped message keys.
    pub skipped_keys: usize,
    /// Whether any message has been decrypted.
    pub has_received: bool,
    /// Whether `encrypt` produces pre-key messages (initiator before the first reply).
    pub sends_prekey_messages: bool,
    /// The SPQR braid epoch of a triple-ratchet session; `None` for a classical one.
    pub pq_epoch: Option<u64>,
}

impl core::fmt::Debug for Session {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("info", &self.info())
            .field("keys", &format_args!("<redacted>"))
            .finish()
    }
}

/// Every key it holds (root key, ratchet private key, chain keys, skipped message keys) wipes
/// itself on drop, including keys dropped as the session advances or evicts them.
impl zeroize::ZeroizeOnDrop for Session {}

/// SPQR's state after a received message, and that message's key.
type PqReceived = (PqRatchet, zeroize::Zeroizing<[u8; 32]>);

/// The result of walking a chain forward: skipped keys, the message's seed, the next chain key.
type Advance = (Vec<SkippedKey>, MessageKeySeed, ChainKey);

impl Session {
    /// The initiator's session: keeps `chain_key` as the receiving chain for Bob's signed prekey
    /// and performs a DH ratchet step with a fresh ratchet key pair:
    /// `(RK', CKs) = KDF_RK(root_key, DH(alice_ratchet, SPK_B))`. Messages are pre-key messages
    /// carrying `prekey_header` until a message from Bob is decrypted.
    pub fn new_initiator<R: CryptoRng + ?Sized>(
        root_key: RootKey,
        chain_key: ChainKey,
        their_signed_prekey: PublicKey,
        associated_data: Vec<u8>,
        prekey_header: Vec<u8>,
        rng: &mut R,
    ) -> Result<Self, EncryptError> {
        Self::new_initiator_with_ratchet_key(
            root_key,
            chain_key,
            their_signed_prekey,
            associated_data,
            prekey_header,
            KeyPair::generate(rng),
        )
    }

    /// [`Session::new_initiator`] with a given first ratchet key pair (for known-answer tests).
    pub fn new_initiator_with_ratchet_key(
        root_key: RootKey,
        chain_key: ChainKey,
        their_signed_prekey: PublicKey,
        associated_data: Vec<u8>,
        prekey_header: Vec<u8>,
        ratchet: KeyPair,
    ) -> Result<Self, EncryptError> {
        if prekey_header.len() > MAX_PREKEY_HEADER_LEN {
            return Err(EncryptError::PreKeyHeaderTooLong(prekey_header.len()));
        }
        let dh = ratchet
            .diffie_hellman(&their_signed_prekey)
            .map_err(|_| EncryptError::NonContributory)?;
        let (root_key, sending_key) = root_key.kdf_rk(&dh);
        Ok(Self {
            root_key,
            our_ratchet_key: *ratchet.public_key(),
            sending: Some(SendingChain {
                ratchet,
                key: sending_key,
                counter: 0,
            }),
            previous_counter: 0,
            receiving: Some(ReceivingChain {
                their_key: their_signed_prekey,
                key: chain_key,
                counter: 0,
            }),
            previous_their_keys: VecDeque::new(),
            skipped: VecDeque::new(),
            associated_data,
            pending_prekey_header: Some(prekey_header),
            received: false,
            pq: None,
        })
    }

    /// The responder's session: sends on `chain_key` with `our_signed_prekey` as its ratchet key.
    ///
    /// The signed prekey's private key is held only until the first message is decrypted (the
    /// receive half of that DH ratchet step is its last use) and is then dropped, so a session
    /// that has received, in memory or saved, holds no prekey private key.
    /// [`establish::accept`](crate::sessions::establish::accept) decrypts the first message before it
    /// returns the session; a caller of this constructor should do the same before saving.
    pub fn new_responder(
        root_key: RootKey,
        chain_key: ChainKey,
        our_signed_prekey: KeyPair,
        associated_data: Vec<u8>,
    ) -> Self {
        Self {
            root_key,
            our_ratchet_key: *our_signed_prekey.public_key(),
            sending: Some(SendingChain {
                ratchet: our_signed_prekey,
                key: chain_key,
                counter: 0,
            }),
            previous_counter: 0,
            receiving: None,
            previous_their_keys: VecDeque::new(),
            skipped: VecDeque::new(),
            associated_data,
            pending_prekey_header: None,
            received: false,
            pq: None,
        }
    }

    /// Makes a new session a triple ratchet (SPEC.md sections 8 and 14): every message then
    /// carries an SPQR message (wire version 0x03) and its keys are salted with SPQR's key.
    /// `auth_key` is PQXDH's HKDF output bytes 64..96; the initiator is SPQR's party A. Call it
    /// before the first message; both sides must agree (the version byte tells the responder).
    #[cfg(feature = "spqr")]
    #[must_use]
    pub fn with_triple_ratchet(mut self, auth_key: &[u8; 32], initiator: bool) -> Self {
        self.pq = Some(PqRatchet::new(auth_key, initiator));
        self
    }

    /// Whether this session is a triple ratchet (Double Ratchet plus SPQR).
    pub fn is_triple_ratchet(&self) -> bool {
        self.pq.is_some()
    }

    /// Encrypts `plaintext` into wire bytes: a pre-key message while the initiator has not yet
    /// decrypted a reply, a normal message otherwise. Performs the deferred send half of a DH
    /// ratchet step first if one is pending (drawing a new ratchet key pair from `rng`).
    pub fn encrypt<R: CryptoRng + ?Sized>(
        &mut self,
        plaintext: &[u8],
        rng: &mut R,
    ) -> Result<Vec<u8>, EncryptError> {
        self.encrypt_with(plaintext, &mut FromRng(rng))
    }

    /// [`Session::encrypt`] with a source of new ratchet key pairs and salts, for replaying
    /// recorded transcripts byte for byte. A source that ever repeats a salt or a ratchet key
    /// loses the guarantees of SPEC.md section 8.1: use [`Session::encrypt`] otherwise.
    pub fn encrypt_with(
        &mut self,
        plaintext: &[u8],
        random: &mut dyn Randomness,
    ) -> Result<Vec<u8>, EncryptError> {
        if self.sending.is_none() {
            let their_key = self
                .receiving
                .as_ref()
                .ok_or(EncryptError::InvalidState)?
                .their_key;
            let ratchet = random.ratchet_key();
            let dh = ratchet
                .diffie_hellman(&their_key)
                .map_err(|_| EncryptError::NonContributory)?;
            let (root_key, key) = self.root_key.kdf_rk(&dh);
            self.root_key = root_key;
            self.our_ratchet_key = *ratchet.public_key();
            self.sending = Some(SendingChain {
                ratchet,
                key,
                counter: 0,
            });
        }
        let chain = self.sending.as_mut().ok_or(EncryptError::InvalidState)?;
        let next_counter = chain
            .counter
            .checked_add(1)
            .ok_or(EncryptError::ChainExhausted)?;

        // A fresh salt for every message: a restored (older) state re-sending on a counter it
        // already used derives another key and nonce (SPEC.md section 8.1).
        let salt = random.salt();

        // The SPQR half of a triple ratchet: its message rides in the header, its key salts the
        // message keys. Committed with the chain below.
        let pq = match &self.pq {
            Some(state) => Some(
                state
                    .send(&mut RandomnessRng(random))
                    .ok_or(EncryptError::PostQuantum)?,
            ),
            None => None,
        };
        let (version, header) = match &pq {
            None => (
                WIRE_VERSION,
                normal_header(
                    chain.ratchet.public_key(),
                    self.previous_counter,
                    chain.counter,
                    &salt,
                )
                .to_vec(),
            ),
            Some(sent) => (
                WIRE_VERSION_TRIPLE,
                triple_header(
                    chain.ratchet.public_key(),
                    self.previous_counter,
                    chain.counter,
                    &salt,
                    &sent.message,
                ),
            ),
        };

        // One buffer: [pre-key prefix] || header || plaintext, encrypted in place, then the tag.
        let prefix_len = self
            .pending_prekey_header
            .as_ref()
            .map_or(0, |blob| PREKEY_PREFIX_LEN + blob.len());
        let header_end = prefix_len + header.len();
        let mut wire = Vec::with_capacity(header_end + plaintext.len() + TAG_LEN);
        if let Some(blob) = &self.pending_prekey_header {
            let len = u32::try_from(blob.len())
                .map_err(|_| EncryptError::PreKeyHeaderTooLong(blob.len()))?;
            wire.extend_from_slice(&[version, TYPE_PREKEY]);
            wire.extend_from_slice(&len.to_be_bytes());
            wire.extend_from_slice(blob);
        }
        wire.extend_from_slice(&header);
        let ad = AssociatedData::new(&self.associated_data, &wire);
        wire.extend_from_slice(plaintext);

        let (seed, next) = chain.key.kdf_ck();
        let pq_key = pq.as_ref().map(|sent| &*sent.key);
        seed.seal_in_place(&salt, pq_key, ad.as_slice(), &mut wire, header_end);
        chain.key = next;
        chain.counter = next_counter;
        if let Some(sent) = pq {
            self.pq = Some(sent.next);
        }
        Ok(wire)
    }

    /// Decrypts wire bytes (a normal message, or the inner message of a pre-key message; the
    /// handshake layer reads the pre-key header with [`WireMessage::parse`](crate::ratchet::WireMessage::parse) first). On any error
    /// the session is exactly as before: all changes are staged and committed only after the
    /// AEAD tag verifies.
    pub fn decrypt(&mut self, wire: &[u8]) -> Result<Vec<u8>, DecryptError> {
        let msg = MessageView::parse(wire)?;
        let ad = AssociatedData::new(&self.associated_data, msg.authenticated);
        let ad = ad.as_slice();

        // A session is classical or triple for its whole life: the other version is refused
        // (it is authenticated, so it cannot have been changed on the way).
        let expected = if self.pq.is_some() {
            WIRE_VERSION_TRIPLE
        } else {
            WIRE_VERSION
        };
        if msg.version != expected {
            return Err(DecryptError::VersionMismatch(msg.version));
        }
        // The SPQR half runs on a copy once the Double Ratchet's own checks (repeats, unknown
        // chains) have passed, just before the AEAD: its key salts this message's keys. Its
        // refusals are never `Duplicate`, since its input is not yet authenticated (a message of
        // another session with one peer must not look like a repeat).

        let their_key = msg.ratchet_key;
        let n = msg.counter;
        let next_n = n
            .checked_add(1)
            .ok_or(DecryptError::Malformed("message number out of range"))?;

        // 1. A stored skipped key.
        if let Some(index) = self
            .skipped
            .iter()
            .position(|s| s.counter == n && s.their_key == their_key)
        {
            let pq = self.pq_recv(&msg)?;
            let pq_key = pq.as_ref().map(|(_, key)| &**key);
            let plaintext = match self.skipped.get(index) {
                Some(entry) => entry
                    .seed
                    .decrypt_with(&msg.salt, pq_key, ad, msg.ciphertext)
                    .map_err(|_| DecryptError::InvalidTag)?,
                None => return Err(DecryptError::Duplicate),
            };
            self.skipped.remove(index);
            self.commit_pq(pq);
            self.mark_received();
            return Ok(plaintext);
        }

        // 2. The current receiving chain.
        if let Some(chain) = self.receiving.as_ref().filter(|c| c.their_key == their_key) {
            if n < chain.counter {
                return Err(DecryptError::Duplicate);
            }
            let (skipped, seed, next_key) = advance(&chain.key, chain.counter, n, their_key)?;
            let pq = self.pq_recv(&msg)?;
            let pq_key = pq.as_ref().map(|(_, key)| &**key);
            let plaintext = seed
                .decrypt_with(&msg.salt, pq_key, ad, msg.ciphertext)
                .map_err(|_| DecryptError::InvalidTag)?;
            if let Some(chain) = self.receiving.as_mut() {
                chain.key = next_key;
                chain.counter = next_n;
            }
            self.push_skipped(skipped);
            self.commit_pq(pq);
            self.mark_received();
            return Ok(plaintext);
        }

        // 3. An earlier receiving chain whose remaining keys were stored and are now gone.
        if self.previous_their_keys.contains(&their_key) {
            return Err(DecryptError::Duplicate);
        }

        // 4. A new ratchet key: store the current chain's keys up to PN, then the receive half
        //    of a DH ratchet step (the send half waits for the next `encrypt`).
        if n > MAX_MESSAGE_GAP {
            return Err(DecryptError::TooFarAhead);
        }
        // The peer can only have a new ratchet key in answer to our current one, which exists
        // only while our sending chain does: otherwise the message is forged or the peer rolled
        // back across a DH step (SPEC.md section 8.3). Refused before any key derivation.
        let Some(our_ratchet) = self.sending.as_ref().map(|chain| &chain.ratchet) else {
            return Err(DecryptError::UnexpectedRatchetKey);
        };
        let mut skipped = match &self.receiving {
            Some(chain) if msg.previous_counter > chain.counter => {
                skip(
                    &chain.key,
                    chain.counter,
                    msg.previous_counter,
                    chain.their_key,
                )?
                .0
            }
            _ => Vec::new(),
        };
        let dh = our_ratchet
            .diffie_hellman(&their_key)
            .map_err(|_| DecryptError::NonContributory)?;
        let (root_key, chain_key) = self.root_key.kdf_rk(&dh);
        let (more_skipped, seed, next_key) = advance(&chain_key, 0, n, their_key)?;
        let pq = self.pq_recv(&msg)?;
        let pq_key = pq.as_ref().map(|(_, key)| &**key);
        let plaintext = seed
            .decrypt_with(&msg.salt, pq_key, ad, msg.ciphertext)
            .map_err(|_| DecryptError::InvalidTag)?;

        self.root_key = root_key;
        self.commit_pq(pq);
        if let Some(old) = self.receiving.take() {
            self.previous_their_keys.push_back(old.their_key);
            while self.previous_their_keys.len() >= MAX_RECEIVING_CHAINS {
                self.previous_their_keys.pop_front();
            }
        }
        self.receiving = Some(ReceivingChain {
            their_key,
            key: next_key,
            counter: next_n,
        });
        if let Some(sending) = self.sending.take() {
            self.previous_counter = sending.counter;
        }
        skipped.extend(more_skipped);
        self.push_skipped(skipped);
        self.mark_received();
        Ok(plaintext)
    }

    /// Counters and sizes, for debugging.
    pub fn info(&self) -> SessionInfo {
        SessionInfo {
            our_ratchet_key: self.our_ratchet_key,
            their_ratchet_key: self.receiving.as_ref().map(|c| c.their_key),
            sending_counter: self.sending.as_ref().map(|c| c.counter),
            previous_counter: self.previous_counter,
            receiving_counter: self.receiving.as_ref().map(|c| c.counter),
            receiving_chains: self.previous_their_keys.len()
                + usize::from(self.receiving.is_some()),
            skipped_keys: self.skipped.len(),
            has_received: self.received,
            sends_prekey_messages: self.pending_prekey_header.is_some(),
            pq_epoch: self.pq.as_ref().map(PqRatchet::epoch),
        }
    }

    /// SPQR's receive of the message's SPQR message, on a copy: the new state and the key.
    fn pq_recv(&self, msg: &MessageView<'_>) -> Result<Option<PqReceived>, DecryptError> {
        match (&self.pq, msg.pq_message) {
            (Some(state), Some(pq_message)) => Ok(Some(state.recv(pq_message)?)),
            (None, None) => Ok(None),
            _ => Err(DecryptError::VersionMismatch(msg.version)),
        }
    }

    /// Keeps the SPQR state a verified message produced.
    fn commit_pq(&mut self, pq: Option<PqReceived>) {
        if let Some((state, _key)) = pq {
            self.pq = Some(state);
        }
    }

    /// The PQXDH associated data `EncodeEC(IK_A) || EncodeEC(IK_B)` bound into every message.
    pub fn associated_data(&self) -> &[u8] {
        &self.associated_data
    }

    /// The pre-key header sent with each message until the first reply is decrypted.
    pub fn pending_prekey_header(&self) -> Option<&[u8]> {
        self.pending_prekey_header.as_deref()
    }

    fn mark_received(&mut self) {
        self.received = true;
        self.pending_prekey_header = None;
    }

    /// Stores skipped keys, evicting the oldest beyond [`MAX_SKIPPED_KEYS`].
    fn push_skipped(&mut self, keys: Vec<SkippedKey>) {
        for key in keys {
            if self.skipped.len() >= MAX_SKIPPED_KEYS {
                self.skipped.pop_front();
            }
            self.skipped.push_back(key);
        }
    }
}

/// Walks a chain whose key at message `from` is `key` up to message `to`: the message keys of
/// `from..to` as skipped keys, and the chain key at `to`.
fn skip(
    key: &ChainKey,
    from: u32,
    to: u32,
    their_key: PublicKey,
) -> Result<(Vec<SkippedKey>, ChainKey), DecryptError> {
    let gap = to.saturating_sub(from);
    if gap > MAX_MESSAGE_GAP {
        return Err(DecryptError::TooFarAhead);
    }
    let mut out = Vec::with_capacity(usize::try_from(gap).unwrap_or(0));
    let mut key = key.clone();
    for counter in from..to {
        let (seed, next) = key.kdf_ck();
        out.push(SkippedKey {
            their_key,
            counter,
            seed,
        });
        key = next;
    }
    Ok((out, key))
}

/// Walks a chain from `from` to message `to`: the skipped keys `from..to`, the seed of `to`, and
/// the chain key for `to + 1`.
fn advance(
    key: &ChainKey,
    from: u32,
    to: u32,
    their_key: PublicKey,
) -> Result<Advance, DecryptError> {
    if from == to {
        // The next message of the chain: nothing to skip, no copy of the chain key.
        let (seed, next) = key.kdf_ck();
        return Ok((Vec::new(), seed, next));
    }
    let (skipped, key) = skip(key, from, to, their_key)?;
    let (seed, next) = key.kdf_ck();
    Ok((skipped, seed, next))
}

/// Where `encrypt` takes its randomness: new ratchet key pairs and per-message salts. Only
/// known-answer transcripts need their own; [`Session::encrypt`] draws from a generator.
pub trait Randomness {
    /// A new ratchet key pair for a deferred sending step.
    fn ratchet_key(&mut self) -> KeyPair;
    /// A fresh per-message salt.
    fn salt(&mut self) -> [u8; SALT_LEN];
    /// Random bytes for the post-quantum ratchet (key generation and encapsulation).
    fn fill_bytes(&mut self, dest: &mut [u8]);
}

/// A [`Randomness`] seen as a generator, for the SPQR layer.
struct RandomnessRng<'a>(&'a mut dyn Randomness);

impl rand_core::TryRng for RandomnessRng<'_> {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut b = [0u8; 4];
        self.0.fill_bytes(&mut b);
        Ok(u32::from_le_bytes(b))
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        let mut b = [0u8; 8];
        self.0.fill_bytes(&mut b);
        Ok(u64::from_le_bytes(b))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.0.fill_bytes(dst);
        Ok(())
    }
}

/// Every [`Randomness`] is a cryptographic source (the session's own generator, or a
/// transcript's recorded draws).
impl rand_core::TryCryptoRng for RandomnessRng<'_> {}

/// [`Randomness`] drawn from a caller's generator: the ratchet key first (when a sending step is
/// deferred), then the salt.
struct FromRng<'a, R: CryptoRng + ?Sized>(&'a mut R);

impl<R: CryptoRng + ?Sized> Randomness for FromRng<'_, R> {
    fn ratchet_key(&mut self) -> KeyPair {
        KeyPair::generate(self.0)
    }

    fn salt(&mut self) -> [u8; SALT_LEN] {
        let mut salt = [0u8; SALT_LEN];
        self.0.fill_bytes(&mut salt);
        salt
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest);
    }
}

/// Room for `AD || P` on the stack: the 66-byte PQXDH AD and a normal message's 59-byte header
/// fit; a pre-key message's longer header goes to the heap.
const AD_STACK_LEN: usize = 160;

/// The AEAD's associated data `AD || P` (SPEC.md section 8.6), assembled without an allocation
/// for normal messages. Public bytes: no wiping needed.
enum AssociatedData {
    Stack([u8; AD_STACK_LEN], usize),
    Heap(Vec<u8>),
}

impl AssociatedData {
    fn new(session_ad: &[u8], authenticated: &[u8]) -> Self {
        let len = session_ad.len().saturating_add(authenticated.len());
        let mut buf = [0u8; AD_STACK_LEN];
        if let Some((first, rest)) = buf.split_at_mut_checked(session_ad.len())
            && let Some(second) = rest.get_mut(..authenticated.len())
        {
            first.copy_from_slice(session_ad);
            second.copy_from_slice(authenticated);
            return Self::Stack(buf, len);
        }
        let mut heap = Vec::with_capacity(len);
        heap.extend_from_slice(session_ad);
        heap.extend_from_slice(authenticated);
        Self::Heap(heap)
    }

    fn as_slice(&self) -> &[u8] {
        match self {
            Self::Stack(buf, len) => buf.get(..*len).unwrap_or_default(),
            Self::Heap(heap) => heap,
        }
    }
}

/// A cheap pre-check for callers holding several sessions with one peer (the node's archive).
impl Session {
    /// Whether `wire` names a receiving chain this session already has (a stored skipped key,
    /// or the current receiving chain with N at most `max_gap` past its next counter). Costs one
    /// header parse and no key derivation; `false` for malformed bytes. A `true` answer says
    /// nothing about the tag: [`Session::decrypt`] still decides.
    pub fn knows_receiving_chain(&self, wire: &[u8], max_gap: u32) -> bool {
        let Ok(msg) = MessageView::parse(wire) else {
            return false;
        };
        if self
            .skipped
            .iter()
            .any(|s| s.their_key == msg.ratchet_key && s.counter == msg.counter)
        {
            return true;
        }
        self.receiving.as_ref().is_some_and(|chain| {
            chain.their_key == msg.ratchet_key
                && msg
                    .counter
                    .checked_sub(chain.counter)
                    .is_some_and(|gap| gap <= max_gap)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn associated_data_is_the_concatenation_on_stack_and_heap() {
        for (a, b) in [(66, 59), (66, 94), (66, 95), (0, 0), (161, 0), (66, 1700)] {
            let first = vec![0xa1u8; a];
            let second = vec![0xb2u8; b];
            let ad = AssociatedData::new(&first, &second);
            assert_eq!(ad.as_slice(), [first, second].concat().as_slice());
            assert_eq!(
                matches!(ad, AssociatedData::Stack(..)),
                a + b <= AD_STACK_LEN,
                "{a} + {b}"
            );
        }
    }
}
