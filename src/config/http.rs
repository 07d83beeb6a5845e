//! The HTTP listener and transport: listen address, GraphiQL, request bodies, CORS, the reverse
//! proxies trusted to name the client, and the start of a WebSocket.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{SettingsError, at_least_one};

/// The HTTP settings as read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSection {
    /// Address `serve` listens on.
    pub bind: SocketAddr,
    /// Serve GraphiQL at `GET /`.
    pub graphiql: bool,
    /// Comma-separated CIDRs (or addresses) of reverse proxies whose `Forwarded` and
    /// `X-Forwarded-For` headers name the client; empty: the peer is the client.
    pub http_trusted_proxies: String,
    /// Largest request body, in bytes.
    pub http_max_body_bytes: usize,
    /// Largest CSV upload (`POST /import/tenants/{id}/…csv`), in bytes.
    pub http_max_upload_bytes: usize,
    /// Comma-separated origins allowed to call `/graphql` from a browser (CORS); empty: none.
    pub http_cors_origins: String,
    /// Seconds a WebSocket client has to send `connection_init` before it is disconnected.
    pub ws_init_timeout_secs: u64,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            graphiql: true,
            http_trusted_proxies: String::new(),
            http_max_body_bytes: 256 * 1024,
            http_max_upload_bytes: 16 * 1024 * 1024,
            http_cors_origins: String::new(),
            ws_init_timeout_secs: 10,
        }
    }
}

/// The HTTP settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpSettings {
    /// Address `serve` listens on.
    pub bind: SocketAddr,
    /// Serve GraphiQL at `GET /`.
    pub graphiql: bool,
    /// Largest request body in bytes.
    pub max_body_bytes: usize,
    /// Largest CSV upload in bytes.
    pub max_upload_bytes: usize,
    /// Origins allowed by CORS (scheme, host and port, no trailing slash).
    pub cors_origins: Vec<String>,
    /// How long a WebSocket connection may stay without `connection_init`.
    pub ws_init_timeout: Duration,
    /// Networks of the reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl HttpSection {
    /// Refuses an empty body limit or WebSocket start, a proxy that is neither a CIDR nor an
    /// address, and an origin that is not an http(s) URL.
    pub(super) fn check(&self) -> Result<HttpSettings, SettingsError> {
        at_least_one(&[
            (
                "TENANTGRAPH_HTTP_MAX_BODY_BYTES",
                self.http_max_body_bytes as u64,
            ),
            (
                "TENANTGRAPH_HTTP_MAX_UPLOAD_BYTES",
                self.http_max_upload_bytes as u64,
            ),
            (
                "TENANTGRAPH_WS_INIT_TIMEOUT_SECS",
                self.ws_init_timeout_secs,
            ),
        ])?;
        let trusted_proxies = self
            .trusted_proxies()
            .map_err(|message| SettingsError::new("TENANTGRAPH_HTTP_TRUSTED_PROXIES", message))?;
        let cors_origins: Vec<String> = self
            .http_cors_origins
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect();
        if let Some(origin) = cors_origins
            .iter()
            .find(|o| url::Url::parse(o).map_or(true, |u| !matches!(u.scheme(), "http" | "https")))
        {
            return Err(SettingsError::new(
                "TENANTGRAPH_HTTP_CORS_ORIGINS",
                format!(
                    "expected comma-separated origins such as https://portal.example.com, got {origin:?}"
                ),
            ));
        }
        Ok(HttpSettings {
            bind: self.bind,
            graphiql: self.graphiql,
            max_body_bytes: self.http_max_body_bytes,
            max_upload_bytes: self.http_max_upload_bytes,
            cors_origins,
            ws_init_timeout: Duration::from_secs(self.ws_init_timeout_secs),
            trusted_proxies,
        })
    }

    /// The trusted proxies' networks: each entry a CIDR (`10.0.0.0/8`) or a single address.
    fn trusted_proxies(&self) -> Result<Vec<ipnet::IpNet>, String> {
        self.http_trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<ipnet::IpNet>()
                    .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        format!(
                            "expected comma-separated CIDRs such as 10.0.0.0/8 or addresses, \
                             got {entry:?}"
                        )
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_limits_and_bad_cors_origins_are_refused() {
        let section = HttpSection {
            http_max_body_bytes: 0,
            ..HttpSection::default()
        };
        let err = section.check().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_HTTP_MAX_BODY_BYTES"), "{err}");
        let section = HttpSection {
            http_cors_origins: "https://portal.example.com, portal".into(),
            ..HttpSection::default()
        };
        let err = section.check().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_HTTP_CORS_ORIGINS"), "{err}");
        let section = HttpSection {
            http_cors_origins: "https://portal.example.com/, http://localhost:3000".into(),
            ..HttpSection::default()
        };
        assert_eq!(
            section.check().unwrap().cors_origins,
            ["https://portal.example.com", "http://localhost:3000"]
        );
    }

    #[test]
    fn trusted_proxies_are_cidrs_or_addresses_and_a_bad_one_is_named() {
        let section = HttpSection {
            http_trusted_proxies: "10.0.0.0/8, 192.0.2.7,2001:db8::/32".into(),
            ..HttpSection::default()
        };
        let http = section.check().unwrap();
        let nets: Vec<String> = http
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nets, ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]);
        let bad = HttpSection {
            http_trusted_proxies: "10.0.0.0/8, proxy.internal".into(),
            ..HttpSection::default()
        };
        let err = bad.check().unwrap_err().to_string();
        assert!(err.contains("TENANTGRAPH_HTTP_TRUSTED_PROXIES"), "{err}");
        assert!(
            err.contains("proxy.internal") && !err.contains('\n'),
            "{err}"
        );
    }
}
