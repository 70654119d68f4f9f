//! The simulated server: it holds only public prekeys, hands out bundles, and deletes one-time
//! prekeys as it hands them out (PQXDH section 3.2).

use std::collections::{BTreeMap, VecDeque};

use crate::bundle::PreKeyBundle;
use crate::keys::PublicKey;
use crate::prekey::{OneTimePreKeyPublic, PqPreKeyPublic, SignedPreKeyPublic};

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

/// The directory of published prekeys, by party name.
#[derive(Clone, Debug, Default)]
pub struct Directory {
    parties: BTreeMap<String, Published>,
}

impl Directory {
    /// Publishes (or replaces) a party's prekeys.
    pub fn publish(&mut self, party: &str, published: Published) {
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

    /// Whether the party has published anything.
    pub fn contains(&self, party: &str) -> bool {
        self.parties.contains_key(party)
    }

    /// The party's identity key.
    pub fn identity_key(&self, party: &str) -> Option<&PublicKey> {
        self.parties.get(party).map(|p| &p.identity_key)
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
