//! Who the client is: the connection's peer, or, only when that peer is a configured trusted
//! proxy, the nearest untrusted address of `X-Forwarded-For`. Off by default, so a client cannot
//! choose its own address for logs and rate limits.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The client address of a request, in its extensions. The server puts the connection's peer
/// there, and the front layer, before any other sees the request, replaces it with the address
/// [`client_ip`] resolves (when that differs): one extension, allocated once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

/// The client address of a request given its peer and headers.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Walk X-Forwarded-For from the right: the last entry was added by our nearest proxy.
    let hops = headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let mut client = peer;
    for hop in hops.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !is_trusted(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(peer: &str, xff: Option<&str>, trusted: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        if let Some(xff) = xff {
            headers.insert("x-forwarded-for", xff.parse().expect("header"));
        }
        let trusted: Vec<IpNet> = trusted.iter().map(|t| t.parse().expect("net")).collect();
        client_ip(peer.parse().expect("ip"), &headers, &trusted).to_string()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        assert_eq!(check("203.0.113.9", Some("1.2.3.4"), &[]), "203.0.113.9", "off by default");
        assert_eq!(check("203.0.113.9", Some("1.2.3.4"), &["10.0.0.0/8"]), "203.0.113.9");
        assert_eq!(check("10.0.0.2", Some("1.2.3.4"), &["10.0.0.0/8"]), "1.2.3.4");
        assert_eq!(
            check("10.0.0.2", Some("6.6.6.6, 1.2.3.4, 10.0.0.7"), &["10.0.0.0/8"]),
            "1.2.3.4",
            "spoofed left entries ignored"
        );
        assert_eq!(check("10.0.0.2", Some("garbage"), &["10.0.0.0/8"]), "10.0.0.2");
        assert_eq!(check("10.0.0.2", None, &["10.0.0.0/8"]), "10.0.0.2");
    }
}
