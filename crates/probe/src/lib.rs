//! terrane's health prober: the [`HealthProber`] port over bounded HTTP.
//!
//! - `docker_host`, `compose_host`: the Docker Engine API `GET /_ping`; `200 OK` is healthy,
//!   another status degraded, no answer unhealthy with the reason.
//! - `nomad_job`: the Nomad HTTP API `GET /v1/job/{jobId}?namespace=...`; `running` is
//!   healthy, `pending` degraded, `dead` or no such job unhealthy.
//! - `ecs_service`: not probed; terrane holds no cloud credentials, the target's agent
//!   reports its health.
//!
//! Every probe resolves the host first and refuses, without sending anything, an address the
//! [`AddressPolicy`] refuses; the connection then goes to exactly the addresses checked
//! (no second lookup, no proxy, no redirects). A probe waits at most its connect and total
//! timeouts and reads at most [`MAX_BODY_BYTES`], so a hanging target costs one timer and
//! stalls nothing else.

mod webhook;

pub use webhook::{HttpWebhookSender, DEFAULT_WEBHOOK_TIMEOUT};

use async_trait::async_trait;
use reqwest::{StatusCode, Url};
use std::net::SocketAddr;
use std::time::Duration;
use terrane_domain::target::{DockerEndpoint, NomadEndpoint};
use terrane_domain::{AddressPolicy, Connection, HealthStatus, ProbeOutcome};
use terrane_ports::HealthProber;

/// Most bytes of an answer read; the rest is never received.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Default time for a whole probe: lookup, connection, request and answer.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Probes Docker daemons and Nomad jobs over plain HTTP.
#[derive(Debug, Clone)]
pub struct HttpProber {
    policy: AddressPolicy,
    connect_timeout: Duration,
    total_timeout: Duration,
}

impl HttpProber {
    /// A prober that refuses what `policy` refuses, with the default timeouts.
    pub fn new(policy: AddressPolicy) -> Self {
        Self {
            policy,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
        }
    }

    /// The same prober with other timeouts.
    pub fn with_timeouts(mut self, connect: Duration, total: Duration) -> Self {
        self.connect_timeout = connect;
        self.total_timeout = total;
        self
    }

    /// The addresses `host` resolves to, all allowed by the policy.
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
        resolve(&self.policy, host, port).await
    }

    /// GET `url` on exactly `addrs`, reading at most [`MAX_BODY_BYTES`] of the answer, and
    /// whether the answer was cut there.
    async fn get(
        &self,
        url: Url,
        host: &str,
        addrs: &[SocketAddr],
    ) -> Result<(StatusCode, Vec<u8>, bool), String> {
        let client = reqwest::Client::builder()
            // Docker daemons and Nomad clusters that speak TLS present certificates of their
            // own private CA, which terrane has no copy of. A probe sends no credentials and
            // only reads a status, so it checks the daemon answers rather than who signed it.
            .danger_accept_invalid_certs(true)
            .connect_timeout(self.connect_timeout)
            .timeout(self.total_timeout)
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(host, addrs)
            .build()
            .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
        let mut response = client.get(url).send().await.map_err(|e| describe(&e))?;
        let status = response.status();
        let mut body = Vec::new();
        let mut cut = false;
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            let room = MAX_BODY_BYTES - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                cut = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body, cut))
    }

    async fn docker(&self, docker: &DockerEndpoint) -> ProbeOutcome {
        let (host, port) = (bare(docker.host()), docker.port());
        // An IPv6 address is written in brackets in a URL, whichever way the target has it.
        let at = match host.parse::<std::net::Ipv6Addr>() {
            Ok(v6) => format!("[{v6}]:{port}"),
            Err(_) => format!("{host}:{port}"),
        };
        let scheme = if docker.tls_enabled() {
            "https"
        } else {
            "http"
        };
        let addrs = match self.resolve(host, port).await {
            Ok(addrs) => addrs,
            Err(reason) => return unreachable_at("the Docker daemon", &at, reason),
        };
        let url = match Url::parse(&format!("{scheme}://{at}/_ping")) {
            Ok(url) => url,
            Err(e) => return unreachable_at("the Docker daemon", &at, e.to_string()),
        };
        match self.get(url, host, &addrs).await {
            Ok((StatusCode::OK, _, _)) => {
                ProbeOutcome::new(HealthStatus::Healthy, "Docker daemon responding")
            }
            Ok((status, _, _)) => ProbeOutcome::new(
                HealthStatus::Degraded,
                format!("the Docker daemon at {at} answered /_ping with {status}"),
            ),
            Err(reason) => unreachable_at("the Docker daemon", &at, reason),
        }
    }

    async fn nomad(&self, nomad: &NomadEndpoint) -> ProbeOutcome {
        let address = nomad.address();
        let mut url = match Url::parse(address) {
            Ok(url) => url,
            Err(e) => return unreachable_at("Nomad", address, e.to_string()),
        };
        let (Some(host), Some(port)) = (url.host_str().map(bare), url.port_or_known_default())
        else {
            return unreachable_at("Nomad", address, "the address has no host".into());
        };
        let host = host.to_owned();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments
                .pop_if_empty()
                .extend(["v1", "job", nomad.job_id()]);
        }
        url.query_pairs_mut()
            .clear()
            .append_pair("namespace", nomad.namespace());
        let addrs = match self.resolve(&host, port).await {
            Ok(addrs) => addrs,
            Err(reason) => return unreachable_at("Nomad", address, reason),
        };
        let job = format!("{} (namespace {})", nomad.job_id(), nomad.namespace());
        match self.get(url, &host, &addrs).await {
            Ok((StatusCode::OK, _, true)) => ProbeOutcome::new(
                HealthStatus::Unknown,
                format!("Nomad's description of job {job} exceeds 64 KiB; its status was not read"),
            ),
            Ok((StatusCode::OK, body, false)) => nomad_status(&job, &body),
            Ok((StatusCode::NOT_FOUND, _, _)) => {
                ProbeOutcome::new(HealthStatus::Unhealthy, format!("Nomad has no job {job}"))
            }
            Ok((status, _, _)) => ProbeOutcome::new(
                HealthStatus::Degraded,
                format!("Nomad at {address} answered {status} for job {job}"),
            ),
            Err(reason) => unreachable_at("Nomad", address, reason),
        }
    }
}

