//! A person's account: My Profile (name, time zone, password change, sessions, memberships),
//! choosing a password (rules, reuse, hashing, notification), forgotten-password reset by
//! single-use e-mailed link, and invitations with a temporary password.

pub mod console_signin;
pub mod invitation;
pub mod mfa;
pub mod mfa_pages;
pub mod pages;
pub mod password;
pub mod profile;
pub mod reset;
pub mod sso_links;
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
        .route("/account/mfa", get(mfa_pages::show))
        .route("/account/mfa/setup", post(mfa_pages::begin))
        .route("/account/mfa/activate", post(mfa_pages::activate))
        .route("/account/mfa/recovery", post(mfa_pages::new_recovery_codes))
        .route("/account/mfa/deactivate", post(mfa_pages::deactivate))
        .route("/account/sso/link", post(sso_links::start_link))
        .route("/account/sso/unlink", post(sso_links::unlink))
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
    #[error("That code is not right. Enter the current code from your authenticator app, or a recovery code.")]
    WrongCode,
    #[error("Enter the six-digit codes from your authenticator app.")]
    CodeShape,
    #[error("Those codes do not match. Enter two codes in a row from your authenticator app: wait for the next code before typing the second.")]
    ActivationCodes,
    #[error("Start the set-up again: choose Activate on My Profile.")]
    SetupNotStarted,
    #[error("Too many wrong codes. Try again in {} minute(s).", (.0 + 59) / 60)]
    CodeThrottled(i64),
    #[error("Tick the box to confirm.")]
    Unconfirmed,
    #[error("Two-step sign-in cannot be turned off: {0}")]
    MfaKeptOn(String),
    #[error("only an owner of firm {0} may do that")]
    NotOwner(String),
    #[error("a stored secret could not be opened")]
    Sealed,
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
                | AccountError::WrongCode
                | AccountError::CodeShape
                | AccountError::ActivationCodes
                | AccountError::SetupNotStarted
                | AccountError::CodeThrottled(_)
                | AccountError::Unconfirmed
                | AccountError::MfaKeptOn(_)
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
