//! Targets: the places things run, with a connection checked for their kind and labels to
//! find them by.

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{EnvironmentId, TargetGroupId, TargetId, TenantId};
use crate::target_group::parse_name;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use uuid::Uuid;

wire_enum!(
    /// What kind of place a target is; decides the fields of its connection.
    TargetType, "targetType" {
        /// A Docker daemon reached over TCP.
        DockerHost => "docker_host",
        /// A Docker daemon that runs a Compose project.
        ComposeHost => "compose_host",
        /// An Amazon ECS service.
        EcsService => "ecs_service",
        /// A HashiCorp Nomad job.
        NomadJob => "nomad_job",
    }
);

wire_enum!(
    /// What the last health check of a target found.
    HealthStatus, "healthStatus" {
        /// Never checked.
        Unknown => "unknown",
        /// Answering as expected.
        Healthy => "healthy",
        /// Answering, with problems.
        Degraded => "degraded",
        /// Not answering.
        Unhealthy => "unhealthy",
    }
);

/// A valid target name (1 to 100 ASCII letters, digits, `.`, `_` or `-`, starting with a
/// letter or digit); unique per environment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetName(String);

impl TargetName {
    /// Parses a name.
    ///
    /// # Errors
    /// A [`FieldError`] on `name` saying which rule the value breaks.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        parse_name(value, "name").map(Self)
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
fn check_host(value: &str) -> Result<(), String> {
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
fn check_http_url(value: &str) -> Result<(), String> {
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

/// A label key: 1 to 63 lowercase letters, digits, `.`, `_`, `/` or `-`.
fn check_label_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > Labels::MAX_KEY_LEN {
        return Err("label keys must be 1 to 63 characters".into());
    }
    if key.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'/' | b'-')
    }) {
        Ok(())
    } else {
        Err("label keys may contain only lowercase letters, digits, '.', '_', '/' and '-'".into())
    }
}

/// A target's labels: at most 64 pairs of a key (1 to 63 of `a-z 0-9 . _ / -`) and a text
/// value of at most 255 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    /// Most labels on one target.
    pub const MAX_LABELS: usize = 64;
    /// Longest key.
    pub const MAX_KEY_LEN: usize = 63;
    /// Longest value, in characters.
    pub const MAX_VALUE_LEN: usize = 255;

    /// Parses a JSON object of string values.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `labels` when there are too many, and `labels.<key>` for
    /// each bad key or value.
    pub fn parse(raw: &Map<String, Value>) -> Result<Labels, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if raw.len() > Self::MAX_LABELS {
            errors.add("labels", "may hold at most 64 labels");
        }
        let mut labels = BTreeMap::new();
        for (key, value) in raw {
            let field = format!("labels.{key}");
            if let Err(message) = check_label_key(key) {
                errors.add(field, message);
                continue;
            }
            match value {
                Value::String(text) if text.chars().count() <= Self::MAX_VALUE_LEN => {
                    labels.insert(key.clone(), text.clone());
                }
                Value::String(_) => errors.add(field, "must be at most 255 characters"),
                _ => errors.add(field, "must be a string"),
            }
        }
        errors.into_result(|| Labels(labels))
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True without labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a JSON object.
    pub fn to_json(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    }
}

/// A label filter: a target matches when it has every listed pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(BTreeMap<String, String>);

impl LabelSelector {
    /// Parses a JSON object of string values, such as `{"role":"web"}`.
    ///
    /// # Errors
    /// A [`FieldError`] on `labels` when the text is not a JSON object of strings.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let bad = |message: String| FieldError::new("labels", message);
        let value: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "must be a JSON object of strings, like {{\"role\":\"web\"}}: {e}"
            ))
        })?;
        let Value::Object(map) = value else {
            return Err(bad(
                "must be a JSON object of strings, like {\"role\":\"web\"}".into(),
            ));
        };
        map.into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key, text)),
                _ => Err(bad(format!("the value of `{key}` must be a string"))),
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `labels` has every pair of this selector.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v.as_str()))
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when it lists no pair (and so matches every target).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The selector as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}

/// Longest deployment directory.
pub const MAX_DIRECTORY_LEN: usize = 1024;

