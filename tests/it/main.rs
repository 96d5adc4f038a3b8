//! firmgate's integration tests: one binary, the real server on a real port, driven over HTTP
//! as browsers and relying parties drive it. Set TEST_DATABASE_URL=postgres://... to run the
//! same suite on PostgreSQL (each server gets a fresh database).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod accounts;
mod admin;
mod admin_api;
mod authorize;
mod backchannel;
mod branding;
mod cli;
mod codes;
mod federation;
mod interop;
mod lifecycle;
mod limits;
mod logout;
mod mfa;
mod nginx;
mod nodes;
mod observe;
mod outage;
mod pages;
mod policy;
mod profile;
mod races;
mod refresh;
mod support;
mod tokens;
