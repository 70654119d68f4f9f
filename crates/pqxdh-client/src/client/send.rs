//! Sending: encrypt and commit with the outgoing envelope, then deliver in order.

use pqxdh::{Backend, PreKeyBundle, VerifiedBundle, initiate_verified};
use pqxdh_api::signing::{now_ms, valid_name};

use super::{Client, MAX_ENVELOPE_BODY, random_id};
use crate::content::Content;
use crate::error::{ClientError, Error};
use crate::store::Tx;
use crate::store::contacts::{self, Contact};
use crate::store::messages::{self, OutgoingMessage};
use crate::store::sessions::{self, StoredSession};

/// What [`Client::deliver`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Messages the server accepted now.
    pub delivered: usize,
    /// Messages waiting: their recipient's identity key changed, or the server refused them.
    pub waiting: usize,
}

impl Client {
    /// Sends a text to `to`: committed to the outbox, then delivered with anything queued
    /// before it. Returns the committed message; a failed delivery leaves it queued (the next
    /// command delivers it) and is reported as the error.
    pub async fn send_text(&self, to: &str, text: &str) -> Result<OutgoingMessage, Error> {
        let message = self
            .queue(
                to,
                &Content::Text {
                    text: text.to_owned(),
                },
            )
            .await?;
        self.deliver().await?;
        Ok(message)
    }

    /// Encrypts `content` to `to` and commits the new session state together with the
    /// outgoing envelope. Nothing is sent.
    pub async fn queue(&self, to: &str, content: &Content) -> Result<OutgoingMessage, Error> {
        self.encrypt_committed(to, content, None).await
    }

    /// Encrypts a queued, undelivered message again (to a newly trusted identity key) and
    /// replaces its envelope in the same transaction as the session.
    pub(crate) async fn reencrypt(&self, message: &OutgoingMessage) -> Result<(), Error> {
        self.encrypt_committed(&message.recipient, &message.content, Some(message))
            .await
            .map(|_| ())
    }

    async fn encrypt_committed(
        &self,
        to: &str,
        content: &Content,
        replacing: Option<&OutgoingMessage>,
    ) -> Result<OutgoingMessage, Error> {
        if !valid_name(to) {
            return Err(Error::InvalidName(to.to_owned()));
        }
        if to == self.account() {
            return Err(Error::SelfMessage);
        }
        let key = self.store.key();
        // A bundle is claimed (a network call) only when there is no session, and outside any
        // transaction; the session found or made is then used under the write lock.
        let mut bundle: Option<VerifiedBundle> = None;
        loop {
            let mut tx = self.store.write().await?;
            let contact = contacts::get(&mut tx, to).await?;
            if contact.as_ref().is_some_and(|c| c.pending_key.is_some()) {
                return Err(Error::IdentityChanged(to.to_owned()));
            }
            let mut session = sessions::current(&mut tx, key, to).await?;
            if session.is_none() {
                let Some(bundle) = bundle.take() else {
                    drop(tx);
                    bundle = Some(self.claim_verified_bundle(to).await?);
                    continue;
                };
                if !self
                    .pin(&mut tx, to, contact.as_ref(), bundle.bundle())
                    .await?
                {
                    tx.commit().await?;
                    return Err(Error::IdentityChanged(to.to_owned()));
                }
                let established = initiate_verified(
                    &self.identity,
                    &bundle,
                    Backend::default(),
                    &mut rand::rng(),
                )?;
                session = Some(StoredSession {
                    id: established.session_id.to_string(),
                    session: established.session,
                });
            }
            let Some(mut stored) = session else {
                continue;
            };
            let wire = stored
                .session
                .encrypt(&content.to_bytes(), &mut rand::rng())?;
            if wire.len() > MAX_ENVELOPE_BODY {
                // Nothing committed: the session state that encrypted it is dropped.
                return Err(Error::TooLarge(wire.len()));
            }
            sessions::save(&mut tx, key, to, &stored, true).await?;
            if let Some(old) = replacing {
                messages::replace_wire(&mut tx, key, &old.id, &wire).await?;
                tx.commit().await?;
                return Ok(OutgoingMessage {
                    wire,
                    ..old.clone()
                });
            }
            let id = random_id();
            let now = now_ms();
            let seq = messages::queue(&mut tx, key, &id, to, content, &wire, now).await?;
            tx.commit().await?;
            return Ok(OutgoingMessage {
                seq,
                id,
                recipient: to.to_owned(),
                content: content.clone(),
                wire,
                delivered: false,
                envelope_id: None,
                created_ms: now,
            });
        }
    }

