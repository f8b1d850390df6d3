use super::*;
use chrono::TimeZone;
use RequestStatus::*;

fn user(n: u128) -> UserId {
    UserId(Uuid::from_u128(n))
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn input(kind: &str, ttl_hours: Option<i64>) -> RequestInput {
    RequestInput {
        name: Some("feature-xyz-preview".into()),
        description: Some("Preview environment for feature XYZ".into()),
        environment_type: Some(kind.into()),
        tier: Some("small".into()),
        ttl_hours,
        component_id: None,
    }
}

fn pending(kind: &str, ttl_hours: Option<i64>) -> EnvironmentRequest {
    input(kind, ttl_hours)
        .into_new(&TtlPolicy::default())
        .unwrap()
        .into_request(
            EnvironmentRequestId(Uuid::from_u128(5)),
            TenantId(Uuid::from_u128(7)),
            user(1),
            t0(),
        )
        .0
}

fn with_status(status: RequestStatus) -> EnvironmentRequest {
    EnvironmentRequest {
        status,
        ..pending("ephemeral", Some(48))
    }
}

#[test]
fn the_state_machine_allows_exactly_the_specified_transitions() {
    let allowed = [
        (Pending, Approved),
        (Pending, Rejected),
        (Approved, Provisioning),
        (Provisioning, Active),
        (Provisioning, Failed),
        (Failed, Provisioning),
        (Active, Expired),
    ];
    for from in RequestStatus::ALL {
        for to in RequestStatus::ALL {
            let expected = allowed.contains(&(*from, *to));
            assert_eq!(from.transition(*to).is_ok(), expected, "{from} -> {to}");
        }
    }
}

#[test]
fn every_move_of_a_request_is_allowed_only_from_its_one_status() {
    // The named moves, each tried from every status: exactly the table above.
    type Move = fn(&EnvironmentRequest) -> Result<RequestStatus, InvalidRequestTransition>;
    let moves: [(&str, Move, &[RequestStatus]); 7] = [
        (
            "approve",
            |r| r.approve(user(2), None, t0()).map(|(n, _)| n.status),
            &[Pending],
        ),
        (
            "reject",
            |r| r.reject(user(2), None, t0()).map(|(n, _)| n.status),
            &[Pending],
        ),
        (
            "start",
            |r| r.start_provisioning(t0()).map(|(n, _)| n.status),
            &[Approved],
        ),
        (
            "retry",
            |r| r.retry(user(2), t0()).map(|(n, _)| n.status),
            &[Failed],
        ),
        (
            "activate",
            |r| {
                r.activate(EnvironmentId(Uuid::nil()), t0())
                    .map(|(n, _)| n.status)
            },
            &[Provisioning],
        ),
        (
            "fail",
            |r| r.fail("boom", t0()).map(|(n, _)| n.status),
            &[Provisioning],
        ),
        (
            "expire",
            |r| r.expire(None, "TTL elapsed", t0()).map(|(n, _)| n.status),
            &[Active],
        ),
    ];
    for (name, apply, from) in moves {
        for status in RequestStatus::ALL {
            let result = apply(&with_status(*status));
            assert_eq!(
                result.is_ok(),
                from.contains(status),
                "{name} from {status}"
            );
        }
    }
}

#[test]
fn a_refused_transition_names_the_current_status_and_the_allowed_ones() {
    assert_eq!(
        Active.transition(Approved).unwrap_err().to_string(),
        "a request cannot move from `active` to `approved`; from `active` it can move to expired"
    );
    assert_eq!(
        Rejected.transition(Approved).unwrap_err().to_string(),
        "a request cannot move from `rejected` to `approved`; `rejected` is final"
    );
}

#[test]
fn only_rejected_and_expired_requests_let_their_name_go() {
    let open: Vec<_> = RequestStatus::ALL.iter().filter(|s| s.is_open()).collect();
    assert_eq!(open, [&Pending, &Approved, &Provisioning, &Active, &Failed]);
}

#[test]
fn enums_round_trip_their_wire_names() {
    for s in RequestStatus::ALL {
        assert_eq!(s.as_str().parse::<RequestStatus>().unwrap(), *s);
    }
    for t in EnvironmentType::ALL {
        assert_eq!(t.as_str().parse::<EnvironmentType>().unwrap(), *t);
    }
    for t in EnvironmentTier::ALL {
        assert_eq!(t.as_str().parse::<EnvironmentTier>().unwrap(), *t);
    }
    assert!("huge".parse::<EnvironmentTier>().is_err());
}

#[test]
fn an_ephemeral_request_without_ttl_gets_the_configured_default() {
    let policy = TtlPolicy::new(6, 48).unwrap();
    let new = input("ephemeral", None).into_new(&policy).unwrap();
    assert_eq!(new.ttl_hours, Some(6));
    let asked = input("ephemeral", Some(48)).into_new(&policy).unwrap();
    assert_eq!(asked.ttl_hours, Some(48));
}

#[test]
fn an_ephemeral_ttl_over_the_configured_maximum_is_refused() {
    let policy = TtlPolicy::new(6, 48).unwrap();
    for hours in [0, 49, -1] {
        let errors = input("ephemeral", Some(hours))
            .into_new(&policy)
            .unwrap_err();
        assert_eq!(errors.errors()[0].field, "ttlHours");
        assert_eq!(errors.errors()[0].message, "must be between 1 and 48 hours");
    }
}

#[test]
fn a_persistent_request_refuses_a_ttl_because_it_does_not_expire() {
    let errors = input("persistent", Some(24))
        .into_new(&TtlPolicy::default())
        .unwrap_err();
    assert_eq!(errors.errors()[0].field, "ttlHours");
    assert!(errors.errors()[0]
        .message
        .starts_with("persistent environments do not expire"));
    let new = input("persistent", None)
        .into_new(&TtlPolicy::default())
        .unwrap();
    assert_eq!(new.ttl_hours, None);
}

#[test]
fn every_bad_or_missing_field_is_named_at_once() {
    let errors = RequestInput {
        name: Some("Not A Slug".into()),
        description: Some("x".repeat(2001)),
        tier: Some("huge".into()),
        ..Default::default()
    }
    .into_new(&TtlPolicy::default())
    .unwrap_err();
    let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["name", "description", "type", "tier"]);
}

