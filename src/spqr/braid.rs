//! The ML-KEM Braid's V1 state machine: the sparse continuous key agreement.
//!
//! The two parties alternate roles each epoch. The *encapsulation-key sender* samples an
//! ML-KEM-768 key pair and streams the header (with its MAC), then the encapsulation key; the
//! *ciphertext sender* answers with ct1 as soon as it has the header, and with ct2 (with its MAC)
//! once it has the key. Both derive the epoch secret, update the authenticator, and swap roles
//! for the next epoch. Every piece travels as erasure-coded chunks, one per message.
//!
//! ```text
//! send_ek: KeysUnsampled -> KeysSampled -> HeaderSent -> Ct1Received -> EkSentCt1Received ─┐
//!          ^-- (epoch + 1, as the ciphertext sender) <───────────────────────────────────────┘
//! send_ct: NoHeaderReceived -> HeaderReceived -> Ct1Sampled -> {EkReceivedCt1Sampled |
//!          Ct1Acknowledged} -> Ct2Sampled ─> (next epoch, as the encapsulation-key sender)
//! ```

use hkdf::Hkdf;
use rand_core::CryptoRng;
use sha2::Sha256;
use zeroize::Zeroizing;

use super::authenticator::{Authenticator, MAC_LEN};
use super::codec::{Reader, Writer};
use super::erasure::{Decoder, Encoder};
use super::kem;
use super::message::Payload;
use super::{Epoch, SpqrError};

/// HKDF info prefix of an epoch secret (followed by the epoch, u64be).
pub const EPOCH_SECRET_INFO: &[u8] = b"Signal_PQCKA_V1_MLKEM768:SCKA Key";

/// Length of an epoch secret.
pub const EPOCH_SECRET_LEN: usize = 32;

/// Header piece: the header and its MAC.
const HEADER_PIECE_LEN: usize = kem::HEADER_LEN + MAC_LEN;
/// ct2 piece: ct2 and the MAC over ct1 || ct2.
const CT2_PIECE_LEN: usize = kem::CT2_LEN + MAC_LEN;

/// A new epoch's shared secret. Zeroized on drop; redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct EpochSecret {
    /// The epoch it belongs to.
    pub epoch: Epoch,
    /// `HKDF-SHA256(salt = 0^32, IKM = ML-KEM secret, info = EPOCH_SECRET_INFO || epoch u64be)`.
    pub secret: Zeroizing<[u8; EPOCH_SECRET_LEN]>,
}

impl core::fmt::Debug for EpochSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "EpochSecret {{ epoch: {}, secret: <redacted> }}",
            self.epoch
        )
    }
}

fn epoch_secret(epoch: Epoch, shared_secret: &[u8]) -> EpochSecret {
    let mut info = Vec::with_capacity(EPOCH_SECRET_INFO.len() + 8);
    info.extend_from_slice(EPOCH_SECRET_INFO);
    info.extend_from_slice(&epoch.to_be_bytes());
    let mut secret = Zeroizing::new([0u8; EPOCH_SECRET_LEN]);
    let _ = Hkdf::<Sha256>::new(Some(&[0u8; 32]), shared_secret).expand(&info, &mut *secret);
    EpochSecret { epoch, secret }
}

/// Where the braid is in its epoch, with what that step holds.
#[derive(Clone, Debug)]
enum Phase {
    // Encapsulation-key sender.
    KeysUnsampled,
    KeysSampled {
        ek: Vec<u8>,
        dk: Zeroizing<Vec<u8>>,
        sending_header: Encoder,
    },
    HeaderSent {
        dk: Zeroizing<Vec<u8>>,
        sending_ek: Encoder,
        receiving_ct1: Decoder,
    },
    Ct1Received {
        dk: Zeroizing<Vec<u8>>,
        ct1: Vec<u8>,
        sending_ek: Encoder,
    },
    EkSentCt1Received {
        dk: Zeroizing<Vec<u8>>,
        ct1: Vec<u8>,
        receiving_ct2: Decoder,
    },
    // Ciphertext sender.
    NoHeaderReceived {
        receiving_header: Decoder,
    },
    HeaderReceived {
        header: Vec<u8>,
        receiving_ek: Decoder,
    },
    Ct1Sampled {
        header: Vec<u8>,
        es: Zeroizing<Vec<u8>>,
        sending_ct1: Encoder,
        receiving_ek: Decoder,
    },
    EkReceivedCt1Sampled {
        es: Zeroizing<Vec<u8>>,
        ek: Vec<u8>,
        sending_ct1: Encoder,
    },
    Ct1Acknowledged {
        header: Vec<u8>,
        es: Zeroizing<Vec<u8>>,
        ct1: Vec<u8>,
        receiving_ek: Decoder,
    },
    Ct2Sampled {
        sending_ct2: Encoder,
    },
}

