//! Delivering the outbox: SMTP through lettre (`smtp://`, `smtp://...?tls=required` for
//! STARTTLS, `smtps://` for implicit TLS, credentials in the URL), or .eml files when no SMTP
//! server is configured. Failures are retried with a growing delay.

use std::path::PathBuf;
use std::sync::Arc;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::sync::Notify;

use crate::clock::UnixTime;
use crate::store::outbox::OutboxRecord;
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the mail settings are invalid: {0}")]
    Settings(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("delivery failed: {0}")]
    Delivery(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    wake: Arc<Notify>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.transport {
            Transport::Smtp(_) => "smtp".to_owned(),
            Transport::Files(p) => format!("files in {}", p.display()),
        };
        f.debug_struct("Mailer")
            .field("transport", &kind)
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// Lease on a message while one sender works on it: longer than one delivery can take
/// ([`SMTP_TIMEOUT`]), short enough that mail claimed by a node that crashed goes out soon after.
const LEASE_SECS: i64 = 60;
/// Bound on each SMTP command, so a stuck server cannot outlast the lease.
const SMTP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

impl Mailer {
    pub fn new(
        smtp_url: Option<&str>,
        from: &str,
        outbox_dir: PathBuf,
    ) -> Result<Mailer, MailError> {
        let from: Mailbox = from
            .parse()
            .map_err(|e| MailError::Settings(format!("mail_from {from:?}: {e}")))?;
        let transport = match smtp_url {
            Some(url) => Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|e| MailError::Settings(format!("smtp_url: {e}")))?
                    .timeout(Some(SMTP_TIMEOUT))
                    .build(),
            ),
            None => Transport::Files(outbox_dir),
        };
        Ok(Mailer {
            transport,
            from,
            wake: Arc::new(Notify::new()),
        })
    }

    /// Tells the background sender there is new mail.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    fn build(&self, m: &OutboxRecord) -> Result<Message, MailError> {
        let to: Mailbox = m
            .to_addr
            .parse()
            .map_err(|e| MailError::Build(format!("recipient: {e}")))?;
        let domain = self.from.email.domain().to_owned();
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@{domain}>", m.id)))
            .multipart(
                MultiPart::alternative()
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_PLAIN)
                            .body(m.text_body.clone()),
                    )
                    .singlepart(
                        SinglePart::builder()
                            .header(ContentType::TEXT_HTML)
                            .body(m.html_body.clone()),
                    ),
            )
            .map_err(|e| MailError::Build(e.to_string()))
    }

    async fn deliver(&self, m: &OutboxRecord) -> Result<(), MailError> {
        let message = self.build(m)?;
        match &self.transport {
            Transport::Smtp(smtp) => smtp
                .send(message)
                .await
                .map(|_| ())
                .map_err(|e| MailError::Delivery(e.to_string())),
            Transport::Files(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|e| MailError::Delivery(e.to_string()))?;
                let path = dir.join(format!("{}.eml", m.id));
                tokio::fs::write(&path, message.formatted())
                    .await
                    .map_err(|e| MailError::Delivery(e.to_string()))?;
                tracing::info!(path = %path.display(), "no SMTP server configured: message written to a file");
                Ok(())
            }
        }
    }

    /// Sends every message due now; returns how many went out.
    pub async fn send_due(&self, store: &Store, now: UnixTime) -> Result<usize, MailError> {
        let mut sent = 0;
        for m in store.due_mail(now, 50).await? {
            if !store.claim_mail(&m.id, now, LEASE_SECS).await? {
                continue;
            }
            match self.deliver(&m).await {
                Ok(()) => {
                    store.mark_mail_sent(&m.id, now).await?;
                    sent += 1;
                }
                Err(e) => {
                    let delay = 30_i64 << m.attempts.clamp(0, 8);
                    tracing::warn!(outbox_id = %m.id, error = %e, retry_in_secs = delay, "mail delivery failed");
                    store
                        .mark_mail_failed(&m.id, now + delay.min(3600), &e.to_string())
                        .await?;
                }
            }
        }
        Ok(sent)
    }
}
