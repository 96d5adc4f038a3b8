-- TOTP (RFC 6238): one factor per person. The secret is AES-256-GCM sealed under the master key
-- (bound to the person). `activated_at` is NULL while set-up is pending. `last_used_step` is the
-- last accepted time step: a code is accepted only for a later one, updated atomically.
CREATE TABLE totp_factors (
    person_id TEXT PRIMARY KEY REFERENCES people(id),
    secret_sealed TEXT NOT NULL,
    last_used_step BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    activated_at BIGINT
);

-- Single-use recovery codes, stored as namespaced SHA-256 of 80 random bits.
CREATE TABLE recovery_codes (
    code_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    created_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX recovery_codes_person ON recovery_codes (person_id);