/// The braid: the current epoch, the authenticator, and the phase.
#[derive(Clone, Debug)]
pub struct Braid {
    epoch: Epoch,
    auth: Authenticator,
    phase: Phase,
}

/// A decoder of one of the four pieces, whose lengths are checked here once, at compile time.
fn decoder(len: usize) -> Decoder {
    Decoder::of_valid_length(len)
}

const fn valid_piece_len(len: usize) -> bool {
    len.is_multiple_of(2) && len <= super::erasure::MAX_PIECE_LEN
}
const _: () = assert!(valid_piece_len(HEADER_PIECE_LEN));
const _: () = assert!(valid_piece_len(kem::ENCAPSULATION_KEY_LEN));
const _: () = assert!(valid_piece_len(kem::CT1_LEN));
const _: () = assert!(valid_piece_len(CT2_PIECE_LEN));

fn encoder(piece: &[u8]) -> Result<Encoder, SpqrError> {
    Encoder::new(piece).map_err(|_| SpqrError::Internal)
}

fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}

/// ct2 and its MAC as one piece to send.
fn ct2_piece(
    auth: &Authenticator,
    epoch: Epoch,
    es: &[u8],
    ek: &[u8],
    ct1: &[u8],
) -> Result<Encoder, SpqrError> {
    let ct2 = kem::encapsulate2(es, ek).ok_or(SpqrError::Internal)?;
    let mac = auth.mac_ciphertext(epoch, &concat(ct1, &ct2));
    encoder(&concat(&ct2, &mac))
}

impl Braid {
    /// Party A (the initiator) starts as the encapsulation-key sender of epoch 1.
    pub fn new_a(auth_key: &[u8]) -> Self {
        Self {
            epoch: 1,
            auth: Authenticator::new(auth_key, 1),
            phase: Phase::KeysUnsampled,
        }
    }

    /// Party B (the responder) starts as the ciphertext sender of epoch 1.
    pub fn new_b(auth_key: &[u8]) -> Self {
        Self {
            epoch: 1,
            auth: Authenticator::new(auth_key, 1),
            phase: Phase::NoHeaderReceived {
                receiving_header: decoder(HEADER_PIECE_LEN),
            },
        }
    }

    /// The current epoch.
    pub fn epoch(&self) -> Epoch {
        self.epoch
    }

