//! What the provisioner and the workflow executor share about running an operator's
//! executable: a process group of its own (so that killing it kills whatever it started),
//! JSON on its stdin, and the end of what it writes, kept in a bounded buffer.

use serde_json::Value;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// The last `keep` bytes written to one or more pipes.
#[derive(Debug)]
pub struct Tail {
    bytes: Mutex<Vec<u8>>,
    keep: usize,
}

impl Tail {
    /// An empty buffer keeping at most `keep` bytes.
    pub fn new(keep: usize) -> Arc<Self> {
        Arc::new(Self {
            bytes: Mutex::new(Vec::new()),
            keep,
        })
    }

    /// Appends `chunk`, dropping what falls out of the window.
    pub fn push(&self, chunk: &[u8]) {
        let mut kept = self
            .bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.extend_from_slice(chunk);
        if kept.len() > self.keep {
            let excess = kept.len() - self.keep;
            kept.drain(..excess);
        }
    }

    /// What is kept, as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        let bytes = self
            .bytes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// Reads `pipe` to its end into `into`.
pub async fn collect(mut pipe: impl AsyncRead + Unpin, into: Arc<Tail>) {
    let mut chunk = [0u8; 8192];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        into.push(&chunk[..n]);
    }
}

/// Kills every process of the group `pgid` (the command's own group, so the script and its
/// children). `kill(1)` does it without unsafe code; a group already gone is not an error.
pub async fn kill_group(pgid: u32) {
    let killed = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    if let Err(error) = killed {
        tracing::warn!(%error, pgid, "could not kill a command's process group");
    }
}

/// `program` with `vars` in its environment, in a process group of its own, killed when
/// dropped, with stdin and stderr piped and stdout piped when `stdout` is true.
pub fn command<'a>(
    program: &Path,
    vars: impl IntoIterator<Item = (&'a str, &'a str)>,
    stdout: bool,
) -> Command {
    let mut command = Command::new(program);
    command
        .envs(vars)
        .stdin(Stdio::piped())
        .stdout(if stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .process_group(0);
    command
}

/// Writes `input` as JSON to the child's stdin in the background (a command that does not
/// read its stdin closes it early; that is its business).
pub fn feed(child: &mut Child, input: &Value) {
    if let Some(mut pipe) = child.stdin.take() {
        let body = input.to_string();
        tokio::spawn(async move {
            let _ = pipe.write_all(body.as_bytes()).await;
        });
    }
}
