//! A firm's face on its sign-in pages: its display name and logo when the sign-in is known to be
//! for that firm (the application belongs to it, or the request's `firm` preselects it), and the
//! logo itself at `/branding/{firm}/logo`, served by firmgate so no page loads anything from
//! another origin.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::app::AppState;
use crate::error::PageError;
use crate::store::StoreResult;

/// What the page shows at its top.
#[derive(Clone, Debug)]
pub struct Brand {
    pub firm_id: String,
    pub name: String,
    pub has_logo: bool,
}

pub async fn brand_of(state: &AppState, firm_id: Option<&str>) -> StoreResult<Option<Brand>> {
    let Some(id) = firm_id.filter(|f| f.len() <= 64) else {
        return Ok(None);
    };
    Ok(state.store.firm(id).await?.map(|f| Brand {
        name: if f.display_name.is_empty() {
            f.name.clone()
        } else {
            f.display_name.clone()
        },
        has_logo: !f.logo_type.is_empty(),
        firm_id: f.id,
    }))
}

/// `GET /branding/{firm}/logo`.
pub async fn logo(
    State(state): State<AppState>,
    Path(firm_id): Path<String>,
) -> Result<Response, PageError> {
    if firm_id.len() > 64 {
        return Err(PageError::not_found());
    }
    let Some((content_type, data)) = state.store.firm_logo(&firm_id).await? else {
        return Err(PageError::not_found());
    };
    let bytes = STANDARD
        .decode(data.as_bytes())
        .map_err(|_| PageError::internal())?;
    // Only the two types `admin::branding` stores; anything else is not served as an image.
    let content_type = match content_type.as_str() {
        "image/png" => HeaderValue::from_static("image/png"),
        "image/jpeg" => HeaderValue::from_static("image/jpeg"),
        _ => return Err(PageError::not_found()),
    };
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        bytes,
    )
        .into_response())
}