/// An absolute path of at most 1024 characters without control characters.
fn parse_directory(value: Option<String>) -> Result<Option<String>, FieldError> {
    let bad = |message: &str| Err(FieldError::new("deploymentDirectory", message));
    match value {
        None => Ok(None),
        Some(path) if !path.starts_with('/') => {
            bad("must be an absolute path, like /opt/deployments")
        }
        Some(path) if path.chars().count() > MAX_DIRECTORY_LEN => {
            bad("must be at most 1024 characters")
        }
        Some(path) if path.chars().any(char::is_control) => {
            bad("must not contain control characters")
        }
        Some(path) => Ok(Some(path)),
    }
}

/// A stored target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its id.
    pub id: TargetId,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// A target group assigned to that environment, if any.
    pub target_group_id: Option<TargetGroupId>,
    /// Unique per environment.
    pub name: TargetName,
    /// How to reach it; its variant is the target's type.
    pub connection: Connection,
    /// Labels to find it by.
    pub labels: Labels,
    /// Where deployments put their files on the target.
    pub deployment_directory: Option<String>,
    /// What the last health check found.
    pub health_status: HealthStatus,
    /// What the last health check said.
    pub health_message: Option<String>,
    /// When it was last checked.
    pub last_health_check_at: Option<DateTime<Utc>>,
    /// Bumped by every change; served as the ETag.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Target {
    /// The target's type, which its connection decides.
    pub fn target_type(&self) -> TargetType {
        self.connection.target_type()
    }
}

/// Raw, unvalidated target fields as a client sends them; `None` means absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TargetInput {
    /// See [`Target::environment_id`].
    pub environment_id: Option<Uuid>,
    /// `Some(None)` takes the target out of its group on update.
    pub target_group_id: Option<Option<Uuid>>,
    /// See [`Target::name`].
    pub name: Option<String>,
    /// Wire name of a [`TargetType`].
    pub target_type: Option<String>,
    /// The connection object, checked against the type.
    pub connection: Option<Map<String, Value>>,
    /// The labels object; replaces all labels on update.
    pub labels: Option<Map<String, Value>>,
    /// `Some(None)` clears the directory on update.
    pub deployment_directory: Option<Option<String>>,
}

/// A validated target to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewTarget {
    /// The environment it belongs to.
    pub environment_id: EnvironmentId,
    /// A group that must be assigned to that environment.
    pub target_group_id: Option<TargetGroupId>,
    /// Unique per environment.
    pub name: TargetName,
    /// How to reach it.
    pub connection: Connection,
    /// Defaults to none.
    pub labels: Labels,
    /// Where deployments put their files.
    pub deployment_directory: Option<String>,
}

/// Validated changes to a target; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetChanges {
    /// Moves the target to another environment.
    pub environment_id: Option<EnvironmentId>,
    /// `Some(None)` takes it out of its group.
    pub target_group_id: Option<Option<TargetGroupId>>,
    /// New name.
    pub name: Option<TargetName>,
    /// New connection, and with it possibly a new type.
    pub connection: Option<Connection>,
    /// New labels, replacing all.
    pub labels: Option<Labels>,
    /// `Some(None)` clears it.
    pub deployment_directory: Option<Option<String>>,
}

/// Checks the fields every target input shares: everything but the connection.
struct Common {
    name: Option<TargetName>,
    target_type: Option<TargetType>,
    labels: Option<Labels>,
    deployment_directory: Option<Option<String>>,
}

impl TargetInput {
    fn common(&self, errors: &mut ValidationErrors) -> Common {
        let name = self.name.as_deref().map(TargetName::parse).transpose();
        let target_type = self
            .target_type
            .as_deref()
            .map(|v| TargetType::parse_field(v, "targetType"))
            .transpose();
        let name = errors.take(name).flatten();
        let target_type = errors.take(target_type).flatten();
        let labels = match self.labels.as_ref().map(Labels::parse).transpose() {
            Ok(labels) => labels,
            Err(bad) => {
                bad.errors()
                    .iter()
                    .for_each(|e| errors.add(e.field.clone(), e.message.clone()));
                None
            }
        };
        let directory = self
            .deployment_directory
            .clone()
            .map(parse_directory)
            .transpose();
        Common {
            name,
            target_type,
            labels,
            deployment_directory: errors.take(directory).flatten(),
        }
    }

