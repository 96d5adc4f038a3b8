//! `firmgate firm brand`: what a firm's sign-in page shows (`admin::branding` has the rules).

use serde_json::json;

use super::{cli_actor, print, CliError};
use crate::admin::branding::{set_branding, BrandingChange, MAX_LOGO_BYTES};
use crate::admin::AdminError;
use crate::app::AppState;

/// Reads at most one byte past the limit, so a huge file is refused without reading it all.
fn read_logo(path: &std::path::Path) -> Result<Vec<u8>, AdminError> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(u64::try_from(MAX_LOGO_BYTES).unwrap_or(u64::MAX) + 1)
                .read_to_end(&mut bytes)
        })
        .map_err(|e| AdminError::Invalid(format!("cannot read {}: {e}", path.display())))?;
    Ok(bytes)
}

pub(super) async fn run(
    state: &AppState,
    firm: &str,
    display_name: Option<String>,
    logo: Option<std::path::PathBuf>,
    remove_logo: bool,
    json_out: bool,
) -> Result<(), CliError> {
    let logo = match (logo, remove_logo) {
        (Some(path), _) => Some(Some(read_logo(&path)?)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    let change = BrandingChange { display_name, logo };
    set_branding(state, firm, &change, &cli_actor()).await?;
    let stored = state
        .store
        .firm(firm)
        .await
        .map_err(AdminError::from)?
        .ok_or_else(|| AdminError::NoSuchFirm(firm.to_owned()))?;
    let logo_type = (!stored.logo_type.is_empty()).then_some(stored.logo_type.as_str());
    print(
        json_out,
        &json!({ "id": stored.id, "display_name": stored.display_name, "logo": logo_type }),
        &format!(
            "firm {}: display name {:?}, logo {}",
            stored.id,
            stored.display_name,
            logo_type.unwrap_or("none")
        ),
    );
    Ok(())
}
