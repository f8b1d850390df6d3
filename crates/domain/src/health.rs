//! Health checks: what a probe of a target found, and which addresses a probe may never
//! reach.

use crate::error::ValidationErrors;
use crate::ids::{TargetId, TenantId};
use crate::target::{Connection, HealthStatus};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use uuid::Uuid;

/// One kept health check of a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HealthCheckId(pub Uuid);

impl fmt::Display for HealthCheckId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What one probe found: a status and a sentence a person can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The verdict.
    pub status: HealthStatus,
    /// Why, such as "Docker daemon responding" or the reason a connection failed.
    pub message: String,
}

impl ProbeOutcome {
    /// An outcome of `status` saying `message`.
    pub fn new(status: HealthStatus, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

/// A health check as kept in a target's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthCheck {
    /// Its id.
    pub id: HealthCheckId,
    /// The organization of the target.
    pub tenant: TenantId,
    /// The target checked.
    pub target_id: TargetId,
    /// The verdict.
    pub status: HealthStatus,
    /// Why.
    pub message: String,
    /// When the probe finished.
    pub checked_at: DateTime<Utc>,
}

impl HealthCheck {
    /// The check `outcome` records for `target_id` at `checked_at` (truncated to
    /// microseconds, so it reads back unchanged).
    pub fn new(
        id: HealthCheckId,
        tenant: TenantId,
        target_id: TargetId,
        outcome: ProbeOutcome,
        checked_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant,
            target_id,
            status: outcome.status,
            message: outcome.message,
            checked_at: crate::time::truncate(checked_at),
        }
    }
}

/// A block of IP addresses, like `10.0.0.0/8` or `fe80::/10`; a bare address is a block of
/// one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `address/prefix` or a bare address.
    ///
    /// # Errors
    /// A message naming the bad text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || format!("`{text}` is not an address block like 10.0.0.0/8 or fe80::/10");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| bad())?;
        let network = canonical(network);
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
        };
        Ok(Self { network, prefix })
    }

    /// Parses a comma- or space-separated list; an empty text is an empty list.
    ///
    /// # Errors
    /// The message of the first bad block.
    pub fn parse_list(text: &str) -> Result<Vec<Self>, String> {
        text.split([',', ' '])
            .filter(|s| !s.trim().is_empty())
            .map(Self::parse)
            .collect()
    }

    /// Whether `address` lies in this block.
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// An IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is that IPv4 address, so a
/// block cannot be sidestepped by spelling.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Which addresses a probe may reach. By default link-local addresses and the cloud metadata
/// services behind them (169.254.0.0/16, fe80::/10, fd00:ec2::254) are refused, so a target
/// cannot be turned into a way to read the host's cloud credentials. `allow` takes blocks out
/// of those defaults; `deny` refuses more blocks, whatever `allow` says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPolicy {
    allow: Vec<Cidr>,
    deny: Vec<Cidr>,
}

impl Default for AddressPolicy {
    fn default() -> Self {
        Self::new(Vec::new(), Vec::new())
    }
}

impl AddressPolicy {
    /// The blocks refused unless allowed.
    pub fn default_refused() -> [Cidr; 3] {
        [
            Cidr {
                network: IpAddr::V4([169, 254, 0, 0].into()),
                prefix: 16,
            },
            Cidr {
                network: IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0)),
                prefix: 10,
            },
            Cidr {
                network: IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
                prefix: 128,
            },
        ]
    }

    /// The defaults, minus `allow`, plus `deny`.
    pub fn new(allow: Vec<Cidr>, deny: Vec<Cidr>) -> Self {
        Self { allow, deny }
    }

    /// Why a probe may not reach `address`, or `None` when it may.
    pub fn refusal(&self, address: IpAddr) -> Option<String> {
        if let Some(block) = self.deny.iter().find(|b| b.contains(address)) {
            return Some(format!(
                "probes may not reach {address}: it is in {block}, which TERRANE_PROBE_DENY refuses"
            ));
        }
        let refused = Self::default_refused()
            .into_iter()
            .find(|b| b.contains(address))?;
        if self.allow.iter().any(|b| b.contains(address)) {
            return None;
        }
        Some(format!(
            "probes may not reach {address}: it is in {refused}, a link-local or cloud metadata \
             block (allow it with TERRANE_PROBE_ALLOW)"
        ))
    }

    /// Checks the address of `connection` when it is written as an IP address; host names
    /// are checked when a probe resolves them.
    ///
    /// # Errors
    /// [`ValidationErrors`] on `connection.host` or `connection.address` with the reason.
    pub fn check_connection(&self, connection: &Connection) -> Result<(), ValidationErrors> {
        let (field, host) = match connection {
            Connection::DockerHost(d) => ("connection.host", d.host()),
            Connection::ComposeHost(c) => ("connection.host", c.docker().host()),
            Connection::NomadJob(n) => ("connection.address", url_host(n.address())),
            Connection::EcsService(_) => return Ok(()),
        };
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match bare.parse::<IpAddr>().ok().and_then(|ip| self.refusal(ip)) {
            Some(reason) => Err(ValidationErrors::single(field, reason)),
            None => Ok(()),
        }
    }
}

