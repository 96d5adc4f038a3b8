//! Sign-in days and hours, e.g. `Mon-Fri 07:00-19:00`, in the firm's time zone. Pure.

use std::fmt;

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// The days (Monday first) and the daily window `[start, end)` in minutes after midnight.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignInHours {
    pub days: [bool; 7],
    pub start_minute: u32,
    pub end_minute: u32,
}

fn day_index(name: &str) -> Option<usize> {
    DAY_NAMES
        .iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
}

fn minute_of(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    ((h < 24 && m < 60) || (h == 24 && m == 0)).then_some(h * 60 + m)
}

impl SignInHours {
    /// `Mon-Fri 07:00-19:00`, `Mon,Wed,Fri 09:00-17:30`, `Sat-Sun 10:00-14:00`.
    pub fn parse(text: &str) -> Result<SignInHours, String> {
        let bad = || {
            format!("sign-in hours {text:?} must look like \"Mon-Fri 07:00-19:00\" (days, then a window that ends after it starts)")
        };
        let (days_part, window) = text.trim().split_once(' ').ok_or_else(bad)?;
        let mut days = [false; 7];
        for piece in days_part.split(',') {
            match piece.split_once('-') {
                Some((from, to)) => {
                    let (a, b) = (
                        day_index(from).ok_or_else(bad)?,
                        day_index(to).ok_or_else(bad)?,
                    );
                    if a > b {
                        return Err(bad());
                    }
                    days.iter_mut().take(b + 1).skip(a).for_each(|d| *d = true);
                }
                None => {
                    let i = day_index(piece).ok_or_else(bad)?;
                    if let Some(d) = days.get_mut(i) {
                        *d = true;
                    }
                }
            }
        }
        let (from, to) = window.trim().split_once('-').ok_or_else(bad)?;
        let (start_minute, end_minute) = (
            minute_of(from).ok_or_else(bad)?,
            minute_of(to).ok_or_else(bad)?,
        );
        if end_minute <= start_minute {
            return Err(bad());
        }
        Ok(SignInHours {
            days,
            start_minute,
            end_minute,
        })
    }

    /// Whether `weekday` (0 = Monday) at `minute` after midnight lies inside.
    pub fn allows(&self, weekday: usize, minute: u32) -> bool {
        self.days.get(weekday).copied().unwrap_or(false)
            && minute >= self.start_minute
            && minute < self.end_minute
    }
}

impl fmt::Display for SignInHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days: Vec<&str> = DAY_NAMES
            .iter()
            .zip(self.days)
            .filter(|(_, on)| *on)
            .map(|(d, _)| *d)
            .collect();
        write!(
            f,
            "{} {:02}:{:02}-{:02}:{:02}",
            days.join(","),
            self.start_minute / 60,
            self.start_minute % 60,
            self.end_minute / 60,
            self.end_minute % 60
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges_lists_and_refuses_nonsense() {
        let h = SignInHours::parse("Mon-Fri 07:00-19:00").unwrap();
        assert_eq!(h.days, [true, true, true, true, true, false, false]);
        assert!(h.allows(0, 7 * 60));
        assert!(h.allows(4, 19 * 60 - 1));
        assert!(!h.allows(4, 19 * 60), "the end is exclusive");
        assert!(!h.allows(5, 12 * 60), "Saturday");
        assert!(!h.allows(2, 6 * 60 + 59));
        assert_eq!(h.to_string(), "Mon,Tue,Wed,Thu,Fri 07:00-19:00");
        assert_eq!(SignInHours::parse(&h.to_string()).unwrap(), h);
        let l = SignInHours::parse("mon,wed,SUN 00:00-24:00").unwrap();
        assert!(l.allows(6, 23 * 60 + 59) && !l.allows(1, 600));
        for bad in [
            "",
            "Mon-Fri",
            "Fri-Mon 07:00-19:00",
            "Mon-Fri 19:00-07:00",
            "Mon-Fri 7:00-19:00",
            "Mon-Fri 07:00-25:00",
            "Moon 07:00-19:00",
            "Mon-Fri 07:60-19:00",
        ] {
            assert!(SignInHours::parse(bad).is_err(), "{bad:?}");
        }
    }
}