#[test]
fn the_ttl_policy_needs_a_default_within_the_maximum() {
    assert!(TtlPolicy::new(24, 720).is_ok());
    assert!(TtlPolicy::new(0, 720).is_err());
    assert!(TtlPolicy::new(721, 720).is_err());
    let policy = TtlPolicy::new(1, 2).unwrap();
    assert_eq!(policy.minutes(120), Ok(120));
    assert_eq!(policy.minutes(121).unwrap_err().field, "minutes");
    assert_eq!(policy.minutes(0).unwrap_err().field, "minutes");
}

#[test]
fn a_submitted_request_is_pending_and_its_history_starts_with_the_requester() {
    let (request, entry) = input("ephemeral", Some(48))
        .into_new(&TtlPolicy::default())
        .unwrap()
        .into_request(
            EnvironmentRequestId(Uuid::from_u128(5)),
            TenantId(Uuid::from_u128(7)),
            user(1),
            t0(),
        );
    assert_eq!(request.status, Pending);
    assert_eq!((request.status_message, request.expires_at), (None, None));
    assert_eq!((request.version, request.created_at), (1, t0()));
    assert_eq!(entry.from, None);
    assert_eq!((entry.to, entry.actor), (Pending, Some(user(1))));
}

#[test]
fn approving_records_the_reviewer_and_activation_sets_the_expiry_from_the_ttl() {
    let request = pending("ephemeral", Some(48));
    let (approved, entry) = request.approve(user(2), Some("ok".into()), t0()).unwrap();
    assert_eq!(
        approved.status_message.as_deref(),
        Some("Approved for provisioning")
    );
    assert_eq!(approved.reviewed_by, Some(user(2)));
    assert_eq!(approved.review_comment.as_deref(), Some("ok"));
    assert_eq!(
        (entry.actor, entry.comment.as_deref()),
        (Some(user(2)), Some("ok"))
    );
    let (provisioning, _) = approved.start_provisioning(t0()).unwrap();
    let at = t0() + Duration::seconds(5);
    let env = EnvironmentId(Uuid::from_u128(9));
    let (active, entry) = provisioning.activate(env, at).unwrap();
    assert_eq!(active.status, Active);
    assert_eq!(
        active.status_message.as_deref(),
        Some("Approved for provisioning")
    );
    assert_eq!(active.provisioned_at, Some(at));
    assert_eq!(active.expires_at, Some(at + Duration::hours(48)));
    assert_eq!(active.environment_id, Some(env));
    assert_eq!(active.version, 4);
    assert_eq!((entry.from, entry.actor), (Some(Provisioning), None));
}

#[test]
fn a_persistent_request_never_gets_an_expiry() {
    let request = EnvironmentRequest {
        status: Provisioning,
        ..pending("persistent", None)
    };
    let (active, _) = request.activate(EnvironmentId(Uuid::nil()), t0()).unwrap();
    assert_eq!(active.expires_at, None);
}

