//! The workflow executor: a step runs an executable of the operator's workflow directory, in
//! a process group of its own, with its input as JSON on stdin and in `TERRANE_*` variables,
//! under its timeout. The last 4 KiB of its stdout and stderr are its output; a stdout line
//! `terrane:attribute KEY=VALUE` sets an attribute of its environment.

use crate::process::{self, Tail};
use async_trait::async_trait;
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use terrane_domain::lifecycle::run::{attribute, output_tail, OUTPUT_KEPT};
use terrane_domain::{Executables, StepOutcome};
use terrane_ports::{RunningStep, StepCommand, StepEnd, WorkflowExecutor};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Runs the executables of one directory; none when no directory is configured.
#[derive(Debug, Clone)]
pub struct DirectoryExecutor {
    dir: Option<PathBuf>,
}

impl DirectoryExecutor {
    /// An executor of the executables in `dir`.
    pub fn new(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }
}

type Attributes = Arc<Mutex<BTreeMap<String, String>>>;

/// Reads stdout line by line into the output, picking out attribute lines.
async fn read_stdout(pipe: tokio::process::ChildStdout, tail: Arc<Tail>, attributes: Attributes) {
    let mut lines = BufReader::new(pipe);
    let mut line = Vec::new();
    while let Ok(n) = lines.read_until(b'\n', &mut line).await {
        if n == 0 {
            break;
        }
        tail.push(&line);
        if let Some((key, value)) = attribute(&String::from_utf8_lossy(&line)) {
            attributes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(key, value);
        }
        line.clear();
    }
}

#[async_trait]
impl WorkflowExecutor for DirectoryExecutor {
    fn executables(&self) -> Executables {
        let Some(dir) = &self.dir else {
            return Executables::Unconfigured;
        };
        let names = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter(|e| {
                        e.metadata()
                            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                    })
                    .filter_map(|e| e.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default();
        Executables::In(names)
    }

    async fn start(&self, command: StepCommand) -> Result<Box<dyn RunningStep>, String> {
        let Some(dir) = &self.dir else {
            return Err("terrane: this server has no workflow directory configured".into());
        };
        if command.executable.contains('/') || command.executable.contains("..") {
            return Err(format!(
                "terrane: `{}` is not a file name",
                command.executable
            ));
        }
        let program = dir.join(&command.executable);
        let vars = command.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let mut command_line = process::command(&program, std::iter::empty(), true);
        // terrane's own settings (the signing secret, the database URL) are not the step's
        // business; whatever else the operator gave the server (cloud credentials) is.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TERRANE_") {
                command_line.env_remove(key);
            }
        }
        let mut child = command_line
            .envs(vars)
            .current_dir(dir)
            .spawn()
            .map_err(|e| {
                format!(
                    "terrane: `{}` could not be started: {e}",
                    command.executable
                )
            })?;
        let tail = Tail::new(OUTPUT_KEPT);
        let attributes = Attributes::default();
        let mut readers = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            readers.push(tokio::spawn(read_stdout(
                stdout,
                tail.clone(),
                attributes.clone(),
            )));
        }
        if let Some(stderr) = child.stderr.take() {
            readers.push(tokio::spawn(process::collect(stderr, tail.clone())));
        }
        process::feed(&mut child, &command.stdin);
        Ok(Box::new(ProcessStep {
            pid: child.id(),
            child,
            deadline: Instant::now() + command.timeout,
            tail,
            attributes,
            readers,
            ended: None,
        }))
    }
}

/// A step's process.
struct ProcessStep {
    child: Child,
    pid: Option<u32>,
    deadline: Instant,
    tail: Arc<Tail>,
    attributes: Attributes,
    readers: Vec<JoinHandle<()>>,
    ended: Option<StepEnd>,
}

impl ProcessStep {
    /// What it wrote, once its pipes closed (or a second later: a child it left behind may
    /// hold them open).
    async fn end(&mut self, exit_code: Option<i32>, timed_out: bool) -> StepEnd {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(1), reader).await;
        }
        let end = StepEnd {
            outcome: StepOutcome {
                exit_code,
                timed_out,
                output: output_tail(&self.tail.text()),
            },
            attributes: self
                .attributes
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        };
        self.ended = Some(end.clone());
        end
    }

    async fn kill_all(&mut self) {
        if let Some(pid) = self.pid {
            process::kill_group(pid).await;
        }
        // Also reaps it: once this returns, the process is gone.
        let _ = self.child.kill().await;
    }
}

