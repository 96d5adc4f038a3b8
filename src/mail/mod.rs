//! E-mail: messages are written to the outbox table first (nothing is lost if sending fails or
//! the process dies), then delivered by a background sender over SMTP (lettre), or, with no SMTP
//! configured, written as .eml files under `data/outbox/`. Every message has a plain-text and an
//! HTML part.

pub mod messages;
pub mod sender;

use crate::clock::UnixTime;
use crate::crypto::bearer::random_id;
use crate::store::outbox::OutboxRecord;
use crate::store::{Store, StoreResult};

/// A message ready to queue.
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Queues `mail`; the sender delivers it.
pub async fn enqueue(store: &Store, mail: Mail, now: UnixTime) -> StoreResult<String> {
    let id = random_id();
    store
        .enqueue_mail(
            &OutboxRecord {
                id: id.clone(),
                to_addr: mail.to,
                subject: mail.subject,
                text_body: mail.text,
                html_body: mail.html,
                created_at: now,
                attempts: 0,
            },
            now,
        )
        .await?;
    Ok(id)
}
