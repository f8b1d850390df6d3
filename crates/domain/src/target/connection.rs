//! How terrane reaches a target: one connection object per target type, each field checked.

use super::TargetType;
use crate::error::ValidationErrors;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// How to reach a Docker daemon over TCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerEndpoint {
    host: String,
    port: u16,
    tls_enabled: bool,
}

impl DockerEndpoint {
    /// A host name or an IP address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The daemon's TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the daemon speaks TLS.
    pub fn tls_enabled(&self) -> bool {
        self.tls_enabled
    }
}

/// A Compose project on a Docker daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeEndpoint {
    docker: DockerEndpoint,
    project_name: String,
}

impl ComposeEndpoint {
    /// The daemon.
    pub fn docker(&self) -> &DockerEndpoint {
        &self.docker
    }

    /// The Compose project name (`docker compose -p`).
    pub fn project_name(&self) -> &str {
        &self.project_name
    }
}

/// An ECS service in a cluster of an AWS region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcsEndpoint {
    cluster: String,
    service: String,
    region: String,
}

impl EcsEndpoint {
    /// Cluster name or ARN.
    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Service name or ARN.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// AWS region, like `us-east-1`.
    pub fn region(&self) -> &str {
        &self.region
    }
}

/// A Nomad job behind a Nomad API address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NomadEndpoint {
    address: String,
    job_id: String,
    namespace: String,
}

impl NomadEndpoint {
    /// The Nomad HTTP API, an `http://` or `https://` URL.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The job's id.
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The job's namespace.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
}

/// How terrane reaches a target, valid for its type. Only [`Connection::parse`] builds one,
/// so holding a connection means every field of its type is present and well formed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// See [`TargetType::DockerHost`].
    DockerHost(DockerEndpoint),
    /// See [`TargetType::ComposeHost`].
    ComposeHost(ComposeEndpoint),
    /// See [`TargetType::EcsService`].
    EcsService(EcsEndpoint),
    /// See [`TargetType::NomadJob`].
    NomadJob(NomadEndpoint),
}

/// Default Nomad namespace.
pub const DEFAULT_NOMAD_NAMESPACE: &str = "default";

/// Reads the fields of one connection object, recording each bad or missing one under
/// `connection.<field>`.
struct Fields<'a> {
    raw: &'a Map<String, Value>,
    target_type: TargetType,
    known: &'static [&'static str],
    errors: ValidationErrors,
}

