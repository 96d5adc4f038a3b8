//! Registered relying parties.

use std::sync::Arc;
use std::time::Instant;

use sqlx::{FromRow, Row};

use super::{words, Store, StoreError, StoreResult};

#[derive(Clone, Debug)]
pub struct ClientRecord {
    pub id: String,
    pub name: String,
    /// Namespaced SHA-256 of the server-generated secret; `None` for public clients.
    pub secret_hash: Option<String>,
    pub auth_method: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub first_party: bool,
    pub firm_id: Option<String>,
    pub signing_alg: String,
    pub access_token_ttl_secs: Option<i64>,
    pub refresh_token_ttl_secs: Option<i64>,
    pub created_at: i64,
    /// OpenID Connect Back-Channel Logout 1.0: where logout tokens go (`None`: nowhere).
    pub backchannel_logout_uri: Option<String>,
}

#[derive(FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    first_party: i64,
    firm_id: Option<String>,
    signing_alg: String,
    access_token_ttl_secs: Option<i64>,
    refresh_token_ttl_secs: Option<i64>,
    created_at: i64,
    backchannel_logout_uri: String,
}

fn json_list(text: &str) -> StoreResult<Vec<String>> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

impl TryFrom<ClientRow> for ClientRecord {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> StoreResult<Self> {
        Ok(ClientRecord {
            redirect_uris: json_list(&r.redirect_uris)?,
            post_logout_redirect_uris: json_list(&r.post_logout_redirect_uris)?,
            grant_types: words(&r.grant_types),
            first_party: r.first_party != 0,
            id: r.id,
            name: r.name,
            secret_hash: r.secret_hash,
            auth_method: r.auth_method,
            firm_id: r.firm_id,
            signing_alg: r.signing_alg,
            access_token_ttl_secs: r.access_token_ttl_secs,
            refresh_token_ttl_secs: r.refresh_token_ttl_secs,
            created_at: r.created_at,
            backchannel_logout_uri: Some(r.backchannel_logout_uri).filter(|u| !u.is_empty()),
        })
    }
}

impl Store {
    pub async fn insert_client(&self, c: &ClientRecord) -> StoreResult<()> {
        let uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let logout_uris = serde_json::to_string(&c.post_logout_redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, auth_method, redirect_uris, \
             post_logout_redirect_uris, grant_types, first_party, firm_id, signing_alg, \
                          access_token_ttl_secs, refresh_token_ttl_secs, created_at, backchannel_logout_uri) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(&c.auth_method)
        .bind(uris)
        .bind(logout_uris)
        .bind(c.grant_types.join(" "))
        .bind(i64::from(c.first_party))
        .bind(&c.firm_id)
        .bind(&c.signing_alg)
        .bind(c.access_token_ttl_secs)
                .bind(c.refresh_token_ttl_secs)
        .bind(c.created_at)
        .bind(c.backchannel_logout_uri.as_deref().unwrap_or(""))
        .execute(self.writer())
        .await?;
        Ok(())
    }

    /// Creates firmgate's own client, or brings its redirect URIs up to date with the issuer.
    pub async fn upsert_builtin_client(&self, c: &ClientRecord) -> StoreResult<()> {
        let uris = serde_json::to_string(&c.redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let logout_uris = serde_json::to_string(&c.post_logout_redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, auth_method, redirect_uris, \
             post_logout_redirect_uris, grant_types, first_party, firm_id, signing_alg, \
             access_token_ttl_secs, refresh_token_ttl_secs, created_at) \
             VALUES ($1, $2, NULL, $3, $4, $5, $6, $7, NULL, $8, $9, NULL, $10) \
             ON CONFLICT (id) DO UPDATE SET redirect_uris = excluded.redirect_uris, \
             post_logout_redirect_uris = excluded.post_logout_redirect_uris",
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.auth_method)
        .bind(uris)
        .bind(logout_uris)
        .bind(c.grant_types.join(" "))
        .bind(i64::from(c.first_party))
        .bind(&c.signing_alg)
        .bind(c.access_token_ttl_secs)
        .bind(c.created_at)
        .execute(self.writer())
        .await?;
        self.clients.forget(&c.id);
        Ok(())
    }

