//! What the transport knows about a request, handed to its frame as one
//! bundle: one allocation per request, instead of one per fact and a map.

use std::any::{Any, TypeId};
use std::sync::Arc;

use rpckit_codec::{fact, Extensions, Facts, PeerAddr};

use crate::dispatch::{Peer, Shared};
use crate::{
    ClientIp, JsonpRequest, RequestCookies, RequestHeaders, ResponseHandle, Route, RoutePath,
};

/// The facts of one request, read by type through [`Extensions::get`].
struct RequestFacts {
    response: ResponseHandle,
    jsonp: Option<JsonpRequest>,
    path: Option<RoutePath>,
    peer: Option<PeerAddr>,
    client_ip: Option<ClientIp>,
    headers: RequestHeaders,
    cookies: RequestCookies,
}

impl Facts for RequestFacts {
    // The router asks for the response handle (and a JSONP marker) on every
    // call, so those come first.
    fn get(&self, type_id: TypeId) -> Option<&(dyn Any + Send + Sync)> {
        fact(type_id, &self.response)
            .or_else(|| fact(type_id, self.jsonp.as_ref()?))
            .or_else(|| fact(type_id, self.path.as_ref()?))
            .or_else(|| fact(type_id, self.peer.as_ref()?))
            .or_else(|| fact(type_id, self.client_ip.as_ref()?))
            .or_else(|| fact(type_id, &self.headers))
            .or_else(|| fact(type_id, &self.cookies))
    }
}

/// The extensions every frame of a request carries, for its handlers:
/// [`ResponseHandle`], [`RoutePath`], [`PeerAddr`], [`ClientIp`],
/// [`RequestHeaders`], [`RequestCookies`], and a [`JsonpRequest`] for a
/// JSONP call. Without a known peer there is no [`PeerAddr`] and no
/// [`ClientIp`]: forwarding headers are believed only from a peer known to
/// be a trusted proxy.
pub(crate) fn request_extensions(
    shared: &Shared,
    route: &Route,
    peer: Peer,
    headers: RequestHeaders,
    response: &ResponseHandle,
    jsonp: Option<JsonpRequest>,
) -> Extensions {
    let client_ip = peer.map(|peer| shared.trusted_proxies.client_ip(peer.ip(), &headers));
    Extensions::with_facts(Arc::new(RequestFacts {
        response: response.clone(),
        jsonp,
        path: route.path.clone(),
        peer: peer.map(PeerAddr),
        client_ip,
        cookies: RequestCookies::new(headers.clone()),
        headers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_is_found_by_its_type() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::COOKIE, "a=1".parse().unwrap());
        let headers = RequestHeaders::new(headers);
        let response = ResponseHandle::default();
        let peer = PeerAddr("127.0.0.1:9".parse().unwrap());
        let extensions = Extensions::with_facts(Arc::new(RequestFacts {
            response: response.clone(),
            jsonp: None,
            path: Some(RoutePath::new("/api")),
            peer: Some(peer),
            client_ip: Some(ClientIp(peer.0.ip())),
            cookies: RequestCookies::new(headers.clone()),
            headers,
        }));
        assert_eq!(extensions.get::<RoutePath>().unwrap().as_str(), "/api");
        assert_eq!(extensions.get::<PeerAddr>(), Some(&peer));
        assert_eq!(extensions.get::<ClientIp>(), Some(&ClientIp(peer.0.ip())));
        assert!(extensions
            .get::<RequestHeaders>()
            .unwrap()
            .contains_key("cookie"));
        assert_eq!(
            extensions.get::<RequestCookies>().unwrap().get("a"),
            Some("1")
        );
        assert!(extensions.get::<ResponseHandle>().is_some());
        assert_eq!(extensions.get::<JsonpRequest>(), None);
    }
}
