//! Which upstream accounts a firm accepts: the Microsoft tenants and Google Workspace domains it
//! trusts, the other OIDC upstreams it lists, the e-mail domains it owns, whether verified people
//! of its own tenant or domain may join on their first sign-in, and whose MFA it believes.
//! Pure: lists in, answers out. Every list is empty by default, and an empty list accepts
//! nothing: a firm that names no tenant accepts no Microsoft sign-in.

/// The kind of upstream a sign-in came through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpstreamKind {
    Microsoft,
    Google,
    /// Any other OpenID provider, known by its configured name.
    Generic,
}

impl UpstreamKind {
    /// The names `microsoft` and `google` are reserved for those two; every other name is a
    /// generic upstream.
    pub fn of(provider: &str) -> UpstreamKind {
        match provider {
            "microsoft" => UpstreamKind::Microsoft,
            "google" => UpstreamKind::Google,
            _ => UpstreamKind::Generic,
        }
    }
}

/// An upstream sign-in as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UpstreamUse<'a> {
    pub kind: UpstreamKind,
    /// The configured name (`microsoft`, `google`, or a generic upstream's name).
    pub provider: &'a str,
    /// Microsoft: the tenant id (`tid`); Google: the Workspace domain (`hd`); generic: none.
    pub realm: Option<&'a str>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SsoTrust {
    /// Entra ID tenant ids (lower-case GUIDs).
    pub microsoft_tenants: Vec<String>,
    /// Google Workspace domains, compared with the `hd` claim.
    pub google_domains: Vec<String>,
    /// Generic upstreams by configured name.
    pub oidc_upstreams: Vec<String>,
    /// E-mail domains the firm owns (for linking Microsoft accounts and just-in-time joining).
    pub email_domains: Vec<String>,
    /// Upstreams whose MFA assertion stands in for firmgate's own challenge.
    pub upstream_mfa: Vec<String>,
    /// Verified people of the firm's own tenant or domain become members at first sign-in.
    pub join: bool,
}

impl SsoTrust {
    /// Whether the firm accepts a sign-in through this upstream account.
    pub fn accepts(&self, via: &UpstreamUse<'_>) -> bool {
        match via.kind {
            UpstreamKind::Microsoft => via
                .realm
                .is_some_and(|tid| self.microsoft_tenants.iter().any(|t| t == tid)),
            UpstreamKind::Google => via
                .realm
                .is_some_and(|hd| self.google_domains.iter().any(|d| d == hd)),
            UpstreamKind::Generic => self.oidc_upstreams.iter().any(|n| n == via.provider),
        }
    }

    /// Whether the upstream's own MFA (its `amr` saying `mfa`) counts as the second factor.
    pub fn trusts_mfa_of(&self, provider: &str) -> bool {
        self.upstream_mfa.iter().any(|p| p == provider)
    }

    /// Whether `email` is at a domain the firm owns (exact domain, case-insensitive).
    pub fn owns_email(&self, email: &str) -> bool {
        email_domain(email).is_some_and(|d| self.email_domains.contains(&d))
    }
}

/// The lower-cased domain of an address with exactly one `@`.
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.split_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}

/// A comma-separated list in its stored form: trimmed, lower-cased, deduplicated, sorted.
fn normalized(list: &str, check: impl Fn(&str) -> Result<(), String>) -> Result<String, String> {
    let mut items: Vec<String> = Vec::new();
    for raw in list.split(',') {
        let item = raw.trim().to_ascii_lowercase();
        if item.is_empty() {
            continue;
        }
        check(&item)?;
        if !items.contains(&item) {
            items.push(item);
        }
    }
    if items.len() > 50 {
        return Err("a list holds at most 50 entries".into());
    }
    items.sort();
    Ok(items.join(","))
}

