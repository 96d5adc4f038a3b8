-- A refresh token is used once its successor exists: the successor's row names it
-- (parent_hash, unique since 0010), and the reads take the successor's created_at as the
-- token's used_at. The trigger that also wrote used_at into the replaced row is gone: that
-- UPDATE was a second row version and its index entries for every rotation, and with the
-- PL/pgSQL call around it, about a tenth of what a rotation cost the database. used_at stays
-- for the tokens rotated before 0010, whose successors do not name them.
DROP TRIGGER refresh_tokens_rotated ON refresh_tokens;
DROP FUNCTION refresh_token_rotated();
