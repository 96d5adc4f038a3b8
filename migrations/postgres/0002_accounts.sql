-- Accounts: temporary (invitation) passwords, password age, time zone, single-use password
-- reset links (stored hashed), and the e-mail outbox (messages survive a crash until sent).

ALTER TABLE people ADD COLUMN password_temporary BIGINT NOT NULL DEFAULT 0;
ALTER TABLE people ADD COLUMN password_expires_at BIGINT;
ALTER TABLE people ADD COLUMN password_changed_at BIGINT;
ALTER TABLE people ADD COLUMN time_zone TEXT;

CREATE TABLE password_resets (
    token_hash TEXT PRIMARY KEY,
    person_id TEXT NOT NULL REFERENCES people(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX password_resets_person ON password_resets(person_id);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    to_addr TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    sent_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox(sent_at, next_attempt_at);
