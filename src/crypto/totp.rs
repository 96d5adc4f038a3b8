//! TOTP (RFC 6238) through totp-rs: SHA-1, 6 digits, 30-second steps, what every authenticator
//! app supports. totp-rs keeps no state, so this module works in time *steps*: the caller
//! stores the last accepted step and passes it in, and a code is accepted only for a later step
//! (RFC 6238 §5.2: never a second time). Secrets are 160 bits from the OS generator
//! (RFC 4226 R6); recovery codes are 80 random bits, stored only as hashes.

use totp_rs::{Algorithm, Secret, TOTP};

use super::bearer::random_bytes;
use crate::clock::UnixTime;

pub const STEP_SECS: i64 = 30;
pub const DIGITS: usize = 6;
/// Steps either side of now that are accepted (RFC 6238 §5.2 recommends at most one).
pub const SKEW_STEPS: i64 = 1;
pub const SECRET_BYTES: usize = 20;
pub const RECOVERY_CODES: usize = 10;

/// A TOTP secret. Its `Debug` never prints it.
#[derive(Clone)]
pub struct TotpSecret(Vec<u8>);

impl std::fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    pub fn generate() -> Self {
        TotpSecret(random_bytes::<SECRET_BYTES>().to_vec())
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        TotpSecret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Base32 without padding, as authenticator apps take it.
    pub fn base32(&self) -> String {
        match Secret::Raw(self.0.clone()).to_encoded() {
            Secret::Encoded(s) => s,
            Secret::Raw(_) => String::new(),
        }
    }

    /// The base32 key in groups of four, for reading and typing.
    pub fn grouped(&self) -> String {
        self.base32()
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn totp(&self, issuer: Option<&str>, account: &str) -> TOTP {
        TOTP::new_unchecked(
            Algorithm::SHA1,
            DIGITS,
            0,
            u64::try_from(STEP_SECS).unwrap_or(30),
            self.0.clone(),
            issuer.map(str::to_owned),
            account.to_owned(),
        )
    }

    /// The `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER` URI for the QR code.
    /// (A `:` in the issuer would break the label; it is replaced.)
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> String {
        self.totp(Some(&issuer.replace(':', " ")), account)
            .get_url()
    }

    /// The code for time step `step`.
    pub fn code_at_step(&self, step: i64) -> String {
        let t = u64::try_from(step.max(0) * STEP_SECS).unwrap_or(0);
        self.totp(None, "").generate(t)
    }

    /// The step within `now ± SKEW_STEPS` whose code is `code`, if that step is later than
    /// `last_used_step`. Codes are compared in constant time.
    pub fn matching_step(&self, code: &str, now: UnixTime, last_used_step: i64) -> Option<i64> {
        let code = parse_code(code)?;
        let current = step_of(now);
        let mut found = None;
        for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
            if super::bearer::constant_time_eq(&self.code_at_step(step), &code)
                && step > last_used_step
            {
                found = Some(step);
            }
        }
        found
    }
}

pub fn step_of(t: UnixTime) -> i64 {
    t.div_euclid(STEP_SECS)
}

/// Six ASCII digits, after dropping the spaces people type ("123 456").
pub fn parse_code(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    (digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit())).then_some(digits)
}

