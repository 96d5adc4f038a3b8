//! Password rules (NIST SP 800-63B §5.1.1.2, ASVS V2.1): pure, no I/O. No composition rules;
//! passphrases welcome; never starting or ending with a space; a minimum length (12 by default,
//! a firm may raise it, never below 8); at most 128 characters, counted after NFKC normalisation
//! and never truncated; common, breached, repetitive, keyboard-pattern and context-specific
//! values (the person's e-mail and name, the firm's name, "firmgate") refused with the reason.
//! The list of common and breached passwords and the guessability estimate come from zxcvbn,
//! which ships its dictionaries: no network is needed.

use unicode_normalization::UnicodeNormalization;
use zxcvbn::Score;

pub const DEFAULT_MIN_LENGTH: usize = 12;
pub const LOWEST_MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;
/// The length the hint steers people toward.
pub const SUGGESTED_LENGTH: usize = 16;

/// What the rules know about the person and where the password will be used.
#[derive(Debug, Default, Clone)]
pub struct PasswordContext<'a> {
    pub min_length: usize,
    pub email: &'a str,
    pub name: &'a str,
    pub firm_names: &'a [String],
    /// A firm opted in to composition rules: upper- and lower-case letters, a digit, a symbol.
    pub composition: bool,
}

/// The reuse limit never looks further back than this many passwords.
pub const MAX_REUSE_LIMIT: i64 = 24;
/// Forced expiry, when a firm wants it, lies between these many days.
pub const MAX_AGE_DAYS: std::ops::RangeInclusive<i64> = 1..=730;

/// A person's password lifecycle. One password serves every firm the person belongs to, so
/// this is the strictest of their firms' settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub composition: bool,
    /// Forced change after this many days; `None` (the default, as NIST advises) never.
    pub max_age_days: Option<i64>,
    /// The last this-many passwords cannot be chosen again; 0 means no limit.
    pub reuse_limit: i64,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: DEFAULT_MIN_LENGTH,
            composition: false,
            max_age_days: None,
            reuse_limit: 0,
        }
    }
}

impl PasswordPolicy {
    /// When a password set at `changed_at` must be changed, if ever.
    pub fn change_due_at(&self, changed_at: i64) -> Option<i64> {
        self.max_age_days
            .map(|days| changed_at.saturating_add(days.saturating_mul(86_400)))
    }

    pub fn expired(&self, changed_at: i64, now: i64) -> bool {
        self.change_due_at(changed_at).is_some_and(|due| now >= due)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("The password must not start or end with a space.")]
    EdgeSpace,
    #[error("Use at least {0} characters.")]
    TooShort(usize),
    #[error("Use at most {MAX_LENGTH} characters.")]
    TooLong,
    #[error("Your firm asks for upper- and lower-case letters, a digit and a symbol.")]
    Composition,
    #[error("The password must not be your email address, your name, your firm's name or the name of this service.")]
    ContextSpecific,
    #[error("This password is too easy to guess: {0} Try a few unrelated words, {SUGGESTED_LENGTH} characters or more.")]
    Guessable(String),
}

/// How strong a password looks, for display (0 = very weak … 4 = strong).
pub fn strength(password: &str, ctx: &PasswordContext<'_>) -> u8 {
    let inputs = context_words(ctx);
    let refs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    u8::from(zxcvbn::zxcvbn(&normalise(password), &refs).score())
}

/// NFKC, the form passwords are compared and hashed in.
pub fn normalise(password: &str) -> String {
    password.nfkc().collect()
}

fn context_words(ctx: &PasswordContext<'_>) -> Vec<String> {
    let mut words = vec!["firmgate".to_owned()];
    let email = ctx.email.trim().to_lowercase();
    if !email.is_empty() {
        words.push(email.clone());
        if let Some((local, domain)) = email.split_once('@') {
            words.push(local.to_owned());
            words.extend(
                domain
                    .split('.')
                    .filter(|p| p.len() >= 3)
                    .map(str::to_owned),
            );
        }
    }
    for part in ctx
        .name
        .split_whitespace()
        .chain(ctx.firm_names.iter().flat_map(|f| f.split_whitespace()))
    {
        if part.chars().count() >= 3 {
            words.push(part.to_lowercase());
        }
    }
    words.extend(ctx.firm_names.iter().map(|f| f.to_lowercase()));
    if !ctx.name.trim().is_empty() {
        words.push(ctx.name.trim().to_lowercase());
    }
    words
}

fn has_every_class(password: &str) -> bool {
    password.chars().any(char::is_lowercase)
        && password.chars().any(char::is_uppercase)
        && password.chars().any(|c| c.is_numeric())
        && password
            .chars()
            .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
}

