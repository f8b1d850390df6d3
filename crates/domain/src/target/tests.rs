use super::connection::{check_host, check_http_url};
use super::*;
use chrono::TimeZone;
use serde_json::json;

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

fn fields_of(errors: &ValidationErrors) -> Vec<&str> {
    errors.errors().iter().map(|e| e.field.as_str()).collect()
}

fn connection(target_type: TargetType, value: Value) -> Result<Connection, ValidationErrors> {
    Connection::parse(target_type, &object(value))
}

fn seed() -> TargetInput {
    TargetInput {
        environment_id: Some(Uuid::from_u128(1)),
        target_group_id: Some(Some(Uuid::from_u128(2))),
        name: Some("prod-web-01".into()),
        target_type: Some("docker_host".into()),
        connection: Some(object(
            json!({"host": "192.168.1.100", "port": 2375, "tlsEnabled": true}),
        )),
        labels: Some(object(json!({"role": "web", "datacenter": "us-east-1"}))),
        deployment_directory: Some(Some("/opt/deployments".into())),
    }
}

fn stored(input: TargetInput) -> Target {
    input.into_new().unwrap().into_target(
        TargetId(Uuid::from_u128(9)),
        TenantId(Uuid::nil()),
        Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap(),
    )
}

#[test]
fn the_seed_example_is_a_valid_docker_host_that_starts_with_unknown_health() {
    let target = stored(seed());
    assert_eq!(target.target_type(), TargetType::DockerHost);
    let Connection::DockerHost(docker) = &target.connection else {
        panic!("{:?}", target.connection)
    };
    assert_eq!(
        (docker.host(), docker.port(), docker.tls_enabled()),
        ("192.168.1.100", 2375, true)
    );
    assert_eq!(target.labels.get("role"), Some("web"));
    assert_eq!(target.health_status, HealthStatus::Unknown);
    assert_eq!(
        (target.health_message, target.last_health_check_at),
        (None, None)
    );
    assert_eq!(target.version, 1);
}

#[test]
fn a_docker_host_needs_a_host_and_a_port_and_defaults_tls_to_off() {
    let ok = connection(
        TargetType::DockerHost,
        json!({"host": "docker.internal", "port": 2376}),
    )
    .unwrap();
    assert_eq!(ok.to_json()["tlsEnabled"], json!(false));
    let errors = connection(TargetType::DockerHost, json!({})).unwrap_err();
    assert_eq!(fields_of(&errors), ["connection.host", "connection.port"]);
}

#[test]
fn every_bad_docker_field_is_named_at_once() {
    let errors = connection(
        TargetType::DockerHost,
        json!({"host": "bad host!", "port": 70000, "tlsEnabled": "yes", "socket": "/var/run"}),
    )
    .unwrap_err();
    assert_eq!(
        fields_of(&errors),
        [
            "connection.host",
            "connection.port",
            "connection.tlsEnabled",
            "connection.socket"
        ]
    );
}

#[test]
fn hosts_are_host_names_or_ip_addresses() {
    for ok in [
        "localhost",
        "docker-1.eu.example.com",
        "10.0.0.1",
        "::1",
        "[2001:db8::1]",
        "a1",
    ] {
        assert!(check_host(ok).is_ok(), "{ok}");
    }
    for bad in [
        "",
        "-lead.example.com",
        "under_score.com",
        "192.168.1.300",
        "a..b",
        "with space",
        &format!("{}.com", "a".repeat(64)),
    ] {
        assert!(check_host(bad).is_err(), "{bad}");
    }
}

#[test]
fn ports_are_whole_numbers_from_1_to_65535() {
    for ok in [1, 65535] {
        assert!(connection(TargetType::DockerHost, json!({"host": "h", "port": ok})).is_ok());
    }
    for bad in [
        json!(0),
        json!(65536),
        json!(-1),
        json!(22.5),
        json!("2375"),
    ] {
        let errors =
            connection(TargetType::DockerHost, json!({"host": "h", "port": bad})).unwrap_err();
        assert_eq!(fields_of(&errors), ["connection.port"], "{bad}");
    }
}

#[test]
fn a_compose_host_also_needs_a_project_name_in_compose_syntax() {
    let base = json!({"host": "h", "port": 2375});
    let errors = connection(TargetType::ComposeHost, base.clone()).unwrap_err();
    assert_eq!(fields_of(&errors), ["connection.projectName"]);
    let errors = connection(
        TargetType::ComposeHost,
        json!({"host": "h", "port": 2375, "projectName": "My App"}),
    )
    .unwrap_err();
    assert_eq!(fields_of(&errors), ["connection.projectName"]);
    let ok = connection(
        TargetType::ComposeHost,
        json!({"host": "h", "port": 2375, "projectName": "shop_2"}),
    )
    .unwrap();
    assert_eq!(ok.target_type(), TargetType::ComposeHost);
}

