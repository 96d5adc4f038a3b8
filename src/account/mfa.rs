//! TOTP as a second factor: set-up (pending secret, two consecutive codes, ten recovery codes
//! shown once), the check at the challenge (one step either side, never a step twice, recovery
//! codes in its place, its own throttle), fresh recovery codes, deactivation and an owner's
//! reset. Secrets are sealed under the master key; codes and secrets never reach a log, an audit
//! record or a page after set-up. [RFC 6238 §5.2; NIST SP 800-63B §5.1.4.2; ASVS 2.8; SECURITY
//! cases 80-90]

use super::AccountError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::{BearerToken, TokenKind};
use crate::crypto::totp::{
    self, generate_recovery_code, parse_code, parse_recovery_code, step_of, TotpSecret,
    RECOVERY_CODES,
};
use crate::mail::{self, messages};
use crate::policy::MfaDemand;
use crate::signin::throttle;
use crate::store::mfa::TotpFactor;
use crate::store::people::Person;

/// Wrong codes (per person) before the challenge locks and the interaction ends.
pub const FREE_CODE_FAILURES: i64 = 5;
const CODE_WINDOW_SECS: i64 = 15 * 60;

fn purpose(person_id: &str) -> String {
    format!("totp:{person_id}")
}

/// What the set-up page shows while set-up is pending.
pub struct SetupView {
    /// The base32 key in groups of four (`totp-secret`).
    pub secret_grouped: String,
    pub otpauth_uri: String,
    /// The QR code of `otpauth_uri` as inline SVG (no external service, no script).
    pub qr_svg: String,
}

fn view(state: &AppState, secret: &TotpSecret, person: &Person) -> SetupView {
    let otpauth_uri = secret.otpauth_uri(&state.settings.mfa_issuer, &person.email);
    let qr_svg = qrcode::QrCode::new(otpauth_uri.as_bytes())
        .map(|code| {
            code.render::<qrcode::render::svg::Color>()
                .min_dimensions(220, 220)
                .quiet_zone(true)
                .build()
        })
        .unwrap_or_default();
    // Inline in the page: without the XML declaration, and named for screen readers.
    let qr_svg = qr_svg
        .find("<svg")
        .map(|at| {
            qr_svg[at..].replacen(
                "<svg",
                "<svg role=\"img\" aria-label=\"QR code to scan with your authenticator app\"",
                1,
            )
        })
        .unwrap_or_default();
    SetupView {
        secret_grouped: secret.grouped(),
        otpauth_uri,
        qr_svg,
    }
}

fn open_secret(state: &AppState, factor: &TotpFactor) -> Result<TotpSecret, AccountError> {
    state
        .settings
        .master_key
        .open(&purpose(&factor.person_id), &factor.secret_sealed)
        .map(TotpSecret::from_bytes)
        .map_err(|_| AccountError::Sealed)
}

/// Whether the person has MFA on.
pub async fn is_active(state: &AppState, person_id: &str) -> Result<bool, AccountError> {
    Ok(state
        .store
        .totp_factor(person_id)
        .await?
        .is_some_and(|f| f.activated_at.is_some()))
}

/// "Activate": a new pending secret (replacing an unfinished one).
pub async fn begin_setup(
    state: &AppState,
    person: &Person,
    actor: &Actor,
) -> Result<SetupView, AccountError> {
    let secret = TotpSecret::generate();
    let sealed = state
        .settings
        .master_key
        .seal(&purpose(&person.id), secret.as_bytes())
        .map_err(|_| AccountError::Sealed)?;
    let now = state.clock.now();
    if !state
        .store
        .begin_totp_setup(&person.id, &sealed, now)
        .await?
    {
        return Err(AccountError::Invalid(
            "Two-step sign-in is already on.".into(),
        ));
    }
    mfa_audit(state, person, "setup_started", "success", None, actor).await?;
    Ok(view(state, &secret, person))
}