    /// Validates a new target: `environmentId`, `name`, `targetType` and `connection` are
    /// required; the connection is checked against the type.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad or missing field.
    pub fn into_new(self) -> Result<NewTarget, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let common = self.common(&mut errors);
        for (missing, field) in [
            (self.environment_id.is_none(), "environmentId"),
            (self.name.is_none(), "name"),
            (self.target_type.is_none(), "targetType"),
            (self.connection.is_none(), "connection"),
        ] {
            if missing {
                errors.add(field, "is required");
            }
        }
        let connection = match (common.target_type, &self.connection) {
            (Some(target_type), Some(raw)) => match Connection::parse(target_type, raw) {
                Ok(connection) => Some(connection),
                Err(bad) => {
                    bad.errors()
                        .iter()
                        .for_each(|e| errors.add(e.field.clone(), e.message.clone()));
                    None
                }
            },
            _ => None,
        };
        match (self.environment_id, common.name, connection) {
            (Some(environment_id), Some(name), Some(connection)) if errors.is_empty() => {
                Ok(NewTarget {
                    environment_id: EnvironmentId(environment_id),
                    target_group_id: self.target_group_id.flatten().map(TargetGroupId),
                    name,
                    connection,
                    labels: common.labels.unwrap_or_default(),
                    deployment_directory: common.deployment_directory.flatten(),
                })
            }
            _ => Err(errors),
        }
    }

    /// Validates the fields present against `current`. A new `targetType` or `connection`
    /// replaces the connection as a whole: the given connection (or, when only the type
    /// changes, the current one) is checked against the given type (or the current one).
    ///
    /// # Errors
    /// [`ValidationErrors`] naming each bad field.
    pub fn into_changes(self, current: &Target) -> Result<TargetChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let common = self.common(&mut errors);
        let connection = if self.target_type.is_some() || self.connection.is_some() {
            match common
                .target_type
                .or(self.target_type.is_none().then(|| current.target_type()))
            {
                // An unknown type was named above; its connection cannot be checked.
                None => None,
                Some(target_type) => {
                    let raw = self
                        .connection
                        .clone()
                        .unwrap_or_else(|| current.connection.to_json());
                    match Connection::parse(target_type, &raw) {
                        Ok(connection) => Some(connection),
                        Err(bad) => {
                            bad.errors()
                                .iter()
                                .for_each(|e| errors.add(e.field.clone(), e.message.clone()));
                            None
                        }
                    }
                }
            }
        } else {
            None
        };
        let changes = TargetChanges {
            environment_id: self.environment_id.map(EnvironmentId),
            target_group_id: self.target_group_id.map(|g| g.map(TargetGroupId)),
            name: common.name,
            connection,
            labels: common.labels,
            deployment_directory: common.deployment_directory,
        };
        errors.into_result(|| changes)
    }
}

impl NewTarget {
    /// The stored target this becomes: never checked, so its health is unknown.
    pub fn into_target(self, id: TargetId, tenant: TenantId, now: DateTime<Utc>) -> Target {
        let now = crate::time::truncate(now);
        Target {
            id,
            tenant,
            environment_id: self.environment_id,
            target_group_id: self.target_group_id,
            name: self.name,
            connection: self.connection,
            labels: self.labels,
            deployment_directory: self.deployment_directory,
            health_status: HealthStatus::Unknown,
            health_message: None,
            last_health_check_at: None,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }
}

impl TargetChanges {
    /// True when nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl Target {
    /// The target after `changes`, with its version bumped and `updated_at` set to `now`.
    pub fn apply(&self, changes: TargetChanges, now: DateTime<Utc>) -> Target {
        let mut next = self.clone();
        macro_rules! set {
            ($($field:ident),+) => { $(if let Some(v) = changes.$field { next.$field = v; })+ };
        }
        set!(
            environment_id,
            target_group_id,
            name,
            connection,
            labels,
            deployment_directory
        );
        next.version = self.version + 1;
        next.updated_at = crate::time::truncate(now);
        next
    }
}

/// Filters of the target list; every one given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFilter {
    /// In this environment.
    pub environment_id: Option<EnvironmentId>,
    /// In this group.
    pub target_group_id: Option<TargetGroupId>,
    /// Of this type.
    pub target_type: Option<TargetType>,
    /// With this health.
    pub health_status: Option<HealthStatus>,
    /// With every one of these labels.
    pub labels: Option<LabelSelector>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn fields_of(errors: &ValidationErrors) -> Vec<&str> {
        errors.errors().iter().map(|e| e.field.as_str()).collect()
    }

    fn connection(target_type: TargetType, value: Value) -> Result<Connection, ValidationErrors> {
        Connection::parse(target_type, &object(value))
    }

