//! Who the client is, for the throttles: the TCP peer, or, behind a reverse proxy the
//! operator trusts (`--trusted-proxies`), the right-most address of `X-Forwarded-For` that is
//! not one of those proxies. Right-most, because everything left of the first untrusted hop was
//! written by the client itself and proves nothing; trusting the left-most address would let
//! anyone pick the address they are throttled as.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use app::ports::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// Headers past this many hops are not read (a proxy chain is a few hops long).
const MAX_HOPS: usize = 32;

#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    pub fn new(networks: &[IpNet]) -> Self {
        Self(networks.into())
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client behind `peer` given the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        // Header lines in order, each a comma-separated list, read from the right; each hop on
        // its own (a client's odd bytes in its own hop must not hide the proxy's hop).
        let hops: Vec<&[u8]> = headers.get_all("x-forwarded-for").iter().flat_map(|value| value.as_bytes().split(|byte| *byte == b',')).collect();
        for hop in hops.iter().rev().take(MAX_HOPS) {
            match std::str::from_utf8(hop).ok().and_then(parse_hop) {
                Some(address) if self.trusts(address) => client = address,
                Some(address) => return address,
                // Unreadable: whoever wrote it is not a proxy we trust; the last trusted hop is
                // the best we know.
                None => return client,
            }
        }
        client
    }
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let bare = hop.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).unwrap_or(hop);
    bare.parse::<IpAddr>().ok().or_else(|| hop.parse::<SocketAddr>().ok().map(|address| address.ip())).map(|address| address.to_canonical())
}

/// Middleware: puts the [`ClientAddress`] into the request for handlers and server functions.
pub async fn resolve(State(proxies): State<TrustedProxies>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ConnectInfo(peer)| peer.ip());
    let client = proxies.client(peer, request.headers());
    request.extensions_mut().insert(ClientAddress(client));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn proxies(networks: &[&str]) -> TrustedProxies {
        TrustedProxies::new(&networks.iter().map(|network| network.parse().unwrap()).collect::<Vec<_>>())
    }

    const PROXY: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let client = TrustedProxies::default().client(PROXY, &headers(&["203.0.113.9"]));
        assert_eq!(client, PROXY);
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let trusted = proxies(&["127.0.0.1/32", "10.0.0.0/8"]);
        // The client claimed 1.1.1.1; the edge proxy appended the real peer, 203.0.113.9; an
        // inner proxy at 10.0.0.2 forwarded to us.
        let client = trusted.client(PROXY, &headers(&["1.1.1.1, 203.0.113.9", "10.0.0.2"]));
        assert_eq!(client, "203.0.113.9".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn a_request_from_an_untrusted_peer_is_not_believed() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let peer: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(trusted.client(peer, &headers(&["203.0.113.9"])), peer);
    }

    #[test]
    fn garbage_and_missing_headers_fall_back_to_the_nearest_trusted_hop() {
        let trusted = proxies(&["127.0.0.1/32"]);
        assert_eq!(trusted.client(PROXY, &headers(&[])), PROXY);
        assert_eq!(trusted.client(PROXY, &headers(&["not-an-address"])), PROXY);
        assert_eq!(trusted.client(PROXY, &headers(&["203.0.113.9, garbage"])), PROXY);
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_read() {
        let trusted = proxies(&["127.0.0.1/32"]);
        assert_eq!(trusted.client(PROXY, &headers(&["203.0.113.9:4711"])), "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(trusted.client(PROXY, &headers(&["[2001:db8::1]:4711"])), "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(trusted.client(PROXY, &headers(&["[2001:db8::2]"])), "2001:db8::2".parse::<IpAddr>().unwrap());
        // A client's non-ASCII bytes in its own hop do not hide the hop the proxy appended.
        let mut odd = HeaderMap::new();
        odd.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff\xfe, 203.0.113.9").unwrap());
        assert_eq!(trusted.client(PROXY, &odd), "203.0.113.9".parse::<IpAddr>().unwrap());
        let mapped_peer: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert_eq!(trusted.client(mapped_peer, &headers(&["203.0.113.9"])), "203.0.113.9".parse::<IpAddr>().unwrap());
    }
}
