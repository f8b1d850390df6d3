//! The command provisioner: an operator's executable (a Terraform wrapper, a Helm script)
//! makes and tears down the environments of requests.
//!
//! The executable gets the request as JSON on stdin (the shape the API answers) and its
//! fields in `TERRANE_*` environment variables. Exit status 0 is success; anything else, or
//! running past the timeout, is a failure whose reason ends with the tail of its stderr.
//! Each run gets a process group of its own, so that on timeout the whole group (the script
//! and whatever it started) is killed, not just the script.

use crate::process::{self, Tail};
use async_trait::async_trait;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use terrane_domain::{Environment, EnvironmentRequest};
use terrane_ports::{ProvisionError, Provisioner};

/// Most bytes of a command's stderr kept for its failure message (the end is what matters).
const STDERR_KEPT: usize = 64 * 1024;

/// Runs `provision` and `deprovision` executables; either may be absent, and then that half
/// has nothing to do outside terrane (as with the built-in provisioner).
#[derive(Debug, Clone)]
pub struct CommandProvisioner {
    provision: Option<PathBuf>,
    deprovision: Option<PathBuf>,
    timeout: Duration,
}

impl CommandProvisioner {
    /// A provisioner running these executables, each stopped after `timeout`.
    pub fn new(
        provision: Option<PathBuf>,
        deprovision: Option<PathBuf>,
        timeout: Duration,
    ) -> Self {
        Self {
            provision,
            deprovision,
            timeout,
        }
    }
}

/// The request as the API shows it.
fn request_json(request: &EnvironmentRequest) -> Value {
    json!({
        "id": request.id,
        "name": request.name.as_str(),
        "description": request.description,
        "type": request.environment_type.as_str(),
        "tier": request.tier.as_str(),
        "ttlHours": request.ttl_hours,
        "componentId": request.component_id,
        "status": request.status.as_str(),
        "statusMessage": request.status_message,
        "requestedBy": request.requested_by,
        "reviewedBy": request.reviewed_by,
        "reviewComment": request.review_comment,
        "environmentId": request.environment_id,
        "provisionedAt": request.provisioned_at,
        "expiresAt": request.expires_at,
        "organizationId": request.tenant,
        "version": request.version,
        "createdAt": request.created_at,
        "updatedAt": request.updated_at,
    })
}

fn optional(value: Option<impl ToString>) -> String {
    value.map(|v| v.to_string()).unwrap_or_default()
}

/// The request's fields as environment variables (empty when a field has no value).
fn request_vars(request: &EnvironmentRequest) -> Vec<(&'static str, String)> {
    vec![
        ("TERRANE_REQUEST_ID", request.id.to_string()),
        ("TERRANE_REQUEST_NAME", request.name.to_string()),
        ("TERRANE_REQUEST_TYPE", request.environment_type.to_string()),
        ("TERRANE_REQUEST_TIER", request.tier.to_string()),
        ("TERRANE_REQUEST_TTL_HOURS", optional(request.ttl_hours)),
        (
            "TERRANE_REQUEST_COMPONENT_ID",
            optional(request.component_id),
        ),
        ("TERRANE_REQUESTED_BY", request.requested_by.to_string()),
        ("TERRANE_ORGANIZATION_ID", request.tenant.to_string()),
    ]
}

#[async_trait]
impl Provisioner for CommandProvisioner {
    fn is_inline(&self) -> bool {
        self.provision.is_none()
    }

    fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn provision(&self, request: &EnvironmentRequest) -> Result<(), ProvisionError> {
        let Some(program) = &self.provision else {
            return Ok(());
        };
        let mut vars = request_vars(request);
        vars.push(("TERRANE_ACTION", "provision".into()));
        run(
            program,
            "provision",
            &request_json(request),
            &vars,
            self.timeout,
        )
        .await
    }

    async fn deprovision(
        &self,
        environment: &Environment,
        request: Option<EnvironmentRequest>,
    ) -> Result<(), ProvisionError> {
        let Some(program) = &self.deprovision else {
            return Ok(());
        };
        let mut vars = vec![
            ("TERRANE_ACTION", "deprovision".to_owned()),
            ("TERRANE_ENVIRONMENT_ID", environment.id.to_string()),
            ("TERRANE_ENVIRONMENT_NAME", environment.name.to_string()),
            ("TERRANE_ORGANIZATION_ID", environment.tenant.to_string()),
        ];
        let stdin = match &request {
            Some(request) => {
                vars.extend(request_vars(request));
                request_json(request)
            }
            // An environment given a time to live directly, made for no request.
            None => json!({
                "environmentId": environment.id,
                "name": environment.name.as_str(),
                "organizationId": environment.tenant,
                "expiresAt": environment.expires_at,
            }),
        };
        run(program, "deprovision", &stdin, &vars, self.timeout).await
    }
}

/// What the command wrote to stderr, for a failure message.
fn written(stderr: &Tail) -> String {
    terrane_domain::environment_request::tail(&stderr.text())
}

