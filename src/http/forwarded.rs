//! The client address of a request, for logs and rate limits alike: the connection's peer, or,
//! when the peer is a trusted reverse proxy, the address its `X-Forwarded-For` or `Forwarded`
//! header names. Forwarding headers from any other peer are ignored: anyone can send them.

use std::net::{IpAddr, SocketAddr};

use actix_web::HttpRequest;
use actix_web::http::header::HeaderMap;
use actix_web::web;
use ipnet::IpNet;

/// The networks of the reverse proxies whose forwarding headers are believed
/// (`TENANTGRAPH_HTTP_TRUSTED_PROXIES`); kept in the application's data.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Proxies in these networks.
    pub fn new(networks: Vec<IpNet>) -> Self {
        TrustedProxies(networks)
    }

    fn contains(&self, address: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&address))
    }

    /// The client of a request that came from `peer` with `headers`: `peer` itself unless it
    /// is a trusted proxy; else the right-most forwarded address that is not a trusted proxy
    /// (the addresses left of it were written by the client and prove nothing). An entry that
    /// is not an address (`unknown`, an obfuscated name) ends the walk at the hop after it. A
    /// request carrying both headers is attributed to the address they agree on; if they
    /// disagree, which one the proxy wrote can't be told, and the proxy itself is the client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        let x_forwarded_for = values(headers, "x-forwarded-for").map(|chain| {
            chain
                .split(',')
                .map(parse_address)
                .collect::<Vec<Option<IpAddr>>>()
        });
        let forwarded = values(headers, "forwarded").map(|chain| forwarded_for(&chain));
        match (x_forwarded_for, forwarded) {
            (None, None) => peer,
            (Some(chain), None) | (None, Some(chain)) => self.walk(peer, &chain),
            (Some(a), Some(b)) => {
                let (a, b) = (self.walk(peer, &a), self.walk(peer, &b));
                if a == b { a } else { peer }
            }
        }
    }

    /// Walks `chain` from the right, starting at the trusted `peer`.
    fn walk(&self, peer: IpAddr, chain: &[Option<IpAddr>]) -> IpAddr {
        let mut client = peer;
        for hop in chain.iter().rev() {
            let Some(address) = hop else {
                return client;
            };
            client = address.to_canonical();
            if !self.contains(client) {
                return client;
            }
        }
        client
    }
}

/// The client address of `req` (see [`TrustedProxies::client`]), with the trusted proxies
/// from the application's data; without them, or without a peer, no header is believed.
pub fn client_address(req: &HttpRequest) -> IpAddr {
    let peer = req
        .peer_addr()
        .map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
    match req.app_data::<web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client(peer, req.headers()),
        None => peer.to_canonical(),
    }
}

/// Every value of header `name`, joined with commas as RFC 9110 allows; `None` when absent.
fn values(headers: &HeaderMap, name: &str) -> Option<String> {
    let parts: Vec<&str> = headers
        .get_all(name)
        .map(|v| v.to_str().unwrap_or("unknown"))
        .collect();
    (!parts.is_empty()).then(|| parts.join(","))
}

/// The `for=` parameter of each element of a `Forwarded` header (RFC 7239), in order; an
/// element without one counts as an unknown hop.
fn forwarded_for(header: &str) -> Vec<Option<IpAddr>> {
    header
        .split(',')
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(key, _)| key.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_address(value))
        })
        .collect()
}

/// An address as forwarding headers write it: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1`,
/// `"[2001:db8::1]:4711"`; `None` for `unknown`, obfuscated names and anything else.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim().trim_matches('"');
    if let Ok(address) = text.parse::<IpAddr>() {
        return Some(address);
    }
    if let Ok(socket) = text.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(inside, _)| inside.parse().ok())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn proxies(list: &[&str]) -> TrustedProxies {
        TrustedProxies::new(list.iter().map(|n| n.parse().unwrap()).collect())
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let sent = headers(&[
            ("forwarded", "for=198.51.100.77"),
            ("x-forwarded-for", "198.51.100.77"),
        ]);
        assert_eq!(
            proxies(&[]).client(ip("203.0.113.5"), &sent),
            ip("203.0.113.5")
        );
        assert_eq!(
            proxies(&["10.0.0.0/8"]).client(ip("203.0.113.5"), &sent),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn a_trusted_proxy_names_the_right_most_address_that_is_not_a_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        // The client wrote the first entry itself; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "1.2.3.4, 198.51.100.77, 10.0.0.9")]);
        assert_eq!(trusted.client(peer, &chain), ip("198.51.100.77"));
        let split = headers(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.77"),
        ]);
        assert_eq!(trusted.client(peer, &split), ip("198.51.100.77"));
        let forwarded = headers(&[(
            "forwarded",
            "for=1.2.3.4, For=\"[2001:db8:cafe::17]:4711\";proto=https, for=10.0.0.9:80",
        )]);
        assert_eq!(trusted.client(peer, &forwarded), ip("2001:db8:cafe::17"));
        assert_eq!(trusted.client(peer, &headers(&[])), peer);
        let only_proxies = headers(&[("x-forwarded-for", "10.1.1.1, 10.0.0.9")]);
        assert_eq!(trusted.client(peer, &only_proxies), ip("10.1.1.1"));
    }

    #[test]
    fn an_unknown_hop_stops_the_walk_and_disagreeing_headers_leave_the_proxy() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        let hidden = headers(&[("forwarded", "for=198.51.100.77, for=_hidden, for=10.0.0.9")]);
        assert_eq!(trusted.client(peer, &hidden), ip("10.0.0.9"));
        let garbage = headers(&[("x-forwarded-for", "198.51.100.77, not-an-address")]);
        assert_eq!(trusted.client(peer, &garbage), peer);
        let agree = headers(&[
            ("forwarded", "for=198.51.100.77"),
            ("x-forwarded-for", "198.51.100.77"),
        ]);
        assert_eq!(trusted.client(peer, &agree), ip("198.51.100.77"));
        let disagree = headers(&[
            ("forwarded", "for=192.0.2.1"),
            ("x-forwarded-for", "198.51.100.77"),
        ]);
        assert_eq!(trusted.client(peer, &disagree), peer);
    }

    #[test]
    fn ipv4_mapped_peers_and_hops_are_compared_as_ipv4() {
        let trusted = proxies(&["127.0.0.1/32"]);
        let sent = headers(&[("x-forwarded-for", "::ffff:198.51.100.77")]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &sent),
            ip("198.51.100.77")
        );
    }
}
