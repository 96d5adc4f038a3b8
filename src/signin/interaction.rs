//! Interactions as the pages see them: the stored authorization request plus what the journey
//! has learned so far, loaded only by the browser that started it.

use crate::app::AppState;
use crate::crypto::bearer::random_id;
use crate::error::PageError;
use crate::oidc::request::AuthorizationRequest;
use crate::store::interactions::InteractionRecord;
use crate::store::Reader;
use crate::web::browser::Browser;

#[derive(Debug, Clone)]
pub struct Interaction {
    pub record: InteractionRecord,
    pub request: AuthorizationRequest,
}

impl Interaction {
    pub fn id(&self) -> &str {
        &self.record.id
    }
}

pub async fn start(
    state: &AppState,
    browser: &Browser,
    request: &AuthorizationRequest,
) -> Result<Interaction, PageError> {
    let now = state.clock.now();
    let ttl = i64::try_from(state.settings.interaction_ttl.as_secs()).unwrap_or(1800);
    let record = InteractionRecord {
        id: random_id(),
        browser_hash: browser.binding_hash(),
        client_id: request.client_id.clone(),
        request: serde_json::to_string(request).map_err(|_| PageError::internal())?,
        firm_id: None,
        authenticated_session_id: None,
        consent: None,
        created_at: now,
        expires_at: now + ttl,
        completed_at: None,
        mfa_offer: None,
    };
    state.store.insert_interaction(&record).await?;
    Ok(Interaction {
        record,
        request: request.clone(),
    })
}

/// Loads the interaction named by a page, refusing one that belongs to another browser, has
/// expired or was already completed.
pub async fn load(
    state: &AppState,
    browser: &Browser,
    id: Option<&str>,
) -> Result<Interaction, PageError> {
    load_with(&mut state.store.reader().await?, state, browser, id).await
}

/// As `load`, through `reader` with the page's other reads.
pub async fn load_with(
    reader: &mut Reader,
    state: &AppState,
    browser: &Browser,
    id: Option<&str>,
) -> Result<Interaction, PageError> {
    let id = id
        .filter(|i| i.len() <= 64)
        .ok_or_else(PageError::expired)?;
    let record = reader
        .open_interaction(id, &browser.binding_hash(), state.clock.now())
        .await?
        .ok_or_else(PageError::expired)?;
    let request: AuthorizationRequest =
        serde_json::from_str(&record.request).map_err(|_| PageError::internal())?;
    Ok(Interaction { record, request })
}
