//! HTTP plumbing with no business rules: parameter parsing, cookies, the browser binding and
//! CSRF, the client address, security headers, rendering, static assets, the request time limit,
//! and the connection loop with its limits (idle connections among them).

pub mod browser;
pub mod client_ip;
pub mod cookies;
pub mod headers;
pub mod idle;
pub mod params;
pub mod render;
pub mod server;
pub mod statics;
pub mod time_limit;
