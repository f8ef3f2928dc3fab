//! Which address a request came from, through trusted reverse proxies.
//!
//! Forwarding headers are written by whoever sent the request, so they are
//! believed only when the TCP peer is a proxy the operator named. Then the
//! client is `X-Real-IP` if the proxy set it, else the rightmost
//! `X-Forwarded-For` entry that is not itself a trusted proxy: every entry to
//! its left was supplied by the client and may be forged.

use std::net::{IpAddr, SocketAddr};

use http::header::HeaderName;

use crate::RequestHeaders;

/// The address of the client that sent a request: the TCP peer's IP, or,
/// when the peer is a trusted proxy, the client address the proxy forwarded.
///
/// Configure trusted proxies with
/// [`ServerBuilder::trusted_proxies`](crate::ServerBuilder::trusted_proxies);
/// with none configured this is always the peer's IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

static X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxies whose forwarding headers are believed.
#[derive(Clone, Debug, Default)]
pub(crate) struct TrustedProxies(Vec<IpAddr>);

impl TrustedProxies {
    pub(crate) fn new(ips: impl IntoIterator<Item = IpAddr>) -> Self {
        let mut ips: Vec<IpAddr> = ips.into_iter().map(|ip| ip.to_canonical()).collect();
        ips.sort_unstable();
        ips.dedup();
        TrustedProxies(ips)
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.binary_search(&ip).is_ok()
    }

    /// The client address of a request from `peer` carrying `headers`.
    pub(crate) fn client_ip(&self, peer: IpAddr, headers: &RequestHeaders) -> ClientIp {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return ClientIp(peer);
        }
        if let Some(ip) = headers
            .get(&X_REAL_IP)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_ip)
        {
            return ClientIp(ip);
        }
        // Walk from the nearest hop outwards; stop at the first address we
        // don't trust, or at garbage (which a trusted hop wrote, so the hop
        // before it is the last one we know).
        let mut client = peer;
        let entries = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("").rsplit(','));
        for entry in entries {
            let Some(ip) = parse_ip(entry) else { break };
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        ClientIp(client)
    }
}

/// An IP as proxies write it: bare, or with a port (`1.2.3.4:80`,
/// `[::1]:80`).
fn parse_ip(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    let ip = text
        .parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    const PROXY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const INNER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
    const STRANGER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 7));

    fn headers(pairs: &[(&'static str, &'static str)]) -> RequestHeaders {
        let mut map = http::HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        RequestHeaders::new(map)
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let trusted = TrustedProxies::new([PROXY]);
        let map = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(trusted.client_ip(STRANGER, &map), ClientIp(STRANGER));
        assert_eq!(
            TrustedProxies::default().client_ip(PROXY, &map),
            ClientIp(PROXY)
        );
    }

    #[test]
    fn real_ip_wins_from_a_trusted_peer() {
        let trusted = TrustedProxies::new([PROXY]);
        let map = headers(&[("x-forwarded-for", "1.1.1.1"), ("x-real-ip", "2.2.2.2")]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(ip("2.2.2.2")));
    }

    #[test]
    fn rightmost_untrusted_forwarded_entry() {
        let trusted = TrustedProxies::new([PROXY, INNER]);
        // The client forged 6.6.6.6; the outer proxy appended 3.3.3.3.
        let map = headers(&[("x-forwarded-for", "6.6.6.6, 3.3.3.3, 10.0.0.2")]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(ip("3.3.3.3")));
        // Several headers are one list, in order.
        let map = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "3.3.3.3:4711,10.0.0.2"),
        ]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(ip("3.3.3.3")));
        let map = headers(&[("x-forwarded-for", "[2001:db8::1]:80")]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(ip("2001:db8::1")));
    }

    #[test]
    fn all_trusted_or_garbage() {
        let trusted = TrustedProxies::new([PROXY, INNER]);
        let map = headers(&[("x-forwarded-for", "10.0.0.2")]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(INNER));
        let map = headers(&[("x-forwarded-for", "6.6.6.6, garbage, 10.0.0.2")]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(INNER));
        let map = headers(&[("x-forwarded-for", "")]);
        assert_eq!(trusted.client_ip(PROXY, &map), ClientIp(PROXY));
        assert_eq!(
            trusted.client_ip(PROXY, &RequestHeaders::default()),
            ClientIp(PROXY)
        );
    }

    #[test]
    fn mapped_ipv4_peer_is_canonical() {
        let trusted = TrustedProxies::new([PROXY]);
        let mapped = ip("::ffff:10.0.0.1");
        let map = headers(&[("x-forwarded-for", "3.3.3.3")]);
        assert_eq!(trusted.client_ip(mapped, &map), ClientIp(ip("3.3.3.3")));
    }
}
