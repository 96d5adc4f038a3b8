-- A firm may raise the password minimum length (never below 8); the strictest firm a person
-- belongs to applies, since a person has one password.
ALTER TABLE firms ADD COLUMN password_min_length BIGINT NOT NULL DEFAULT 12;
