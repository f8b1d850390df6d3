//! The run and step state machines, tested as full tables.
use super::*;
use crate::lifecycle::template::{StepSpec, Template};
use chrono::TimeZone;
use uuid::Uuid;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 4, 8, 0, 0).unwrap()
}

fn template(steps: usize) -> Template {
    let spec = |name: &str, steps: usize| WorkflowSpec {
        name: name.into(),
        description: None,
        variables: Vec::new(),
        steps: (0..steps)
            .map(|i| StepSpec {
                phase: "p".into(),
                name: format!("s{i}"),
                run: "x".into(),
                timeout_seconds: 5,
            })
            .collect(),
    };
    Template {
        id: crate::ids::TemplateId(Uuid::nil()),
        tenant: TenantId(Uuid::nil()),
        name: "t".into(),
        version: "1".into(),
        description: None,
        variables: Vec::new(),
        workflows: vec![spec("create", steps), spec("destroy", steps)],
        create_workflow: "create".into(),
        destroy_workflow: "destroy".into(),
        version_number: 1,
        created_at: now(),
        updated_at: now(),
    }
}

fn run(workflow: &str, steps: usize) -> Run {
    let t = template(steps);
    let mut n = 0;
    Run::requested(
        RunId(Uuid::from_u128(1)),
        TenantId(Uuid::nil()),
        EnvironmentId(Uuid::nil()),
        &t,
        t.workflow(workflow).unwrap(),
        Variables::new(),
        None,
        || {
            n += 1;
            StepId(Uuid::from_u128(100 + n))
        },
        now(),
    )
}

fn ok() -> StepOutcome {
    StepOutcome {
        exit_code: Some(0),
        timed_out: false,
        output: "fine".into(),
    }
}

#[test]
fn the_run_state_machine_allows_exactly_its_moves() {
    use RunStatus::*;
    let allowed = [
        (Requested, Running),
        (Requested, Canceled),
        (Running, Succeeded),
        (Running, Failed),
        (Running, Canceled),
    ];
    for from in RunStatus::ALL {
        for to in RunStatus::ALL {
            assert_eq!(
                from.can_become(*to),
                allowed.contains(&(*from, *to)),
                "{from} -> {to}"
            );
        }
    }
}

#[test]
fn the_step_state_machine_allows_exactly_its_moves() {
    use StepStatus::*;
    let allowed = [
        (Requested, Running),
        (Requested, Skipped),
        (Running, Succeeded),
        (Running, Failed),
        (Running, Canceled),
    ];
    for from in StepStatus::ALL {
        for to in StepStatus::ALL {
            assert_eq!(
                from.can_become(*to),
                allowed.contains(&(*from, *to)),
                "{from} -> {to}"
            );
        }
    }
}

#[test]
fn steps_run_in_order_and_the_last_success_succeeds_the_run_and_readies_the_environment() {
    let mut r = run("create", 2).start(now()).unwrap();
    let first = r.next_step().unwrap().id;
    assert!(
        r.start_step(r.steps[1].id, now()).is_err(),
        "only the next step starts"
    );
    r = r.start_step(first, now()).unwrap();
    assert!(
        r.start_step(first, now()).is_err(),
        "a step never starts twice"
    );
    assert!(
        r.start_step(r.steps[1].id, now()).is_err(),
        "the next step waits until the running one has ended"
    );
    r = r.finish_step(first, ok(), now()).unwrap();
    assert_eq!(r.steps_completed(), 0.5);
    let second = r.next_step().unwrap().id;
    r = r
        .start_step(second, now())
        .unwrap()
        .finish_step(second, ok(), now())
        .unwrap();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.steps_completed(), 1.0);
    assert_eq!(r.environment_status(), Some(EnvironmentStatus::Ready));
}

#[test]
fn a_failing_or_timed_out_step_skips_the_rest_fails_the_run_and_breaks_the_environment() {
    for outcome in [
        StepOutcome {
            exit_code: Some(3),
            timed_out: false,
            output: "boom".into(),
        },
        StepOutcome {
            exit_code: None,
            timed_out: true,
            output: "slow".into(),
        },
    ] {
        let r = run("create", 3).start(now()).unwrap();
        let first = r.steps[0].id;
        let r = r
            .start_step(first, now())
            .unwrap()
            .finish_step(first, outcome.clone(), now())
            .unwrap();
        let statuses: Vec<_> = r.steps.iter().map(|s| s.status).collect();
        assert_eq!(
            statuses,
            [StepStatus::Failed, StepStatus::Skipped, StepStatus::Skipped]
        );
        assert_eq!(r.status, RunStatus::Failed);
        assert!(r.steps[0].output.starts_with(&outcome.output));
        assert_eq!(r.environment_status(), Some(EnvironmentStatus::Broken));
    }
}

#[test]
fn canceling_cancels_the_running_step_and_skips_the_rest() {
    let r = run("create", 2).start(now()).unwrap();
    let r = r
        .start_step(r.steps[0].id, now())
        .unwrap()
        .cancel(Some("half".into()), now())
        .unwrap();
    assert_eq!(r.status, RunStatus::Canceled);
    assert_eq!(
        (r.steps[0].status, r.steps[1].status),
        (StepStatus::Canceled, StepStatus::Skipped)
    );
    assert_eq!(r.environment_status(), Some(EnvironmentStatus::Broken));
    assert!(
        r.cancel(None, now()).is_err(),
        "a finished run cannot be canceled"
    );
}

#[test]
fn an_abandoned_run_fails_its_running_step_saying_the_replica_stopped() {
    let r = run("create", 2).start(now()).unwrap();
    let r = r
        .start_step(r.steps[0].id, now())
        .unwrap()
        .abandon(now())
        .unwrap();
    assert_eq!(r.status, RunStatus::Failed);
    assert_eq!(
        (r.steps[0].status, r.steps[1].status),
        (StepStatus::Failed, StepStatus::Skipped)
    );
    assert!(r.steps[0].output.contains(REPLICA_STOPPED));
    assert!(
        run("create", 1).abandon(now()).is_err(),
        "a requested run was never started"
    );
}

#[test]
fn the_destroy_workflow_destroys_and_a_run_of_no_steps_succeeds_when_started() {
    let r = run("destroy", 0).start(now()).unwrap();
    assert_eq!(r.status, RunStatus::Succeeded);
    assert_eq!(r.environment_status(), Some(EnvironmentStatus::Destroyed));
}

#[test]
fn attribute_lines_set_keys_and_output_keeps_the_last_four_kibibytes() {
    assert_eq!(
        attribute("terrane:attribute url=http://x:8080/a=b\n"),
        Some(("url".into(), "http://x:8080/a=b".into()))
    );
    assert_eq!(attribute("terrane:attribute =x"), None);
    assert_eq!(attribute("terrane:attribute bad key=x"), None);
    assert_eq!(attribute("echo terrane:attribute a=b"), None);
    let long = format!("{}é{}", "a".repeat(5000), "b".repeat(4000));
    let tail = output_tail(&long);
    assert!(tail.len() <= OUTPUT_KEPT && tail.ends_with('b'));
}
