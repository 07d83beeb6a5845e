//! Where a tenant's own webhook endpoint may be: public addresses only, unless the settings
//! allow private ones. An endpoint set through the API must not reach the service's own
//! network (a cloud metadata address, a database, the loopback interface). Names are checked
//! when they are resolved, at each attempt, so a name that later resolves elsewhere is caught.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address on the public internet: not loopback, private, shared (CGNAT),
/// link-local, unique-local, unspecified, broadcast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_unique_local()
                    || v6.is_unicast_link_local()
                    || v6.is_multicast())
            }
        },
    }
}

/// Why a URL's host may not be an endpoint, when it is an address or `localhost` that is not
/// public.
pub fn refuse_host(url: &url::Url) -> Option<String> {
    let refused = |what: String| Some(format!("{what} is not a public address"));
    match url.host()? {
        url::Host::Ipv4(ip) if !is_public(IpAddr::V4(ip)) => refused(ip.to_string()),
        url::Host::Ipv6(ip) if !is_public(IpAddr::V6(ip)) => refused(ip.to_string()),
        url::Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => {
            refused("localhost".to_owned())
        }
        _ => None,
    }
}

/// Resolves names as the system does and keeps only public addresses; a name with none left
/// fails to resolve.
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|addr| is_public(addr.ip()))
                .collect();
            if found.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let addrs: Addrs = Box::new(found.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_not_public() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(internal.parse().unwrap()), "{internal}");
        }
        for public in ["8.8.8.8", "20.190.128.1", "2606:4700::1111"] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
    }

    #[test]
    fn a_url_naming_an_internal_host_is_refused_by_name() {
        let refused = |u: &str| refuse_host(&url::Url::parse(u).unwrap());
        assert!(
            refused("http://169.254.169.254/latest")
                .unwrap()
                .contains("169.254.169.254")
        );
        assert!(refused("http://LOCALHOST:8080/").is_some());
        assert!(refused("http://[::1]/").is_some());
        assert_eq!(refused("https://hooks.example.com/x"), None);
    }

    #[tokio::test]
    async fn a_name_resolving_only_to_loopback_does_not_resolve() {
        let name: Name = "localhost".parse().unwrap();
        let err = PublicResolver.resolve(name).await.err().unwrap();
        assert!(err.to_string().contains("no public address"), "{err}");
    }
}