    fn seed() -> TargetInput {
        TargetInput {
            environment_id: Some(Uuid::from_u128(1)),
            target_group_id: Some(Some(Uuid::from_u128(2))),
            name: Some("prod-web-01".into()),
            target_type: Some("docker_host".into()),
            connection: Some(object(
                json!({"host": "192.168.1.100", "port": 2375, "tlsEnabled": true}),
            )),
            labels: Some(object(json!({"role": "web", "datacenter": "us-east-1"}))),
            deployment_directory: Some(Some("/opt/deployments".into())),
        }
    }

    fn stored(input: TargetInput) -> Target {
        input.into_new().unwrap().into_target(
            TargetId(Uuid::from_u128(9)),
            TenantId(Uuid::nil()),
            Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap(),
        )
    }

    #[test]
    fn the_seed_example_is_a_valid_docker_host_that_starts_with_unknown_health() {
        let target = stored(seed());
        assert_eq!(target.target_type(), TargetType::DockerHost);
        let Connection::DockerHost(docker) = &target.connection else {
            panic!("{:?}", target.connection)
        };
        assert_eq!(
            (docker.host(), docker.port(), docker.tls_enabled()),
            ("192.168.1.100", 2375, true)
        );
        assert_eq!(target.labels.get("role"), Some("web"));
        assert_eq!(target.health_status, HealthStatus::Unknown);
        assert_eq!(
            (target.health_message, target.last_health_check_at),
            (None, None)
        );
        assert_eq!(target.version, 1);
    }

    #[test]
    fn a_docker_host_needs_a_host_and_a_port_and_defaults_tls_to_off() {
        let ok = connection(
            TargetType::DockerHost,
            json!({"host": "docker.internal", "port": 2376}),
        )
        .unwrap();
        assert_eq!(ok.to_json()["tlsEnabled"], json!(false));
        let errors = connection(TargetType::DockerHost, json!({})).unwrap_err();
        assert_eq!(fields_of(&errors), ["connection.host", "connection.port"]);
    }

