//! Receiving: decrypt, commit the session, prekey use and plaintext together, then acknowledge.

use std::time::Duration;

use pqxdh::handshake::store::PreKeySink;
use pqxdh::sessions::establish::{accept_pending, prekey_header, session_id_of};
use pqxdh::{Backend, DecryptError, EstablishError};
use pqxdh_api::signing::now_ms;

use super::Client;
use crate::content::Content;
use crate::error::Error;
use crate::server_client::ReceivedEnvelope;
use crate::store::messages::{self, HeldEnvelope, IncomingMessage};
use crate::store::sessions::{self, StoredSession};
use crate::store::{Tx, contacts, keys};

/// Pages fetched by one [`Client::receive`] (the server returns at most 100 envelopes a page).
pub const MAX_FETCH_PAGES: usize = 50;

/// What one envelope became.
#[derive(Clone, Debug)]
pub enum Received {
    /// A new message, stored in the inbox.
    Message(IncomingMessage),
    /// Held: its sender's identity key changed; it is processed once the user trusts the key.
    Held {
        /// The sender.
        sender: String,
    },
    /// Dropped with a reason (a repeat of a message already read, or undecryptable).
    Dropped {
        /// The sender.
        sender: String,
        /// Why.
        reason: String,
    },
    /// Already processed (its acknowledgement was lost); acknowledged again.
    Repeat,
}

/// The outcome of decrypting under the write lock, before the commit.
enum Outcome {
    Message(Content),
    Held,
    Dropped(String),
}

impl Client {
    /// One round: fetches waiting envelopes (waiting up to `wait` for one), processes each in
    /// order and acknowledges it, then keeps the prekeys topped up. Returns what each became.
    pub async fn receive(&self, wait: Duration) -> Result<Vec<Received>, Error> {
        let mut out = Vec::new();
        let mut prekey_messages = false;
        let mut wait = wait;
        // A fetch returns at most a page of envelopes: fetch again (without waiting) until the
        // mailbox is empty, or a bounded number of pages when mail keeps arriving.
        for _ in 0..MAX_FETCH_PAGES {
            let envelopes = self.server.fetch(wait).await?;
            wait = Duration::ZERO;
            if envelopes.is_empty() {
                break;
            }
            for envelope in &envelopes {
                prekey_messages |= matches!(prekey_header(&envelope.body), Ok(Some(_)));
                let received = self.process(envelope, false).await?;
                self.server.acknowledge(&envelope.id).await?;
                out.push(received);
            }
        }
        if prekey_messages || out.is_empty() {
            self.upkeep().await?;
        }
        Ok(out)
    }

    /// Processes one envelope and commits what it became (see the module docs). `held` is set
    /// when it comes out of the held envelopes after a trust decision.
    pub(crate) async fn process(
        &self,
        envelope: &ReceivedEnvelope,
        held: bool,
    ) -> Result<Received, Error> {
        let mut tx = self.store.write().await?;
        if !held && messages::seen(&mut tx, &envelope.id).await? {
            tx.commit().await?;
            return Ok(Received::Repeat);
        }
        let outcome = self.decrypt(&mut tx, envelope).await?;
        // A released envelope leaves the held table unless it is held again (its sender's key
        // changed once more).
        if held && !matches!(outcome, Outcome::Held) {
            messages::release(&mut tx, &envelope.id).await?;
        }
        let sender = envelope.sender.clone();
        let received = match outcome {
            Outcome::Message(content) => {
                let seq = messages::receive(
                    &mut tx,
                    self.store.key(),
                    &envelope.id,
                    &sender,
                    envelope.received_ms,
                    &content,
                )
                .await?;
                Received::Message(IncomingMessage {
                    seq,
                    envelope_id: envelope.id.clone(),
                    sender,
                    received_ms: envelope.received_ms,
                    content,
                    read: false,
                    saved_path: None,
                })
            }
            Outcome::Held => {
                if !held {
                    messages::hold(
                        &mut tx,
                        self.store.key(),
                        &HeldEnvelope {
                            envelope_id: envelope.id.clone(),
                            sender: sender.clone(),
                            received_ms: envelope.received_ms,
                            body: envelope.body.clone(),
                        },
                    )
                    .await?;
                }
                Received::Held { sender }
            }
            Outcome::Dropped(reason) => {
                messages::drop_envelope(&mut tx, &envelope.id, &sender, &reason, now_ms()).await?;
                Received::Dropped { sender, reason }
            }
        };
        tx.commit().await?;
        Ok(received)
    }