/// The pending set-up, to show again (after a wrong pair of codes, or a reload).
pub async fn pending_setup(
    state: &AppState,
    person: &Person,
) -> Result<Option<SetupView>, AccountError> {
    match state.store.totp_factor(&person.id).await? {
        Some(f) if f.activated_at.is_none() => {
            Ok(Some(view(state, &open_secret(state, &f)?, person)))
        }
        _ => Ok(None),
    }
}

/// Turns MFA on with two consecutive codes (`code1` then `code2`, the second at most one step
/// from now); both steps count as used. Returns the recovery codes, shown once.
pub async fn activate(
    state: &AppState,
    person: &Person,
    code1: &str,
    code2: &str,
    actor: &Actor,
) -> Result<Vec<String>, AccountError> {
    let factor = match state.store.totp_factor(&person.id).await? {
        Some(f) if f.activated_at.is_none() => f,
        Some(_) => {
            return Err(AccountError::Invalid(
                "Two-step sign-in is already on.".into(),
            ))
        }
        None => return Err(AccountError::SetupNotStarted),
    };
    let (Some(c1), Some(c2)) = (parse_code(code1), parse_code(code2)) else {
        return Err(AccountError::CodeShape);
    };
    let secret = open_secret(state, &factor)?;
    let now = state.clock.now();
    let current = step_of(now);
    let second_step = ((current - totp::SKEW_STEPS)..=(current + totp::SKEW_STEPS)).find(|&s| {
        c1 != c2
            && crate::crypto::bearer::constant_time_eq(&secret.code_at_step(s), &c2)
            && crate::crypto::bearer::constant_time_eq(&secret.code_at_step(s - 1), &c1)
    });
    let Some(last_step) = second_step else {
        mfa_audit(state, person, "activated", "failure", None, actor).await?;
        return Err(AccountError::ActivationCodes);
    };
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| generate_recovery_code())
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    if !state
        .store
        .activate_totp(&person.id, &factor.secret_sealed, last_step, &hashes, now)
        .await?
    {
        return Err(AccountError::SetupNotStarted);
    }
    mfa_audit(state, person, "activated", "success", Some("totp"), actor).await?;
    notify(
        state,
        person,
        "Two-step sign-in is on",
        "Two-step sign-in was turned on for your firmgate account: every sign-in now asks for a code from your authenticator app.",
    )
    .await?;
    Ok(codes)
}

fn recovery_hash(code: &str) -> String {
    let canonical = parse_recovery_code(code).unwrap_or_default();
    BearerToken::from_presented(&canonical).hash(TokenKind::RecoveryCode)
}

/// How a code was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    Totp,
    RecoveryCode,
}

