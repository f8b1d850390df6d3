//! The lifecycle of environments: templates, workflows and their runs, and the actions an
//! environment's status allows. An environment's status is driven by runs and actions only.

pub mod run;
pub mod template;
pub mod variables;

use crate::environment::EnvironmentStatus;
use crate::ids::{EnvironmentId, LifecycleEventId, RunId, TemplateId, UserId};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::fmt;

pub use run::{Run, RunStatus, Step, StepOutcome, StepStatus};
pub use template::{Executables, NewTemplate, Template, TemplateInput, WorkflowSpec};
pub use variables::{VariableSpec, Variables};

wire_enum!(
    /// What can be done to an environment, depending on its status.
    LifecycleAction, "action" {
        /// Stops the run in progress (while `busy`).
        Cancel => "cancel",
        /// Declares a broken environment usable again (while `broken`).
        Reset => "reset",
        /// Runs the destroy workflow, or marks an environment with no template destroyed
        /// (while `ready` or `broken`).
        Destroy => "destroy",
    }
);

/// The actions available while an environment is `status`.
pub fn available_actions(status: EnvironmentStatus) -> &'static [LifecycleAction] {
    match status {
        EnvironmentStatus::Ready => &[LifecycleAction::Destroy],
        EnvironmentStatus::Busy => &[LifecycleAction::Cancel],
        EnvironmentStatus::Broken => &[LifecycleAction::Reset, LifecycleAction::Destroy],
        EnvironmentStatus::Destroyed => &[],
    }
}

/// An action or a workflow asked for while the environment's status does not allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotNow {
    /// What was asked for: `reset`, or `workflow `deploy``.
    pub asked: String,
    /// The environment's status.
    pub status: EnvironmentStatus,
}

impl fmt::Display for NotNow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let available: Vec<&str> = available_actions(self.status)
            .iter()
            .map(|a| a.as_str())
            .collect();
        write!(
            f,
            "{} is not available while the environment is {}; available now: {}",
            self.asked,
            self.status,
            if available.is_empty() {
                "none".to_owned()
            } else {
                available.join(", ")
            }
        )
    }
}

impl std::error::Error for NotNow {}

/// Whether `action` is available while the environment is `status`.
///
/// # Errors
/// [`NotNow`] naming the status and the actions available.
pub fn check_action(status: EnvironmentStatus, action: LifecycleAction) -> Result<(), NotNow> {
    if available_actions(status).contains(&action) {
        Ok(())
    } else {
        Err(NotNow {
            asked: format!("`{action}`"),
            status,
        })
    }
}

/// Whether a workflow may be started now: only on a `ready` environment.
///
/// # Errors
/// [`NotNow`] naming the status.
pub fn check_workflow(status: EnvironmentStatus, workflow: &str) -> Result<(), NotNow> {
    match status {
        EnvironmentStatus::Ready => Ok(()),
        EnvironmentStatus::Busy | EnvironmentStatus::Broken | EnvironmentStatus::Destroyed => {
            Err(NotNow {
                asked: format!("running the workflow `{workflow}`"),
                status,
            })
        }
    }
}

/// The status an action moves the environment to by itself: `reset` makes it `ready`,
/// `destroy` of an environment with no template `destroyed`. `None` when a run decides
/// (cancel, and destroy with a template, start or stop one).
pub fn status_after_action(
    action: LifecycleAction,
    has_template: bool,
) -> Option<EnvironmentStatus> {
    match action {
        LifecycleAction::Reset => Some(EnvironmentStatus::Ready),
        LifecycleAction::Destroy if has_template => None,
        LifecycleAction::Destroy => Some(EnvironmentStatus::Destroyed),
        LifecycleAction::Cancel => None,
    }
}

/// What an environment born from a template keeps of its birth, and what its steps said.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentLifecycle {
    /// The environment.
    pub environment: EnvironmentId,
    /// The template it was born from.
    pub template: TemplateId,
    /// That template's name.
    pub template_name: String,
    /// That template's version.
    pub template_version: String,
    /// The variables it was created with; later runs inherit them.
    pub variables: Variables,
    /// What its steps said about it (`terrane:attribute KEY=VALUE`).
    pub attributes: BTreeMap<String, String>,
}

/// One entry of an environment's lifecycle history: a run requested or ended, an action.
#[derive(Debug, Clone, PartialEq)]
pub struct LifecycleEvent {
    /// Its id.
    pub id: LifecycleEventId,
    /// The environment.
    pub environment: EnvironmentId,
    /// When.
    pub at: DateTime<Utc>,
    /// Who; `None` for terrane itself (a run ending, the TTL reaper).
    pub actor: Option<UserId>,
    /// `created`, `workflow`, an action's name, or `succeeded`, `failed`, `canceled` for a run
    /// that ended.
    pub event: String,
    /// The run it concerns.
    pub run: Option<RunId>,
    /// That run's workflow.
    pub workflow: Option<String>,
    /// The environment's status before.
    pub from: Option<EnvironmentStatus>,
    /// And after.
    pub to: EnvironmentStatus,
    /// Why, in words.
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use EnvironmentStatus::*;
    use LifecycleAction::*;

    #[test]
    fn actions_by_status_are_exactly_cancel_while_busy_reset_while_broken_destroy_while_ready_or_broken(
    ) {
        let allowed = [
            (Busy, Cancel),
            (Broken, Reset),
            (Ready, Destroy),
            (Broken, Destroy),
        ];
        for status in EnvironmentStatus::ALL {
            for action in LifecycleAction::ALL {
                assert_eq!(
                    check_action(*status, *action).is_ok(),
                    allowed.contains(&(*status, *action)),
                    "{action} while {status}"
                );
            }
        }
    }

    #[test]
    fn an_unavailable_action_names_the_status_and_what_is_available() {
        let refused = check_action(Ready, Reset).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "`reset` is not available while the environment is ready; available now: destroy"
        );
        let refused = check_action(Destroyed, Cancel).unwrap_err();
        assert!(
            refused.to_string().ends_with("available now: none"),
            "{refused}"
        );
    }

    #[test]
    fn workflows_start_only_on_ready_environments() {
        for status in EnvironmentStatus::ALL {
            assert_eq!(
                check_workflow(*status, "deploy").is_ok(),
                *status == Ready,
                "{status}"
            );
        }
        assert!(check_workflow(Busy, "deploy")
            .unwrap_err()
            .to_string()
            .contains("busy"));
    }

    #[test]
    fn reset_readies_and_destroy_without_a_template_destroys_at_once() {
        assert_eq!(status_after_action(Reset, true), Some(Ready));
        assert_eq!(status_after_action(Destroy, false), Some(Destroyed));
        assert_eq!(status_after_action(Destroy, true), None);
        assert_eq!(status_after_action(Cancel, true), None);
    }
}
