//! Upstream accounts and firmgate people: who a verified sign-in is (an existing link, a safe
//! link by a vouched e-mail, a just-in-time member), whether the firms in question accept it,
//! and linking and unlinking from My Profile. Every link and unlink is audited and e-mailed.

use super::linking::{self, Decision, FirmTrust, LocalAccount, Refusal};
use super::UpstreamIdentity;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};
use crate::crypto::bearer::random_id;
use crate::mail::{self, messages};
use crate::policy::sso::{SsoTrust, UpstreamKind, UpstreamUse};
use crate::policy::{FirmPolicy, SsoMode};
use crate::store::people::Person;
use crate::store::sso::SsoIdentity;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SsoPeopleError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the notification e-mail: {0}")]
    Mail(#[from] askama::Error),
    /// No safe way to tell who this is.
    #[error("the upstream account is not linked: {0:?}")]
    Refused(Refusal),
    /// None of the firms this sign-in may be for accepts this upstream account.
    #[error("no firm in question accepts this upstream account")]
    FirmRefuses,
    #[error("this upstream account is already linked to you")]
    AlreadyYours,
    #[error("this upstream account is linked to another person")]
    LinkedElsewhere,
    #[error("no such linked account")]
    NoSuchLink,
    /// The browser is no longer signed in as the person who started linking.
    #[error("the session that started linking has ended or changed")]
    SessionChanged,
    /// Unlinking would leave the person no way into a firm that requires single sign-on.
    #[error("{firm_name} requires single sign-on and this is the only account it accepts")]
    OnlyWayIn { firm_name: String },
}

impl SsoPeopleError {
    pub fn reason(&self) -> &'static str {
        match self {
            SsoPeopleError::Store(_) | SsoPeopleError::Mail(_) => "internal",
            SsoPeopleError::Refused(r) => r.reason(),
            SsoPeopleError::FirmRefuses => "firm_refuses_account",
            SsoPeopleError::AlreadyYours => "already_linked",
            SsoPeopleError::LinkedElsewhere => "linked_to_another_person",
            SsoPeopleError::NoSuchLink => "no_such_link",
            SsoPeopleError::SessionChanged => "session_changed",
            SsoPeopleError::OnlyWayIn { .. } => "only_way_in",
        }
    }
}

/// The sign-in's person and the firm the link or membership came from, if one was made now.
pub struct SignInPerson {
    pub person_id: String,
    pub linked_now: Option<&'static str>,
}

/// (firm id, firm name, policy) of every firm the person belongs to.
async fn firms_of(
    state: &AppState,
    person_id: &str,
) -> Result<Vec<(String, String, FirmPolicy)>, StoreError> {
    let mut out = Vec::new();
    for m in state.store.memberships_of(person_id).await? {
        if let Some(policy) = state.store.firm_policy(&m.firm_id).await? {
            out.push((m.firm_id, m.firm_name, policy));
        }
    }
    Ok(out)
}

/// Who this verified upstream account is, for a sign-in to a client of `client_firm` (`None`: a
/// client serving every firm).
pub async fn resolve(
    state: &AppState,
    identity: &UpstreamIdentity,
    client_firm: Option<&str>,
    actor: &Actor,
) -> Result<SignInPerson, SsoPeopleError> {
    let now = state.clock.now();
    let linked = state
        .store
        .sso_identity(&identity.provider, &identity.issuer, &identity.subject)
        .await?;
    let (person_id, linked_now) = match linked {
        Some(link) => {
            state
                .store
                .touch_sso_identity(&link.id, identity.email.as_deref(), now)
                .await?;
            (link.person_id, None)
        }
        None => {
            let (person_id, how, firm_id) = link_first_time(state, identity, client_firm).await?;
            record_link(state, &person_id, identity, how, Some(&firm_id), actor).await?;
            (person_id, Some(how))
        }
    };
    // SECURITY.md 93 / 94: the firm the sign-in is for must accept this tenant / domain.
    let firms = firms_of(state, &person_id).await?;
    let accepted = firms
        .iter()
        .filter(|(id, _, _)| client_firm.is_none_or(|c| c == id))
        .any(|(_, _, p)| p.sso_trust.accepts(&identity.as_use()));
    if !accepted {
        return Err(SsoPeopleError::FirmRefuses);
    }
    Ok(SignInPerson {
        person_id,
        linked_now,
    })
}

