//! The only reader of the system clock. Everything time-based (code expiry, idle timeouts,
//! `max_age`, token lifetimes) asks a [`Clock`], so tests move a fake one instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of every timestamp firmgate stores.
pub type UnixTime = i64;

#[derive(Clone, Debug, Default)]
pub struct Clock {
    fake: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Clock { fake: None }
    }

    /// A clock that stands still at `start` until moved with [`Clock::advance`].
    pub fn fake(start: UnixTime) -> Self {
        Clock {
            fake: Some(Arc::new(AtomicI64::new(start))),
        }
    }

    pub fn now(&self) -> UnixTime {
        match &self.fake {
            Some(t) => t.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
        }
    }

    /// Moves a fake clock forward; the real clock cannot be moved and ignores this.
    pub fn advance(&self, seconds: i64) {
        if let Some(t) = &self.fake {
            t.fetch_add(seconds, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_moves_only_when_told() {
        let clock = Clock::fake(1_000);
        assert_eq!(clock.now(), 1_000);
        clock.advance(61);
        assert_eq!(clock.now(), 1_061);
    }

    #[test]
    fn system_clock_is_after_2024() {
        assert!(Clock::system().now() > 1_700_000_000);
    }
}