/// Runs `program` with `stdin` as JSON and `vars` in its environment, within `timeout`.
async fn run(
    program: &Path,
    action: &str,
    stdin: &Value,
    vars: &[(&'static str, String)],
    timeout: Duration,
) -> Result<(), ProvisionError> {
    let mut command = process::command(program, vars.iter().map(|(k, v)| (*k, v.as_str())), false);
    let mut child = command.spawn().map_err(|error| {
        ProvisionError(format!(
            "the {action} command `{}` could not be started: {error}",
            program.display()
        ))
    })?;
    let pid = child.id();
    let stderr = Tail::new(STDERR_KEPT);
    let reader = child
        .stderr
        .take()
        .map(|pipe| tokio::spawn(process::collect(pipe, stderr.clone())));
    process::feed(&mut child, stdin);
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) => status,
        Ok(Err(error)) => {
            return Err(ProvisionError(format!(
                "waiting for the {action} command failed: {error}"
            )))
        }
        Err(_) => {
            if let Some(pid) = pid {
                process::kill_group(pid).await;
            }
            let _ = child.kill().await;
            if let Some(reader) = reader {
                let _ = reader.await;
            }
            let output = written(&stderr);
            return Err(ProvisionError(format!(
                "the {action} command ran longer than {}s and was stopped{}",
                timeout.as_secs_f64(),
                if output.is_empty() {
                    String::new()
                } else {
                    format!(": {output}")
                }
            )));
        }
    };
    // The command is done; its stderr closes with it (unless a child it left behind holds it
    // open, which is not worth waiting for).
    if let Some(reader) = reader {
        let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
    }
    if status.success() {
        return Ok(());
    }
    let how = match status.code() {
        Some(code) => format!("exited with status {code}"),
        None => "was killed by a signal".to_owned(),
    };
    let output = written(&stderr);
    Err(ProvisionError(if output.is_empty() {
        format!("the {action} command {how} and wrote nothing to stderr")
    } else {
        format!("the {action} command {how}: {output}")
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use std::os::unix::fs::PermissionsExt;
    use terrane_domain::{EnvironmentRequestId, RequestInput, TenantId, TtlPolicy, UserId};
    use uuid::Uuid;

    fn request() -> EnvironmentRequest {
        RequestInput {
            name: Some("feature-xyz-preview".into()),
            environment_type: Some("ephemeral".into()),
            tier: Some("small".into()),
            ttl_hours: Some(48),
            ..Default::default()
        }
        .into_new(&TtlPolicy::default())
        .unwrap()
        .into_request(
            EnvironmentRequestId(Uuid::from_u128(5)),
            TenantId(Uuid::from_u128(7)),
            UserId(Uuid::from_u128(1)),
            Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
        )
        .0
    }

    fn script(dir: &tempfile::TempDir, body: &str) -> PathBuf {
        let path = dir.path().join("provision.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    fn provisioner(path: PathBuf, timeout: Duration) -> CommandProvisioner {
        CommandProvisioner::new(Some(path), None, timeout)
    }

    #[tokio::test]
    async fn the_command_gets_the_request_on_stdin_and_its_fields_in_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let path = script(
            &dir,
            &format!(
                "cat > {0}.json\necho \"$TERRANE_REQUEST_NAME $TERRANE_REQUEST_TYPE $TERRANE_REQUEST_TIER $TERRANE_REQUEST_TTL_HOURS $TERRANE_ORGANIZATION_ID $TERRANE_ACTION\" > {0}.env",
                out.display()
            ),
        );
        provisioner(path, Duration::from_secs(10))
            .provision(&request())
            .await
            .unwrap();
        let stdin: Value =
            serde_json::from_str(&std::fs::read_to_string(out.with_extension("json")).unwrap())
                .unwrap();
        assert_eq!(stdin["name"], "feature-xyz-preview");
        assert_eq!(stdin["ttlHours"], 48);
        assert_eq!(stdin["organizationId"], Uuid::from_u128(7).to_string());
        let env = std::fs::read_to_string(out.with_extension("env")).unwrap();
        assert_eq!(
            env.trim(),
            format!(
                "feature-xyz-preview ephemeral small 48 {} provision",
                Uuid::from_u128(7)
            )
        );
    }

    #[tokio::test]
    async fn a_non_zero_exit_fails_with_the_status_and_the_end_of_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let path = script(
            &dir,
            "echo starting >&2\necho 'quota exceeded in eu-west-1' >&2\nexit 3",
        );
        let error = provisioner(path, Duration::from_secs(10))
            .provision(&request())
            .await
            .unwrap_err();
        assert_eq!(
            error.0,
            "the provision command exited with status 3: starting\nquota exceeded in eu-west-1"
        );
    }

    #[tokio::test]
    async fn a_command_past_its_timeout_is_killed_with_its_children() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        // The script starts a child that would outlive it, then hangs.
        let path = script(
            &dir,
            &format!(
                "echo hanging >&2\n(sleep 3 && touch {}) &\nsleep 60",
                marker.display()
            ),
        );
        let started = std::time::Instant::now();
        let error = provisioner(path, Duration::from_millis(500))
            .provision(&request())
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            error.0,
            "the provision command ran longer than 0.5s and was stopped: hanging"
        );
        tokio::time::sleep(Duration::from_secs(4)).await;
        assert!(!marker.exists(), "the script's child was killed with it");
    }

    #[tokio::test]
    async fn a_missing_executable_is_a_failure_naming_it() {
        let error = provisioner(
            PathBuf::from("/no/such/provisioner"),
            Duration::from_secs(1),
        )
        .provision(&request())
        .await
        .unwrap_err();
        assert!(error.0.contains("/no/such/provisioner"), "{}", error.0);
    }

    #[test]
    fn without_a_provision_command_provisioning_is_inline() {
        assert!(
            CommandProvisioner::new(None, Some("x".into()), Duration::from_secs(1)).is_inline()
        );
        assert!(
            !CommandProvisioner::new(Some("x".into()), None, Duration::from_secs(1)).is_inline()
        );
    }
}
