//! firmgate, an OpenID Connect identity provider for law firms.
//!
//! Map of the crate (dependencies point down the list):
//!
//! - HTTP features
//!   - [`oidc`]: the protocol engine — discovery, JWKS, authorize, token (code, refresh with
//!     rotation, client credentials), userinfo, introspection, revocation, RP-initiated logout,
//!     back-channel logout delivery (`oidc::backchannel`);
//!     `oidc::own_client` lets firmgate's own pages be relying parties of it.
//!   - [`signin`]: the sign-in journey — [`signin::flow::next_step`] orders the steps; pages for
//!     login, single sign-on (`signin::sso`), the two-step challenge (and set-up on step-up),
//!     the forced password change, firm choice and consent; forgotten-password and
//!     invitation pages; browser sessions; sign-in throttling.
//!   - [`account`]: My Profile (`/account`, a built-in client of firmgate's own journey) with
//!     two-step sign-in set-up and removal, and the live password strength estimate.
//!   - [`demo`]: the built-in demo relying party of `firmgate serve --demo`.
//!   - [`web`]: plumbing with no business rules (parameters, cookies, CSRF, headers, rendering)
//!     and the connection loop with its limits (`web::server`; idle connections `web::idle`,
//!     the request time limit `web::time_limit`).
//! - Domain
//!   - [`account`] (its domain half): password rules with the firm lifecycle (expiry, reuse,
//!     composition), changes, reset links, invitations; `account::mfa` (TOTP factors, recovery
//!     codes, the code check with its throttle and replay refusal, owner reset).
//!   - [`admin`]: create firms, people, clients, change policy and memberships (the CLI's
//!     library), and the firm admin console (`admin::console`, `/admin`).
//!   - [`policy`]: firm policy (MFA, SSO and the upstream accounts a firm accepts, IP allowlist,
//!     sign-in hours, session limits) and password rules, pure (no axum, no sqlx).
//!   - [`federation`]: firmgate as a relying party of Microsoft (Entra ID, multi-tenant issuer
//!     template, `tid` + `oid`), Google (`hd`, `email_verified`) and generic OpenID providers
//!     (openidconnect crate); the upstream round trip; who an upstream account is (safe
//!     linking, just-in-time membership). Its pages are `signin::sso` (the buttons and the
//!     callback) and `account::sso_links` (My Profile).
//!   - [`crypto`]: bearer secrets, sealing under the master key, argon2id (on hashing threads
//!     that keep their argon2 memory), keys and JWS (ES256 signed through OpenSSL's EC key
//!     directly, `crypto::es256`), TOTP.
//!   - [`keyring`]: the signing keys in memory, reloaded from the store (only keys not seen
//!     before are decrypted and decoded).
//!   - [`audit`]: the audit trail.
//!   - [`mail`]: the outbox and its delivery (SMTP or .eml files).
//! - [`store`]: all SQL, SQLite or PostgreSQL (on SQLite, reads through a pool and writes
//!   through one connection of their own, the WAL checkpointed beside it); client records cached per node for at most 2 s;
//!   the refresh grant's reads and its rotations that wait at the same moment made as one
//!   statement each (`store::grouped`); what a code redemption, a refresh and each sign-in
//!   page check read in one or two joined reads, on a connection the last such read left between statements (no release check).
//! - [`observe`]: `/healthz`, `/readyz`, Prometheus `/metrics` (request counts and latency in
//!   per-thread shards), request ids in every log line.
//! - Wiring: [`app`] (state, routes, server), [`cli`], [`config`], [`clock`], [`error`].

pub mod account;
pub mod admin;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod federation;
pub mod keyring;
pub mod mail;
pub mod observe;
pub mod oidc;
pub mod policy;
pub mod signin;
pub mod store;
pub mod web;
