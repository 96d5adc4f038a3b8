-- Sign-in through upstream OpenID providers (Microsoft, Google, generic).

-- A person's linked upstream accounts. The key is (provider, issuer, subject): for Microsoft the
-- issuer names the tenant and the subject is the immutable `oid`; never an e-mail address.
CREATE TABLE sso_identities (
    id TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    provider TEXT NOT NULL,
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    -- Microsoft tenant id or Google Workspace domain, when the upstream says.
    realm TEXT,
    -- As the upstream last asserted it, for display only.
    email TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    UNIQUE (provider, issuer, subject)
);
CREATE INDEX sso_identities_person ON sso_identities(person_id);

-- Upstream round trips in flight: state (hashed) bound to the browser and to the interaction
-- (sign-in) or the person (linking from My Profile); single use.
CREATE TABLE upstream_logins (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    browser_hash TEXT NOT NULL,
    purpose TEXT NOT NULL,
    interaction_id TEXT,
    person_id TEXT,
    nonce_sealed TEXT NOT NULL,
    pkce_verifier_sealed TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);

-- How a session signed in upstream: the provider, its tenant / domain, and the `amr` values the
-- upstream asserted (shown in the ID token's `amr` after `fed`).
ALTER TABLE sessions ADD COLUMN upstream TEXT;
ALTER TABLE sessions ADD COLUMN upstream_realm TEXT;
ALTER TABLE sessions ADD COLUMN upstream_amr TEXT;

-- Which upstream accounts a firm accepts (comma-separated lists, '' = none).
ALTER TABLE firms ADD COLUMN microsoft_tenants TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN google_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN oidc_upstreams TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN email_domains TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN upstream_mfa TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN sso_join BIGINT NOT NULL DEFAULT 0;
