//! Who is asking: the client's address (through trusted reverse proxies),
//! whether it came over HTTPS, and whether a form comes from our own pages.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::header::{HOST, ORIGIN, REFERER};
use axum::http::{Extensions, HeaderMap};

/// How far to believe what proxies and browsers say about a request.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// `public_url` without a trailing slash (`https://stats.example.com`).
    pub public_url: Option<String>,
    pub trusted_proxies: Vec<IpAddr>,
}

impl WebSettings {
    pub fn new(public_url: Option<&str>, trusted_proxies: &[IpAddr]) -> Self {
        Self {
            public_url: public_url.map(|u| u.trim_end_matches('/').to_owned()),
            trusted_proxies: trusted_proxies.to_vec(),
        }
    }

    /// The client's address: the connection's peer, or — when the peer is a
    /// trusted proxy — the nearest address in `X-Forwarded-For` that is not
    /// one (the ones further left are the client's to invent).
    pub fn client_ip(&self, extensions: &Extensions, headers: &HeaderMap) -> IpAddr {
        let peer = peer_ip(extensions);
        if !self.trusted_proxies.contains(&peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse::<IpAddr>().ok())
            .collect::<Vec<_>>();
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !self.trusted_proxies.contains(ip))
            .unwrap_or(peer)
    }

    /// Whether the browser reached us over HTTPS: `public_url` says so, or a
    /// trusted proxy does with `X-Forwarded-Proto: https`.
    pub fn is_https(&self, extensions: &Extensions, headers: &HeaderMap) -> bool {
        if let Some(url) = &self.public_url {
            return url.starts_with("https://");
        }
        self.trusted_proxies.contains(&peer_ip(extensions))
            && headers
                .get("x-forwarded-proto")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
    }

    /// Whether a form post comes from our own pages (cross-site request
    /// forgery guard): its `Origin` — or, lacking one, its `Referer` — must
    /// be our origin (`public_url`, else this request's own scheme and
    /// host). A request with neither (not a browser) passes.
    pub fn same_origin(&self, extensions: &Extensions, headers: &HeaderMap) -> bool {
        let ours = match &self.public_url {
            Some(url) => url.clone(),
            None => {
                let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
                    return false;
                };
                let scheme = if self.is_https(extensions, headers) {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{host}")
            }
        };
        if let Some(origin) = headers.get(ORIGIN) {
            return origin.as_bytes().eq_ignore_ascii_case(ours.as_bytes());
        }
        if let Some(referer) = headers.get(REFERER).and_then(|r| r.to_str().ok()) {
            let referer = referer.to_ascii_lowercase();
            let ours = ours.to_ascii_lowercase();
            return referer == ours || referer.starts_with(&format!("{ours}/"));
        }
        true
    }
}

/// The client's address ([`WebSettings::client_ip`]), for handlers of any
/// state that holds the web settings.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddress(pub IpAddr);

impl<S> axum::extract::FromRequestParts<S> for ClientAddress
where
    S: Send + Sync,
    std::sync::Arc<WebSettings>: axum::extract::FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let web: std::sync::Arc<WebSettings> = axum::extract::FromRef::from_ref(state);
        Ok(Self(web.client_ip(&parts.extensions, &parts.headers)))
    }
}

/// The connection's peer (set by the accept loop; loopback if absent, as in
/// router tests that call the app directly).
fn peer_ip(extensions: &Extensions) -> IpAddr {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |c| c.0.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(peer: &str, headers: &[(&'static str, &str)]) -> (Extensions, HeaderMap) {
        let mut extensions = Extensions::new();
        extensions.insert(ConnectInfo::<SocketAddr>(peer.parse().unwrap()));
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        (extensions, map)
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let web = WebSettings::new(None, &["10.0.0.1".parse().unwrap()]);
        let forwarded = [("x-forwarded-for", "6.6.6.6, 1.2.3.4")];
        let (e, h) = from("10.0.0.1:5000", &forwarded);
        assert_eq!(web.client_ip(&e, &h), "1.2.3.4".parse::<IpAddr>().unwrap());
        let (e, h) = from("9.9.9.9:5000", &forwarded);
        assert_eq!(web.client_ip(&e, &h), "9.9.9.9".parse::<IpAddr>().unwrap());
        let (e, h) = from("10.0.0.1:5000", &[("x-forwarded-proto", "https")]);
        assert!(web.is_https(&e, &h));
        let (e, h) = from("9.9.9.9:5000", &[("x-forwarded-proto", "https")]);
        assert!(!web.is_https(&e, &h));
    }

    #[test]
    fn forms_must_come_from_our_own_origin() {
        let web = WebSettings::new(None, &[]);
        let host = ("host", "stats.example.com:8080");
        let (e, h) = from(
            "1.2.3.4:1",
            &[host, ("origin", "http://stats.example.com:8080")],
        );
        assert!(web.same_origin(&e, &h));
        let (e, h) = from("1.2.3.4:1", &[host, ("origin", "https://evil.example")]);
        assert!(!web.same_origin(&e, &h));
        let (e, h) = from("1.2.3.4:1", &[host, ("referer", "http://evil.example/x")]);
        assert!(!web.same_origin(&e, &h));
        let (e, h) = from("1.2.3.4:1", &[host]);
        assert!(web.same_origin(&e, &h), "not a browser");
        let public = WebSettings::new(Some("https://stats.example.com/"), &[]);
        let (e, h) = from(
            "1.2.3.4:1",
            &[host, ("origin", "https://stats.example.com")],
        );
        assert!(public.same_origin(&e, &h) && public.is_https(&e, &h));
    }
}
