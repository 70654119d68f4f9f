//! The symmetric chain: epoch secrets in, one key per message out.
//!
//! Each epoch has a sending and a receiving chain per direction, seeded from the epoch secret
//! and the previous epoch's root. A message key is the chain's output at the message's counter;
//! keys skipped by out-of-order delivery are kept, bounded by [`ChainParams`] (ML-KEM Braid
//! specification, "Symmetric ratchet"; labels and limits as `spqr` 1.5.3).

use std::collections::VecDeque;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::codec::{Reader, Writer};
use super::{Direction, Epoch, SpqrError};

/// HKDF info of the first epoch's chains (two spaces before "Start", as in the reference).
pub const CHAIN_START_INFO: &[u8] = b"Signal PQ Ratchet V1 Chain  Start";
/// HKDF info of a new epoch's chains.
pub const CHAIN_ADD_EPOCH_INFO: &[u8] = b"Signal PQ Ratchet V1 Chain Add Epoch";
/// HKDF info suffix of one chain step (prefixed with the new counter, u32be).
pub const CHAIN_NEXT_INFO: &[u8] = b"Signal PQ Ratchet V1 Chain Next";

/// Default largest forward jump of a receiving chain: libsignal's `MAX_FORWARD_JUMPS`.
pub const MAX_JUMP: u32 = 25_000;
/// Default number of skipped keys kept behind a chain's counter: libsignal's
/// `MAX_MESSAGE_KEYS`.
pub const MAX_OUT_OF_ORDER_KEYS: u32 = 2_000;
/// Epochs kept before the current sending epoch (late messages of the previous epoch).
pub const EPOCHS_KEPT_BEFORE_SEND_EPOCH: usize = 1;

/// Length of a chain key and of a message key.
pub const KEY_LEN: usize = 32;

/// The chain's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainParams {
    /// A key more than this far ahead of a receiving chain's counter is refused.
    pub max_jump: u32,
    /// Skipped keys at least this far behind the counter are dropped.
    pub max_out_of_order_keys: u32,
}

impl Default for ChainParams {
    fn default() -> Self {
        Self {
            max_jump: MAX_JUMP,
            max_out_of_order_keys: MAX_OUT_OF_ORDER_KEYS,
        }
    }
}

impl ChainParams {
    /// The history is pruned when it reaches this many keys (10% slack over the bound, so that
    /// pruning is amortized).
    fn trim_size(&self) -> usize {
        (self.max_out_of_order_keys as usize) * 11 / 10 + 1
    }
}

/// A 32-byte chain or message key. Zeroized on drop; never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct ChainKey(pub [u8; KEY_LEN]);

impl core::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("ChainKey(<redacted>)")
    }
}

/// One direction of one epoch.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DirectionChain {
    counter: u32,
    /// `None` once the chain is erased (an old sending epoch).
    next: Option<ChainKey>,
    /// Skipped keys by counter.
    skipped: Vec<(u32, ChainKey)>,
}

impl DirectionChain {
    fn new(seed: &[u8]) -> Self {
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(seed.get(..KEY_LEN).unwrap_or(&[0; KEY_LEN]));
        Self {
            counter: 0,
            next: Some(ChainKey(key)),
            skipped: Vec::new(),
        }
    }

    /// counter += 1; `next, key = HKDF-SHA256(salt = 0^32, IKM = next, info = counter u32be ||
    /// CHAIN_NEXT_INFO)`, 64 bytes.
    fn step(&mut self) -> Result<(u32, ChainKey), SpqrError> {
        let next = self.next.as_mut().ok_or(SpqrError::ChainErased)?;
        let counter = self
            .counter
            .checked_add(1)
            .ok_or(SpqrError::ChainExhausted)?;
        let mut info = Vec::with_capacity(4 + CHAIN_NEXT_INFO.len());
        info.extend_from_slice(&counter.to_be_bytes());
        info.extend_from_slice(CHAIN_NEXT_INFO);
        let mut okm = Zeroizing::new([0u8; 2 * KEY_LEN]);
        let _ = Hkdf::<Sha256>::new(Some(&[0u8; 32]), &next.0).expand(&info, &mut *okm);
        let (n, k) = okm.split_at(KEY_LEN);
        next.0.copy_from_slice(n);
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(k);
        self.counter = counter;
        Ok((counter, ChainKey(key)))
    }

