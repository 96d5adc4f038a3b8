//! A person's account: My Profile (name, time zone, password change, sessions, memberships),
//! choosing a password (rules, reuse, hashing, notification), forgotten-password reset by
//! single-use e-mailed link, and invitations with a temporary password.

pub mod console_signin;
pub mod invitation;
pub mod pages;
pub mod password;
pub mod profile;
pub mod reset;
pub mod strength;

use axum::routing::{get, post};
use axum::Router;

use crate::app::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/account", get(pages::show))
        .route("/account/profile", post(pages::save_profile))
        .route("/account/password", post(pages::change_password))
        .route("/account/sessions", post(pages::end_sessions))
        .route("/account/signin", get(console_signin::start))
        .route("/account/callback", get(console_signin::callback))
        .route("/password/strength", post(strength::estimate))
}

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
    #[error("{}", reused_message(*.0))]
    Reused(i64),
    #[error("The current password is not right.")]
    WrongCurrent,
    #[error("{}", crate::signin::throttle::message(*.0))]
    Throttled(i64),
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

fn reused_message(limit: i64) -> String {
    if limit <= 1 {
        "Choose a password different from your current one.".to_owned()
    } else {
        format!("Choose a password you have not used before: your firm refuses your last {limit}.")
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
                | AccountError::Reused(_)
                | AccountError::WrongCurrent
                | AccountError::Throttled(_)
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