/// The host of an `http(s)://host[:port]/...` URL, IPv6 in brackets.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.starts_with('[') {
        authority
            .find(']')
            .map_or(authority, |end| &authority[..=end])
    } else {
        authority
            .split_once(':')
            .map_or(authority, |(host, _)| host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::TargetType;
    use serde_json::{json, Value};

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn connection(target_type: TargetType, value: Value) -> Connection {
        let Value::Object(map) = value else { panic!() };
        Connection::parse(target_type, &map).unwrap()
    }

    #[test]
    fn blocks_parse_with_or_without_a_prefix_and_refuse_nonsense() {
        assert!(Cidr::parse("10.0.0.0/8").unwrap().contains(ip("10.9.8.7")));
        assert!(!Cidr::parse("10.0.0.0/8").unwrap().contains(ip("11.0.0.1")));
        assert!(Cidr::parse("::1").unwrap().contains(ip("::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(!Cidr::parse("0.0.0.0/0").unwrap().contains(ip("::2")));
        for bad in ["10.0.0.0/33", "fe80::/129", "nope", "10.0.0.0/x", "1.2.3/8"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Cidr::parse_list("10.0.0.0/8, 192.168.0.0/16")
                .unwrap()
                .len(),
            2
        );
        assert!(Cidr::parse_list("").unwrap().is_empty());
    }

    #[test]
    fn link_local_and_metadata_addresses_are_refused_by_default_in_any_spelling() {
        let policy = AddressPolicy::default();
        for refused in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(policy.refusal(ip(refused)).is_some(), "{refused}");
        }
        for allowed in [
            "127.0.0.1",
            "10.0.0.1",
            "::1",
            "fd00:ec2::253",
            "192.168.1.100",
        ] {
            assert_eq!(policy.refusal(ip(allowed)), None, "{allowed}");
        }
    }

    #[test]
    fn allow_lifts_a_default_and_deny_adds_blocks_and_wins_over_allow() {
        let allow = Cidr::parse_list("169.254.10.0/24").unwrap();
        let deny = Cidr::parse_list("10.0.0.0/8,169.254.10.5").unwrap();
        let policy = AddressPolicy::new(allow, deny);
        assert_eq!(policy.refusal(ip("169.254.10.1")), None);
        assert!(policy.refusal(ip("169.254.169.254")).is_some());
        assert!(policy
            .refusal(ip("10.1.2.3"))
            .unwrap()
            .contains("TERRANE_PROBE_DENY"));
        assert!(policy.refusal(ip("169.254.10.5")).is_some());
    }

    #[test]
    fn literal_ip_connections_are_checked_and_host_names_are_left_to_the_probe() {
        let policy = AddressPolicy::default();
        let docker = connection(
            TargetType::DockerHost,
            json!({"host": "169.254.169.254", "port": 2375}),
        );
        let errors = policy.check_connection(&docker).unwrap_err();
        assert_eq!(errors.errors()[0].field, "connection.host");
        let nomad = connection(
            TargetType::NomadJob,
            json!({"address": "http://[fe80::1]:4646", "jobId": "api"}),
        );
        assert_eq!(
            policy.check_connection(&nomad).unwrap_err().errors()[0].field,
            "connection.address"
        );
        let named = connection(
            TargetType::DockerHost,
            json!({"host": "metadata.example.com", "port": 2375}),
        );
        assert!(policy.check_connection(&named).is_ok());
        let ecs = connection(
            TargetType::EcsService,
            json!({"cluster": "c", "service": "s", "region": "us-east-1"}),
        );
        assert!(policy.check_connection(&ecs).is_ok());
    }

    #[test]
    fn url_hosts_are_read_with_and_without_ports_and_brackets() {
        assert_eq!(url_host("http://127.0.0.1:4646/v1"), "127.0.0.1");
        assert_eq!(url_host("https://nomad.example.com"), "nomad.example.com");
        assert_eq!(url_host("http://[::1]:4646"), "[::1]");
        assert_eq!(url_host("http://n?x=1"), "n");
    }
}