    async fn decrypt(&self, tx: &mut Tx, envelope: &ReceivedEnvelope) -> Result<Outcome, Error> {
        let key = self.store.key();
        let sender = envelope.sender.as_str();
        let header = match prekey_header(&envelope.body) {
            Ok(header) => header,
            Err(e) => return Ok(Outcome::Dropped(format!("malformed: {e}"))),
        };
        let contact = contacts::get(tx, sender).await?;
        let plaintext = match header {
            Some(header) => {
                // A pre-key message names its sender's identity key: it must be the pinned one.
                if let Some(c) = &contact
                    && c.identity_key != header.identity_key
                {
                    if c.pending_key.as_ref() != Some(&header.identity_key) {
                        self.forget_verified_bundles(&c.identity_key);
                        contacts::set_pending(tx, sender, &header.identity_key).await?;
                    }
                    return Ok(Outcome::Held);
                }
                let id = session_id_of(&header, &self.identity).to_string();
                let existing = sessions::get(tx, key, sender, &id).await?;
                match existing {
                    Some(mut stored) => match stored.session.decrypt(&envelope.body) {
                        Ok(plaintext) => {
                            sessions::save(tx, key, sender, &stored, true).await?;
                            plaintext
                        }
                        Err(e) => return Ok(Outcome::Dropped(reason(&e))),
                    },
                    None => {
                        let mut prekeys = keys::load(tx, key).await?;
                        let accepted =
                            match accept_pending(&prekeys, &envelope.body, Backend::default()) {
                                Ok(accepted) => accepted,
                                Err(EstablishError::Decrypt(e)) => {
                                    return Ok(Outcome::Dropped(reason(&e)));
                                }
                                Err(e) => {
                                    return Ok(Outcome::Dropped(format!("pre-key message: {e}")));
                                }
                            };
                        prekeys
                            .record_use(&accepted.prekey_use)
                            .map_err(|e| Error::PreKeys(e.to_string()))?;
                        keys::apply_use(tx, key, &prekeys, &accepted.prekey_use).await?;
                        if contact.is_none() {
                            contacts::insert(tx, sender, &header.identity_key, now_ms()).await?;
                        }
                        let stored = StoredSession {
                            id: accepted.established.session_id.to_string(),
                            session: accepted.established.session,
                        };
                        sessions::save(tx, key, sender, &stored, true).await?;
                        accepted.plaintext
                    }
                }
            }
            None => {
                let mut last = None;
                let mut found = None;
                for mut stored in sessions::all(tx, key, sender).await? {
                    match stored.session.decrypt(&envelope.body) {
                        Ok(plaintext) => {
                            found = Some((stored, plaintext));
                            break;
                        }
                        // A repeat is final: no other session could have its key.
                        Err(DecryptError::Duplicate) => {
                            last = Some(DecryptError::Duplicate);
                            break;
                        }
                        Err(e) => last = Some(e),
                    }
                }
                match (found, last) {
                    (Some((stored, plaintext)), _) => {
                        sessions::save(tx, key, sender, &stored, true).await?;
                        plaintext
                    }
                    (None, Some(e)) => return Ok(Outcome::Dropped(reason(&e))),
                    (None, None) => {
                        return Ok(Outcome::Dropped("no session with the sender".into()));
                    }
                }
            }
        };
        Ok(match Content::from_bytes(&plaintext) {
            Ok(content) => Outcome::Message(content),
            Err(e) => Outcome::Dropped(format!("unreadable content: {e}")),
        })
    }
}

fn reason(e: &DecryptError) -> String {
    match e {
        DecryptError::Duplicate => "duplicate".to_owned(),
        other => format!("undecryptable: {other}"),
    }
}
