//! What a firm's sign-in pages show: a display name and a logo. The logo is kept in the database
//! and served by firmgate itself (`/branding/{firm}/logo`), so the pages load nothing from
//! another origin. Only PNG and JPEG (recognised by their first bytes, not by a file name) up to
//! 48 KiB: no SVG, which can carry script.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::AdminError;
use crate::app::AppState;
use crate::audit::{self, Actor, AuditEvent};

pub const MAX_LOGO_BYTES: usize = 48 * 1024;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// The content type of an image firmgate accepts as a logo.
pub fn logo_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A display name: trimmed, 0 to 100 characters (empty: the firm's name), no control characters.
pub fn check_display_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(AdminError::Invalid(format!(
            "a display name has at most {MAX_DISPLAY_NAME_CHARS} characters and no control characters"
        )));
    }
    Ok(name.to_owned())
}

pub fn check_logo(bytes: &[u8]) -> Result<&'static str, AdminError> {
    if bytes.is_empty() {
        return Err(AdminError::Invalid("the logo file is empty".into()));
    }
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(AdminError::Invalid(format!(
            "the logo is {} KiB; at most {} KiB",
            bytes.len().div_ceil(1024),
            MAX_LOGO_BYTES / 1024
        )));
    }
    logo_type(bytes)
        .ok_or_else(|| AdminError::Invalid("the logo must be a PNG or JPEG image".into()))
}

/// A branding change; `None` leaves that part as it is. `logo: Some(None)` removes the logo.
#[derive(Debug, Default)]
pub struct BrandingChange {
    pub display_name: Option<String>,
    pub logo: Option<Option<Vec<u8>>>,
}

/// Checks everything first (one bad value changes nothing), then stores and audits.
pub async fn set_branding(
    state: &AppState,
    firm_id: &str,
    change: &BrandingChange,
    actor: &Actor,
) -> Result<(), AdminError> {
    let firm = state
        .store
        .firm(firm_id)
        .await?
        .ok_or_else(|| AdminError::NoSuchFirm(firm_id.to_owned()))?;
    let name = change
        .display_name
        .as_deref()
        .map(check_display_name)
        .transpose()?;
    let logo = match &change.logo {
        Some(Some(bytes)) => Some(Some((check_logo(bytes)?, STANDARD.encode(bytes)))),
        Some(None) => Some(None),
        None => None,
    };
    let now = state.clock.now();
    if let Some(name) = name.filter(|n| *n != firm.display_name) {
        state.store.set_firm_display_name(firm_id, &name).await?;
        audit::record(
            &state.store,
            AuditEvent::PolicyChanged {
                firm_id,
                setting: "display_name",
                old: &firm.display_name,
                new: &name,
            },
            actor,
            now,
        )
        .await?;
    }
    if let Some(logo) = logo {
        let (content_type, data) = logo.unwrap_or_default();
        state
            .store
            .set_firm_logo(firm_id, content_type, &data)
            .await?;
        let new = if data.is_empty() {
            String::new()
        } else {
            format!("{content_type}, {} bytes", data.len() / 4 * 3)
        };
        audit::record(
            &state.store,
            AuditEvent::PolicyChanged {
                firm_id,
                setting: "logo",
                old: &firm.logo_type,
                new: &new,
            },
            actor,
            now,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_png_and_jpeg_up_to_the_limit() {
        assert_eq!(logo_type(b"\x89PNG\r\n\x1a\nrest"), Some("image/png"));
        assert_eq!(logo_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        for bad in [&b"<svg onload=alert(1)>"[..], b"GIF89a", b"", b"\x89PNG"] {
            assert!(check_logo(bad).is_err(), "{bad:?}");
        }
        let mut big = b"\x89PNG\r\n\x1a\n".to_vec();
        big.resize(MAX_LOGO_BYTES + 1, 0);
        assert!(check_logo(&big).is_err());
        big.truncate(MAX_LOGO_BYTES);
        assert_eq!(check_logo(&big).unwrap(), "image/png");
        assert_eq!(check_display_name("  Smith & Co  ").unwrap(), "Smith & Co");
        assert!(check_display_name("a\u{0}b").is_err());
        assert!(check_display_name(&"x".repeat(101)).is_err());
    }
}
