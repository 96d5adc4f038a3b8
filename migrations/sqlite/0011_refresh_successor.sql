-- A refresh token is used once its successor exists: the successor's row names it
-- (parent_hash, unique since 0010), and the reads take the successor's created_at as the
-- token's used_at. The trigger that also wrote used_at into the replaced row is gone: that
-- UPDATE was a second page write under the single writer for every rotation. used_at stays
-- for the tokens rotated before 0010, whose successors do not name them.
DROP TRIGGER refresh_tokens_rotated;
