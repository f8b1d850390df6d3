//! Runs: executions of a workflow, their steps, and the state machines both follow.

use super::template::{Template, WorkflowSpec};
use super::variables::Variables;
use crate::environment::EnvironmentStatus;
use crate::ids::{EnvironmentId, RunId, StepId, TenantId, UserId};
use chrono::{DateTime, Utc};
use std::fmt;

/// Most bytes of a step's output kept: the end of what it wrote to stdout and stderr.
pub const OUTPUT_KEPT: usize = 4 * 1024;
/// The output line prefix by which a step sets an attribute of its environment.
pub const ATTRIBUTE_PREFIX: &str = "terrane:attribute ";
/// Why a run whose replica stopped failed.
pub const REPLICA_STOPPED: &str = "the replica running it stopped";

wire_enum!(
    /// Where a run is.
    RunStatus, "status" {
        /// Waiting for a replica to take it.
        Requested => "requested",
        /// A replica runs its steps.
        Running => "running",
        /// Every step succeeded.
        Succeeded => "succeeded",
        /// A step failed or timed out, or the replica running it stopped.
        Failed => "failed",
        /// Canceled by a person.
        Canceled => "canceled",
    }
);

wire_enum!(
    /// Where a step is.
    StepStatus, "status" {
        /// Not started.
        Requested => "requested",
        /// Its process runs.
        Running => "running",
        /// Exited 0.
        Succeeded => "succeeded",
        /// Exited otherwise, timed out, or its replica stopped.
        Failed => "failed",
        /// Killed by a cancel.
        Canceled => "canceled",
        /// Never run, because a step before it failed or the run was canceled.
        Skipped => "skipped",
    }
);

impl RunStatus {
    /// The run state machine: `requested -> running | canceled`,
    /// `running -> succeeded | failed | canceled`; the last three are final.
    pub fn can_become(self, to: RunStatus) -> bool {
        use RunStatus::*;
        match self {
            Requested => matches!(to, Running | Canceled),
            Running => matches!(to, Succeeded | Failed | Canceled),
            Succeeded | Failed | Canceled => false,
        }
    }

    /// Whether the run is over.
    pub fn is_final(self) -> bool {
        use RunStatus::*;
        match self {
            Requested | Running => false,
            Succeeded | Failed | Canceled => true,
        }
    }
}

impl StepStatus {
    /// The step state machine: `requested -> running | skipped`,
    /// `running -> succeeded | failed | canceled`; the last four are final.
    pub fn can_become(self, to: StepStatus) -> bool {
        use StepStatus::*;
        match self {
            Requested => matches!(to, Running | Skipped),
            Running => matches!(to, Succeeded | Failed | Canceled),
            Succeeded | Failed | Canceled | Skipped => false,
        }
    }

    /// Whether the step is over (ran to an end, or never will run).
    pub fn is_final(self) -> bool {
        use StepStatus::*;
        match self {
            Requested | Running => false,
            Succeeded | Failed | Canceled | Skipped => true,
        }
    }
}

/// A move the state machines do not allow, or of a step the run does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRunTransition(pub String);

impl fmt::Display for InvalidRunTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InvalidRunTransition {}

/// One step of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Its id.
    pub id: StepId,
    /// Copied from the template when the run was requested.
    pub phase: String,
    /// Copied from the template.
    pub name: String,
    /// The executable, copied from the template.
    pub run: String,
    /// Copied from the template.
    pub timeout_seconds: u32,
    /// Where it is.
    pub status: StepStatus,
    /// When its process started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Its process's exit status, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The last [`OUTPUT_KEPT`] bytes of its stdout and stderr, and why it ended otherwise.
    pub output: String,
}

/// How a step's process ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    /// Its exit status, `None` when it was killed (by its timeout).
    pub exit_code: Option<i32>,
    /// Whether it ran past its timeout.
    pub timed_out: bool,
    /// The end of what it wrote.
    pub output: String,
}

impl StepOutcome {
    fn succeeded(&self) -> bool {
        !self.timed_out && self.exit_code == Some(0)
    }
}

/// One execution of a workflow on an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// The organization.
    pub tenant: TenantId,
    /// The environment it runs on.
    pub environment: EnvironmentId,
    /// The workflow's name.
    pub workflow: String,
    /// Where it is.
    pub status: RunStatus,
    /// The values its steps get.
    pub variables: Variables,
    /// Who started it; `None` for terrane itself (the TTL reaper).
    pub started_by: Option<UserId>,
    /// Whether its success destroys the environment (the template's destroy workflow).
    pub destroys: bool,
    /// When it was requested.
    pub requested_at: DateTime<Utc>,
    /// When a replica started it.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// In order.
    pub steps: Vec<Step>,
}