impl Drop for ProcessStep {
    /// A step dropped before it ended (its replica shutting down) takes its whole process
    /// group with it, not only the executable; its lease then lets another replica fail it.
    fn drop(&mut self) {
        if let (None, Some(pid)) = (&self.ended, self.pid) {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

#[async_trait]
impl RunningStep for ProcessStep {
    async fn wait(&mut self) -> StepEnd {
        if let Some(end) = &self.ended {
            return end.clone();
        }
        match tokio::time::timeout_at(self.deadline, self.child.wait()).await {
            Ok(Ok(status)) => {
                // Whatever it started in its group goes with it.
                if let Some(pid) = self.pid {
                    process::kill_group(pid).await;
                }
                self.end(status.code(), false).await
            }
            Ok(Err(error)) => {
                self.tail
                    .push(format!("\nterrane: waiting for the step failed: {error}").as_bytes());
                self.kill_all().await;
                self.end(None, false).await
            }
            Err(_) => {
                self.kill_all().await;
                self.end(None, true).await
            }
        }
    }

    async fn kill(&mut self) -> StepEnd {
        if let Some(end) = &self.ended {
            return end.clone();
        }
        self.kill_all().await;
        self.end(None, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn executor(dir: &tempfile::TempDir, name: &str, body: &str) -> DirectoryExecutor {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        DirectoryExecutor::new(Some(dir.path().to_owned()))
    }

    fn command(name: &str, timeout: Duration) -> StepCommand {
        StepCommand {
            executable: name.into(),
            stdin: json!({"variables": {"size": "xl"}}),
            vars: vec![("TERRANE_VAR_SIZE".into(), "xl".into())],
            timeout,
        }
    }

    #[tokio::test]
    async fn a_step_reads_its_input_and_reports_attributes_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let executor = executor(&dir, "up.sh", "read input; echo \"got $input\"; echo size=$TERRANE_VAR_SIZE >&2; echo 'terrane:attribute url=http://x'");
        assert_eq!(
            executor.executables(),
            Executables::In(["up.sh".to_owned()].into())
        );
        let end = executor
            .start(command("up.sh", Duration::from_secs(10)))
            .await
            .unwrap()
            .wait()
            .await;
        assert_eq!(end.outcome.exit_code, Some(0));
        assert!(
            end.outcome
                .output
                .contains(r#"got {"variables":{"size":"xl"}}"#),
            "{}",
            end.outcome.output
        );
        assert!(end.outcome.output.contains("size=xl"));
        assert_eq!(end.attributes["url"], "http://x");
    }

    #[tokio::test]
    async fn a_step_past_its_timeout_is_killed_with_its_group() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("survived");
        let executor = executor(
            &dir,
            "slow.sh",
            &format!("(sleep 2 && touch {}) &\nsleep 60", marker.display()),
        );
        let started = std::time::Instant::now();
        let end = executor
            .start(command("slow.sh", Duration::from_millis(300)))
            .await
            .unwrap()
            .wait()
            .await;
        assert!(end.outcome.timed_out && end.outcome.exit_code.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(!marker.exists(), "the step's child was killed with it");
    }

    #[tokio::test]
    async fn killing_a_step_answers_once_its_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let pidfile = dir.path().join("pid");
        let executor = executor(
            &dir,
            "long.sh",
            &format!("echo $$ > {}\nexec sleep 60", pidfile.display()),
        );
        let mut running = executor
            .start(command("long.sh", Duration::from_secs(60)))
            .await
            .unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(500), running.wait()).await;
        assert!(waited.is_err(), "still running");
        let pid = std::fs::read_to_string(&pidfile).unwrap().trim().to_owned();
        running.kill().await;
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
    }

    #[tokio::test]
    async fn a_step_does_not_see_terranes_own_settings() {
        let dir = tempfile::tempdir().unwrap();
        let executor = executor(
            &dir,
            "env.sh",
            "echo \"secret=[$TERRANE_JWT_SECRET] path=[$PATH]\"",
        );
        // nextest runs every test in a process of its own, so no other test sees it.
        std::env::set_var("TERRANE_JWT_SECRET", "do-not-leak");
        let end = executor
            .start(command("env.sh", Duration::from_secs(10)))
            .await
            .unwrap()
            .wait()
            .await;
        std::env::remove_var("TERRANE_JWT_SECRET");
        assert!(
            end.outcome.output.contains("secret=[]"),
            "{}",
            end.outcome.output
        );
        assert!(
            !end.outcome.output.contains("path=[]"),
            "the rest of the environment is kept"
        );
    }

    #[tokio::test]
    async fn without_a_directory_nothing_runs() {
        let executor = DirectoryExecutor::new(None);
        assert_eq!(executor.executables(), Executables::Unconfigured);
        assert!(executor
            .start(command("x", Duration::from_secs(1)))
            .await
            .is_err());
    }
}
