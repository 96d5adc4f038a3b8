-- Per-firm password lifecycle, all off by default (NIST SP 800-63B §5.1.1.2 advises against
-- forced expiry and composition rules; some firms' insurers still ask for them):
-- expiry in days (0 = never), a reuse limit over the last N passwords (0 = none), and opt-in
-- composition (mixed case, a digit and a symbol).
ALTER TABLE firms ADD COLUMN password_max_age_days BIGINT NOT NULL DEFAULT 0;
ALTER TABLE firms ADD COLUMN password_reuse_limit BIGINT NOT NULL DEFAULT 0;
ALTER TABLE firms ADD COLUMN password_composition BIGINT NOT NULL DEFAULT 0;

-- Hashes of the passwords a person chose (never temporary ones), newest kept, for the reuse limit.
CREATE TABLE password_history (
    person_id TEXT NOT NULL REFERENCES people(id),
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX password_history_person ON password_history (person_id, created_at);
