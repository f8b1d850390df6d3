//! The state machines: deployments, environment requests, lifecycle runs and their steps.
//! Any sequence of asked-for moves never panics, and only moves of the table happen.

use crate::{any_text, CASES};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use terrane_domain::lifecycle::template::StepSpec;
use terrane_domain::lifecycle::WorkflowSpec;
use terrane_domain::*;
use uuid::Uuid;

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 8, 0, 0).unwrap() + chrono::Duration::seconds(second.into())
}

/// Something a replica or a person asks of a run.
#[derive(Debug, Clone)]
enum RunMove {
    Start,
    StartStep(usize),
    FinishStep(usize, Option<i32>, bool, String),
    Cancel(Option<String>),
    Abandon,
}

fn run_move() -> impl Strategy<Value = RunMove> {
    prop_oneof![
        Just(RunMove::Start),
        (0usize..6).prop_map(RunMove::StartStep),
        (
            0usize..6,
            prop::option::of(prop_oneof![Just(0), any::<i32>()]),
            any::<bool>(),
            any_text()
        )
            .prop_map(|(i, code, timed_out, output)| RunMove::FinishStep(
                i, code, timed_out, output
            )),
        prop::option::of(any_text()).prop_map(RunMove::Cancel),
        Just(RunMove::Abandon),
    ]
}

fn run_of(steps: usize, destroys: bool) -> Run {
    let step = |i: usize| StepSpec {
        phase: "p".into(),
        name: format!("s{i}"),
        run: "x".into(),
        timeout_seconds: 5,
    };
    let workflow = |name: &str| WorkflowSpec {
        name: name.into(),
        description: None,
        variables: Vec::new(),
        steps: (0..steps).map(step).collect(),
    };
    let template = Template {
        id: TemplateId(Uuid::nil()),
        tenant: TenantId(Uuid::nil()),
        name: "t".into(),
        version: "1".into(),
        description: None,
        variables: Vec::new(),
        workflows: vec![workflow("create"), workflow("destroy")],
        create_workflow: "create".into(),
        destroy_workflow: "destroy".into(),
        version_number: 1,
        created_at: at(0),
        updated_at: at(0),
    };
    let name = if destroys { "destroy" } else { "create" };
    let mut n = 0;
    Run::requested(
        RunId(Uuid::from_u128(1)),
        TenantId(Uuid::nil()),
        EnvironmentId(Uuid::nil()),
        &template,
        template.workflow(name).unwrap(),
        Variables::new(),
        None,
        || {
            n += 1;
            StepId(Uuid::from_u128(100 + n))
        },
        at(0),
    )
}

/// What holds of a run whatever happened to it.
fn check_run(run: &Run) -> Result<(), TestCaseError> {
    let running = run
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Running)
        .count();
    prop_assert!(running <= 1);
    if run.status != RunStatus::Running {
        prop_assert_eq!(running, 0, "{:?}", run);
    }
    if run.status.is_final() {
        prop_assert!(run.finished_at.is_some());
        prop_assert!(run.environment_status().is_some());
        prop_assert!(
            run.next_step().is_none(),
            "a final run has nothing left to start"
        );
    } else {
        prop_assert!(run.environment_status().is_none());
    }
    if run.status == RunStatus::Succeeded {
        prop_assert!(run.steps.iter().all(|s| s.status == StepStatus::Succeeded));
    }
    for step in &run.steps {
        prop_assert!(step.output.len() <= terrane_domain::lifecycle::run::OUTPUT_KEPT);
    }
    let share = run.steps_completed();
    prop_assert!((0.0..=1.0).contains(&share));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn deployments_only_ever_make_the_moves_of_their_table(
        start in prop::sample::select(DeploymentStatus::ALL),
        asked in prop::collection::vec(prop::sample::select(DeploymentStatus::ALL), 0..20),
    ) {
        let mut status = start;
        for to in asked {
            match status.transition(to) {
                Ok(next) => {
                    prop_assert_eq!(next, to);
                    prop_assert!(status.next().contains(&to));
                    status = next;
                }
                Err(refused) => {
                    prop_assert!(!status.next().contains(&to));
                    prop_assert_eq!((refused.from, refused.to), (status, to));
                    prop_assert!(refused.to_string().contains(status.as_str()));
                }
            }
        }
    }

    #[test]
    fn environment_requests_only_ever_make_the_moves_of_their_table(
        start in prop::sample::select(RequestStatus::ALL),
        asked in prop::collection::vec(prop::sample::select(RequestStatus::ALL), 0..20),
    ) {
        let mut status = start;
        for to in asked {
            match status.transition(to) {
                Ok(next) => {
                    prop_assert_eq!(next, to);
                    prop_assert!(status.next().contains(&to));
                    status = next;
                }
                Err(refused) => {
                    prop_assert!(!status.next().contains(&to));
                    prop_assert_eq!((refused.from, refused.to), (status, to));
                }
            }
            if status.next().is_empty() {
                prop_assert!(!status.is_open(), "{status} is final and must free its name");
            }
        }
    }

    #[test]
    fn run_and_step_tables_never_leave_a_final_status(
        run_from in prop::sample::select(RunStatus::ALL),
        run_to in prop::sample::select(RunStatus::ALL),
        step_from in prop::sample::select(StepStatus::ALL),
        step_to in prop::sample::select(StepStatus::ALL),
    ) {
        if run_from.is_final() {
            prop_assert!(!run_from.can_become(run_to));
        }
        if run_from.can_become(run_to) {
            prop_assert_ne!(run_from, run_to);
        }
        if step_from.can_become(step_to) {
            prop_assert_ne!(step_from, step_to);
            prop_assert!(matches!(step_from, StepStatus::Requested | StepStatus::Running));
        }
    }

    #[test]
    fn runs_survive_any_sequence_of_moves_and_keep_their_invariants(
        steps in 0usize..5,
        destroys in any::<bool>(),
        moves in prop::collection::vec(run_move(), 0..16),
    ) {
        let mut run = run_of(steps, destroys);
        check_run(&run)?;
        for (second, asked) in (1u32..).zip(moves) {
            let now = at(second);
            let step_id = |i: usize| {
                run.steps.get(i).map_or(StepId(Uuid::from_u128(999)), |s| s.id)
            };
            let before = run.status;
            let result = match asked {
                RunMove::Start => run.start(now),
                RunMove::StartStep(i) => run.start_step(step_id(i), now),
                RunMove::FinishStep(i, exit_code, timed_out, output) => run.finish_step(
                    step_id(i),
                    StepOutcome { exit_code, timed_out, output },
                    now,
                ),
                RunMove::Cancel(output) => run.cancel(output, now),
                RunMove::Abandon => run.abandon(now),
            };
            if let Ok(next) = result {
                prop_assert!(
                    next.status == before || before.can_become(next.status)
                        || (before == RunStatus::Requested && next.status == RunStatus::Succeeded
                            && next.steps.is_empty()),
                    "{before} became {}", next.status
                );
                for (old, new) in run.steps.iter().zip(&next.steps) {
                    prop_assert!(
                        old.status == new.status || old.status.can_become(new.status),
                        "step {} went from {} to {}", old.name, old.status, new.status
                    );
                }
                run = next;
            }
            check_run(&run)?;
        }
    }
}
