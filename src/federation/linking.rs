//! Who an upstream account with no link yet belongs to. Pure.
//!
//! An existing person is linked only when (SECURITY.md 91, 92; the "nOAuth" takeover):
//! - their own address is proven (they used an e-mailed link or temporary password), and
//! - one of their firms accepts this upstream account (tenant, Workspace domain, upstream name)
//!   and takes its word for the e-mail: Google `email_verified`, Microsoft `xms_edov`, or a
//!   tenant the firm trusts with an address at a domain the firm owns.
//!
//! Nobody else is matched by e-mail. A new person joins a firm just in time only where the firm
//! allows it, accepts the account and takes its word for the e-mail. Everything else is refused
//! with the advice to sign in and link the account from My Profile.

use super::UpstreamIdentity;
use crate::policy::sso::{SsoTrust, UpstreamKind};

/// A firm as linking sees it.
#[derive(Clone, Copy, Debug)]
pub struct FirmTrust<'a> {
    pub firm_id: &'a str,
    pub trust: &'a SsoTrust,
}

/// The local person whose address equals the upstream's e-mail.
#[derive(Clone, Debug)]
pub struct LocalAccount<'a> {
    pub person_id: &'a str,
    pub email_verified: bool,
    /// The firms they belong to.
    pub firms: Vec<FirmTrust<'a>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Link to this existing person (`firm_id`: the firm whose trust allowed it).
    LinkExisting {
        person_id: String,
        firm_id: String,
    },
    /// Create the person and make them a member of this firm.
    Join {
        firm_id: String,
    },
    Refuse(Refusal),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// No safe way to tell who this is: sign in and link from My Profile.
    NotLinked,
    /// Several firms would take a new person in: firmgate will not guess.
    Ambiguous,
}

impl Refusal {
    pub fn reason(self) -> &'static str {
        match self {
            Refusal::NotLinked => "not_linked",
            Refusal::Ambiguous => "ambiguous_firm",
        }
    }
}

/// Whether `firm` accepts this account and takes its word for the e-mail address.
pub fn email_vouched(identity: &UpstreamIdentity, firm: &SsoTrust) -> bool {
    let Some(email) = identity.email.as_deref() else {
        return false;
    };
    if !firm.accepts(&identity.as_use()) {
        return false;
    }
    identity.email_verified || (identity.kind == UpstreamKind::Microsoft && firm.owns_email(email))
}

