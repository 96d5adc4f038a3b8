-- Per-firm sign-in policy. Modes are words (mfa: required|prompt|off; sso: off|microsoft|google|any);
-- ip_allow is a comma-separated CIDR list ('' = anywhere); signin_hours like 'Mon-Fri 07:00-19:00'
-- ('' = any time) in time_zone; max_session_age_secs 0 = the server's limit.
ALTER TABLE firms ADD COLUMN mfa_mode TEXT NOT NULL DEFAULT 'prompt';
ALTER TABLE firms ADD COLUMN sso_mode TEXT NOT NULL DEFAULT 'off';
ALTER TABLE firms ADD COLUMN ip_allow TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN signin_hours TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE firms ADD COLUMN max_session_age_secs BIGINT NOT NULL DEFAULT 0;

-- People a firm exempts from its MFA or SSO rule (a break-glass admin, say).
CREATE TABLE policy_exclusions (
    firm_id TEXT NOT NULL REFERENCES firms(id),
    person_id TEXT NOT NULL REFERENCES people(id),
    policy TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (firm_id, person_id, policy)
);

-- The person's answer to the MFA offer in this interaction ('skipped').
ALTER TABLE interactions ADD COLUMN mfa_offer TEXT;