    /// The payload of the next message, and the epoch secret if this send completes one.
    pub fn send<R: CryptoRng + ?Sized>(
        &mut self,
        rng: &mut R,
    ) -> Result<(Payload, Option<EpochSecret>), SpqrError> {
        let epoch = self.epoch;
        let phase = core::mem::replace(&mut self.phase, Phase::KeysUnsampled);
        let (phase, payload, secret) = match phase {
            Phase::KeysUnsampled => {
                let keys = kem::generate(rng);
                let mac = self.auth.mac_header(epoch, &keys.header);
                let mut sending_header = encoder(&concat(&keys.header, &mac))?;
                let chunk = sending_header.next_chunk();
                let phase = Phase::KeysSampled {
                    ek: keys.encapsulation_key,
                    dk: keys.decapsulation_key,
                    sending_header,
                };
                (phase, Payload::Header(chunk), None)
            }
            Phase::KeysSampled {
                ek,
                dk,
                mut sending_header,
            } => {
                let chunk = sending_header.next_chunk();
                let phase = Phase::KeysSampled {
                    ek,
                    dk,
                    sending_header,
                };
                (phase, Payload::Header(chunk), None)
            }
            Phase::HeaderSent {
                dk,
                mut sending_ek,
                receiving_ct1,
            } => {
                let chunk = sending_ek.next_chunk();
                let phase = Phase::HeaderSent {
                    dk,
                    sending_ek,
                    receiving_ct1,
                };
                (phase, Payload::EncapsulationKey(chunk), None)
            }
            Phase::Ct1Received {
                dk,
                ct1,
                mut sending_ek,
            } => {
                let chunk = sending_ek.next_chunk();
                let phase = Phase::Ct1Received {
                    dk,
                    ct1,
                    sending_ek,
                };
                (phase, Payload::EncapsulationKeyCt1Ack(chunk), None)
            }
            p @ Phase::EkSentCt1Received { .. } => (p, Payload::Ct1Ack, None),
            p @ (Phase::NoHeaderReceived { .. } | Phase::Ct1Acknowledged { .. }) => {
                (p, Payload::None, None)
            }
            Phase::HeaderReceived {
                header,
                receiving_ek,
            } => {
                let first = kem::encapsulate1(&header, rng).ok_or(SpqrError::Internal)?;
                let secret = epoch_secret(epoch, &first.shared_secret);
                self.auth.update(epoch, &*secret.secret);
                let mut sending_ct1 = encoder(&first.ct1)?;
                let chunk = sending_ct1.next_chunk();
                let phase = Phase::Ct1Sampled {
                    header,
                    es: first.state,
                    sending_ct1,
                    receiving_ek,
                };
                (phase, Payload::Ct1(chunk), Some(secret))
            }
            Phase::Ct1Sampled {
                header,
                es,
                mut sending_ct1,
                receiving_ek,
            } => {
                let chunk = sending_ct1.next_chunk();
                let phase = Phase::Ct1Sampled {
                    header,
                    es,
                    sending_ct1,
                    receiving_ek,
                };
                (phase, Payload::Ct1(chunk), None)
            }
            Phase::EkReceivedCt1Sampled {
                es,
                ek,
                mut sending_ct1,
            } => {
                let chunk = sending_ct1.next_chunk();
                let phase = Phase::EkReceivedCt1Sampled {
                    es,
                    ek,
                    sending_ct1,
                };
                (phase, Payload::Ct1(chunk), None)
            }
            Phase::Ct2Sampled { mut sending_ct2 } => {
                let chunk = sending_ct2.next_chunk();
                (Phase::Ct2Sampled { sending_ct2 }, Payload::Ct2(chunk), None)
            }
        };
        self.phase = phase;
        Ok((payload, secret))
    }

