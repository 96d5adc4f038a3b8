//! The firm policy model and its evaluation: pure functions, no I/O, no axum, no sqlx.
//! Today it holds the inactivity sign-out; later policies (enforced MFA, SSO, IP allowlist)
//! join here and are consulted by `signin::flow::next_step`.

pub mod password;

use crate::clock::UnixTime;

/// The default inactivity sign-out: 8 hours.
pub const DEFAULT_IDLE_TIMEOUT_SECS: i64 = 8 * 3600;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmPolicy {
    pub idle_timeout_secs: i64,
}

impl Default for FirmPolicy {
    fn default() -> Self {
        FirmPolicy {
            idle_timeout_secs: DEFAULT_IDLE_TIMEOUT_SECS,
        }
    }
}

impl FirmPolicy {
    /// True when a session last active at `last_seen` has been idle longer than the firm allows.
    pub fn idle_expired(&self, last_seen: UnixTime, now: UnixTime) -> bool {
        now - last_seen > self.idle_timeout_secs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_timeout_slides_and_expires_one_second_after_the_limit() {
        let p = FirmPolicy::default();
        assert!(!p.idle_expired(0, 8 * 3600));
        assert!(p.idle_expired(0, 8 * 3600 + 1));
        let short = FirmPolicy {
            idle_timeout_secs: 1800,
        };
        assert!(short.idle_expired(0, 1801));
    }
}