    /// The receiving key at counter `at`.
    fn key_at(&mut self, at: u32, params: &ChainParams) -> Result<ChainKey, SpqrError> {
        let max_ooo = u64::from(params.max_out_of_order_keys);
        match at.cmp(&self.counter) {
            core::cmp::Ordering::Less => {
                if u64::from(at) + max_ooo < u64::from(self.counter) {
                    return Err(SpqrError::KeyTrimmed(at));
                }
                let pos = self
                    .skipped
                    .iter()
                    .position(|(i, _)| *i == at)
                    .ok_or(SpqrError::KeyAlreadyUsed(at))?;
                return Ok(self.skipped.swap_remove(pos).1);
            }
            core::cmp::Ordering::Equal => return Err(SpqrError::KeyAlreadyUsed(at)),
            core::cmp::Ordering::Greater => {
                if at - self.counter > params.max_jump {
                    return Err(SpqrError::KeyJump {
                        counter: self.counter,
                        at,
                    });
                }
            }
        }
        if u64::from(at) > u64::from(self.counter) + max_ooo {
            // Every held key is about to fall behind the bound.
            self.skipped.clear();
        }
        while at > self.counter.saturating_add(1) {
            let (i, k) = self.step()?;
            // Keep only keys that the bound will not drop at once.
            if u64::from(i) + max_ooo >= u64::from(at) {
                self.skipped.push((i, k));
            }
        }
        if self.skipped.len() >= params.trim_size() {
            let horizon = self.counter.saturating_sub(params.max_out_of_order_keys);
            self.skipped.retain(|(i, _)| *i >= horizon);
        }
        Ok(self.step()?.1)
    }

    fn write(&self, w: &mut Writer) {
        w.u32(self.counter);
        match &self.next {
            Some(k) => {
                w.u8(1);
                w.fixed(&k.0);
            }
            None => w.u8(0),
        }
        w.u32(u32::try_from(self.skipped.len()).unwrap_or(u32::MAX));
        for (i, k) in &self.skipped {
            w.u32(*i);
            w.fixed(&k.0);
        }
    }