/// Truncates `text` to its last [`OUTPUT_KEPT`] bytes, on a character boundary.
pub fn output_tail(text: &str) -> String {
    if text.len() <= OUTPUT_KEPT {
        return text.to_owned();
    }
    let mut start = text.len() - OUTPUT_KEPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    text[start..].to_owned()
}

/// The attribute a line of a step's stdout sets: `terrane:attribute KEY=VALUE`, with a key of
/// letters, digits, `_`, `-` and `.`.
pub fn attribute(line: &str) -> Option<(String, String)> {
    let rest = line
        .trim_end_matches(['\r', '\n'])
        .strip_prefix(ATTRIBUTE_PREFIX)?;
    let (key, value) = rest.split_once('=')?;
    let valid = !key.is_empty()
        && key.len() <= 100
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    valid.then(|| (key.to_owned(), value.to_owned()))
}

fn bad(what: String) -> InvalidRunTransition {
    InvalidRunTransition(what)
}

impl Run {
    /// A run of `workflow` of `template`, requested now, with one step per template step
    /// (their ids from `step_ids`, in order).
    #[allow(clippy::too_many_arguments)]
    pub fn requested(
        id: RunId,
        tenant: TenantId,
        environment: EnvironmentId,
        template: &Template,
        workflow: &WorkflowSpec,
        variables: Variables,
        started_by: Option<UserId>,
        mut step_ids: impl FnMut() -> StepId,
        now: DateTime<Utc>,
    ) -> Run {
        Run {
            id,
            tenant,
            environment,
            workflow: workflow.name.clone(),
            status: RunStatus::Requested,
            variables,
            started_by,
            destroys: workflow.name == template.destroy_workflow,
            requested_at: crate::time::truncate(now),
            started_at: None,
            finished_at: None,
            steps: workflow
                .steps
                .iter()
                .map(|spec| Step {
                    id: step_ids(),
                    phase: spec.phase.clone(),
                    name: spec.name.clone(),
                    run: spec.run.clone(),
                    timeout_seconds: spec.timeout_seconds,
                    status: StepStatus::Requested,
                    started_at: None,
                    finished_at: None,
                    exit_code: None,
                    output: String::new(),
                })
                .collect(),
        }
    }

    /// The share of its steps that succeeded, from 0 to 1 (1 for a succeeded run of none).
    pub fn steps_completed(&self) -> f64 {
        if self.steps.is_empty() {
            return if self.status == RunStatus::Succeeded {
                1.0
            } else {
                0.0
            };
        }
        let done = self
            .steps
            .iter()
            .filter(|s| s.status == StepStatus::Succeeded)
            .count();
        done as f64 / self.steps.len() as f64
    }

    /// The step that runs now, if any.
    pub fn running_step(&self) -> Option<&Step> {
        self.steps.iter().find(|s| s.status == StepStatus::Running)
    }

    /// The next step to start, if any.
    pub fn next_step(&self) -> Option<&Step> {
        self.steps
            .iter()
            .find(|s| s.status == StepStatus::Requested)
    }

    /// The status its environment takes now: `None` while it is not over; `ready` after a
    /// success (`destroyed` after the destroy workflow's), `broken` after a failure or cancel.
    pub fn environment_status(&self) -> Option<EnvironmentStatus> {
        match self.status {
            RunStatus::Requested | RunStatus::Running => None,
            RunStatus::Succeeded if self.destroys => Some(EnvironmentStatus::Destroyed),
            RunStatus::Succeeded => Some(EnvironmentStatus::Ready),
            RunStatus::Failed | RunStatus::Canceled => Some(EnvironmentStatus::Broken),
        }
    }

    fn moved(&self, to: RunStatus, now: DateTime<Utc>) -> Result<Run, InvalidRunTransition> {
        if !self.status.can_become(to) {
            return Err(bad(format!(
                "a run that is {} cannot become {to}",
                self.status
            )));
        }
        let mut next = self.clone();
        next.status = to;
        let now = crate::time::truncate(now);
        if to == RunStatus::Running {
            next.started_at = Some(now);
        }
        if to.is_final() {
            next.finished_at = Some(now);
        }
        Ok(next)
    }

    fn step_moved(
        &mut self,
        index: usize,
        to: StepStatus,
        now: DateTime<Utc>,
    ) -> Result<(), InvalidRunTransition> {
        let step = &mut self.steps[index];
        if !step.status.can_become(to) {
            return Err(bad(format!(
                "step `{}` is {} and cannot become {to}",
                step.name, step.status
            )));
        }
        step.status = to;
        let now = crate::time::truncate(now);
        match to {
            StepStatus::Running => step.started_at = Some(now),
            StepStatus::Requested | StepStatus::Skipped => {}
            StepStatus::Succeeded | StepStatus::Failed | StepStatus::Canceled => {
                step.finished_at = Some(now)
            }
        }
        Ok(())
    }

