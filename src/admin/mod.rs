//! Administration as a library: create firms, people and clients, rotate keys. The CLI calls
//! these; so will the admin console. Every change is audited.

pub mod clients;
pub mod firms;
pub mod users;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error("no firm with id {0}")]
    NoSuchFirm(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed")]
    Hash,
    #[error(transparent)]
    Keys(#[from] crate::keyring::KeyringError),
}