pub fn split_list(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Entra tenant ids are GUIDs (8-4-4-4-12 hex digits).
pub fn parse_tenants(list: &str) -> Result<String, String> {
    normalized(list, |t| {
        let groups: Vec<&str> = t.split('-').collect();
        let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && t.chars().all(|c| c == '-' || c.is_ascii_hexdigit());
        if shape_ok {
            Ok(())
        } else {
            Err(format!(
                "tenant id {t:?} is not a GUID like 72f988bf-86f1-41af-91ab-2d7cd011db47"
            ))
        }
    })
}

/// The tenant of every personal Microsoft account (outlook.com, hotmail.com, ...).
pub const MICROSOFT_CONSUMER_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// A firm's trusted tenants: GUIDs, and never the consumer tenant, which would accept anyone's
/// personal Microsoft account (SECURITY.md 93).
pub fn parse_firm_tenants(list: &str) -> Result<String, String> {
    let tenants = parse_tenants(list)?;
    if split_list(&tenants)
        .iter()
        .any(|t| t == MICROSOFT_CONSUMER_TENANT)
    {
        return Err(format!(
            "{MICROSOFT_CONSUMER_TENANT} is the tenant of personal Microsoft accounts; a firm lists its own tenant ids"
        ));
    }
    Ok(tenants)
}

/// Domain names: letters, digits, hyphens, at least one dot, no empty label.
pub fn parse_domains(list: &str) -> Result<String, String> {
    normalized(list, |d| {
        let labels_ok = d.len() <= 253
            && d.contains('.')
            && d.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if labels_ok {
            Ok(())
        } else {
            Err(format!("{d:?} is not a domain name like lawfirm.example"))
        }
    })
}

/// Upstream names as configured: lower-case letters, digits and hyphens.
pub fn parse_upstream_names(list: &str) -> Result<String, String> {
    normalized(list, |n| {
        if !n.is_empty()
            && n.len() <= 32
            && n.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            Ok(())
        } else {
            Err(format!(
                "{n:?} is not an upstream name (lower-case letters, digits, hyphens)"
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "11111111-2222-3333-4444-555555555555";

    fn trust() -> SsoTrust {
        SsoTrust {
            microsoft_tenants: vec![TENANT.into()],
            google_domains: vec!["lawfirm.example".into()],
            oidc_upstreams: vec!["okta".into()],
            email_domains: vec!["lawfirm.example".into()],
            upstream_mfa: vec!["microsoft".into()],
            join: false,
        }
    }

    fn via(
        kind: UpstreamKind,
        provider: &'static str,
        realm: Option<&'static str>,
    ) -> UpstreamUse<'static> {
        UpstreamUse {
            kind,
            provider,
            realm,
        }
    }

    /// SECURITY.md 93 and 94: only a listed tenant or Workspace domain; a missing `tid` / `hd`
    /// (a personal account) never matches.
    #[test]
    fn only_listed_tenants_domains_and_upstreams_are_accepted() {
        let t = trust();
        assert!(t.accepts(&via(UpstreamKind::Microsoft, "microsoft", Some(TENANT))));
        for other in [Some("9188040d-6c67-4c5b-b112-36a304b66dad"), Some(""), None] {
            assert!(!t.accepts(&via(UpstreamKind::Microsoft, "microsoft", other)));
        }
        assert!(t.accepts(&via(
            UpstreamKind::Google,
            "google",
            Some("lawfirm.example")
        )));
        for other in [Some("evil.example"), Some("LAWFIRM.EXAMPLE.evil"), None] {
            assert!(!t.accepts(&via(UpstreamKind::Google, "google", other)));
        }
        assert!(t.accepts(&via(UpstreamKind::Generic, "okta", None)));
        assert!(!t.accepts(&via(UpstreamKind::Generic, "other", None)));
        let nothing = SsoTrust::default();
        assert!(!nothing.accepts(&via(UpstreamKind::Microsoft, "microsoft", Some(TENANT))));
        assert!(!nothing.accepts(&via(
            UpstreamKind::Google,
            "google",
            Some("lawfirm.example")
        )));
    }

    #[test]
    fn mfa_trust_and_owned_domains() {
        let t = trust();
        assert!(t.trusts_mfa_of("microsoft") && !t.trusts_mfa_of("google"));
        assert!(t.owns_email("Ann@LawFirm.example"));
        for e in [
            "ann@sub.lawfirm.example",
            "ann@lawfirm.example@evil",
            "lawfirm.example",
            "@lawfirm.example",
        ] {
            assert!(!t.owns_email(e), "{e}");
        }
    }

    #[test]
    fn lists_are_checked_and_normalised() {
        assert_eq!(
            parse_tenants(&format!(" {} , {TENANT},", TENANT.to_uppercase())).unwrap(),
            TENANT
        );
        assert!(parse_tenants("not-a-guid").is_err());
        assert!(parse_firm_tenants(&format!("{TENANT},{MICROSOFT_CONSUMER_TENANT}")).is_err());
        assert_eq!(parse_firm_tenants(TENANT).unwrap(), TENANT);
        assert!(parse_tenants("11111111-2222-3333-4444-55555555555g").is_err());
        assert_eq!(parse_tenants("").unwrap(), "");
        assert_eq!(
            parse_domains("b.example, A.example").unwrap(),
            "a.example,b.example"
        );
        for bad in [
            "localhost",
            "a..example",
            "-a.example",
            "a b.example",
            "a@b.example",
        ] {
            assert!(parse_domains(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_upstream_names("okta,microsoft").unwrap(),
            "microsoft,okta"
        );
        assert!(parse_upstream_names("Ok ta").is_err());
        assert_eq!(split_list(""), Vec::<String>::new());
    }
}