#[test]
fn rejecting_says_so_and_keeps_the_comment() {
    let (rejected, _) = pending("ephemeral", None)
        .reject(
            user(2),
            Some("Use the existing staging environment instead".into()),
            t0(),
        )
        .unwrap();
    assert_eq!(rejected.status, Rejected);
    assert_eq!(rejected.status_message.as_deref(), Some("Request rejected"));
    assert_eq!(
        rejected.review_comment.as_deref(),
        Some("Use the existing staging environment instead")
    );
}

#[test]
fn a_failure_keeps_the_end_of_a_long_reason() {
    let request = with_status(Provisioning);
    let reason = format!("{}THE END", "x".repeat(5000));
    let (failed, entry) = request.fail(&reason, t0()).unwrap();
    let message = failed.status_message.unwrap();
    assert_eq!(message.chars().count(), MAX_STATUS_MESSAGE_LEN);
    assert!(message.ends_with("THE END"));
    assert_eq!(entry.message.as_deref(), Some(message.as_str()));
    let (retried, entry) = failed_request().retry(user(2), t0()).unwrap();
    assert_eq!(retried.status, Provisioning);
    assert_eq!(entry.actor, Some(user(2)));
}

fn failed_request() -> EnvironmentRequest {
    with_status(Failed)
}

#[test]
fn expiring_names_who_and_why() {
    let (expired, entry) = with_status(Active)
        .expire(Some(user(2)), messages::EXPIRED_BY_ADMIN, t0())
        .unwrap();
    assert_eq!(
        expired.status_message.as_deref(),
        Some("Environment expired by administrator")
    );
    assert_eq!(entry.actor, Some(user(2)));
    let (_, entry) = with_status(Active)
        .expire(None, messages::TTL_ELAPSED, t0())
        .unwrap();
    assert_eq!(
        (entry.actor, entry.message.as_deref()),
        (None, Some("TTL elapsed"))
    );
}

#[test]
fn only_a_pending_request_can_be_edited_or_deleted() {
    let patch = RequestPatch {
        description: Some(Some("new".into())),
        ..Default::default()
    };
    for status in RequestStatus::ALL {
        let request = with_status(*status);
        let edited = request.edit(patch.clone(), &TtlPolicy::default(), t0());
        assert_eq!(edited.is_ok(), *status == Pending, "{status}");
        assert_eq!(
            request.ensure_deletable().is_ok(),
            *status == Pending,
            "{status}"
        );
    }
    let error = with_status(Active).ensure_deletable().unwrap_err();
    assert_eq!(
        error.to_string(),
        "only pending requests can be deleted; this one is `active`"
    );
}

#[test]
fn an_edit_validates_the_ttl_against_the_requests_type() {
    let later = t0() + Duration::seconds(1);
    let ttl = |hours| RequestPatch {
        ttl_hours: Some(hours),
        ..Default::default()
    };
    let ephemeral = pending("ephemeral", Some(48));
    let edited = ephemeral
        .edit(ttl(12), &TtlPolicy::default(), later)
        .unwrap();
    assert_eq!(
        (edited.ttl_hours, edited.version, edited.updated_at),
        (Some(12), 2, later)
    );
    assert!(matches!(
        ephemeral.edit(ttl(721), &TtlPolicy::default(), later),
        Err(RequestError::Invalid(e)) if e.errors()[0].field == "ttlHours"
    ));
    let persistent = pending("persistent", None);
    assert!(matches!(
        persistent.edit(ttl(1), &TtlPolicy::default(), later),
        Err(RequestError::Invalid(e)) if e.errors()[0].message.starts_with("persistent environments do not expire")
    ));
    let unchanged = ephemeral
        .edit(RequestPatch::default(), &TtlPolicy::default(), later)
        .unwrap();
    assert_eq!(unchanged, ephemeral, "an empty patch changes nothing");
}

#[test]
fn the_environment_of_a_request_carries_its_name_and_description() {
    let env = pending("ephemeral", None).new_environment();
    assert_eq!(env.name.as_str(), "feature-xyz-preview");
    assert_eq!(
        env.description.as_deref(),
        Some("Preview environment for feature XYZ")
    );
}

#[test]
fn comments_are_limited_and_blank_ones_are_none() {
    assert_eq!(parse_comment(Some("  ".into())), Ok(None));
    assert_eq!(
        parse_comment(Some("x".repeat(2001))).unwrap_err().field,
        "comment"
    );
}
