//! The client's address: the TCP peer, or, when the peer is a trusted proxy
//! (`FIRMGATE_TRUSTED_PROXIES`), the right-most untrusted address in `X-Forwarded-For`. A
//! forwarded value from a trusted proxy that does not parse gives no address at all (`None`),
//! so a firm's IP allowlist fails closed.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::app::AppState;
use crate::audit::Actor;

#[derive(Debug, Clone)]
pub struct ClientIp(pub Option<IpAddr>);

pub fn resolve(peer: Option<IpAddr>, forwarded: Option<&str>, trusted: &[IpNet]) -> Option<IpAddr> {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let peer = peer?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let Some(list) = forwarded else {
        return Some(peer);
    };
    let mut chosen = peer;
    for hop in list.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                chosen = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => return None,
        }
    }
    Some(chosen)
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        Ok(ClientIp(resolve(
            peer,
            forwarded,
            &state.settings.trusted_proxies,
        )))
    }
}

/// The audit actor of a request: address and user agent.
#[derive(Debug, Clone)]
pub struct RequestActor(pub Actor);

impl FromRequestParts<AppState> for RequestActor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Ok(ClientIp(ip)) = ClientIp::from_request_parts(parts, state).await;
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(256).collect());
        Ok(RequestActor(Actor {
            ip: ip.map(|i| i.to_string()),
            user_agent,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_header_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let outsider: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            resolve(Some(outsider), Some("198.51.100.1"), &trusted),
            Some(outsider)
        );
        assert_eq!(
            resolve(Some(proxy), Some("198.51.100.1, 10.0.0.7"), &trusted),
            Some("198.51.100.1".parse().unwrap())
        );
        // A trusted proxy's unparsable value: no address, so allowlists fail closed.
        assert_eq!(resolve(Some(proxy), Some("garbage"), &trusted), None);
        assert_eq!(
            resolve(Some(proxy), Some("198.51.100.1, 10.0.0.7:443"), &trusted),
            None
        );
        // An untrusted peer's header is ignored entirely, garbage or not.
        assert_eq!(
            resolve(Some(outsider), Some("garbage"), &trusted),
            Some(outsider)
        );
    }
}