pub fn check(password: &str, ctx: &PasswordContext<'_>) -> Result<(), PasswordProblem> {
    if password.starts_with(char::is_whitespace) || password.ends_with(char::is_whitespace) {
        return Err(PasswordProblem::EdgeSpace);
    }
    let normal = normalise(password);
    let chars = normal.chars().count();
    let min = ctx.min_length.max(LOWEST_MIN_LENGTH);
    if chars < min {
        return Err(PasswordProblem::TooShort(min));
    }
    if chars > MAX_LENGTH {
        return Err(PasswordProblem::TooLong);
    }
    if ctx.composition && !has_every_class(&normal) {
        return Err(PasswordProblem::Composition);
    }
    let lower = normal.to_lowercase();
    let squashed: String = lower.chars().filter(|c| c.is_alphanumeric()).collect();
    let words = context_words(ctx);
    let names_whole = [
        ctx.email.trim().to_lowercase(),
        ctx.name.trim().to_lowercase(),
    ]
    .into_iter()
    .chain(ctx.firm_names.iter().map(|f| f.to_lowercase()))
    .chain(std::iter::once("firmgate".to_owned()));
    for whole in names_whole.filter(|w| !w.is_empty()) {
        let whole_squashed: String = whole.chars().filter(|c| c.is_alphanumeric()).collect();
        // The value itself, or the value with a few digits or symbols around it ("firmgate2025").
        if lower == whole
            || (!whole_squashed.is_empty()
                && squashed.trim_matches(|c: char| c.is_ascii_digit()) == whole_squashed)
        {
            return Err(PasswordProblem::ContextSpecific);
        }
    }
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(&normal, &refs);
    if estimate.score() < Score::Three {
        let reason = estimate
            .feedback()
            .and_then(|f| f.warning().map(|w| w.to_string()))
            .filter(|w| !w.is_empty())
            .unwrap_or_else(|| "it follows a common pattern.".to_owned());
        return Err(PasswordProblem::Guessable(reason));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> PasswordContext<'static> {
        static FIRMS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
        PasswordContext {
            min_length: DEFAULT_MIN_LENGTH,
            email: "ann.example@lawfirm.example",
            name: "Ann Example",
            firm_names: FIRMS.get_or_init(|| vec!["Harbour Legal LLP".to_owned()]),
            composition: false,
        }
    }

    #[test]
    fn lengths_follow_nist_and_asvs() {
        // SECURITY case 69: min - 1 refused; min, a 64-character passphrase with inner spaces
        // and 128 characters accepted; 129 refused.
        let phrase = |n: usize| -> String {
            "maple orbit canyon velvet pocket thunder lantern violin harvest quarry "
                .repeat(3)
                .chars()
                .take(n)
                .collect::<String>()
                .replace(' ', "-")
        };
        assert_eq!(
            check("vqx7 pelm z", &ctx()),
            Err(PasswordProblem::TooShort(12))
        );
        assert_eq!(check("vqx7 pelm zr", &ctx()), Ok(()));
        let sixty_four = "maple orbit canyon velvet pocket thunder lantern violin harvest";
        let sixty_four = format!("{sixty_four}q");
        assert_eq!(sixty_four.chars().count(), 64);
        assert_eq!(check(&sixty_four, &ctx()), Ok(()));
        let max = phrase(MAX_LENGTH - 1) + "q";
        assert_eq!(max.chars().count(), 128);
        assert_eq!(check(&max, &ctx()), Ok(()));
        assert_eq!(
            check(&format!("{max}z"), &ctx()),
            Err(PasswordProblem::TooLong)
        );
        let firm_min = PasswordContext {
            min_length: 20,
            ..ctx()
        };
        assert_eq!(
            check("vqx7 pelm zr", &firm_min),
            Err(PasswordProblem::TooShort(20))
        );
        let too_low = PasswordContext {
            min_length: 4,
            ..ctx()
        };
        assert_eq!(
            check("vqx7pel", &too_low),
            Err(PasswordProblem::TooShort(8))
        );
    }

    #[test]
    fn common_breached_and_context_passwords_are_refused_with_a_reason() {
        // SECURITY case 70.
        for bad in [
            "password1234",
            "qwertyuiop12",
            "aaaaaaaaaaaa",
            "123456789012",
        ] {
            assert!(
                matches!(check(bad, &ctx()), Err(PasswordProblem::Guessable(_))),
                "{bad}"
            );
        }
        for bad in [
            "ann.example@lawfirm.example",
            "firmgate2025",
            "Harbour Legal LLP",
            "ANN EXAMPLE 2024",
        ] {
            assert!(check(bad, &ctx()).is_err(), "{bad}");
        }
    }

    #[test]
    fn passphrases_need_no_composition_rules() {
        // SECURITY case 71.
        assert!(check("correct horse battery staple", &ctx()).is_ok());
        assert!(check("  leading space phrase", &ctx()).is_err());
        assert_eq!(
            check("trailing space phrase ", &ctx()),
            Err(PasswordProblem::EdgeSpace)
        );
        assert!(strength("correct horse battery staple", &ctx()) >= 3);
        assert!(strength("password1234", &ctx()) <= 1);
    }

    #[test]
    fn composition_applies_only_when_a_firm_opts_in() {
        let strict = PasswordContext {
            composition: true,
            ..ctx()
        };
        assert_eq!(
            check("correct horse battery staple", &strict),
            Err(PasswordProblem::Composition)
        );
        assert_eq!(
            check("Correct horse battery staple 9", &strict),
            Err(PasswordProblem::Composition)
        );
        assert_eq!(check("Correct horse battery staple 9!", &strict), Ok(()));
        // Letters outside ASCII count as letters, digits outside ASCII as digits.
        assert_eq!(check("Ärger über Brücken ٣ mal!", &strict), Ok(()));
    }

    #[test]
    fn expiry_is_off_by_default_and_falls_due_on_the_day() {
        let never = PasswordPolicy::default();
        assert_eq!(never.change_due_at(0), None);
        assert!(!never.expired(0, i64::MAX));
        let ninety = PasswordPolicy {
            max_age_days: Some(90),
            ..PasswordPolicy::default()
        };
        assert_eq!(ninety.change_due_at(1000), Some(1000 + 90 * 86_400));
        assert!(!ninety.expired(1000, 1000 + 90 * 86_400 - 1));
        assert!(ninety.expired(1000, 1000 + 90 * 86_400));
    }

    #[test]
    fn nfkc_normalises_before_counting() {
        assert_eq!(normalise("ｐａｓｓ"), "pass");
        assert_eq!(normalise("ﬁ"), "fi");
    }
}
