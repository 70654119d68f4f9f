//! Trust: contacts, safety numbers, and accepting a changed identity key.

use pqxdh::handshake::safety_number::{grouped, safety_number};

use super::Client;
use crate::error::Error;
use crate::server_client::ReceivedEnvelope;
use crate::store::contacts::{self, Contact};
use crate::store::{messages, sessions};

use super::Received;

/// What [`Client::trust`] did.
#[derive(Clone, Debug)]
pub struct TrustReport {
    /// Whether a changed identity key was accepted (false: the pinned key was marked verified).
    pub accepted_new_key: bool,
    /// What the envelopes held for the contact became.
    pub released: Vec<Received>,
    /// Queued messages re-encrypted to the new key.
    pub requeued: usize,
}

impl Client {
    /// Every contact, by name.
    pub async fn contacts(&self) -> Result<Vec<Contact>, Error> {
        let mut conn = self.store.read().await?;
        Ok(contacts::all(&mut conn).await?)
    }

    /// The contact `name`.
    pub async fn contact(&self, name: &str) -> Result<Contact, Error> {
        let mut conn = self.store.read().await?;
        contacts::get(&mut conn, name)
            .await?
            .ok_or_else(|| Error::UnknownContact(name.to_owned()))
    }

    /// The 60-digit safety number with `name` (twelve groups of five), computed from both
    /// account names and identity keys as libsignal does: the same on both sides. With a
    /// changed key pending, it is the number for the new key (what the user must compare).
    pub async fn safety_number(&self, name: &str) -> Result<String, Error> {
        let contact = self.contact(name).await?;
        let theirs = contact.pending_key.unwrap_or(contact.identity_key);
        Ok(grouped(&safety_number(
            self.account().as_bytes(),
            self.identity_key(),
            name.as_bytes(),
            &theirs,
        )))
    }

    /// Accepts `name`'s changed identity key: it is pinned, the old sessions and the bundles
    /// cached under the old key are forgotten, the envelopes held for it are processed, and
    /// queued messages are encrypted again to the new key. With no change pending, marks the
    /// pinned key verified.
    pub async fn trust(&self, name: &str) -> Result<TrustReport, Error> {
        let key = self.store.key();
        let mut tx = self.store.write().await?;
        let contact = contacts::get(&mut tx, name)
            .await?
            .ok_or_else(|| Error::UnknownContact(name.to_owned()))?;
        let accepted_new_key = contact.pending_key.is_some();
        contacts::accept(&mut tx, &contact).await?;
        if accepted_new_key {
            sessions::delete_all(&mut tx, name).await?;
            self.forget_verified_bundles(&contact.identity_key);
        }
        let held = messages::held(&mut tx, key, name).await?;
        let waiting: Vec<_> = messages::outbox(&mut tx, key, true)
            .await?
            .into_iter()
            .filter(|m| m.recipient == name)
            .collect();
        tx.commit().await?;
        let mut released = Vec::new();
        for envelope in held {
            let envelope = ReceivedEnvelope {
                id: envelope.envelope_id,
                sender: envelope.sender,
                received_ms: envelope.received_ms,
                body: envelope.body,
            };
            released.push(self.process(&envelope, true).await?);
        }
        let mut requeued = 0;
        if accepted_new_key {
            for message in waiting {
                self.reencrypt(&message).await?;
                requeued += 1;
            }
            self.deliver().await?;
        }
        Ok(TrustReport {
            accepted_new_key,
            released,
            requeued,
        })
    }
}
