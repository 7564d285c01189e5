//! Which addresses egress may reach (DESIGN.md, security model): only public unicast ones. One
//! rule for functions' `http_fetch` (in the gateway) and for anonymous requests (in the
//! anon proxy), so the two cannot drift apart.
//! Refused: unspecified, loopback, private (RFC 1918, IPv6 unique-local), link-local (which
//! holds the cloud metadata service at 169.254.169.254), CGNAT (100.64.0.0/10), multicast,
//! broadcast, reserved, benchmarking and documentation ranges, and every IPv6 form that embeds
//! an IPv4 address (mapped, compatible, NAT64) is judged by that address. An operator may
//! allow chosen networks (`wasm_runner.http_fetch.allow_networks`, `anon.allow_networks`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The egress rule.
#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    /// Networks allowed although not public.
    pub allow: Vec<ipnet::IpNet>,
}

impl EgressPolicy {
    /// Why `ip` may not be reached, or `None` when it may.
    pub fn refusal(&self, ip: IpAddr) -> Option<&'static str> {
        if self.allow.iter().any(|net| net.contains(&ip)) {
            return None;
        }
        classify(ip)
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub fn classify(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = match (a, b, c) {
        (0, _, _) => "an unspecified address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (169, 254, _) => "a link-local or metadata address",
        (100, 64..=127, _) => "a carrier-grade NAT address",
        (192, 0, 0) | (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a reserved or documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    };
    Some(reason)
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = embedded_v4(ip) {
        return classify_v4(v4);
    }
    let segments = ip.segments();
    let reason = match segments[0] {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        0xfc00..=0xfdff => "a private (unique-local) address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if segments[1] == 0x0db8 => "a documentation address",
        0x0100 if segments[1..4] == [0, 0, 0] => "a discard address",
        0x0000 => "a reserved address",
        _ => return None,
    };
    Some(reason)
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`)
/// IPv6 address. (The deprecated IPv4-compatible `::a.b.c.d` falls in `::/16`, refused.)
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_unicast_addresses_pass() {
        let refused = [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "255.255.255.255",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2001:db8::1",
        ];
        for ip in refused {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert!(classify(parsed).is_some(), "{ip} must be refused");
        }
        for ip in
            ["8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8"]
        {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert_eq!(classify(parsed), None, "{ip} is public");
        }
        let policy = EgressPolicy { allow: vec!["127.0.0.1/32".parse().expect("net")] };
        assert_eq!(policy.refusal("127.0.0.1".parse().expect("ip")), None);
        assert!(policy.refusal("127.0.0.2".parse().expect("ip")).is_some());
    }
}