impl<'a> Fields<'a> {
    fn new(raw: &'a Map<String, Value>, target_type: TargetType) -> Self {
        let known: &'static [&'static str] = match target_type {
            TargetType::DockerHost => &["host", "port", "tlsEnabled"],
            TargetType::ComposeHost => &["host", "port", "tlsEnabled", "projectName"],
            TargetType::EcsService => &["cluster", "service", "region"],
            TargetType::NomadJob => &["address", "jobId", "namespace"],
        };
        Self {
            raw,
            target_type,
            known,
            errors: ValidationErrors::new(),
        }
    }

    fn bad(&mut self, field: &str, message: impl Into<String>) {
        self.errors.add(format!("connection.{field}"), message);
    }

    /// A string field checked by `check`; `default` stands in when it is absent.
    fn text(
        &mut self,
        field: &str,
        default: Option<&str>,
        check: impl FnOnce(&str) -> Result<(), String>,
    ) -> Option<String> {
        let value = match (self.raw.get(field), default) {
            (None | Some(Value::Null), Some(default)) => return Some(default.to_owned()),
            (None | Some(Value::Null), None) => {
                let message = format!("is required for a {} connection", self.target_type);
                self.bad(field, message);
                return None;
            }
            (Some(Value::String(value)), _) => value,
            (Some(_), _) => {
                self.bad(field, "must be a string");
                return None;
            }
        };
        match check(value) {
            Ok(()) => Some(value.clone()),
            Err(message) => {
                self.bad(field, message);
                None
            }
        }
    }

    fn port(&mut self, field: &str) -> Option<u16> {
        match self.raw.get(field) {
            None | Some(Value::Null) => {
                let message = format!("is required for a {} connection", self.target_type);
                self.bad(field, message);
                None
            }
            Some(Value::Number(n)) => match n.as_u64().and_then(|n| u16::try_from(n).ok()) {
                Some(port) if port >= 1 => Some(port),
                _ => {
                    self.bad(field, "must be a whole number between 1 and 65535");
                    None
                }
            },
            Some(_) => {
                self.bad(field, "must be a whole number between 1 and 65535");
                None
            }
        }
    }

    fn flag(&mut self, field: &str, default: bool) -> Option<bool> {
        match self.raw.get(field) {
            None | Some(Value::Null) => Some(default),
            Some(Value::Bool(value)) => Some(*value),
            Some(_) => {
                self.bad(field, "must be true or false");
                None
            }
        }
    }

    fn docker(&mut self) -> Option<DockerEndpoint> {
        let host = self.text("host", None, check_host);
        let port = self.port("port");
        let tls_enabled = self.flag("tlsEnabled", false);
        Some(DockerEndpoint {
            host: host?,
            port: port?,
            tls_enabled: tls_enabled?,
        })
    }

    /// Records every field the type does not know, then returns the errors if any.
    fn finish<T>(mut self, value: Option<T>) -> Result<T, ValidationErrors> {
        let unknown: Vec<String> = self
            .raw
            .keys()
            .filter(|k| !self.known.contains(&k.as_str()))
            .cloned()
            .collect();
        for field in unknown {
            let message = format!(
                "is not a field of a {} connection (expected {})",
                self.target_type,
                self.known.join(", ")
            );
            self.bad(&field, message);
        }
        match value {
            Some(value) if self.errors.is_empty() => Ok(value),
            _ => Err(self.errors),
        }
    }
}

/// A host name (RFC 1123 labels) or an IP address (IPv6 optionally in brackets).
pub(super) fn check_host(value: &str) -> Result<(), String> {
    const MESSAGE: &str = "must be a host name or an IP address";
    if value.is_empty() {
        return Err("must not be empty".into());
    }
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if value.len() > 253 {
        return Err(MESSAGE.into());
    }
    let labels: Vec<&str> = value.split('.').collect();
    let label_ok = |label: &&str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    // An all-numeric last label is a mistyped IPv4 address, never a top-level domain.
    let numeric_tail = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if labels.iter().all(label_ok) && !numeric_tail {
        Ok(())
    } else {
        Err(MESSAGE.into())
    }
}

/// An `http://` or `https://` URL with a valid host, an optional port and no credentials.
pub(super) fn check_http_url(value: &str) -> Result<(), String> {
    const MESSAGE: &str = "must be an http:// or https:// URL, like https://nomad.example.com:4646";
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or(MESSAGE)?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(MESSAGE.into());
    }
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    if authority.contains('@') {
        return Err("must not contain credentials".into());
    }
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']').ok_or(MESSAGE)?;
        let (host, after) = authority.split_at(end + 1);
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':').ok_or(MESSAGE)?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    check_host(host).map_err(|_| MESSAGE.to_owned())?;
    if let Some(port) = port {
        match port.parse::<u16>() {
            Ok(p) if p >= 1 && port.bytes().all(|b| b.is_ascii_digit()) => {}
            _ => return Err(MESSAGE.into()),
        }
    }
    Ok(())
}

/// 1 to `max` characters without whitespace or control characters.
fn check_token(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() {
        Err("must not be empty".into())
    } else if value.chars().count() > max {
        Err(format!("must be at most {max} characters"))
    } else if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Err("must not contain spaces or control characters".into())
    } else {
        Ok(())
    }
}

/// An AWS region: lowercase words joined by `-`, the first of two letters, the last a number
/// (`us-east-1`, `eu-central-2`, `us-gov-west-1`).
fn check_region(value: &str) -> Result<(), String> {
    let parts: Vec<&str> = value.split('-').collect();
    let word = |p: &&str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase());
    let ok = parts.len() >= 3
        && parts[0].len() == 2
        && parts[..parts.len() - 1].iter().all(word)
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok {
        Ok(())
    } else {
        Err("must be an AWS region, like us-east-1".into())
    }
}