#[test]
fn an_ecs_service_needs_cluster_service_and_an_aws_region() {
    let errors =
        connection(TargetType::EcsService, json!({"cluster": "", "host": "h"})).unwrap_err();
    assert_eq!(
        fields_of(&errors),
        [
            "connection.cluster",
            "connection.service",
            "connection.region",
            "connection.host"
        ]
    );
    for region in ["us-east-1", "eu-central-2", "us-gov-west-1"] {
        assert!(
            connection(
                TargetType::EcsService,
                json!({"cluster": "prod", "service": "api", "region": region})
            )
            .is_ok(),
            "{region}"
        );
    }
    for region in ["useast1", "US-EAST-1", "us-east", "e-east-1"] {
        let errors = connection(
            TargetType::EcsService,
            json!({"cluster": "prod", "service": "api", "region": region}),
        )
        .unwrap_err();
        assert_eq!(fields_of(&errors), ["connection.region"], "{region}");
    }
}

#[test]
fn a_nomad_job_needs_an_http_address_and_a_job_id_and_defaults_the_namespace() {
    let ok = connection(
        TargetType::NomadJob,
        json!({"address": "https://nomad.example.com:4646", "jobId": "api"}),
    )
    .unwrap();
    assert_eq!(ok.to_json()["namespace"], json!("default"));
    let errors = connection(
        TargetType::NomadJob,
        json!({"address": "ftp://nomad", "namespace": "bad ns"}),
    )
    .unwrap_err();
    assert_eq!(
        fields_of(&errors),
        [
            "connection.address",
            "connection.jobId",
            "connection.namespace"
        ]
    );
}

