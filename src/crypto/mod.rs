//! Cryptography, none of it hand-rolled: bearer secrets and their hashes, AES-GCM sealing under
//! the master key, argon2id passwords, signing keys and JWS (josekit; the ES256 signature itself
//! through OpenSSL's EC key, see `es256`), TOTP (totp-rs).

pub mod bearer;
pub mod es256;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod secret_box;
pub mod totp;
