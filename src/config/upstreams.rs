//! Upstream OpenID providers in the settings: Microsoft and Google from `FIRMGATE_MICROSOFT_*` /
//! `FIRMGATE_GOOGLE_*` (or the file's `[microsoft]` / `[google]`), generic ones from the file's
//! `[[upstream]]`. A provider is configured when its client id is set; its secret must be too.

use std::collections::BTreeMap;

use url::Url;

use super::{is_loopback_host, ConfigError, FileSettings, SecretString};

/// One upstream OpenID provider firmgate is a relying party of.
#[derive(Clone, Debug)]
pub struct UpstreamSettings {
    /// `microsoft`, `google`, or a generic upstream's name: the callback is
    /// `{issuer}/sso/{name}/callback`.
    pub name: String,
    pub label: String,
    pub kind: crate::policy::sso::UpstreamKind,
    pub client_id: String,
    pub client_secret: SecretString,
    /// The issuer-like base whose `/.well-known/openid-configuration` is fetched.
    pub discovery_url: Url,
}

pub const MICROSOFT_DISCOVERY_URL: &str = "https://login.microsoftonline.com/organizations/v2.0";
pub const GOOGLE_DISCOVERY_URL: &str = "https://accounts.google.com";

/// The discovery base of an upstream: https (http only on loopback, for tests and development).
fn upstream_url(name: &str, text: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::Invalid {
        name: "upstream discovery_url",
        reason: format!("{name}: {reason}"),
    };
    let url = Url::parse(text.trim()).map_err(|e| invalid(format!("{text:?}: {e}")))?;
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(&url));
    if !scheme_ok || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(format!(
            "{text:?} must be an https URL without query or fragment (http only on loopback)"
        )));
    }
    Ok(url)
}

fn upstream(
    name: &str,
    label: &str,
    kind: crate::policy::sso::UpstreamKind,
    client_id: Option<String>,
    client_secret: Option<String>,
    discovery_url: Option<&str>,
    default_discovery: &str,
) -> Result<Option<UpstreamSettings>, ConfigError> {
    let Some(client_id) = client_id.filter(|c| !c.trim().is_empty()) else {
        return Ok(None);
    };
    let client_secret =
        client_secret
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError::Invalid {
                name: "upstream client_secret",
                reason: format!("{name}: a client id is set but no client secret"),
            })?;
    Ok(Some(UpstreamSettings {
        name: name.to_owned(),
        label: label.to_owned(),
        kind,
        client_id: client_id.trim().to_owned(),
        client_secret: SecretString::new(client_secret),
        discovery_url: upstream_url(name, discovery_url.unwrap_or(default_discovery))?,
    }))
}

/// Microsoft and Google (environment over file), then the file's generic upstreams.
pub(super) fn upstreams(
    env: &BTreeMap<String, String>,
    file: &FileSettings,
) -> Result<Vec<UpstreamSettings>, ConfigError> {
    use crate::policy::sso::UpstreamKind;
    let mut out = Vec::new();
    for (name, label, kind, prefix, from_file, default) in [
        (
            "microsoft",
            "Microsoft",
            UpstreamKind::Microsoft,
            "FIRMGATE_MICROSOFT",
            &file.microsoft,
            MICROSOFT_DISCOVERY_URL,
        ),
        (
            "google",
            "Google",
            UpstreamKind::Google,
            "FIRMGATE_GOOGLE",
            &file.google,
            GOOGLE_DISCOVERY_URL,
        ),
    ] {
        let pick = |suffix: &str, f: Option<&String>| {
            env.get(&format!("{prefix}_{suffix}"))
                .cloned()
                .or_else(|| f.cloned())
        };
        let f = from_file.as_ref();
        if f.is_some_and(|f| f.name.is_some() || f.label.is_some()) {
            return Err(ConfigError::Invalid {
                name: "upstream",
                reason: format!("[{name}] takes client_id, client_secret and discovery_url only"),
            });
        }
        out.extend(upstream(
            name,
            label,
            kind,
            pick("CLIENT_ID", f.and_then(|f| f.client_id.as_ref())),
            pick("CLIENT_SECRET", f.and_then(|f| f.client_secret.as_ref())),
            pick("DISCOVERY_URL", f.and_then(|f| f.discovery_url.as_ref())).as_deref(),
            default,
        )?);
    }
    for u in &file.upstream {
        let name = u.name.clone().unwrap_or_default();
        crate::policy::sso::parse_upstream_names(&name)
            .ok()
            .filter(|n| *n == name && !name.is_empty() && name != "microsoft" && name != "google")
            .ok_or_else(|| ConfigError::Invalid {
                name: "upstream name",
                reason: format!(
                    "{name:?}: lower-case letters, digits and hyphens, unique, not microsoft or google"
                ),
            })?;
        if out.iter().any(|o| o.name == name) {
            return Err(ConfigError::Invalid {
                name: "upstream name",
                reason: format!("{name:?} is configured twice"),
            });
        }
        let discovery = u
            .discovery_url
            .clone()
            .ok_or_else(|| ConfigError::Invalid {
                name: "upstream discovery_url",
                reason: format!("{name}: a generic upstream needs its discovery_url"),
            })?;
        let label = u.label.clone().unwrap_or_else(|| name.clone());
        let configured = upstream(
            &name,
            &label,
            UpstreamKind::Generic,
            u.client_id.clone(),
            u.client_secret.clone(),
            Some(&discovery),
            &discovery,
        )?
        .ok_or_else(|| ConfigError::Invalid {
            name: "upstream client_id",
            reason: format!("{name}: a generic upstream needs its client_id"),
        })?;
        out.push(configured);
    }
    Ok(out)
}
