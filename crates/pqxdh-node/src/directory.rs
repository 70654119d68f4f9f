//! The simulated server: it holds only public prekeys, hands out bundles, and deletes one-time
//! prekeys as it hands them out (PQXDH section 3.2). Besides the parties the node simulates it
//! lists external parties: recipients known only by the public keys a request gave, whose
//! private keys the node does not hold.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use pqxdh::handshake::bundle::PreKeyBundle;
use pqxdh::handshake::prekey::{OneTimePreKeyPublic, PqPreKeyPublic, SignedPreKeyPublic};
use pqxdh::primitives::keys::PublicKey;

/// What one party published.
#[derive(Clone, Debug)]
pub struct Published {
    /// `IK`.
    pub identity_key: PublicKey,
    /// The current signed prekey.
    pub signed_prekey: SignedPreKeyPublic,
    /// The last-resort PQ prekey.
    pub last_resort_pq: PqPreKeyPublic,
    /// One-time PQ prekeys not yet handed out.
    pub one_time_pq: VecDeque<PqPreKeyPublic>,
    /// One-time EC prekeys not yet handed out.
    pub one_time_ec: VecDeque<OneTimePreKeyPublic>,
}

/// An external party known only by an identity key and a signed prekey, with no signature and
/// no PQ prekey: only classical X3DH can reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsignedKeys {
    /// `IK`.
    pub identity_key: PublicKey,
    /// `SPK`, its signature unknown.
    pub signed_prekey: PublicKey,
}

/// The directory of published prekeys, by party name.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    parties: BTreeMap<String, Published>,
    /// External parties with only an identity key and an unsigned signed prekey.
    unsigned: BTreeMap<String, UnsignedKeys>,
    /// Parties whose private keys the node does not hold (in `parties` or `unsigned`).
    external: BTreeSet<String>,
}

impl Directory {
    /// Publishes (or replaces) a party's prekeys.
    pub fn publish(&mut self, party: &str, published: Published) {
        self.unsigned.remove(party);
        self.external.remove(party);
        self.parties.insert(party.to_owned(), published);
    }

    /// Replaces a party's signed prekey and last-resort PQ prekey after a rotation; the one-time
    /// prekeys not yet handed out stay as they are.
    pub fn republish_last_resort(
        &mut self,
        party: &str,
        signed_prekey: SignedPreKeyPublic,
        last_resort_pq: PqPreKeyPublic,
    ) {
        if let Some(p) = self.parties.get_mut(party) {
            p.signed_prekey = signed_prekey;
            p.last_resort_pq = last_resort_pq;
        }
    }

    /// Lists an external party by its complete bundle (its one-time prekey, used once, is not
    /// kept; its PQ prekey serves every later session).
    pub fn publish_external(&mut self, party: &str, bundle: &PreKeyBundle) {
        self.publish(
            party,
            Published {
                identity_key: bundle.identity_key,
                signed_prekey: bundle.signed_prekey.clone(),
                last_resort_pq: bundle.pq_prekey.clone(),
                one_time_pq: VecDeque::new(),
                one_time_ec: VecDeque::new(),
            },
        );
        self.external.insert(party.to_owned());
    }

    /// Lists an external party by its identity key and unsigned signed prekey.
    pub fn publish_unsigned(&mut self, party: &str, keys: UnsignedKeys) {
        self.parties.remove(party);
        self.unsigned.insert(party.to_owned(), keys);
        self.external.insert(party.to_owned());
    }

    /// Whether the party has published anything (or was given as an external party).
    pub fn contains(&self, party: &str) -> bool {
        self.parties.contains_key(party) || self.unsigned.contains_key(party)
    }

    /// Whether the party is external: listed, but the node holds none of its private keys.
    pub fn is_external(&self, party: &str) -> bool {
        self.external.contains(party)
    }

    /// How many external parties are listed.
    pub fn external_count(&self) -> usize {
        self.external.len()
    }

    /// The party's identity key.
    pub fn identity_key(&self, party: &str) -> Option<&PublicKey> {
        self.parties
            .get(party)
            .map(|p| &p.identity_key)
            .or_else(|| self.unsigned.get(party).map(|u| &u.identity_key))
    }

    /// The party's signed prekey (signed or not).
    pub fn signed_prekey(&self, party: &str) -> Option<&PublicKey> {
        self.parties
            .get(party)
            .map(|p| &p.signed_prekey.key)
            .or_else(|| self.unsigned.get(party).map(|u| &u.signed_prekey))
    }

    /// An external party's identity key and unsigned signed prekey, if that is all it has.
    pub fn unsigned(&self, party: &str) -> Option<&UnsignedKeys> {
        self.unsigned.get(party)
    }

    /// What the party published.
    pub fn published(&self, party: &str) -> Option<&Published> {
        self.parties.get(party)
    }

    /// A bundle for a new session: hands out (and deletes) a one-time PQ prekey if one remains,
    /// else the last-resort one, and a one-time EC prekey if one remains.
    pub fn fetch_bundle(&mut self, party: &str) -> Option<PreKeyBundle> {
        let p = self.parties.get_mut(party)?;
        let pq_prekey = p
            .one_time_pq
            .pop_front()
            .unwrap_or_else(|| p.last_resort_pq.clone());
        Some(PreKeyBundle {
            identity_key: p.identity_key,
            signed_prekey: p.signed_prekey.clone(),
            pq_prekey,
            one_time_prekey: p.one_time_ec.pop_front(),
        })
    }

    /// The bundle anyone may look at: signed prekey and last-resort PQ prekey, nothing consumed.
    pub fn public_bundle(&self, party: &str) -> Option<PreKeyBundle> {
        let p = self.parties.get(party)?;
        Some(PreKeyBundle {
            identity_key: p.identity_key,
            signed_prekey: p.signed_prekey.clone(),
            pq_prekey: p.last_resort_pq.clone(),
            one_time_prekey: None,
        })
    }
}
