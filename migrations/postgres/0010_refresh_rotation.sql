-- A refresh token's rotation is one INSERT: the successor names the token it replaces, and at
-- most one successor per token can exist (the unique index), so of two requests racing with the
-- same token exactly one inserts. The trigger marks the replaced token used in the same
-- statement, so used_at keeps its meaning. One statement means one round trip instead of
-- BEGIN, UPDATE, INSERT, COMMIT.
ALTER TABLE refresh_tokens ADD COLUMN parent_hash TEXT;
CREATE UNIQUE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
CREATE FUNCTION refresh_token_rotated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE refresh_tokens SET used_at = NEW.created_at WHERE token_hash = NEW.parent_hash;
    RETURN NEW;
END
$$;
CREATE TRIGGER refresh_tokens_rotated AFTER INSERT ON refresh_tokens
FOR EACH ROW WHEN (NEW.parent_hash IS NOT NULL)
EXECUTE FUNCTION refresh_token_rotated();