    /// Takes in a received message's payload; returns the epoch secret if it completes one.
    /// On an error the braid may be partly updated: callers work on a copy.
    pub fn recv(
        &mut self,
        epoch: Epoch,
        payload: &Payload,
    ) -> Result<Option<EpochSecret>, SpqrError> {
        use core::cmp::Ordering;
        match (epoch.cmp(&self.epoch), &self.phase) {
            (Ordering::Greater, Phase::Ct2Sampled { .. })
                if Some(epoch) == self.epoch.checked_add(1) =>
            {
                // The peer moved on: it has our ciphertext. Our turn to send a key.
                self.epoch = epoch;
                self.phase = Phase::KeysUnsampled;
                return Ok(None);
            }
            (Ordering::Greater, _) => return Err(SpqrError::EpochOutOfRange(epoch)),
            (Ordering::Less, _) => return Ok(None),
            (Ordering::Equal, _) => {}
        }
        let phase = core::mem::replace(&mut self.phase, Phase::KeysUnsampled);
        let mut secret = None;
        self.phase = match (phase, payload) {
            (Phase::KeysSampled { ek, dk, .. }, Payload::Ct1(chunk)) => {
                let mut receiving_ct1 = decoder(kem::CT1_LEN);
                receiving_ct1.add_chunk(chunk);
                Phase::HeaderSent {
                    dk,
                    sending_ek: encoder(&ek)?,
                    receiving_ct1,
                }
            }
            (
                Phase::HeaderSent {
                    dk,
                    sending_ek,
                    mut receiving_ct1,
                },
                Payload::Ct1(chunk),
            ) => {
                receiving_ct1.add_chunk(chunk);
                match receiving_ct1.decoded() {
                    Some(ct1) => Phase::Ct1Received {
                        dk,
                        ct1,
                        sending_ek,
                    },
                    None => Phase::HeaderSent {
                        dk,
                        sending_ek,
                        receiving_ct1,
                    },
                }
            }
            (Phase::Ct1Received { dk, ct1, .. }, Payload::Ct2(chunk)) => {
                let mut receiving_ct2 = decoder(CT2_PIECE_LEN);
                receiving_ct2.add_chunk(chunk);
                Phase::EkSentCt1Received {
                    dk,
                    ct1,
                    receiving_ct2,
                }
            }
            (
                Phase::EkSentCt1Received {
                    dk,
                    ct1,
                    mut receiving_ct2,
                },
                Payload::Ct2(chunk),
            ) => {
                receiving_ct2.add_chunk(chunk);
                match receiving_ct2.decoded() {
                    Some(piece) => {
                        let (ct2, mac) = piece.split_at(kem::CT2_LEN);
                        let shared = kem::decapsulate(&dk, &ct1, ct2).ok_or(SpqrError::Internal)?;
                        let new_secret = epoch_secret(self.epoch, &shared);
                        self.auth.update(self.epoch, &*new_secret.secret);
                        self.auth
                            .verify_ciphertext(self.epoch, &concat(&ct1, ct2), mac)
                            .map_err(|_| SpqrError::MacVerifyFailed)?;
                        secret = Some(new_secret);
                        self.epoch = self
                            .epoch
                            .checked_add(1)
                            .ok_or(SpqrError::EpochOutOfRange(epoch))?;
                        Phase::NoHeaderReceived {
                            receiving_header: decoder(HEADER_PIECE_LEN),
                        }
                    }
                    None => Phase::EkSentCt1Received {
                        dk,
                        ct1,
                        receiving_ct2,
                    },
                }
            }
            (
                Phase::NoHeaderReceived {
                    mut receiving_header,
                },
                Payload::Header(chunk),
            ) => {
                receiving_header.add_chunk(chunk);
                match receiving_header.decoded() {
                    Some(piece) => {
                        let (header, mac) = piece.split_at(kem::HEADER_LEN);
                        self.auth
                            .verify_header(self.epoch, header, mac)
                            .map_err(|_| SpqrError::MacVerifyFailed)?;
                        Phase::HeaderReceived {
                            header: header.to_vec(),
                            receiving_ek: decoder(kem::ENCAPSULATION_KEY_LEN),
                        }
                    }
                    None => Phase::NoHeaderReceived { receiving_header },
                }
            }
            (
                Phase::Ct1Sampled {
                    header,
                    es,
                    sending_ct1,
                    mut receiving_ek,
                },
                Payload::EncapsulationKey(chunk) | Payload::EncapsulationKeyCt1Ack(chunk),
            ) => {
                let ack = matches!(payload, Payload::EncapsulationKeyCt1Ack(_));
                receiving_ek.add_chunk(chunk);
                match (receiving_ek.decoded(), ack) {
                    (Some(ek), _) => {
                        if !kem::matches_header(&ek, &header) {
                            return Err(SpqrError::KeyDoesNotMatchHeader);
                        }
                        if ack {
                            Phase::Ct2Sampled {
                                sending_ct2: ct2_piece(
                                    &self.auth,
                                    self.epoch,
                                    &es,
                                    &ek,
                                    sending_ct1.piece(),
                                )?,
                            }
                        } else {
                            Phase::EkReceivedCt1Sampled {
                                es,
                                ek,
                                sending_ct1,
                            }
                        }
                    }
                    (None, true) => Phase::Ct1Acknowledged {
                        header,
                        es,
                        ct1: sending_ct1.piece().to_vec(),
                        receiving_ek,
                    },
                    (None, false) => Phase::Ct1Sampled {
                        header,
                        es,
                        sending_ct1,
                        receiving_ek,
                    },
                }
            }
            (
                Phase::EkReceivedCt1Sampled {
                    es,
                    ek,
                    sending_ct1,
                },
                Payload::Ct1Ack | Payload::EncapsulationKeyCt1Ack(_),
            ) => Phase::Ct2Sampled {
                sending_ct2: ct2_piece(&self.auth, self.epoch, &es, &ek, sending_ct1.piece())?,
            },
            (
                Phase::Ct1Acknowledged {
                    header,
                    es,
                    ct1,
                    mut receiving_ek,
                },
                Payload::EncapsulationKey(chunk) | Payload::EncapsulationKeyCt1Ack(chunk),
            ) => {
                receiving_ek.add_chunk(chunk);
                match receiving_ek.decoded() {
                    Some(ek) => {
                        if !kem::matches_header(&ek, &header) {
                            return Err(SpqrError::KeyDoesNotMatchHeader);
                        }
                        Phase::Ct2Sampled {
                            sending_ct2: ct2_piece(&self.auth, self.epoch, &es, &ek, &ct1)?,
                        }
                    }
                    None => Phase::Ct1Acknowledged {
                        header,
                        es,
                        ct1,
                        receiving_ek,
                    },
                }
            }
            // Every other payload carries nothing for this phase.
            (phase, _) => phase,
        };
        Ok(secret)
    }