/// An account seen for the first time: link it to an existing person, or let the person join,
/// only as `linking::decide` allows. Returns (person, how, firm).
async fn link_first_time(
    state: &AppState,
    identity: &UpstreamIdentity,
    client_firm: Option<&str>,
) -> Result<(String, &'static str, String), SsoPeopleError> {
    let now = state.clock.now();
    let local_person = match identity.email.as_deref() {
        Some(email) => state.store.person_by_email(email).await?,
        None => None,
    };
    let local_firms = match &local_person {
        Some(p) => firms_of(state, &p.id).await?,
        None => Vec::new(),
    };
    let local = local_person.as_ref().map(|p| LocalAccount {
        person_id: &p.id,
        email_verified: p.email_verified != 0,
        firms: local_firms
            .iter()
            .filter(|(id, _, _)| client_firm.is_none_or(|c| c == id))
            .map(|(id, _, policy)| FirmTrust {
                firm_id: id,
                trust: &policy.sso_trust,
            })
            .collect(),
    });
    let join_candidates: Vec<(String, SsoTrust)> = match client_firm {
        Some(id) => state
            .store
            .firm_policy(id)
            .await?
            .map(|p| vec![(id.to_owned(), p.sso_trust)])
            .unwrap_or_default(),
        None => {
            let mut all = Vec::new();
            for f in state.store.firms_with_sso_join().await? {
                all.push((f.id.clone(), f.policy()?.sso_trust));
            }
            all
        }
    };
    let join_firms: Vec<FirmTrust<'_>> = join_candidates
        .iter()
        .map(|(id, trust)| FirmTrust { firm_id: id, trust })
        .collect();
    match linking::decide(identity, local.as_ref(), &join_firms) {
        Decision::Refuse(r) => Err(SsoPeopleError::Refused(r)),
        Decision::LinkExisting { person_id, firm_id } => {
            insert_link(state, &person_id, identity, now).await?;
            Ok((person_id, "verified_email", firm_id))
        }
        Decision::Join { firm_id } => {
            let email = identity.email.clone().unwrap_or_default();
            let name = identity
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| email.split('@').next().unwrap_or("").to_owned());
            let (person, created) = state
                .store
                .insert_person_if_new(&Person {
                    id: random_id(),
                    email: email.clone(),
                    name,
                    // The upstream vouched for the address (linking::email_vouched).
                    email_verified: 1,
                    password_hash: None,
                    created_at: now,
                    updated_at: now,
                    password_temporary: 0,
                    password_expires_at: None,
                    password_changed_at: None,
                    time_zone: None,
                })
                .await?;
            if !created {
                // Someone with this address appeared meanwhile: decide again next time.
                return Err(SsoPeopleError::Refused(Refusal::NotLinked));
            }
            state
                .store
                .insert_membership(&firm_id, &person.id, "member", now)
                .await?;
            insert_link(state, &person.id, identity, now).await?;
            Ok((person.id, "joined", firm_id))
        }
    }
}

