//! Microsoft Entra ID. The multi-tenant endpoints (`organizations`, `common`) publish the issuer
//! `https://login.microsoftonline.com/{tenantid}/v2.0`: a token is valid only when its `iss` is
//! that template with the token's own `tid` put in. The stable identity is `tid` + `oid` (the
//! issuer names the tenant, the subject is `oid`), never the e-mail or `preferred_username`,
//! which the account's owner or tenant admin can change. The e-mail counts as verified only with
//! `xms_edov` true (the tenant verified the domain).

use super::client::{amr_of, email_of, name_of, Discovered, VerifiedClaims};
use super::{FederationError, UpstreamIdentity};
use crate::policy::sso::{parse_tenants, UpstreamKind};

/// Whether `issuer` is the template with some tenant id put in.
pub fn matches_template(template: &str, issuer: &str) -> bool {
    let Some((head, tail)) = template.split_once("{tenantid}") else {
        return template == issuer;
    };
    issuer
        .strip_prefix(head)
        .and_then(|rest| rest.strip_suffix(tail))
        .is_some_and(|tid| parse_tenants(tid).is_ok_and(|t| !t.is_empty() && t == tid))
}

/// The issuer a token from tenant `tid` must carry.
pub fn expected_issuer(template: &str, tid: &str) -> String {
    template.replace("{tenantid}", tid)
}

/// Reads a verified token: `tid` must be a tenant GUID, `iss` must be the template with that
/// `tid` (SECURITY.md 93), and `oid` must be present.
pub fn identity(
    provider: &str,
    d: &Discovered,
    claims: &VerifiedClaims,
) -> Result<UpstreamIdentity, FederationError> {
    let extra = claims.additional_claims();
    let tid = extra
        .tid
        .as_deref()
        .filter(|t| parse_tenants(t).is_ok_and(|n| n == *t))
        .ok_or_else(|| FederationError::WrongRealm("the token has no tenant id (tid)".into()))?;
    let issuer = claims.issuer().as_str();
    let expected = if d.is_template() {
        expected_issuer(&d.issuer, tid)
    } else {
        d.issuer.clone()
    };
    if issuer != expected {
        return Err(FederationError::TokenRejected(format!(
            "iss {issuer:?} is not the issuer of tenant {tid}"
        )));
    }
    let oid = extra
        .oid
        .as_deref()
        .filter(|o| !o.is_empty() && o.len() <= 64)
        .ok_or_else(|| FederationError::TokenRejected("the token has no object id (oid)".into()))?;
    let edov = match &extra.xms_edov {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s == "true" || s == "1",
        _ => false,
    };
    Ok(UpstreamIdentity {
        provider: provider.to_owned(),
        kind: UpstreamKind::Microsoft,
        issuer: issuer.to_owned(),
        subject: oid.to_owned(),
        realm: Some(tid.to_owned()),
        email: email_of(claims),
        email_verified: edov,
        name: name_of(claims),
        amr: amr_of(claims),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = "https://login.microsoftonline.com/{tenantid}/v2.0";
    const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

    /// SECURITY.md 93: `iss` must be the template with the token's own `tid`.
    #[test]
    fn the_issuer_template_takes_exactly_a_tenant_id() {
        assert!(matches_template(TEMPLATE, &expected_issuer(TEMPLATE, TID)));
        for bad in [
            "https://login.microsoftonline.com/common/v2.0",
            "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/extra",
            "https://evil.example/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
            "https://login.microsoftonline.com//v2.0",
            "https://login.microsoftonline.com/72F988BF-86F1-41AF-91AB-2D7CD011DB47/v2.0",
        ] {
            assert!(!matches_template(TEMPLATE, bad), "{bad}");
        }
        assert!(matches_template("https://a.example", "https://a.example"));
        assert!(!matches_template("https://a.example", "https://b.example"));
    }
}
