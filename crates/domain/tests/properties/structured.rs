//! Structured inputs: labels, label selectors, connection objects, service accounts, agents,
//! templates with their variables and workflows, DORA windows.

use crate::{any_json, any_text, object_with, CASES};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use terrane_domain::lifecycle::template::{StepInput, WorkflowInput};
use terrane_domain::lifecycle::variables::{VariableSpec, VariableSpecInput};
use terrane_domain::*;
use uuid::Uuid;

const CONNECTION_FIELDS: &[&str] = &[
    "host",
    "port",
    "tlsEnabled",
    "projectName",
    "cluster",
    "service",
    "region",
    "address",
    "jobId",
    "namespace",
];

/// Values that are often valid for some connection field, and often not.
fn connection_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-z0-9-]{1,12}(\\.[a-z]{2,5})?".prop_map(Value::from),
        "(us|eu)-[a-z]{4}-[0-9]".prop_map(Value::from),
        "https?://[a-z]{1,10}(:[0-9]{1,5})?(/[a-z]{0,5})?".prop_map(Value::from),
        "\\[?[0-9a-f:.]{2,20}\\]?".prop_map(Value::from),
        (0i64..70_000).prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        any_json(),
    ]
}

fn connection_object() -> impl Strategy<Value = Map<String, Value>> {
    prop_oneof![
        prop::collection::btree_map(
            prop::sample::select(CONNECTION_FIELDS).prop_map(str::to_owned),
            connection_value(),
            0..6,
        )
        .prop_map(|m| m.into_iter().collect()),
        object_with(CONNECTION_FIELDS),
    ]
}

fn time(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0).single().unwrap()
}

/// A template input read back from what it parsed to.
fn printed(template: &NewTemplate) -> TemplateInput {
    let variables = |specs: &[VariableSpec]| {
        specs
            .iter()
            .map(|v| VariableSpecInput {
                name: Some(v.name.clone()),
                description: v.description.clone(),
                required: Some(v.required),
                default: v.default.clone(),
                pattern: v.pattern.as_ref().map(|p| p.as_str().to_owned()),
            })
            .collect()
    };
    TemplateInput {
        name: Some(template.name.clone()),
        version: Some(template.version.clone()),
        description: template.description.clone(),
        variables: variables(&template.variables),
        workflows: template
            .workflows
            .iter()
            .map(|w| WorkflowInput {
                name: Some(w.name.clone()),
                description: w.description.clone(),
                variables: variables(&w.variables),
                steps: w
                    .steps
                    .iter()
                    .map(|s| StepInput {
                        phase: Some(s.phase.clone()),
                        name: Some(s.name.clone()),
                        run: Some(s.run.clone()),
                        timeout_seconds: Some(i64::from(s.timeout_seconds)),
                    })
                    .collect(),
            })
            .collect(),
        create_workflow: Some(template.create_workflow.clone()),
        destroy_workflow: Some(template.destroy_workflow.clone()),
    }
}

fn variable_input() -> impl Strategy<Value = VariableSpecInput> {
    (
        prop::option::of(prop_oneof!["[a-zA-Z_][a-zA-Z0-9_]{0,10}", any_text()]),
        prop::option::of(any_text()),
        prop::option::of(any::<bool>()),
        prop::option::of(prop_oneof!["[a-z]{0,6}", any_text()]),
        prop::option::of(prop_oneof!["[a-z]+", "[a-z()|*+?\\[\\]-]{0,8}", any_text()]),
    )
        .prop_map(
            |(name, description, required, default, pattern)| VariableSpecInput {
                name,
                description,
                required,
                default,
                pattern,
            },
        )
}

const EXECUTABLES: &[&str] = &["provision.sh", "destroy.sh", "configure"];

