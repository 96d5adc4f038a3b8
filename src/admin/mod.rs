//! Administration: create firms, people and clients, change policy and memberships (the CLI's
//! library), and the firm admin console (`console`) built on the same functions. Every change
//! is audited.

pub mod api;
pub mod branding;
pub mod clients;
pub mod console;
pub mod firms;
pub mod members;
pub mod users;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("no firm with id {0}")]
    NoSuchFirm(String),
    /// The object is not this firm's (or does not exist): answered as not found.
    #[error("no such {0} in this firm")]
    NotInFirm(&'static str),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hash,
    #[error(transparent)]
    Keys(#[from] crate::keyring::KeyringError),
}