/// The decision for an upstream account that is not linked yet. `local` is the person with the
/// same address, if any; `join_firms` the firms that allow just-in-time membership and could be
/// meant (the relying party's firm, or every such firm for a firm-neutral client).
pub fn decide(
    identity: &UpstreamIdentity,
    local: Option<&LocalAccount<'_>>,
    join_firms: &[FirmTrust<'_>],
) -> Decision {
    if let Some(local) = local {
        if !local.email_verified {
            return Decision::Refuse(Refusal::NotLinked);
        }
        return match local
            .firms
            .iter()
            .find(|f| email_vouched(identity, f.trust))
        {
            Some(f) => Decision::LinkExisting {
                person_id: local.person_id.to_owned(),
                firm_id: f.firm_id.to_owned(),
            },
            None => Decision::Refuse(Refusal::NotLinked),
        };
    }
    let eligible: Vec<&FirmTrust<'_>> = join_firms
        .iter()
        .filter(|f| f.trust.join && email_vouched(identity, f.trust))
        // A generic upstream names no tenant or domain: the address must be the firm's own.
        .filter(|f| {
            identity.kind != UpstreamKind::Generic
                || identity
                    .email
                    .as_deref()
                    .is_some_and(|e| f.trust.owns_email(e))
        })
        .collect();
    match eligible.as_slice() {
        [only] => Decision::Join {
            firm_id: only.firm_id.to_owned(),
        },
        [] => Decision::Refuse(Refusal::NotLinked),
        _ => Decision::Refuse(Refusal::Ambiguous),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "11111111-2222-3333-4444-555555555555";

    fn microsoft(email_verified: bool, tenant: &str, email: &str) -> UpstreamIdentity {
        UpstreamIdentity {
            provider: "microsoft".into(),
            kind: UpstreamKind::Microsoft,
            issuer: format!("https://login.microsoftonline.com/{tenant}/v2.0"),
            subject: "oid-1".into(),
            realm: Some(tenant.into()),
            email: Some(email.into()),
            email_verified,
            name: None,
            amr: vec![],
        }
    }

    fn google(email_verified: bool, hd: Option<&str>) -> UpstreamIdentity {
        UpstreamIdentity {
            provider: "google".into(),
            kind: UpstreamKind::Google,
            issuer: "https://accounts.google.com".into(),
            subject: "1234".into(),
            realm: hd.map(str::to_owned),
            email: Some("ann@lawfirm.example".into()),
            email_verified,
            name: None,
            amr: vec![],
        }
    }

    fn trust(join: bool) -> SsoTrust {
        SsoTrust {
            microsoft_tenants: vec![TENANT.into()],
            google_domains: vec!["lawfirm.example".into()],
            email_domains: vec!["lawfirm.example".into()],
            join,
            ..SsoTrust::default()
        }
    }

    fn local<'a>(verified: bool, t: &'a SsoTrust) -> LocalAccount<'a> {
        LocalAccount {
            person_id: "p1",
            email_verified: verified,
            firms: vec![FirmTrust {
                firm_id: "f1",
                trust: t,
            }],
        }
    }

    fn link() -> Decision {
        Decision::LinkExisting {
            person_id: "p1".into(),
            firm_id: "f1".into(),
        }
    }

    const NOT_LINKED: Decision = Decision::Refuse(Refusal::NotLinked);

    /// SECURITY.md 92: no automatic link without a verified upstream e-mail (or the firm's own
    /// tenant and domain for Microsoft), nor to a local account whose address is unproven.
    #[test]
    fn existing_people_are_linked_only_on_a_vouched_address() {
        let t = trust(false);
        let l = local(true, &t);
        assert_eq!(
            decide(&microsoft(true, TENANT, "x@other.example"), Some(&l), &[]),
            link()
        );
        assert_eq!(
            decide(
                &microsoft(false, TENANT, "ann@lawfirm.example"),
                Some(&l),
                &[]
            ),
            link(),
            "trusted tenant, owned domain"
        );
        assert_eq!(
            decide(
                &microsoft(false, TENANT, "ann@other.example"),
                Some(&l),
                &[]
            ),
            NOT_LINKED,
            "unverified, domain not the firm's"
        );
        let other_tenant = "99999999-2222-3333-4444-555555555555";
        assert_eq!(
            decide(
                &microsoft(true, other_tenant, "ann@lawfirm.example"),
                Some(&l),
                &[]
            ),
            NOT_LINKED,
            "tenant not trusted"
        );
        assert_eq!(
            decide(&google(true, Some("lawfirm.example")), Some(&l), &[]),
            link()
        );
        assert_eq!(
            decide(&google(false, Some("lawfirm.example")), Some(&l), &[]),
            NOT_LINKED,
            "email_verified false"
        );
        assert_eq!(
            decide(&google(true, None), Some(&l), &[]),
            NOT_LINKED,
            "no hd"
        );
        assert_eq!(
            decide(&google(true, Some("evil.example")), Some(&l), &[]),
            NOT_LINKED,
            "other hd"
        );
        let unproven = local(false, &t);
        assert_eq!(
            decide(&google(true, Some("lawfirm.example")), Some(&unproven), &[]),
            NOT_LINKED,
            "local address unproven"
        );
        let mut no_email = google(true, Some("lawfirm.example"));
        no_email.email = None;
        assert_eq!(decide(&no_email, Some(&l), &[]), NOT_LINKED);
    }

    #[test]
    fn new_people_join_only_a_firm_that_allows_it() {
        let on = trust(true);
        let off = trust(false);
        let f = |id, t| FirmTrust {
            firm_id: id,
            trust: t,
        };
        let g = google(true, Some("lawfirm.example"));
        assert_eq!(
            decide(&g, None, &[f("f1", &on)]),
            Decision::Join {
                firm_id: "f1".into()
            }
        );
        assert_eq!(decide(&g, None, &[f("f1", &off)]), NOT_LINKED);
        assert_eq!(
            decide(
                &google(false, Some("lawfirm.example")),
                None,
                &[f("f1", &on)]
            ),
            NOT_LINKED
        );
        assert_eq!(
            decide(&g, None, &[f("f1", &on), f("f2", &on)]),
            Decision::Refuse(Refusal::Ambiguous)
        );
        assert_eq!(decide(&g, None, &[]), NOT_LINKED);
        let generic = UpstreamIdentity {
            provider: "okta".into(),
            kind: UpstreamKind::Generic,
            realm: None,
            ..g
        };
        let with_okta = SsoTrust {
            oidc_upstreams: vec!["okta".into()],
            ..trust(true)
        };
        assert_eq!(
            decide(&generic, None, &[f("f1", &with_okta)]),
            Decision::Join {
                firm_id: "f1".into()
            }
        );
        let foreign = UpstreamIdentity {
            email: Some("ann@gmail.example".into()),
            ..generic
        };
        assert_eq!(
            decide(&foreign, None, &[f("f1", &with_okta)]),
            NOT_LINKED,
            "a generic upstream's address must be the firm's"
        );
    }
}