    fn read(r: &mut Reader<'_>, params: &ChainParams) -> Option<Self> {
        let counter = r.u32()?;
        let next = match r.u8()? {
            0 => None,
            1 => Some(ChainKey(r.array()?)),
            _ => return None,
        };
        let count = usize::try_from(r.u32()?).ok()?;
        if count > params.trim_size() {
            return None;
        }
        let mut skipped = Vec::with_capacity(count);
        for _ in 0..count {
            skipped.push((r.u32()?, ChainKey(r.array()?)));
        }
        Some(Self {
            counter,
            next,
            skipped,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct EpochChains {
    send: DirectionChain,
    recv: DirectionChain,
}

impl EpochChains {
    /// Splits a 96-byte HKDF output: bytes 32..64 seed the A-to-B chain, 64..96 the B-to-A one.
    fn from_okm(okm: &[u8; 96], direction: Direction) -> Self {
        let a2b = okm.get(32..64).unwrap_or(&[]);
        let b2a = okm.get(64..96).unwrap_or(&[]);
        let (send, recv) = match direction {
            Direction::AToB => (a2b, b2a),
            Direction::BToA => (b2a, a2b),
        };
        Self {
            send: DirectionChain::new(send),
            recv: DirectionChain::new(recv),
        }
    }
}

/// Every live epoch's chains.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    direction: Direction,
    current_epoch: Epoch,
    send_epoch: Epoch,
    /// Chains of epochs `current_epoch - len + 1 ..= current_epoch`.
    links: VecDeque<EpochChains>,
    next_root: ChainKey,
    params: ChainParams,
}

fn hkdf96(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 96]> {
    let mut okm = Zeroizing::new([0u8; 96]);
    let _ = Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut *okm);
    okm
}

fn root_of(okm: &[u8; 96]) -> ChainKey {
    let mut root = [0u8; KEY_LEN];
    root.copy_from_slice(okm.get(..KEY_LEN).unwrap_or(&[0; KEY_LEN]));
    ChainKey(root)
}

impl Chain {
    /// Epoch 0's chains from the session's auth key: `HKDF-SHA256(salt = 0^32, IKM = auth key,
    /// info = CHAIN_START_INFO)`, 96 bytes (root, A-to-B, B-to-A).
    pub fn new(auth_key: &[u8], direction: Direction, params: ChainParams) -> Self {
        let okm = hkdf96(&[0u8; 32], auth_key, CHAIN_START_INFO);
        let mut links = VecDeque::new();
        links.push_back(EpochChains::from_okm(&okm, direction));
        Self {
            direction,
            current_epoch: 0,
            send_epoch: 0,
            links,
            next_root: root_of(&okm),
            params,
        }
    }

    /// The latest epoch with chains.
    pub fn current_epoch(&self) -> Epoch {
        self.current_epoch
    }

    /// Adds epoch `epoch` (the next one): `HKDF-SHA256(salt = root, IKM = epoch secret, info =
    /// CHAIN_ADD_EPOCH_INFO)`, 96 bytes.
    pub fn add_epoch(&mut self, epoch: Epoch, secret: &[u8]) -> Result<(), SpqrError> {
        if Some(epoch) != self.current_epoch.checked_add(1) {
            return Err(SpqrError::EpochOutOfRange(epoch));
        }
        let okm = hkdf96(&self.next_root.0, secret, CHAIN_ADD_EPOCH_INFO);
        self.current_epoch = epoch;
        self.next_root = root_of(&okm);
        self.links
            .push_back(EpochChains::from_okm(&okm, self.direction));
        Ok(())
    }

    fn index_of(&self, epoch: Epoch) -> Result<usize, SpqrError> {
        let back = self
            .current_epoch
            .checked_sub(epoch)
            .ok_or(SpqrError::EpochOutOfRange(epoch))?;
        let back = usize::try_from(back).map_err(|_| SpqrError::EpochOutOfRange(epoch))?;
        self.links
            .len()
            .checked_sub(1)
            .and_then(|last| last.checked_sub(back))
            .ok_or(SpqrError::EpochOutOfRange(epoch))
    }

    /// The next sending key of `epoch`, with its counter. Moving to a later epoch erases the
    /// sending chains before it and drops epochs older than the one before it.
    pub fn send_key(&mut self, epoch: Epoch) -> Result<(u32, ChainKey), SpqrError> {
        if epoch < self.send_epoch {
            return Err(SpqrError::SendEpochDecreased {
                from: self.send_epoch,
                to: epoch,
            });
        }
        let mut index = self.index_of(epoch)?;
        if self.send_epoch != epoch {
            self.send_epoch = epoch;
            while index > EPOCHS_KEPT_BEFORE_SEND_EPOCH {
                self.links.pop_front();
                index -= 1;
            }
            for link in self.links.iter_mut().take(index) {
                link.send.next = None;
            }
        }
        self.links
            .get_mut(index)
            .ok_or(SpqrError::EpochOutOfRange(epoch))?
            .send
            .step()
    }

    /// The receiving key of message `counter` in `epoch`.
    pub fn recv_key(&mut self, epoch: Epoch, counter: u32) -> Result<ChainKey, SpqrError> {
        let index = self.index_of(epoch)?;
        let params = self.params;
        self.links
            .get_mut(index)
            .ok_or(SpqrError::EpochOutOfRange(epoch))?
            .recv
            .key_at(counter, &params)
    }

    /// Appends the chain to a saved state.
    pub fn write(&self, w: &mut Writer) {
        w.u8(self.direction.to_byte());
        w.u64(self.current_epoch);
        w.u64(self.send_epoch);
        w.fixed(&self.next_root.0);
        w.u32(self.params.max_jump);
        w.u32(self.params.max_out_of_order_keys);
        w.u32(u32::try_from(self.links.len()).unwrap_or(u32::MAX));
        for link in &self.links {
            link.send.write(w);
            link.recv.write(w);
        }
    }

    /// Reads a chain written by [`Chain::write`].
    pub fn read(r: &mut Reader<'_>) -> Option<Self> {
        let direction = Direction::from_byte(r.u8()?)?;
        let current_epoch = r.u64()?;
        let send_epoch = r.u64()?;
        let next_root = ChainKey(r.array()?);
        let params = ChainParams {
            max_jump: r.u32()?,
            max_out_of_order_keys: r.u32()?,
        };
        let count = usize::try_from(r.u32()?).ok()?;
        // There is at least the current epoch, and never more epochs than exist.
        if count == 0 || u64::try_from(count).ok()? > current_epoch.checked_add(1)? {
            return None;
        }
        let mut links = VecDeque::with_capacity(count.min(64));
        for _ in 0..count {
            let send = DirectionChain::read(r, &params)?;
            let recv = DirectionChain::read(r, &params)?;
            links.push_back(EpochChains { send, recv });
        }
        Some(Self {
            direction,
            current_epoch,
            send_epoch,
            links,
            next_root,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn pair() -> (Chain, Chain) {
        let p = ChainParams::default();
        (
            Chain::new(&[3; 32], Direction::AToB, p),
            Chain::new(&[3; 32], Direction::BToA, p),
        )
    }

    #[test]
    fn send_and_receive_keys_agree_in_any_order() {
        let (mut a, mut b) = pair();
        let sent: Vec<(u32, ChainKey)> = (0..5).map(|_| a.send_key(0).unwrap()).collect();
        assert_eq!(
            sent.iter().map(|s| s.0).collect::<Vec<_>>(),
            [1, 2, 3, 4, 5]
        );
        for i in [3usize, 0, 4, 2, 1] {
            let (counter, key) = &sent[i];
            assert_eq!(&b.recv_key(0, *counter).unwrap(), key);
        }
        assert_eq!(b.recv_key(0, 3), Err(SpqrError::KeyAlreadyUsed(3)));
        // B's sending chain is A's receiving chain.
        let (c, k) = b.send_key(0).unwrap();
        assert_eq!(a.recv_key(0, c).unwrap(), k);
    }

    #[test]
    fn jumps_and_trims_are_bounded() {
        let p = ChainParams {
            max_jump: 10,
            max_out_of_order_keys: 4,
        };
        let mut b = Chain::new(&[3; 32], Direction::BToA, p);
        assert_eq!(
            b.recv_key(0, 11),
            Err(SpqrError::KeyJump { counter: 0, at: 11 })
        );
        b.recv_key(0, 10).unwrap();
        assert_eq!(b.recv_key(0, 5), Err(SpqrError::KeyTrimmed(5)));
        b.recv_key(0, 6).unwrap();
    }

    #[test]
    fn epochs_move_forward_and_erase_old_sending_chains() {
        let (mut a, mut b) = pair();
        a.add_epoch(1, &[9; 32]).unwrap();
        b.add_epoch(1, &[9; 32]).unwrap();
        assert_eq!(a.add_epoch(3, &[9; 32]), Err(SpqrError::EpochOutOfRange(3)));
        let (c, k) = a.send_key(1).unwrap();
        assert_eq!(b.recv_key(1, c).unwrap(), k);
        assert_eq!(
            a.send_key(0),
            Err(SpqrError::SendEpochDecreased { from: 1, to: 0 })
        );
        // The saved form round-trips.
        let mut w = Writer::new();
        a.write(&mut w);
        let bytes = w.finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(Chain::read(&mut r).unwrap(), a);
        assert!(r.is_empty());
    }
}