    /// Appends the braid to a saved state.
    pub fn write(&self, w: &mut Writer) {
        let (root, mac) = self.auth.keys();
        let tag = match &self.phase {
            Phase::KeysUnsampled => 1,
            Phase::KeysSampled { .. } => 2,
            Phase::HeaderSent { .. } => 3,
            Phase::Ct1Received { .. } => 4,
            Phase::EkSentCt1Received { .. } => 5,
            Phase::NoHeaderReceived { .. } => 6,
            Phase::HeaderReceived { .. } => 7,
            Phase::Ct1Sampled { .. } => 8,
            Phase::EkReceivedCt1Sampled { .. } => 9,
            Phase::Ct1Acknowledged { .. } => 10,
            Phase::Ct2Sampled { .. } => 11,
        };
        w.u8(tag);
        w.u64(self.epoch);
        w.fixed(root);
        w.fixed(mac);
        let enc = |w: &mut Writer, e: &Encoder| {
            w.bytes(e.piece());
            w.u32(e.next_index());
        };
        let dec = |w: &mut Writer, d: &Decoder| {
            for lane in d.points() {
                w.u32(u32::try_from(lane.len()).unwrap_or(u32::MAX));
                for (x, y) in lane {
                    w.fixed(&x.to_be_bytes());
                    w.fixed(&y.to_be_bytes());
                }
            }
        };
        match &self.phase {
            Phase::KeysUnsampled => {}
            Phase::KeysSampled {
                ek,
                dk,
                sending_header,
            } => {
                w.bytes(ek);
                w.bytes(dk);
                enc(w, sending_header);
            }
            Phase::HeaderSent {
                dk,
                sending_ek,
                receiving_ct1,
            } => {
                w.bytes(dk);
                enc(w, sending_ek);
                dec(w, receiving_ct1);
            }
            Phase::Ct1Received {
                dk,
                ct1,
                sending_ek,
            } => {
                w.bytes(dk);
                w.bytes(ct1);
                enc(w, sending_ek);
            }
            Phase::EkSentCt1Received {
                dk,
                ct1,
                receiving_ct2,
            } => {
                w.bytes(dk);
                w.bytes(ct1);
                dec(w, receiving_ct2);
            }
            Phase::NoHeaderReceived { receiving_header } => dec(w, receiving_header),
            Phase::HeaderReceived {
                header,
                receiving_ek,
            } => {
                w.bytes(header);
                dec(w, receiving_ek);
            }
            Phase::Ct1Sampled {
                header,
                es,
                sending_ct1,
                receiving_ek,
            } => {
                w.bytes(header);
                w.bytes(es);
                enc(w, sending_ct1);
                dec(w, receiving_ek);
            }
            Phase::EkReceivedCt1Sampled {
                es,
                ek,
                sending_ct1,
            } => {
                w.bytes(es);
                w.bytes(ek);
                enc(w, sending_ct1);
            }
            Phase::Ct1Acknowledged {
                header,
                es,
                ct1,
                receiving_ek,
            } => {
                w.bytes(header);
                w.bytes(es);
                w.bytes(ct1);
                dec(w, receiving_ek);
            }
            Phase::Ct2Sampled { sending_ct2 } => enc(w, sending_ct2),
        }
    }