/// A recovery code: 16 base32 characters (80 bits) shown as `XXXX-XXXX-XXXX-XXXX`.
pub fn generate_recovery_code() -> String {
    let raw = match Secret::Raw(random_bytes::<10>().to_vec()).to_encoded() {
        Secret::Encoded(s) => s,
        Secret::Raw(_) => String::new(),
    };
    raw.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// The canonical form of a typed recovery code (upper case, no dashes or spaces), if it has the
/// shape of one.
pub fn parse_recovery_code(input: &str) -> Option<String> {
    let canonical: String = input
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (canonical.len() == 16
        && canonical
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)))
    .then_some(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 Appendix B (8 digits, T0 = 0, X = 30), through the same totp-rs calls.
    /// [SECURITY case 80]
    #[test]
    fn rfc6238_appendix_b_vectors() {
        let sha1 = b"12345678901234567890".to_vec();
        let sha256 = b"12345678901234567890123456789012".to_vec();
        let sha512 = b"1234567890123456789012345678901234567890123456789012345678901234".to_vec();
        let table: [(u64, &str, &str, &str); 6] = [
            (59, "94287082", "46119246", "90693936"),
            (1111111109, "07081804", "68084774", "25091201"),
            (1111111111, "14050471", "67062674", "99943326"),
            (1234567890, "89005924", "91819424", "93441116"),
            (2000000000, "69279037", "90698825", "38618901"),
            (20000000000, "65353130", "77737706", "47863826"),
        ];
        let with = |alg, secret: &Vec<u8>| {
            TOTP::new_unchecked(alg, 8, 0, 30, secret.clone(), None, String::new())
        };
        for (t, c1, c256, c512) in table {
            assert_eq!(with(Algorithm::SHA1, &sha1).generate(t), c1, "SHA1 at {t}");
            assert_eq!(
                with(Algorithm::SHA256, &sha256).generate(t),
                c256,
                "SHA256 at {t}"
            );
            assert_eq!(
                with(Algorithm::SHA512, &sha512).generate(t),
                c512,
                "SHA512 at {t}"
            );
        }
    }

    /// RFC 4226 Appendix D through the 6-digit path firmgate uses (counter = step).
    #[test]
    fn rfc4226_appendix_d_through_the_step_api() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec());
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (step, code) in expected.iter().enumerate() {
            assert_eq!(&secret.code_at_step(i64::try_from(step).unwrap()), code);
        }
    }

    /// Only T-1, T and T+1 are accepted, and never a step at or before the last one used.
    /// [SECURITY cases 81, 82]
    #[test]
    fn skew_of_one_step_and_no_replay() {
        let secret = TotpSecret::generate();
        let now = 1_700_000_015;
        let t = step_of(now);
        for (delta, accepted) in [(-2, false), (-1, true), (0, true), (1, true), (2, false)] {
            let code = secret.code_at_step(t + delta);
            assert_eq!(
                secret.matching_step(&code, now, 0).is_some(),
                accepted,
                "step T{delta:+}"
            );
        }
        let code = secret.code_at_step(t);
        assert_eq!(secret.matching_step(&code, now, t - 1), Some(t));
        assert_eq!(secret.matching_step(&code, now, t), None, "replay");
        assert_eq!(secret.matching_step("12345", now, 0), None);
        assert_eq!(secret.matching_step("12345a", now, 0), None);
        assert_eq!(parse_code(" 123 456 ").as_deref(), Some("123456"));
        assert_eq!(parse_code("１２３４５６"), None, "only ASCII digits");
    }

    #[test]
    fn secrets_are_160_bits_and_never_printed() {
        let s = TotpSecret::generate();
        assert_eq!(s.as_bytes().len(), 20);
        assert_eq!(s.base32().len(), 32);
        assert_eq!(format!("{s:?}"), "TotpSecret([redacted])");
        assert_ne!(TotpSecret::generate().as_bytes(), s.as_bytes());
        let uri = s.otpauth_uri("firmgate", "ann@example.com");
        assert!(
            uri.starts_with("otpauth://totp/firmgate:ann%40example.com?secret="),
            "{uri}"
        );
        assert!(uri.contains("issuer=firmgate"));
        assert_eq!(s.grouped().replace(' ', ""), s.base32());
    }

    #[test]
    fn recovery_codes_have_one_shape() {
        let c = generate_recovery_code();
        assert_eq!(c.len(), 19);
        let canonical = parse_recovery_code(&c.to_lowercase()).unwrap();
        assert_eq!(canonical, c.replace('-', ""));
        assert_eq!(parse_recovery_code("123456"), None);
        assert_eq!(parse_recovery_code("AAAA-AAAA-AAAA-AAA1"), None);
    }
}