    /// The client `id`, from this node's memory when read less than
    /// [`CLIENT_CACHE_TTL`](super::client_cache::CLIENT_CACHE_TTL) ago.
    pub async fn client(&self, id: &str) -> StoreResult<Option<ClientRecord>> {
        let now = Instant::now();
        if let Some(record) = self.clients.fresh(id, now) {
            return Ok(Some(ClientRecord::clone(&record)));
        }
        let Some(record) = self.read_client(id).await? else {
            return Ok(None);
        };
        self.clients.remember(Arc::new(record.clone()), now);
        Ok(Some(record))
    }

    async fn read_client(&self, id: &str) -> StoreResult<Option<ClientRecord>> {
        let row = sqlx::query_as::<_, ClientRow>(
            "SELECT id, name, secret_hash, auth_method, redirect_uris, post_logout_redirect_uris, \
             grant_types, first_party, firm_id, signing_alg, access_token_ttl_secs, \
             refresh_token_ttl_secs, created_at, backchannel_logout_uri FROM clients WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(ClientRecord::try_from).transpose()
    }

    /// The clients bound to one firm, by name.
    pub async fn clients_of_firm(&self, firm_id: &str) -> StoreResult<Vec<ClientRecord>> {
        let rows = sqlx::query("SELECT id FROM clients WHERE firm_id = $1 ORDER BY name, id")
            .bind(firm_id)
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in rows {
            if let Some(c) = self.client(&r.try_get::<String, _>("id")?).await? {
                out.push(c);
            }
        }
        Ok(out)
    }

    /// Replaces a firm's client's redirect URIs; `false` unless the client is bound to that firm.
    pub async fn set_client_uris(
        &self,
        firm_id: &str,
        client_id: &str,
        redirect_uris: &[String],
        post_logout_redirect_uris: &[String],
    ) -> StoreResult<bool> {
        let uris =
            serde_json::to_string(redirect_uris).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let logout = serde_json::to_string(post_logout_redirect_uris)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let n = sqlx::query(
            "UPDATE clients SET redirect_uris = $1, post_logout_redirect_uris = $2 WHERE id = $3 AND firm_id = $4",
        )
        .bind(uris)
        .bind(logout)
        .bind(client_id)
        .bind(firm_id)
        .execute(self.writer())
        .await?
        .rows_affected();
        self.clients.forget(client_id);
        Ok(n == 1)
    }

    /// Replaces a firm's confidential client's secret hash. The old secret stops at once on this
    /// node, and on the others within the client cache's TTL.
    pub async fn set_client_secret(
        &self,
        firm_id: &str,
        client_id: &str,
        secret_hash: &str,
    ) -> StoreResult<bool> {
        let n = sqlx::query(
            "UPDATE clients SET secret_hash = $1 WHERE id = $2 AND firm_id = $3 AND secret_hash IS NOT NULL",
        )
        .bind(secret_hash)
        .bind(client_id)
        .bind(firm_id)
        .execute(self.writer())
        .await?
        .rows_affected();
        self.clients.forget(client_id);
        Ok(n == 1)
    }

    pub async fn count_clients(&self) -> StoreResult<i64> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM clients")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")?)
    }

    /// The longest access-token lifetime any client has (for key retirement).
    pub async fn max_client_access_ttl(&self) -> StoreResult<Option<i64>> {
        let row = sqlx::query("SELECT MAX(access_token_ttl_secs) AS m FROM clients")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<Option<i64>, _>("m")?)
    }

    /// The oldest client with this display name (the demo looks its client up this way).
    pub async fn client_by_name(&self, name: &str) -> StoreResult<Option<ClientRecord>> {
        let row =
            sqlx::query("SELECT id FROM clients WHERE name = $1 ORDER BY created_at, id LIMIT 1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?;
        match row {
            Some(r) => self.client(&r.try_get::<String, _>("id")?).await,
            None => Ok(None),
        }
    }
}