async fn insert_link(
    state: &AppState,
    person_id: &str,
    identity: &UpstreamIdentity,
    now: i64,
) -> Result<(), SsoPeopleError> {
    let inserted = state
        .store
        .insert_sso_identity(&SsoIdentity {
            id: random_id(),
            person_id: person_id.to_owned(),
            provider: identity.provider.clone(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            realm: identity.realm.clone(),
            email: identity.email.clone(),
            created_at: now,
            last_used_at: Some(now),
        })
        .await?;
    if inserted {
        Ok(())
    } else {
        // Linked by a concurrent sign-in a moment ago; never to two people.
        Err(SsoPeopleError::LinkedElsewhere)
    }
}

async fn record_link(
    state: &AppState,
    person_id: &str,
    identity: &UpstreamIdentity,
    how: &str,
    firm_id: Option<&str>,
    actor: &Actor,
) -> Result<(), SsoPeopleError> {
    let now = state.clock.now();
    audit::record(
        &state.store,
        AuditEvent::SsoLinked {
            person_id,
            provider: &identity.provider,
            realm: identity.realm.as_deref(),
            how,
            firm_id,
        },
        actor,
        now,
    )
    .await?;
    if let Some(person) = state.store.person(person_id).await? {
        let label = state.upstreams.label_of(&identity.provider);
        let account = identity.email.as_deref().unwrap_or("an account");
        mail::enqueue(
            &state.store,
            messages::security_notice(
                &person.email,
                &person.name,
                &format!("A {label} account was linked to your firmgate account"),
                &format!(
                    "The {label} account {account} can now sign you in to firmgate. If this was not you, \
                     unlink it on My Profile and tell your firm's administrator."
                ),
            )?,
            now,
        )
        .await?;
        state.mailer.wake();
    }
    Ok(())
}

/// Whether the upstream's MFA stands in for firmgate's own challenge for this person: it says
/// `mfa`, and every firm they belong to accepts the account and trusts that upstream's MFA.
/// (`next_step` checks the firm of each sign-in again.)
pub async fn upstream_mfa_counts(
    state: &AppState,
    person_id: &str,
    identity: &UpstreamIdentity,
) -> Result<bool, StoreError> {
    if !identity.mfa_asserted() {
        return Ok(false);
    }
    let firms = firms_of(state, person_id).await?;
    Ok(!firms.is_empty()
        && firms.iter().all(|(_, _, p)| {
            p.sso_trust.accepts(&identity.as_use()) && p.sso_trust.trusts_mfa_of(&identity.provider)
        }))
}

/// Links an upstream account to the signed-in person (from My Profile).
pub async fn link_from_profile(
    state: &AppState,
    person_id: &str,
    identity: &UpstreamIdentity,
    actor: &Actor,
) -> Result<(), SsoPeopleError> {
    if let Some(existing) = state
        .store
        .sso_identity(&identity.provider, &identity.issuer, &identity.subject)
        .await?
    {
        return Err(if existing.person_id == person_id {
            SsoPeopleError::AlreadyYours
        } else {
            SsoPeopleError::LinkedElsewhere
        });
    }
    insert_link(state, person_id, identity, state.clock.now()).await?;
    record_link(state, person_id, identity, "profile", None, actor).await
}

/// Removes a link, unless it is the person's only way into a firm that requires single sign-on
/// of them.
pub async fn unlink(
    state: &AppState,
    person_id: &str,
    link_id: &str,
    actor: &Actor,
) -> Result<SsoIdentity, SsoPeopleError> {
    let links = state.store.sso_identities_of(person_id).await?;
    let link = links
        .iter()
        .find(|l| l.id == link_id)
        .cloned()
        .ok_or(SsoPeopleError::NoSuchLink)?;
    let remaining: Vec<&SsoIdentity> = links.iter().filter(|l| l.id != link_id).collect();
    for (firm_id, firm_name, policy) in firms_of(state, person_id).await? {
        let standing = state.store.standing(&firm_id, person_id).await?;
        if standing.sso_excluded || policy.sso == SsoMode::Off {
            continue;
        }
        let still_in = remaining.iter().any(|l| {
            let via = UpstreamUse {
                kind: UpstreamKind::of(&l.provider),
                provider: &l.provider,
                realm: l.realm.as_deref(),
            };
            policy
                .verdict_for(standing, None, 0, Some(&via))
                .sso_satisfied
        });
        let this_counts = {
            let via = UpstreamUse {
                kind: UpstreamKind::of(&link.provider),
                provider: &link.provider,
                realm: link.realm.as_deref(),
            };
            policy
                .verdict_for(standing, None, 0, Some(&via))
                .sso_satisfied
        };
        if this_counts && !still_in {
            return Err(SsoPeopleError::OnlyWayIn { firm_name });
        }
    }
    if !state.store.delete_sso_identity(link_id, person_id).await? {
        return Err(SsoPeopleError::NoSuchLink);
    }
    let now = state.clock.now();
    audit::record(
        &state.store,
        AuditEvent::SsoUnlinked {
            person_id,
            provider: &link.provider,
            realm: link.realm.as_deref(),
        },
        actor,
        now,
    )
    .await?;
    if let Some(person) = state.store.person(person_id).await? {
        let label = state.upstreams.label_of(&link.provider);
        mail::enqueue(
            &state.store,
            messages::security_notice(
                &person.email,
                &person.name,
                &format!("A {label} account was unlinked from your firmgate account"),
                &format!(
                    "The {label} account {} can no longer sign you in to firmgate. If this was not you, \
                     change your password and tell your firm's administrator.",
                    link.email.as_deref().unwrap_or("")
                ),
            )?,
            now,
        )
        .await?;
        state.mailer.wake();
    }
    Ok(link)
}
