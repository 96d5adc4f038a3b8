//! The IP allowlist: IPv4 and IPv6 CIDRs; empty means anywhere. Pure.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses `10.0.0.0/8, 2001:db8::/32, 192.0.2.7` (a bare address is a /32 or /128).
pub fn parse_allowlist(text: &str) -> Result<Vec<IpNet>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map(|n| n.trunc())
                .map_err(|_| format!("{s:?} is not an IP address or CIDR such as 203.0.113.0/24"))
        })
        .collect()
}

pub fn format_allowlist(list: &[IpNet]) -> String {
    list.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `ip` may sign in under `allow`. No list: anywhere. A list and no known address (an
/// unparsable forwarded header): refused, failing closed.
pub fn allowed(allow: &[IpNet], ip: Option<IpAddr>) -> bool {
    if allow.is_empty() {
        return true;
    }
    let Some(ip) = ip else {
        return false;
    };
    // An IPv4 client seen through an IPv6 socket (::ffff:a.b.c.d) is the IPv4 address.
    let ip = ip.to_canonical();
    allow.iter().any(|n| n.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_v6_mapped_and_unknown_addresses() {
        let list = parse_allowlist("203.0.113.0/24, 2001:db8::/32,192.0.2.7").unwrap();
        assert_eq!(list.len(), 3);
        let ok = |s: &str| allowed(&list, Some(s.parse().unwrap()));
        assert!(ok("203.0.113.200"));
        assert!(!ok("203.0.114.1"));
        assert!(ok("2001:db8:1::5"));
        assert!(!ok("2001:db9::1"));
        assert!(ok("192.0.2.7") && !ok("192.0.2.8"));
        assert!(ok("::ffff:203.0.113.9"), "IPv4-mapped IPv6");
        assert!(!allowed(&list, None), "unknown address fails closed");
        assert!(allowed(&[], None), "no list: anywhere");
        assert!(parse_allowlist("10.0.0.0/33").is_err());
        assert!(parse_allowlist("example.com").is_err());
        assert_eq!(parse_allowlist(" ").unwrap(), vec![]);
        assert_eq!(
            format_allowlist(&parse_allowlist("10.1.2.3/8").unwrap()),
            "10.0.0.0/8"
        );
    }
}
