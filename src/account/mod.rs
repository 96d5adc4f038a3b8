//! A person's account: choosing a password (rules, hashing, notification), forgotten-password
//! reset by single-use e-mailed link, and invitations with a temporary password.

pub mod invitation;
pub mod password;
pub mod reset;

use crate::policy::password::PasswordProblem;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("{0}")]
    Password(#[from] PasswordProblem),
    #[error("The two passwords do not match.")]
    Mismatch,
    #[error("Choose a new password, not the temporary one.")]
    SameAsTemporary,
    #[error(
        "This link is not valid: it may have expired or been used already. Ask for a new one."
    )]
    LinkInvalid,
    #[error("{0}")]
    Invalid(String),
    #[error("password hashing failed")]
    Hash,
    #[error("the message could not be written")]
    Mail,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<askama::Error> for AccountError {
    fn from(_: askama::Error) -> Self {
        AccountError::Mail
    }
}

impl From<crate::crypto::password::PasswordHashError> for AccountError {
    fn from(_: crate::crypto::password::PasswordHashError) -> Self {
        AccountError::Hash
    }
}

impl AccountError {
    /// Problems the person can fix by typing something else (shown next to the form).
    pub fn is_input_problem(&self) -> bool {
        matches!(
            self,
            AccountError::Password(_)
                | AccountError::Mismatch
                | AccountError::SameAsTemporary
                | AccountError::Invalid(_)
        )
    }
}

impl From<AccountError> for crate::error::PageError {
    fn from(e: AccountError) -> Self {
        match e {
            AccountError::Store(s) => s.into(),
            AccountError::LinkInvalid => {
                crate::error::PageError::bad_request("This link does not work", e.to_string())
            }
            other if other.is_input_problem() => {
                crate::error::PageError::bad_request("Check the form", other.to_string())
            }
            _ => crate::error::PageError::internal(),
        }
    }
}
