//! Tests that put the real binary under sustained load (crash safety under SIGKILL, credential
//! stuffing). They are a test binary of their own so that they never run beside the timing-
//! sensitive tests of `tests/it`, and they take turns among themselves (one lock) so that each
//! one's figures are its own. Like `tests/it`, they run on SQLite, or on PostgreSQL with
//! TEST_DATABASE_URL.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod crash;
mod process;
mod stuffing;
#[path = "../it/support.rs"]
mod support;

/// Held for the whole of each test here: one load at a time.
pub static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