    /// Pins the bundle's identity key for a new contact; false (the new key recorded as pending,
    /// the bundles cached under the old one forgotten) when it differs from the pinned one.
    async fn pin(
        &self,
        tx: &mut Tx,
        name: &str,
        contact: Option<&Contact>,
        bundle: &PreKeyBundle,
    ) -> Result<bool, Error> {
        match contact {
            None => {
                contacts::insert(tx, name, &bundle.identity_key, now_ms()).await?;
                Ok(true)
            }
            Some(c) if c.identity_key == bundle.identity_key => Ok(true),
            Some(c) => {
                self.forget_verified_bundles(&c.identity_key);
                contacts::set_pending(tx, name, &bundle.identity_key).await?;
                Ok(false)
            }
        }
    }

    /// Sends every committed, undelivered message in order. A recipient whose identity key
    /// changed, or whose deposit the server refuses, keeps its messages queued (and the rest of
    /// its messages wait behind them, to keep their order); a lost connection stops delivery.
    pub async fn deliver(&self) -> Result<Delivery, Error> {
        let pending = {
            let mut conn = self.store.read().await?;
            messages::outbox(&mut conn, self.store.key(), true).await?
        };
        let mut report = Delivery::default();
        let mut stalled: Vec<String> = Vec::new();
        let mut first_error: Option<Error> = None;
        for message in pending {
            if stalled.contains(&message.recipient) {
                report.waiting += 1;
                continue;
            }
            let contact = {
                let mut conn = self.store.read().await?;
                contacts::get(&mut conn, &message.recipient).await?
            };
            let Some(contact) = contact.filter(|c| c.pending_key.is_none()) else {
                report.waiting += 1;
                stalled.push(message.recipient.clone());
                continue;
            };
            match self
                .server
                .send_to_key(
                    &message.recipient,
                    &message.wire,
                    Some(&contact.identity_key),
                )
                .await
            {
                Ok(envelope_id) => {
                    let mut tx = self.store.write().await?;
                    messages::mark_delivered(&mut tx, message.seq, &envelope_id).await?;
                    tx.commit().await?;
                    report.delivered += 1;
                }
                Err(ClientError::Refused {
                    status,
                    code,
                    message: text,
                }) => {
                    if code == "identity_changed" {
                        self.learn_identity_change(&message.recipient).await?;
                    }
                    report.waiting += 1;
                    stalled.push(message.recipient.clone());
                    first_error.get_or_insert(Error::Server(ClientError::Refused {
                        status,
                        code,
                        message: text,
                    }));
                }
                Err(e) => return Err(e.into()),
            }
        }
        match first_error {
            Some(Error::Server(ClientError::Refused { code, .. }))
                if code == "identity_changed" =>
            {
                Err(Error::IdentityChanged(
                    stalled.first().cloned().unwrap_or_default(),
                ))
            }
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// The server says `name`'s identity key changed: fetch the new one and record it as
    /// pending (a bundle claim is the only way to learn it, as for a first contact).
    async fn learn_identity_change(&self, name: &str) -> Result<(), Error> {
        let bundle = self.claim_verified_bundle(name).await?;
        let mut tx = self.store.write().await?;
        let contact = contacts::get(&mut tx, name).await?;
        self.pin(&mut tx, name, contact.as_ref(), bundle.bundle())
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