/// Checks a code typed at the challenge (or to confirm a change on My Profile): a current TOTP
/// code for a step not used before, or an unused recovery code. Wrong codes count against the
/// person's own MFA throttle (separate from the password's); a replayed code gets the same
/// answer as a wrong one, is audited and the person is told by e-mail (ASVS 2.8.5).
pub async fn check_code(
    state: &AppState,
    person: &Person,
    input: &str,
    action: &str,
    actor: &Actor,
) -> Result<Accepted, AccountError> {
    let now = state.clock.now();
    let key = format!("mfa:{}", person.id);
    let wait = state.store.throttle_wait(&key, now).await?;
    if wait > 0 {
        mfa_audit(state, person, action, "throttled", None, actor).await?;
        return Err(AccountError::CodeThrottled(wait));
    }
    let factor = match state.store.totp_factor(&person.id).await? {
        Some(f) if f.activated_at.is_some() => f,
        _ => return Err(AccountError::Invalid("Two-step sign-in is not on.".into())),
    };
    let outcome = if let Some(code) = parse_code(input) {
        let secret = open_secret(state, &factor)?;
        match secret.matching_step(&code, now, i64::MIN) {
            Some(step) if step > factor.last_used_step => {
                if state.store.use_totp_step(&person.id, step).await? {
                    Ok(Accepted::Totp)
                } else {
                    Err("replayed")
                }
            }
            Some(_) => Err("replayed"),
            None => Err("failure"),
        }
    } else if parse_recovery_code(input).is_some() {
        if state
            .store
            .use_recovery_code(&person.id, &recovery_hash(input), now)
            .await?
        {
            Ok(Accepted::RecoveryCode)
        } else {
            Err("failure")
        }
    } else {
        Err("failure")
    };
    match outcome {
        Ok(how) => {
            state.store.throttle_clear(&key).await?;
            let method = match how {
                Accepted::Totp => "totp",
                Accepted::RecoveryCode => "recovery_code",
            };
            mfa_audit(state, person, action, "success", Some(method), actor).await?;
            if how == Accepted::RecoveryCode {
                let left = state.store.recovery_codes_left(&person.id).await?;
                notify(
                    state,
                    person,
                    "A recovery code was used",
                    &format!("A recovery code was used for your firmgate account. {left} unused recovery codes are left; you can make new ones on My Profile."),
                )
                .await?;
            }
            Ok(how)
        }
        Err(why) => {
            let failures = state
                .store
                .throttle_fail(&key, now, CODE_WINDOW_SECS)
                .await?;
            let lock = throttle::lock_secs(failures, FREE_CODE_FAILURES);
            if lock > 0 {
                state.store.throttle_lock(&key, now + lock).await?;
            }
            let outcome = if why == "replayed" {
                "replayed"
            } else {
                "failure"
            };
            mfa_audit(state, person, action, outcome, None, actor).await?;
            if why == "replayed" {
                notify(
                    state,
                    person,
                    "A sign-in code was used twice",
                    "A code from your authenticator app was entered again after it had already been used, and was refused. If you did not just sign in twice, someone may know your password.",
                )
                .await?;
            }
            if lock > 0 {
                Err(AccountError::CodeThrottled(lock))
            } else {
                Err(AccountError::WrongCode)
            }
        }
    }
}

/// New recovery codes (the old ones stop working), after a current code.
pub async fn regenerate_recovery_codes(
    state: &AppState,
    person: &Person,
    code: &str,
    actor: &Actor,
) -> Result<Vec<String>, AccountError> {
    check_code(state, person, code, "confirm", actor).await?;
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| generate_recovery_code())
        .collect();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(c)).collect();
    state
        .store
        .replace_recovery_codes(&person.id, &hashes, state.clock.now())
        .await?;
    mfa_audit(
        state,
        person,
        "recovery_codes_regenerated",
        "success",
        None,
        actor,
    )
    .await?;
    notify(
        state,
        person,
        "New recovery codes",
        "New recovery codes were made for your firmgate account; the earlier ones no longer work.",
    )
    .await?;
    Ok(codes)
}

/// Why a person may not turn MFA off themselves, if anything keeps it on.
pub async fn kept_on_because(
    state: &AppState,
    person_id: &str,
) -> Result<Option<String>, AccountError> {
    for m in state.store.memberships_of(person_id).await? {
        let Some(firm) = state.store.firm(&m.firm_id).await? else {
            continue;
        };
        if crate::policy::region_keeps_mfa(firm.region.as_deref()) {
            return Ok(Some(format!(
                "{} is in Australia or New Zealand, where two-step sign-in stays on.",
                firm.name
            )));
        }
    }
    if let Some(firm) = required_by_a_firm(state, person_id).await? {
        return Ok(Some(format!("{firm} requires it.")));
    }
    Ok(None)
}

/// The name of a firm of the person's whose policy requires two-step sign-in of them (they are
/// not exempted), if any.
pub async fn required_by_a_firm(
    state: &AppState,
    person_id: &str,
) -> Result<Option<String>, AccountError> {
    for m in state.store.memberships_of(person_id).await? {
        let policy = state
            .store
            .firm_policy(&m.firm_id)
            .await?
            .unwrap_or_default();
        let standing = state.store.standing(&m.firm_id, person_id).await?;
        if policy.verdict(standing, None, 0).mfa == MfaDemand::Require {
            return Ok(Some(m.firm_name));
        }
    }
    Ok(None)
}