    /// Reads a braid written by [`Braid::write`], checking every length.
    pub fn read(r: &mut Reader<'_>) -> Option<Self> {
        fn exact(r: &mut Reader<'_>, len: usize) -> Option<Vec<u8>> {
            let b = r.bytes(len)?;
            (b.len() == len).then(|| b.to_vec())
        }
        fn secret(r: &mut Reader<'_>, len: usize) -> Option<Zeroizing<Vec<u8>>> {
            exact(r, len).map(Zeroizing::new)
        }
        fn enc(r: &mut Reader<'_>, len: usize) -> Option<Encoder> {
            let piece = exact(r, len)?;
            Encoder::resume(&piece, r.u32()?).ok()
        }
        fn dec(r: &mut Reader<'_>, len: usize) -> Option<Decoder> {
            let mut lanes = Vec::with_capacity(super::erasure::LANES);
            for _ in 0..super::erasure::LANES {
                let count = usize::try_from(r.u32()?).ok()?;
                // A lane never holds more than twice the points it needs (plus one).
                if count > len {
                    return None;
                }
                let mut lane = Vec::with_capacity(count);
                for _ in 0..count {
                    let x = u16::from_be_bytes(r.array()?);
                    let y = u16::from_be_bytes(r.array()?);
                    lane.push((x, y));
                }
                lanes.push(lane);
            }
            Decoder::restore(len, lanes)
        }
        let tag = r.u8()?;
        let epoch = r.u64()?;
        if epoch == 0 {
            return None;
        }
        let auth = Authenticator::from_keys(r.array()?, r.array()?);
        let dk_len = kem::DECAPSULATION_KEY_LEN;
        let es_len = kem::ENCAPSULATION_STATE_LEN;
        let phase = match tag {
            1 => Phase::KeysUnsampled,
            2 => Phase::KeysSampled {
                ek: exact(r, kem::ENCAPSULATION_KEY_LEN)?,
                dk: secret(r, dk_len)?,
                sending_header: enc(r, HEADER_PIECE_LEN)?,
            },
            3 => Phase::HeaderSent {
                dk: secret(r, dk_len)?,
                sending_ek: enc(r, kem::ENCAPSULATION_KEY_LEN)?,
                receiving_ct1: dec(r, kem::CT1_LEN)?,
            },
            4 => Phase::Ct1Received {
                dk: secret(r, dk_len)?,
                ct1: exact(r, kem::CT1_LEN)?,
                sending_ek: enc(r, kem::ENCAPSULATION_KEY_LEN)?,
            },
            5 => Phase::EkSentCt1Received {
                dk: secret(r, dk_len)?,
                ct1: exact(r, kem::CT1_LEN)?,
                receiving_ct2: dec(r, CT2_PIECE_LEN)?,
            },
            6 => Phase::NoHeaderReceived {
                receiving_header: dec(r, HEADER_PIECE_LEN)?,
            },
            7 => Phase::HeaderReceived {
                header: exact(r, kem::HEADER_LEN)?,
                receiving_ek: dec(r, kem::ENCAPSULATION_KEY_LEN)?,
            },
            8 => Phase::Ct1Sampled {
                header: exact(r, kem::HEADER_LEN)?,
                es: secret(r, es_len)?,
                sending_ct1: enc(r, kem::CT1_LEN)?,
                receiving_ek: dec(r, kem::ENCAPSULATION_KEY_LEN)?,
            },
            9 => Phase::EkReceivedCt1Sampled {
                es: secret(r, es_len)?,
                ek: exact(r, kem::ENCAPSULATION_KEY_LEN)?,
                sending_ct1: enc(r, kem::CT1_LEN)?,
            },
            10 => Phase::Ct1Acknowledged {
                header: exact(r, kem::HEADER_LEN)?,
                es: secret(r, es_len)?,
                ct1: exact(r, kem::CT1_LEN)?,
                receiving_ek: dec(r, kem::ENCAPSULATION_KEY_LEN)?,
            },
            11 => Phase::Ct2Sampled {
                sending_ct2: enc(r, CT2_PIECE_LEN)?,
            },
            _ => return None,
        };
        Some(Self { epoch, auth, phase })
    }
}