/// The verdict a Nomad job's `Status` gives.
fn nomad_status(job: &str, body: &[u8]) -> ProbeOutcome {
    let status = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("Status").and_then(|s| s.as_str()).map(str::to_owned));
    match status.as_deref() {
        Some("running") => {
            ProbeOutcome::new(HealthStatus::Healthy, format!("Nomad job {job} running"))
        }
        Some("pending") => {
            ProbeOutcome::new(HealthStatus::Degraded, format!("Nomad job {job} pending"))
        }
        Some("dead") => ProbeOutcome::new(HealthStatus::Unhealthy, format!("Nomad job {job} dead")),
        Some(other) => ProbeOutcome::new(
            HealthStatus::Unknown,
            format!("Nomad job {job} has a status terrane does not know: {other}"),
        ),
        None => ProbeOutcome::new(
            HealthStatus::Unknown,
            format!("Nomad's answer for job {job} has no Status"),
        ),
    }
}

/// The addresses `host` resolves to, all allowed by `policy`: every outgoing connection
/// (probes and webhook deliveries) goes to exactly these, so a name that resolves to a
/// refused address is refused too.
async fn resolve(policy: &AddressPolicy, host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} resolves to no address"));
    }
    // Every address is checked, not only the first: the connection may go to any.
    if let Some(reason) = addrs.iter().find_map(|a| policy.refusal(a.ip())) {
        return Err(reason);
    }
    Ok(addrs)
}

/// A host without IPv6 brackets.
fn bare(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

fn unreachable_at(what: &str, at: &str, reason: String) -> ProbeOutcome {
    ProbeOutcome::new(
        HealthStatus::Unhealthy,
        format!("cannot reach {what} at {at}: {reason}"),
    )
}

/// A reqwest error as a sentence: the innermost cause says what actually happened
/// ("Connection refused"), the outer ones only that a request failed.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        return "no answer within the timeout".into();
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    cause.to_string()
}

#[async_trait]
impl HealthProber for HttpProber {
    async fn probe(&self, connection: &Connection) -> ProbeOutcome {
        let probe = async {
            match connection {
                Connection::DockerHost(docker) => self.docker(docker).await,
                Connection::ComposeHost(compose) => self.docker(compose.docker()).await,
                Connection::NomadJob(nomad) => self.nomad(nomad).await,
                Connection::EcsService(_) => ProbeOutcome::new(
                    HealthStatus::Unknown,
                    "an ecs_service is not probed: its agent reports its health",
                ),
            }
        };
        // The lookup is not covered by the HTTP client's timeout.
        match tokio::time::timeout(self.total_timeout, probe).await {
            Ok(outcome) => outcome,
            Err(_) => ProbeOutcome::new(
                HealthStatus::Unhealthy,
                format!("no answer within {} ms", self.total_timeout.as_millis()),
            ),
        }
    }
}