    fn skip_the_rest(&mut self, now: DateTime<Utc>) -> Result<(), InvalidRunTransition> {
        for i in 0..self.steps.len() {
            if self.steps[i].status == StepStatus::Requested {
                self.step_moved(i, StepStatus::Skipped, now)?;
            }
        }
        Ok(())
    }

    fn index_of(&self, step: StepId) -> Result<usize, InvalidRunTransition> {
        self.steps
            .iter()
            .position(|s| s.id == step)
            .ok_or_else(|| bad(format!("the run has no step {step}")))
    }

    /// A replica takes the run: `requested -> running`; a run of no steps succeeds at once.
    ///
    /// # Errors
    /// [`InvalidRunTransition`] unless it is requested.
    pub fn start(&self, now: DateTime<Utc>) -> Result<Run, InvalidRunTransition> {
        let next = self.moved(RunStatus::Running, now)?;
        if next.steps.is_empty() {
            return next.moved(RunStatus::Succeeded, now);
        }
        Ok(next)
    }

    /// Starts its next step (`requested -> running`), once the step before it has ended.
    ///
    /// # Errors
    /// [`InvalidRunTransition`] unless the run is running, no step of it runs, and the step
    /// is its next.
    pub fn start_step(
        &self,
        step: StepId,
        now: DateTime<Utc>,
    ) -> Result<Run, InvalidRunTransition> {
        let index = self.index_of(step)?;
        if self.status != RunStatus::Running
            || self.running_step().is_some()
            || self.next_step().map(|s| s.id) != Some(step)
        {
            return Err(bad(format!(
                "step {step} is not the next step of a running run"
            )));
        }
        let mut next = self.clone();
        next.step_moved(index, StepStatus::Running, now)?;
        Ok(next)
    }

    /// Records how the running step ended. A success moves to the next step, or succeeds
    /// the run after the last one; a failure skips the steps after it and fails the run.
    ///
    /// # Errors
    /// [`InvalidRunTransition`] unless that step is running.
    pub fn finish_step(
        &self,
        step: StepId,
        outcome: StepOutcome,
        now: DateTime<Utc>,
    ) -> Result<Run, InvalidRunTransition> {
        let index = self.index_of(step)?;
        let mut next = self.clone();
        let to = if outcome.succeeded() {
            StepStatus::Succeeded
        } else {
            StepStatus::Failed
        };
        next.step_moved(index, to, now)?;
        let timeout = next.steps[index].timeout_seconds;
        let s = &mut next.steps[index];
        s.exit_code = outcome.exit_code;
        s.output = if outcome.timed_out {
            output_tail(&format!(
                "{}\nterrane: the step ran longer than its timeout of {timeout}s and was killed",
                outcome.output
            ))
        } else {
            outcome.output
        };
        if to == StepStatus::Failed {
            next.skip_the_rest(now)?;
            return next.moved(RunStatus::Failed, now);
        }
        if next.next_step().is_none() {
            return next.moved(RunStatus::Succeeded, now);
        }
        Ok(next)
    }

    /// Cancels the run: its running step `canceled` (with the output it wrote so far), the
    /// steps after it `skipped`.
    ///
    /// # Errors
    /// [`InvalidRunTransition`] when the run is over.
    pub fn cancel(
        &self,
        output: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Run, InvalidRunTransition> {
        let mut next = self.moved(RunStatus::Canceled, now)?;
        if let Some(index) = next
            .steps
            .iter()
            .position(|s| s.status == StepStatus::Running)
        {
            next.step_moved(index, StepStatus::Canceled, now)?;
            let s = &mut next.steps[index];
            s.output = output_tail(&format!(
                "{}\nterrane: canceled",
                output.unwrap_or_default()
            ));
        }
        next.skip_the_rest(now)?;
        Ok(next)
    }

    /// Fails a run whose replica stopped (its lease ran out): the running step `failed` with
    /// [`REPLICA_STOPPED`], the steps after it `skipped`. No step is started again.
    ///
    /// # Errors
    /// [`InvalidRunTransition`] unless the run is running.
    pub fn abandon(&self, now: DateTime<Utc>) -> Result<Run, InvalidRunTransition> {
        if self.status != RunStatus::Running {
            return Err(bad(format!(
                "a run that is {} was not abandoned",
                self.status
            )));
        }
        let mut next = self.clone();
        if let Some(index) = next
            .steps
            .iter()
            .position(|s| s.status == StepStatus::Running)
        {
            next.step_moved(index, StepStatus::Failed, now)?;
            let s = &mut next.steps[index];
            s.output = output_tail(&format!("{}\nterrane: {REPLICA_STOPPED}", s.output));
        }
        next.skip_the_rest(now)?;
        next.moved(RunStatus::Failed, now)
    }
}

#[cfg(test)]
#[path = "run_tests.rs"]
mod tests;
