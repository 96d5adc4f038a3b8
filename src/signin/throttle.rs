//! Sign-in throttling: failures are counted per account (the typed e-mail, known or not, so the
//! lock itself reveals nothing) and per client address. Five failures in 15 minutes lock for a
//! minute, doubling with each further failure up to an hour (NIST SP 800-63B §5.2.2: well under
//! 100 per hour). A success clears the account counter.

use crate::clock::UnixTime;
use crate::store::people::email_key;
use crate::store::throttles::ThrottleStanding;
use crate::store::{Store, StoreResult};

const WINDOW_SECS: i64 = 15 * 60;
const FREE_FAILURES: i64 = 5;
const MAX_LOCK_SECS: i64 = 3600;
/// An address gets more room than an account: an office shares one public address.
const IP_FREE_FAILURES: i64 = 50;

pub struct LoginKeys {
    account: String,
    address: Option<String>,
}

pub fn login_keys(email: &str, ip: Option<&str>) -> LoginKeys {
    LoginKeys {
        account: format!("login:acct:{}", email_key(email)),
        address: ip.map(|ip| format!("login:ip:{ip}")),
    }
}

/// The counters' word before a credential check: `wait()` says whether either key is locked,
/// and `succeeded` needs it to know whether there is anything to clear.
pub struct Checked(ThrottleStanding);

impl Checked {
    /// Seconds to wait, if either key is locked.
    pub fn wait(&self) -> Option<i64> {
        (self.0.wait > 0).then_some(self.0.wait)
    }
}

/// Reads both keys' counters, before a credential check.
pub async fn check(store: &Store, keys: &LoginKeys, now: UnixTime) -> StoreResult<Checked> {
    let address = keys.address.as_deref().unwrap_or(&keys.account);
    Ok(Checked(
        store.throttle_standing(&keys.account, address, now).await?,
    ))
}

pub fn lock_secs(failures: i64, free: i64) -> i64 {
    if failures < free {
        return 0;
    }
    let doublings = u32::try_from(failures - free).unwrap_or(u32::MAX).min(12);
    (60_i64 << doublings).min(MAX_LOCK_SECS)
}

pub async fn failed(store: &Store, keys: &LoginKeys, now: UnixTime) -> StoreResult<()> {
    let n = store.throttle_fail(&keys.account, now, WINDOW_SECS).await?;
    let lock = lock_secs(n, FREE_FAILURES);
    if lock > 0 {
        store.throttle_lock(&keys.account, now + lock).await?;
    }
    if let Some(a) = &keys.address {
        let n = store.throttle_fail(a, now, WINDOW_SECS).await?;
        let lock = lock_secs(n, IP_FREE_FAILURES);
        if lock > 0 {
            store.throttle_lock(a, now + lock).await?;
        }
    }
    Ok(())
}

/// Clears the account's counter after a correct credential. Most sign-ins have no counter to
/// clear, and skipping the delete then spares the database a write. A failure counted by
/// another attempt while this one was checked stays counted: the stricter of the two orders.
pub async fn succeeded(store: &Store, keys: &LoginKeys, checked: &Checked) -> StoreResult<()> {
    if checked.0.key_counted {
        store.throttle_clear(&keys.account).await?;
    }
    Ok(())
}

pub fn message(wait_secs: i64) -> String {
    let minutes = (wait_secs + 59) / 60;
    format!(
        "Too many unsuccessful attempts. Try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_start_at_five_failures_and_double_to_an_hour() {
        assert_eq!(lock_secs(4, FREE_FAILURES), 0);
        assert_eq!(lock_secs(5, FREE_FAILURES), 60);
        assert_eq!(lock_secs(6, FREE_FAILURES), 120);
        assert_eq!(lock_secs(11, FREE_FAILURES), 3600);
        assert_eq!(lock_secs(1000, FREE_FAILURES), 3600);
        assert_eq!(
            message(61),
            "Too many unsuccessful attempts. Try again in 2 minutes."
        );
    }
}