#[test]
fn nomad_addresses_are_http_or_https_urls_with_a_valid_host_and_port() {
    for ok in [
        "http://127.0.0.1:4646",
        "https://nomad.example.com",
        "http://[::1]:4646/v1",
        "https://n.example.com/?region=eu",
    ] {
        assert!(check_http_url(ok).is_ok(), "{ok}");
    }
    for bad in [
        "nomad:4646",
        "https://",
        "http://user:pw@nomad",
        "http://nomad:0",
        "http://nomad:port",
        "http://no mad",
        "https://-bad-",
    ] {
        assert!(check_http_url(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_connection_reads_back_from_its_own_json() {
    for (target_type, value) in [
        (
            TargetType::DockerHost,
            json!({"host": "h", "port": 1, "tlsEnabled": true}),
        ),
        (
            TargetType::ComposeHost,
            json!({"host": "h", "port": 2, "projectName": "p"}),
        ),
        (
            TargetType::EcsService,
            json!({"cluster": "c", "service": "s", "region": "eu-west-1"}),
        ),
        (
            TargetType::NomadJob,
            json!({"address": "http://n", "jobId": "j", "namespace": "ops"}),
        ),
    ] {
        let parsed = connection(target_type, value).unwrap();
        assert_eq!(
            Connection::parse(target_type, &parsed.to_json()).unwrap(),
            parsed
        );
    }
}

#[test]
fn labels_are_bounded_string_pairs_named_by_key_when_bad() {
    let errors = Labels::parse(&object(json!({
        "Role": "web",
        "tier": 3,
        "zone": "x".repeat(256),
        "k8s.io/app": "",
        "ok": "fine"
    })))
    .unwrap_err();
    assert_eq!(
        fields_of(&errors),
        ["labels.Role", "labels.tier", "labels.zone"]
    );
    let long_key = "k".repeat(64);
    let errors = Labels::parse(&object(json!({ long_key.clone(): "v" }))).unwrap_err();
    assert_eq!(fields_of(&errors), [format!("labels.{long_key}")]);
    let ok = Labels::parse(&object(json!({"k8s.io/app": "", "a": "x".repeat(255)}))).unwrap();
    assert_eq!(ok.len(), 2);
}

#[test]
fn at_most_64_labels_are_accepted() {
    let many = |n: usize| -> Map<String, Value> {
        (0..n)
            .map(|i| (format!("k{i}"), Value::String("v".into())))
            .collect()
    };
    assert_eq!(Labels::parse(&many(64)).unwrap().len(), 64);
    assert_eq!(
        fields_of(&Labels::parse(&many(65)).unwrap_err()),
        ["labels"]
    );
}

#[test]
fn a_label_selector_is_a_json_object_of_strings_and_matches_supersets() {
    let selector = LabelSelector::parse(r#"{"role":"web"}"#).unwrap();
    let labels = Labels::parse(&object(json!({"role": "web", "dc": "eu"}))).unwrap();
    assert!(selector.matches(&labels));
    assert!(!LabelSelector::parse(r#"{"role":"db"}"#)
        .unwrap()
        .matches(&labels));
    assert!(!LabelSelector::parse(r#"{"role":"web","dc":"us"}"#)
        .unwrap()
        .matches(&labels));
    assert!(LabelSelector::parse("{}").unwrap().matches(&labels));
    for bad in [
        "role=web",
        r#"{"role":1}"#,
        r#"["role"]"#,
        r#"{"role":null}"#,
        "",
    ] {
        assert_eq!(
            LabelSelector::parse(bad).unwrap_err().field,
            "labels",
            "{bad}"
        );
    }
}

#[test]
fn a_new_target_names_every_missing_and_bad_field_at_once() {
    let errors = TargetInput {
        name: Some("bad name".into()),
        labels: Some(object(json!({"Bad": "x"}))),
        deployment_directory: Some(Some("relative/dir".into())),
        ..Default::default()
    }
    .into_new()
    .unwrap_err();
    assert_eq!(
        fields_of(&errors),
        [
            "name",
            "labels.Bad",
            "deploymentDirectory",
            "environmentId",
            "targetType",
            "connection"
        ]
    );
}

#[test]
fn an_unknown_type_is_named_without_guessing_at_the_connection() {
    let errors = TargetInput {
        target_type: Some("k8s_pod".into()),
        ..seed()
    }
    .into_new()
    .unwrap_err();
    assert_eq!(fields_of(&errors), ["targetType"]);
}

#[test]
fn a_connection_bad_for_its_type_is_named_field_by_field() {
    let errors = TargetInput {
        target_type: Some("nomad_job".into()),
        ..seed()
    }
    .into_new()
    .unwrap_err();
    assert_eq!(
        fields_of(&errors),
        [
            "connection.address",
            "connection.jobId",
            "connection.host",
            "connection.port",
            "connection.tlsEnabled"
        ]
    );
}

#[test]
fn changing_only_the_type_revalidates_the_current_connection_against_it() {
    let current = stored(seed());
    let errors = TargetInput {
        target_type: Some("compose_host".into()),
        ..Default::default()
    }
    .into_changes(&current)
    .unwrap_err();
    assert_eq!(fields_of(&errors), ["connection.projectName"]);
    let changes = TargetInput {
        target_type: Some("ecs_service".into()),
        connection: Some(object(
            json!({"cluster": "c", "service": "s", "region": "us-east-1"}),
        )),
        ..Default::default()
    }
    .into_changes(&current)
    .unwrap();
    let next = current.apply(changes, current.updated_at);
    assert_eq!(next.target_type(), TargetType::EcsService);
}

#[test]
fn a_new_connection_is_checked_against_the_current_type_and_replaces_the_old_one_whole() {
    let current = stored(seed());
    let changes = TargetInput {
        connection: Some(object(json!({"host": "10.0.0.2", "port": 2376}))),
        ..Default::default()
    }
    .into_changes(&current)
    .unwrap();
    let next = current.apply(changes, current.updated_at);
    assert_eq!(
        Value::Object(next.connection.to_json()),
        json!({"host": "10.0.0.2", "port": 2376, "tlsEnabled": false}),
        "tlsEnabled is not kept from the old connection"
    );
    let errors = TargetInput {
        connection: Some(object(json!({"cluster": "c"}))),
        ..Default::default()
    }
    .into_changes(&current)
    .unwrap_err();
    assert_eq!(
        fields_of(&errors),
        ["connection.host", "connection.port", "connection.cluster"]
    );
}

#[test]
fn applying_changes_keeps_absent_fields_clears_nulls_and_bumps_the_version() {
    let current = stored(seed());
    let later = current.updated_at + chrono::Duration::seconds(3);
    let changes = TargetInput {
        target_group_id: Some(None),
        deployment_directory: Some(None),
        labels: Some(Map::new()),
        ..Default::default()
    }
    .into_changes(&current)
    .unwrap();
    let next = current.apply(changes, later);
    assert_eq!(next.target_group_id, None);
    assert_eq!(next.deployment_directory, None);
    assert!(next.labels.is_empty());
    assert_eq!(next.name, current.name);
    assert_eq!(next.connection, current.connection);
    assert_eq!(
        (next.version, next.updated_at, next.created_at),
        (2, later, current.created_at)
    );
    assert!(TargetInput::default()
        .into_changes(&current)
        .unwrap()
        .is_empty());
}

#[test]
fn types_and_health_statuses_round_trip_their_wire_names() {
    for t in TargetType::ALL {
        assert_eq!(t.as_str().parse::<TargetType>().unwrap(), *t);
    }
    for h in HealthStatus::ALL {
        assert_eq!(h.as_str().parse::<HealthStatus>().unwrap(), *h);
    }
    assert_eq!(
        TargetType::parse_field("vm", "targetType")
            .unwrap_err()
            .field,
        "targetType"
    );
}