    #[test]
    fn every_bad_docker_field_is_named_at_once() {
        let errors = connection(
            TargetType::DockerHost,
            json!({"host": "bad host!", "port": 70000, "tlsEnabled": "yes", "socket": "/var/run"}),
        )
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "connection.host",
                "connection.port",
                "connection.tlsEnabled",
                "connection.socket"
            ]
        );
    }

    #[test]
    fn hosts_are_host_names_or_ip_addresses() {
        for ok in [
            "localhost",
            "docker-1.eu.example.com",
            "10.0.0.1",
            "::1",
            "[2001:db8::1]",
            "a1",
        ] {
            assert!(check_host(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-lead.example.com",
            "under_score.com",
            "192.168.1.300",
            "a..b",
            "with space",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ports_are_whole_numbers_from_1_to_65535() {
        for ok in [1, 65535] {
            assert!(connection(TargetType::DockerHost, json!({"host": "h", "port": ok})).is_ok());
        }
        for bad in [
            json!(0),
            json!(65536),
            json!(-1),
            json!(22.5),
            json!("2375"),
        ] {
            let errors =
                connection(TargetType::DockerHost, json!({"host": "h", "port": bad})).unwrap_err();
            assert_eq!(fields_of(&errors), ["connection.port"], "{bad}");
        }
    }

    #[test]
    fn a_compose_host_also_needs_a_project_name_in_compose_syntax() {
        let base = json!({"host": "h", "port": 2375});
        let errors = connection(TargetType::ComposeHost, base.clone()).unwrap_err();
        assert_eq!(fields_of(&errors), ["connection.projectName"]);
        let errors = connection(
            TargetType::ComposeHost,
            json!({"host": "h", "port": 2375, "projectName": "My App"}),
        )
        .unwrap_err();
        assert_eq!(fields_of(&errors), ["connection.projectName"]);
        let ok = connection(
            TargetType::ComposeHost,
            json!({"host": "h", "port": 2375, "projectName": "shop_2"}),
        )
        .unwrap();
        assert_eq!(ok.target_type(), TargetType::ComposeHost);
    }

    #[test]
    fn an_ecs_service_needs_cluster_service_and_an_aws_region() {
        let errors =
            connection(TargetType::EcsService, json!({"cluster": "", "host": "h"})).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "connection.cluster",
                "connection.service",
                "connection.region",
                "connection.host"
            ]
        );
        for region in ["us-east-1", "eu-central-2", "us-gov-west-1"] {
            assert!(
                connection(
                    TargetType::EcsService,
                    json!({"cluster": "prod", "service": "api", "region": region})
                )
                .is_ok(),
                "{region}"
            );
        }
        for region in ["useast1", "US-EAST-1", "us-east", "e-east-1"] {
            let errors = connection(
                TargetType::EcsService,
                json!({"cluster": "prod", "service": "api", "region": region}),
            )
            .unwrap_err();
            assert_eq!(fields_of(&errors), ["connection.region"], "{region}");
        }
    }

    #[test]
    fn a_nomad_job_needs_an_http_address_and_a_job_id_and_defaults_the_namespace() {
        let ok = connection(
            TargetType::NomadJob,
            json!({"address": "https://nomad.example.com:4646", "jobId": "api"}),
        )
        .unwrap();
        assert_eq!(ok.to_json()["namespace"], json!("default"));
        let errors = connection(
            TargetType::NomadJob,
            json!({"address": "ftp://nomad", "namespace": "bad ns"}),
        )
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "connection.address",
                "connection.jobId",
                "connection.namespace"
            ]
        );
    }

    #[test]
    fn nomad_addresses_are_http_or_https_urls_with_a_valid_host_and_port() {
        for ok in [
            "http://127.0.0.1:4646",
            "https://nomad.example.com",
            "http://[::1]:4646/v1",
            "https://n.example.com/?region=eu",
        ] {
            assert!(check_http_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "nomad:4646",
            "https://",
            "http://user:pw@nomad",
            "http://nomad:0",
            "http://nomad:port",
            "http://no mad",
            "https://-bad-",
        ] {
            assert!(check_http_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_connection_reads_back_from_its_own_json() {
        for (target_type, value) in [
            (
                TargetType::DockerHost,
                json!({"host": "h", "port": 1, "tlsEnabled": true}),
            ),
            (
                TargetType::ComposeHost,
                json!({"host": "h", "port": 2, "projectName": "p"}),
            ),
            (
                TargetType::EcsService,
                json!({"cluster": "c", "service": "s", "region": "eu-west-1"}),
            ),
            (
                TargetType::NomadJob,
                json!({"address": "http://n", "jobId": "j", "namespace": "ops"}),
            ),
        ] {
            let parsed = connection(target_type, value).unwrap();
            assert_eq!(
                Connection::parse(target_type, &parsed.to_json()).unwrap(),
                parsed
            );
        }
    }

    #[test]
    fn labels_are_bounded_string_pairs_named_by_key_when_bad() {
        let errors = Labels::parse(&object(json!({
            "Role": "web",
            "tier": 3,
            "zone": "x".repeat(256),
            "k8s.io/app": "",
            "ok": "fine"
        })))
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            ["labels.Role", "labels.tier", "labels.zone"]
        );
        let long_key = "k".repeat(64);
        let errors = Labels::parse(&object(json!({ long_key.clone(): "v" }))).unwrap_err();
        assert_eq!(fields_of(&errors), [format!("labels.{long_key}")]);
        let ok = Labels::parse(&object(json!({"k8s.io/app": "", "a": "x".repeat(255)}))).unwrap();
        assert_eq!(ok.len(), 2);
    }

    #[test]
    fn at_most_64_labels_are_accepted() {
        let many = |n: usize| -> Map<String, Value> {
            (0..n)
                .map(|i| (format!("k{i}"), Value::String("v".into())))
                .collect()
        };
        assert_eq!(Labels::parse(&many(64)).unwrap().len(), 64);
        assert_eq!(
            fields_of(&Labels::parse(&many(65)).unwrap_err()),
            ["labels"]
        );
    }

    #[test]
    fn a_label_selector_is_a_json_object_of_strings_and_matches_supersets() {
        let selector = LabelSelector::parse(r#"{"role":"web"}"#).unwrap();
        let labels = Labels::parse(&object(json!({"role": "web", "dc": "eu"}))).unwrap();
        assert!(selector.matches(&labels));
        assert!(!LabelSelector::parse(r#"{"role":"db"}"#)
            .unwrap()
            .matches(&labels));
        assert!(!LabelSelector::parse(r#"{"role":"web","dc":"us"}"#)
            .unwrap()
            .matches(&labels));
        assert!(LabelSelector::parse("{}").unwrap().matches(&labels));
        for bad in [
            "role=web",
            r#"{"role":1}"#,
            r#"["role"]"#,
            r#"{"role":null}"#,
            "",
        ] {
            assert_eq!(
                LabelSelector::parse(bad).unwrap_err().field,
                "labels",
                "{bad}"
            );
        }
    }

    #[test]
    fn a_new_target_names_every_missing_and_bad_field_at_once() {
        let errors = TargetInput {
            name: Some("bad name".into()),
            labels: Some(object(json!({"Bad": "x"}))),
            deployment_directory: Some(Some("relative/dir".into())),
            ..Default::default()
        }
        .into_new()
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "name",
                "labels.Bad",
                "deploymentDirectory",
                "environmentId",
                "targetType",
                "connection"
            ]
        );
    }

    #[test]
    fn an_unknown_type_is_named_without_guessing_at_the_connection() {
        let errors = TargetInput {
            target_type: Some("k8s_pod".into()),
            ..seed()
        }
        .into_new()
        .unwrap_err();
        assert_eq!(fields_of(&errors), ["targetType"]);
    }

    #[test]
    fn a_connection_bad_for_its_type_is_named_field_by_field() {
        let errors = TargetInput {
            target_type: Some("nomad_job".into()),
            ..seed()
        }
        .into_new()
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            [
                "connection.address",
                "connection.jobId",
                "connection.host",
                "connection.port",
                "connection.tlsEnabled"
            ]
        );
    }

    #[test]
    fn changing_only_the_type_revalidates_the_current_connection_against_it() {
        let current = stored(seed());
        let errors = TargetInput {
            target_type: Some("compose_host".into()),
            ..Default::default()
        }
        .into_changes(&current)
        .unwrap_err();
        assert_eq!(fields_of(&errors), ["connection.projectName"]);
        let changes = TargetInput {
            target_type: Some("ecs_service".into()),
            connection: Some(object(
                json!({"cluster": "c", "service": "s", "region": "us-east-1"}),
            )),
            ..Default::default()
        }
        .into_changes(&current)
        .unwrap();
        let next = current.apply(changes, current.updated_at);
        assert_eq!(next.target_type(), TargetType::EcsService);
    }

    #[test]
    fn a_new_connection_is_checked_against_the_current_type_and_replaces_the_old_one_whole() {
        let current = stored(seed());
        let changes = TargetInput {
            connection: Some(object(json!({"host": "10.0.0.2", "port": 2376}))),
            ..Default::default()
        }
        .into_changes(&current)
        .unwrap();
        let next = current.apply(changes, current.updated_at);
        assert_eq!(
            Value::Object(next.connection.to_json()),
            json!({"host": "10.0.0.2", "port": 2376, "tlsEnabled": false}),
            "tlsEnabled is not kept from the old connection"
        );
        let errors = TargetInput {
            connection: Some(object(json!({"cluster": "c"}))),
            ..Default::default()
        }
        .into_changes(&current)
        .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            ["connection.host", "connection.port", "connection.cluster"]
        );
    }

    #[test]
    fn applying_changes_keeps_absent_fields_clears_nulls_and_bumps_the_version() {
        let current = stored(seed());
        let later = current.updated_at + chrono::Duration::seconds(3);
        let changes = TargetInput {
            target_group_id: Some(None),
            deployment_directory: Some(None),
            labels: Some(Map::new()),
            ..Default::default()
        }
        .into_changes(&current)
        .unwrap();
        let next = current.apply(changes, later);
        assert_eq!(next.target_group_id, None);
        assert_eq!(next.deployment_directory, None);
        assert!(next.labels.is_empty());
        assert_eq!(next.name, current.name);
        assert_eq!(next.connection, current.connection);
        assert_eq!(
            (next.version, next.updated_at, next.created_at),
            (2, later, current.created_at)
        );
        assert!(TargetInput::default()
            .into_changes(&current)
            .unwrap()
            .is_empty());
    }

    #[test]
    fn types_and_health_statuses_round_trip_their_wire_names() {
        for t in TargetType::ALL {
            assert_eq!(t.as_str().parse::<TargetType>().unwrap(), *t);
        }
        for h in HealthStatus::ALL {
            assert_eq!(h.as_str().parse::<HealthStatus>().unwrap(), *h);
        }
        assert_eq!(
            TargetType::parse_field("vm", "targetType")
                .unwrap_err()
                .field,
            "targetType"
        );
    }
}