/// A Compose project name: lowercase letters, digits, `-` and `_`, starting with a letter or
/// digit, at most 63 characters (Compose's own rule, bounded).
fn check_project_name(value: &str) -> Result<(), String> {
    let ok = (1..=63).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && value
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 63 lowercase letters, digits, '-' or '_', starting with a letter or digit".into())
    }
}

/// A Nomad namespace: 1 to 128 letters, digits, `-` or `_`.
fn check_namespace(value: &str) -> Result<(), String> {
    let ok = (1..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 128 letters, digits, '-' or '_'".into())
    }
}

impl Connection {
    /// Parses a connection object for `target_type`, applying the defaults (`tlsEnabled`
    /// false, `namespace` "default").
    ///
    /// # Errors
    /// [`ValidationErrors`] naming every bad, missing or unknown field as
    /// `connection.<field>`.
    pub fn parse(
        target_type: TargetType,
        raw: &Map<String, Value>,
    ) -> Result<Connection, ValidationErrors> {
        let mut fields = Fields::new(raw, target_type);
        let connection = match target_type {
            TargetType::DockerHost => fields.docker().map(Connection::DockerHost),
            TargetType::ComposeHost => {
                let docker = fields.docker();
                let project_name = fields.text("projectName", None, check_project_name);
                docker.zip(project_name).map(|(docker, project_name)| {
                    Connection::ComposeHost(ComposeEndpoint {
                        docker,
                        project_name,
                    })
                })
            }
            TargetType::EcsService => {
                let cluster = fields.text("cluster", None, |v| check_token(v, 255));
                let service = fields.text("service", None, |v| check_token(v, 255));
                let region = fields.text("region", None, check_region);
                match (cluster, service, region) {
                    (Some(cluster), Some(service), Some(region)) => {
                        Some(Connection::EcsService(EcsEndpoint {
                            cluster,
                            service,
                            region,
                        }))
                    }
                    _ => None,
                }
            }
            TargetType::NomadJob => {
                let address = fields.text("address", None, check_http_url);
                let job_id = fields.text("jobId", None, |v| check_token(v, 128));
                let namespace =
                    fields.text("namespace", Some(DEFAULT_NOMAD_NAMESPACE), check_namespace);
                match (address, job_id, namespace) {
                    (Some(address), Some(job_id), Some(namespace)) => {
                        Some(Connection::NomadJob(NomadEndpoint {
                            address,
                            job_id,
                            namespace,
                        }))
                    }
                    _ => None,
                }
            }
        };
        fields.finish(connection)
    }

    /// The type this connection is for.
    pub fn target_type(&self) -> TargetType {
        match self {
            Connection::DockerHost(_) => TargetType::DockerHost,
            Connection::ComposeHost(_) => TargetType::ComposeHost,
            Connection::EcsService(_) => TargetType::EcsService,
            Connection::NomadJob(_) => TargetType::NomadJob,
        }
    }

    /// The connection as a JSON object with every field, defaults included; parsing it again
    /// gives the same connection.
    pub fn to_json(&self) -> Map<String, Value> {
        let docker = |d: &DockerEndpoint, map: &mut Map<String, Value>| {
            map.insert("host".into(), d.host.clone().into());
            map.insert("port".into(), d.port.into());
            map.insert("tlsEnabled".into(), d.tls_enabled.into());
        };
        let mut map = Map::new();
        match self {
            Connection::DockerHost(d) => docker(d, &mut map),
            Connection::ComposeHost(c) => {
                docker(&c.docker, &mut map);
                map.insert("projectName".into(), c.project_name.clone().into());
            }
            Connection::EcsService(e) => {
                map.insert("cluster".into(), e.cluster.clone().into());
                map.insert("service".into(), e.service.clone().into());
                map.insert("region".into(), e.region.clone().into());
            }
            Connection::NomadJob(n) => {
                map.insert("address".into(), n.address.clone().into());
                map.insert("jobId".into(), n.job_id.clone().into());
                map.insert("namespace".into(), n.namespace.clone().into());
            }
        }
        map
    }
}
