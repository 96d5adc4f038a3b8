//! Minting tokens: JWT access tokens (RFC 9068: `typ: at+jwt`, iss, sub, aud, exp, iat, jti,
//! client_id, scope) and ID tokens (OIDC Core §2: iss, sub, aud, azp, exp, iat, auth_time,
//! nonce, at_hash, sid, amr, acr), signed with the client's algorithm (RS256 by default).
//! Access tokens of a grant carry its id (`gid`) so revoking the grant revokes them.

use serde_json::{json, Map, Value};

use super::claims::{firm_claims, person_claims, requested};
use crate::app::AppState;
use crate::crypto::bearer::random_id;
use crate::crypto::jwt::{self, half_hash, JwtError};
use crate::crypto::keys::SigningAlg;
use crate::store::clients::ClientRecord;
use crate::store::people::{Membership, Person};

/// A grant's facts, as the minting functions need them.
pub struct UserGrant<'a> {
    pub grant_id: &'a str,
    pub client: &'a ClientRecord,
    pub person: &'a Person,
    pub membership: &'a Membership,
    pub scope: &'a str,
    pub claims: Option<&'a str>,
    pub auth_time: i64,
    pub amr: &'a str,
    pub acr: &'a str,
    pub session_id: Option<&'a str>,
}

pub fn client_alg(client: &ClientRecord) -> SigningAlg {
    SigningAlg::parse(&client.signing_alg).unwrap_or(SigningAlg::Rs256)
}

pub fn access_ttl(state: &AppState, client: &ClientRecord) -> i64 {
    client
        .access_token_ttl_secs
        .unwrap_or_else(|| i64::try_from(state.settings.access_token_ttl.as_secs()).unwrap_or(3600))
}

pub fn refresh_ttl(state: &AppState, client: &ClientRecord) -> i64 {
    client.refresh_token_ttl_secs.unwrap_or_else(|| {
        i64::try_from(state.settings.refresh_token_ttl.as_secs()).unwrap_or(21 * 86400)
    })
}

fn sign(state: &AppState, alg: SigningAlg, typ: &str, claims: &Value) -> Result<String, JwtError> {
    jwt::sign(&state.keys.current(), alg, typ, claims, state.clock.now())
}

/// A user access token for `g`.
pub fn user_access_token(state: &AppState, g: &UserGrant<'_>) -> Result<String, JwtError> {
    let now = state.clock.now();
    let mut c = Map::new();
    c.insert("iss".into(), json!(state.issuer()));
    c.insert("sub".into(), json!(g.person.id));
    c.insert("aud".into(), json!(g.client.id));
    c.insert("client_id".into(), json!(g.client.id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + access_ttl(state, g.client)));
    c.insert("jti".into(), json!(random_id()));
    c.insert("scope".into(), json!(g.scope));
    c.insert("auth_time".into(), json!(g.auth_time));
    c.insert("gid".into(), json!(g.grant_id));
    if let Some(sid) = g.session_id {
        c.insert("sid".into(), json!(sid));
    }
    c.extend(firm_claims(g.membership));
    sign(state, client_alg(g.client), "at+jwt", &Value::Object(c))
}

/// An ID token for `g`; `nonce` only on the code flow, never on refresh (OIDC Core §12.2).
pub fn id_token(
    state: &AppState,
    g: &UserGrant<'_>,
    access_token: &str,
    nonce: Option<&str>,
) -> Result<String, JwtError> {
    let now = state.clock.now();
    let alg = client_alg(g.client);
    let mut c = Map::new();
    c.insert("iss".into(), json!(state.issuer()));
    c.insert("sub".into(), json!(g.person.id));
    c.insert("aud".into(), json!(g.client.id));
    c.insert("azp".into(), json!(g.client.id));
    c.insert("iat".into(), json!(now));
    c.insert("exp".into(), json!(now + access_ttl(state, g.client)));
    c.insert("auth_time".into(), json!(g.auth_time));
    c.insert("at_hash".into(), json!(half_hash(alg, access_token)));
    c.insert(
        "amr".into(),
        json!(g.amr.split_whitespace().collect::<Vec<_>>()),
    );
    c.insert("acr".into(), json!(g.acr));
    if let Some(sid) = g.session_id {
        c.insert("sid".into(), json!(sid));
    }
    if let Some(n) = nonce {
        c.insert("nonce".into(), json!(n));
    }
    c.extend(firm_claims(g.membership));
    // Profile and e-mail claims go to UserInfo; in the ID token only when asked by name.
    let named = requested(g.claims, "id_token");
    c.extend(person_claims(g.person, &[], &named));
    sign(state, alg, "JWT", &Value::Object(c))
}

/// An access token for a client acting for itself: no person, no refresh, no ID token.
pub fn client_access_token(
    state: &AppState,
    client: &ClientRecord,
) -> Result<(String, i64), JwtError> {
    let now = state.clock.now();
    let ttl = access_ttl(state, client);
    let c = json!({
        "iss": state.issuer(),
        "sub": super::claims::client_subject(&client.id),
        "aud": client.id,
        "client_id": client.id,
        "iat": now,
        "exp": now + ttl,
        "jti": random_id(),
    });
    Ok((sign(state, client_alg(client), "at+jwt", &c)?, ttl))
}
