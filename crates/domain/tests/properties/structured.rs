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

/// The fields of each type's connection object.
fn fields_of(target_type: TargetType) -> &'static [&'static str] {
    match target_type {
        TargetType::DockerHost => &["host", "port", "tlsEnabled"],
        TargetType::ComposeHost => &["host", "port", "tlsEnabled", "projectName"],
        TargetType::EcsService => &["cluster", "service", "region"],
        TargetType::NomadJob => &["address", "jobId", "namespace"],
    }
}

/// A value that is mostly valid for `field`, and sometimes anything at all.
fn field_value(field: &str) -> BoxedStrategy<Value> {
    let valid: BoxedStrategy<Value> = match field {
        "host" => prop_oneof![
            "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5})?".prop_map(Value::from),
            any::<[u8; 4]>().prop_map(|ip| Value::from(std::net::Ipv4Addr::from(ip).to_string())),
        ]
        .boxed(),
        "port" => (0i64..70_000).prop_map(Value::from).boxed(),
        "tlsEnabled" => any::<bool>().prop_map(Value::from).boxed(),
        "projectName" => "[a-z0-9][a-z0-9_-]{0,20}".prop_map(Value::from).boxed(),
        "region" => "(us|eu)-[a-z]{4}-[0-9]".prop_map(Value::from).boxed(),
        "address" => "https?://[a-z]{1,10}(:[0-9]{2,4})?(/[a-z]{0,5})?"
            .prop_map(Value::from)
            .boxed(),
        _ => "[a-zA-Z0-9._-]{1,20}".prop_map(Value::from).boxed(),
    };
    prop_oneof![6 => valid, 1 => any_json()].boxed()
}

/// A connection object for `target_type`: mostly its own fields with mostly valid values,
/// sometimes missing ones or unknown ones.
fn connection_object(target_type: TargetType) -> BoxedStrategy<Map<String, Value>> {
    let fields: Vec<BoxedStrategy<Option<(String, Value)>>> = fields_of(target_type)
        .iter()
        .map(|field| {
            prop::option::weighted(
                0.9,
                field_value(field).prop_map(move |v| (field.to_string(), v)),
            )
            .boxed()
        })
        .collect();
    let extra = prop::option::weighted(0.1, (any_text(), any_json()));
    prop_oneof![
        8 => (fields, extra).prop_map(|(fields, extra)| {
            fields.into_iter().flatten().chain(extra).collect::<Map<String, Value>>()
        }),
        1 => object_with(CONNECTION_FIELDS),
    ]
    .boxed()
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
        prop::option::weighted(0.95, prop_oneof![6 => "[a-zA-Z_][a-zA-Z0-9_]{0,10}", 1 => any_text()]),
        prop::option::of(any_text()),
        prop::option::of(any::<bool>()),
        prop::option::weighted(0.3, prop_oneof![4 => "[a-z]{1,6}", 1 => any_text()]),
        prop::option::weighted(0.3, prop_oneof![4 => Just("[a-z]+".to_owned()), 1 => "[a-z()|*+?\\[\\]-]{0,8}", 1 => any_text()]),
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
    let label = || {
        prop::option::weighted(
            0.95,
            prop_oneof![8 => "[a-z][a-z0-9 ._-]{0,10}", 1 => any_text()],
        )
    };
    let step = (
        prop::option::weighted(
            0.5,
            prop_oneof![8 => "[a-z][a-z0-9 ]{0,10}", 1 => any_text()],
        ),
        label(),
        prop::option::weighted(
            0.95,
            prop_oneof![
                8 => prop::sample::select(EXECUTABLES).prop_map(str::to_owned),
                1 => any_text()
            ],
        ),
        prop::option::weighted(0.5, prop_oneof![8 => 1i64..=86_400, 1 => any::<i64>()]),
    )
        .prop_map(|(phase, name, run, timeout_seconds)| StepInput {
            phase,
            name,
            run,
            timeout_seconds,
        });
    let workflow = move |name: String| {
        (
            prop::option::weighted(0.3, any_text()),
            prop::collection::vec(variable_input(), 0..2),
            prop::collection::vec(step.clone(), 0..3),
        )
            .prop_map(move |(description, variables, steps)| WorkflowInput {
                name: Some(name.clone()),
                description,
                variables,
                steps,
            })
    };
    let names = prop::collection::vec(
        prop_oneof![8 => "deploy|upgrade|backup", 1 => any_text()],
        0..3,
    );
    let workflows = names.prop_flat_map(move |names| {
        let all = ["create".to_owned(), "destroy".to_owned()]
            .into_iter()
            .chain(names)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .map(&workflow)
            .collect::<Vec<_>>();
        (all, prop::bool::weighted(0.2)).prop_map(|(mut all, without_create)| {
            // Sometimes without its first workflow (in name order, often `create`).
            if without_create {
                all.remove(0);
            }
            all
        })
    });
    (
        (label(), label()),
        prop::option::weighted(0.3, any_text()),
        prop::collection::vec(variable_input(), 0..3),
        workflows,
        prop::option::weighted(0.3, prop_oneof!["create|deploy", any_text()]),
        prop::option::weighted(0.3, prop_oneof!["destroy|deploy", any_text()]),
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
        (target_type, raw) in prop::sample::select(TargetType::ALL)
            .prop_flat_map(|t| (Just(t), connection_object(t))),
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
        name in prop::option::weighted(0.9, prop_oneof![8 => "[a-z][a-z0-9-]{0,20}", 1 => any_text()]),
        description in prop::option::of(any_text()),
        roles in prop::option::weighted(0.9, prop::collection::vec(
            prop_oneof![8 => "admin|deployer|viewer", 1 => any_text()], 0..4)),
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
        configured in prop::bool::weighted(0.8),
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
