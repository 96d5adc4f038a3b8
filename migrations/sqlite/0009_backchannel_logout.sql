-- OpenID Connect Back-Channel Logout 1.0.

-- Where a relying party wants logout tokens ('' = it does not).
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';

-- The relying parties a session signed in to (one row per client that got a code in it): the
-- ones to tell when the session ends.
CREATE TABLE session_clients (
    session_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

-- Logout tokens to deliver, written in the same transaction that ends the session, so a crash
-- loses none; delivered at least once, retried with growing delays, then given up (audited).
CREATE TABLE backchannel_logouts (
    client_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    person_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    delivered_at BIGINT,
    given_up_at BIGINT,
    last_error TEXT,
    PRIMARY KEY (client_id, session_id)
);
CREATE INDEX backchannel_logouts_due ON backchannel_logouts(next_attempt_at);