/// Turns MFA off: a ticked confirmation, a current code (or a recovery code), and no firm that
/// keeps it on. The checks are here, not only in the page.
pub async fn deactivate(
    state: &AppState,
    person: &Person,
    code: &str,
    confirmed: bool,
    actor: &Actor,
) -> Result<(), AccountError> {
    if let Some(reason) = kept_on_because(state, &person.id).await? {
        mfa_audit(state, person, "deactivated", "failure", None, actor).await?;
        return Err(AccountError::MfaKeptOn(reason));
    }
    if !confirmed {
        return Err(AccountError::Unconfirmed);
    }
    check_code(state, person, code, "confirm", actor).await?;
    state.store.remove_totp(&person.id).await?;
    mfa_audit(state, person, "deactivated", "success", None, actor).await?;
    notify(
        state,
        person,
        "Two-step sign-in is off",
        "Two-step sign-in was turned off for your firmgate account: signing in now needs only your password.",
    )
    .await
}

/// A firm owner turns MFA off for a locked-out member of their firm (they set it up again at
/// their next sign-in if their firm requires it). Audited; the member is e-mailed.
pub async fn owner_reset(
    state: &AppState,
    firm_id: &str,
    owner_email: &str,
    member_email: &str,
    actor: &Actor,
) -> Result<Person, AccountError> {
    let owner = match state.store.person_by_email(owner_email).await? {
        Some(p) => p,
        None => return Err(AccountError::NotOwner(firm_id.to_owned())),
    };
    owner_reset_by(state, firm_id, &owner, member_email, actor).await
}

/// The same, for an owner already known (the admin console's signed-in owner).
pub async fn owner_reset_by(
    state: &AppState,
    firm_id: &str,
    owner: &Person,
    member_email: &str,
    actor: &Actor,
) -> Result<Person, AccountError> {
    let is_owner = state
        .store
        .membership(firm_id, &owner.id)
        .await?
        .is_some_and(|m| m.role == "owner");
    if !is_owner {
        return Err(AccountError::NotOwner(firm_id.to_owned()));
    }
    let member = match state.store.person_by_email(member_email).await? {
        Some(p) if state.store.membership(firm_id, &p.id).await?.is_some() => p,
        _ => {
            return Err(AccountError::Invalid(format!(
                "no member of firm {firm_id} has the e-mail address {member_email}"
            )))
        }
    };
    if !state.store.remove_totp(&member.id).await? {
        return Err(AccountError::Invalid(format!(
            "{member_email} does not have two-step sign-in on"
        )));
    }
    audit::record(
        &state.store,
        AuditEvent::Mfa {
            person_id: &member.id,
            action: "reset_by_owner",
            outcome: "success",
            method: None,
            firm_id: Some(firm_id),
        },
        actor,
        state.clock.now(),
    )
    .await?;
    notify(
        state,
        &member,
        "Two-step sign-in was reset",
        &format!("An owner of your firm ({}) turned off two-step sign-in for your firmgate account so that you can sign in again. Set it up again on My Profile.", owner.name),
    )
    .await?;
    Ok(member)
}

async fn mfa_audit(
    state: &AppState,
    person: &Person,
    action: &str,
    outcome: &'static str,
    method: Option<&str>,
    actor: &Actor,
) -> Result<(), AccountError> {
    audit::record(
        &state.store,
        AuditEvent::Mfa {
            person_id: &person.id,
            action,
            outcome,
            method,
            firm_id: None,
        },
        actor,
        state.clock.now(),
    )
    .await?;
    Ok(())
}

async fn notify(
    state: &AppState,
    person: &Person,
    subject: &str,
    happened: &str,
) -> Result<(), AccountError> {
    mail::enqueue(
        &state.store,
        messages::security_notice(&person.email, &person.name, subject, happened)?,
        state.clock.now(),
    )
    .await?;
    state.mailer.wake();
    Ok(())
}