fn template_input() -> impl Strategy<Value = TemplateInput> {
    let text = || prop_oneof!["[a-z][a-z0-9 ]{0,10}", any_text()];
    let step = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(prop_oneof![
            prop::sample::select(EXECUTABLES).prop_map(str::to_owned),
            any_text()
        ]),
        prop::option::of(prop_oneof![1i64..100_000, any::<i64>()]),
    )
        .prop_map(|(phase, name, run, timeout_seconds)| StepInput {
            phase,
            name,
            run,
            timeout_seconds,
        });
    let workflow = (
        prop::option::of(prop_oneof!["create|destroy|deploy", any_text()]),
        prop::option::of(any_text()),
        prop::collection::vec(variable_input(), 0..3),
        prop::collection::vec(step, 0..3),
    )
        .prop_map(|(name, description, variables, steps)| WorkflowInput {
            name,
            description,
            variables,
            steps,
        });
    (
        (prop::option::of(text()), prop::option::of(text())),
        prop::option::of(any_text()),
        prop::collection::vec(variable_input(), 0..3),
        prop::collection::vec(workflow, 0..4),
        prop::option::of(prop_oneof!["create|deploy", any_text()]),
        prop::option::of(prop_oneof!["destroy|deploy", any_text()]),
    )
        .prop_map(
            |((name, version), description, variables, workflows, create, destroy)| TemplateInput {
                name,
                version,
                description,
                variables,
                workflows,
                create_workflow: create,
                destroy_workflow: destroy,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn labels_parse_any_object_and_read_back_the_same(
        raw in prop_oneof![
            object_with(&["role", "tier", "app.kubernetes.io/name"]),
            prop::collection::btree_map("[a-z0-9._/-]{1,10}", any_text(), 0..8)
                .prop_map(|m| m.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        ]
    ) {
        if let Ok(labels) = Labels::parse(&raw) {
            prop_assert_eq!(Labels::parse(&labels.to_json()).unwrap(), labels);
        }
    }

    #[test]
    fn label_selectors_parse_any_text_and_read_back_the_same(
        text in prop_oneof![
            any_text(),
            any_json().prop_map(|v| v.to_string()),
            prop::collection::btree_map(any_text(), any_text(), 0..5)
                .prop_map(|m| serde_json::to_string(&m).unwrap()),
        ]
    ) {
        if let Ok(selector) = LabelSelector::parse(&text) {
            let again = LabelSelector::parse(&selector.to_json().to_string()).unwrap();
            prop_assert_eq!(again, selector);
        }
    }

    #[test]
    fn connections_parse_any_object_and_read_back_the_same(
        target_type in prop::sample::select(TargetType::ALL),
        raw in connection_object(),
    ) {
        match Connection::parse(target_type, &raw) {
            Ok(connection) => {
                prop_assert_eq!(connection.target_type(), target_type);
                let again = Connection::parse(target_type, &connection.to_json()).unwrap();
                prop_assert_eq!(again, connection);
            }
            Err(errors) => {
                prop_assert!(!errors.is_empty());
                for error in errors.errors() {
                    prop_assert!(error.field.starts_with("connection."), "{}", error.field);
                }
            }
        }
    }

    #[test]
    fn service_accounts_parse_any_input_and_read_back_the_same(
        name in prop::option::of(prop_oneof!["[a-z][a-z0-9-]{0,20}", any_text()]),
        description in prop::option::of(any_text()),
        roles in prop::option::of(prop::collection::vec(
            prop_oneof!["admin|deployer|viewer", any_text()], 0..4)),
    ) {
        if let Ok(account) = NewServiceAccount::parse(name.as_deref(), description, roles) {
            let roles = account.roles.iter().map(|r| r.as_str().to_owned()).collect();
            let again = NewServiceAccount::parse(
                Some(&account.name), account.description.clone(), Some(roles)).unwrap();
            prop_assert_eq!(again, account);
        }
    }

    #[test]
    fn agents_parse_any_input_and_read_back_the_same(
        name in prop::option::of(prop_oneof!["[a-z][a-z0-9-]{0,20}", any_text()]),
        ids in prop::option::of(prop::collection::vec(0u128..4, 0..6)),
    ) {
        let ids = ids.map(|ids| ids.into_iter().map(Uuid::from_u128).collect());
        if let Ok(agent) = NewAgent::parse(name.as_deref(), ids) {
            let again = NewAgent::parse(
                Some(&agent.name),
                Some(agent.target_ids.iter().map(|id| id.0).collect()),
            ).unwrap();
            prop_assert_eq!(again, agent);
        }
    }

    #[test]
    fn templates_parse_any_input_and_read_back_the_same(
        input in template_input(),
        configured in any::<bool>(),
    ) {
        let available = if configured {
            Executables::In(EXECUTABLES.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>())
        } else {
            Executables::Unconfigured
        };
        if let Ok(template) = input.into_new(&available) {
            let again = printed(&template).into_new(&available).unwrap();
            prop_assert_eq!(again, template);
        }
    }

    #[test]
    fn dora_windows_parse_any_times_without_panicking(
        from in prop::option::of(-10_000_000_000i64..10_000_000_000),
        to in prop::option::of(-10_000_000_000i64..10_000_000_000),
        now in 0i64..4_000_000_000,
    ) {
        let window = DoraWindow::parse(from.map(time), to.map(time), time(now));
        if let Ok(window) = window {
            prop_assert!(window.from() < window.to());
            let again = DoraWindow::parse(Some(window.from()), Some(window.to()), time(now));
            prop_assert_eq!(again.unwrap(), window);
        }
    }
}
