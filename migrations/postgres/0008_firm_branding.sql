-- What a firm's sign-in pages show: its display name ('' = the firm's name) and logo (PNG or
-- JPEG, base64; '' = none).
ALTER TABLE firms ADD COLUMN display_name TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN logo_type TEXT NOT NULL DEFAULT '';
ALTER TABLE firms ADD COLUMN logo_data TEXT NOT NULL DEFAULT '';
