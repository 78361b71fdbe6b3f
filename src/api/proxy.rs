//! The proxies whose `X-Forwarded-For` is believed: single addresses
//! (`127.0.0.1`) or ranges (`10.0.0.0/8`, `fd00::/8`), as operators write
//! them for a proxy whose address may change (a container network).

use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

/// One trusted proxy: an address, or a range of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyRange(ipnet::IpNet);

impl ProxyRange {
    pub fn contains(&self, address: &IpAddr) -> bool {
        // An IPv4 client may reach a dual-stack socket as ::ffff:a.b.c.d.
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(*address, IpAddr::V4),
            IpAddr::V4(_) => *address,
        };
        self.0.contains(&address)
    }
}

impl FromStr for ProxyRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if let Ok(net) = s.parse::<ipnet::IpNet>() {
            return Ok(ProxyRange(net.trunc()));
        }
        s.parse::<IpAddr>()
            .map(|a| ProxyRange(ipnet::IpNet::from(a)))
            .map_err(|_| {
                format!("{s:?} is neither an address (127.0.0.1) nor a range (10.0.0.0/8)")
            })
    }
}

impl std::fmt::Display for ProxyRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Every trusted proxy. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[ProxyRange]>);

impl TrustedProxies {
    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.iter().any(|r| r.contains(address))
    }
}

impl From<Vec<ProxyRange>> for TrustedProxies {
    fn from(v: Vec<ProxyRange>) -> Self {
        TrustedProxies(v.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ranges: &[&str], address: &str, expect: bool) {
        let t: TrustedProxies = ranges
            .iter()
            .map(|r| r.parse().unwrap())
            .collect::<Vec<ProxyRange>>()
            .into();
        assert_eq!(
            t.contains(&address.parse().unwrap()),
            expect,
            "{ranges:?} {address}"
        );
    }

    #[test]
    fn addresses_and_ranges() {
        check(&["127.0.0.1"], "127.0.0.1", true);
        check(&["127.0.0.1"], "127.0.0.2", false);
        check(&["127.0.0.0/8"], "127.9.9.9", true);
        check(&["127.0.0.0/8"], "128.0.0.1", false);
        check(&["10.1.2.3/8"], "10.200.0.1", true);
        check(&["172.17.0.0/16"], "::ffff:172.17.0.1", true);
        check(&["fd00::/8"], "fd12::1", true);
        check(&["fd00::/8"], "fe80::1", false);
        check(&[], "127.0.0.1", false);
    }

    #[test]
    fn refusals_say_what_was_given() {
        for bad in ["", "localhost", "10.0.0.0/33", "1.2.3"] {
            let e = bad.parse::<ProxyRange>().unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        assert_eq!(
            "10.1.2.3/8".parse::<ProxyRange>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<ProxyRange>().unwrap().to_string(), "::1");
    }
}
