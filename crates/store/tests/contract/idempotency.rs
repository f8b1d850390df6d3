//! `IdempotencyRepository`.

use crate::harness::{now, race, tenant, TestDb, RACERS};
use chrono::{DateTime, Duration, Utc};
use terrane_ports::{IdempotencyBegin, IdempotencyRepository, StoredResponse};

fn created() -> StoredResponse {
    StoredResponse {
        status: 201,
        headers: vec![
            ("Location".into(), "/api/v1/environments/1".into()),
            ("ETag".into(), "\"1\"".into()),
        ],
        body: r#"{"name":"prod"}"#.into(),
    }
}

/// Records older than a day count as expired.
fn day_before(at: DateTime<Utc>) -> DateTime<Utc> {
    at - Duration::days(1)
}

on_both_backends!(
    a_free_key_starts_and_its_completed_answer_is_replayed,
    an_empty_answer_replays_as_empty,
    a_key_reused_for_another_request_is_a_mismatch,
    a_key_whose_request_still_runs_is_in_progress,
    an_expired_record_counts_as_absent,
    an_abandoned_key_can_be_claimed_again_but_a_completed_one_stays,
    a_completed_answer_is_final,
    keys_belong_to_their_tenant,
    of_racing_begins_for_one_key_exactly_one_starts,
    expired_records_of_every_tenant_are_purged_oldest_first,
    racing_purges_delete_each_expired_record_once,
);

async fn a_free_key_starts_and_its_completed_answer_is_replayed(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    let begin = || {
        db.store.begin(
            tenant,
            "key-1".into(),
            "POST /environments abc".into(),
            at,
            day_before(at),
        )
    };
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::Started);
    db.store
        .complete(tenant, "key-1".into(), created())
        .await
        .unwrap();
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::Replay(created()));
    assert_eq!(
        begin().await.unwrap(),
        IdempotencyBegin::Replay(created()),
        "replays as often as asked"
    );
}

async fn an_empty_answer_replays_as_empty(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    db.store
        .begin(tenant, "k".into(), "f".into(), at, day_before(at))
        .await
        .unwrap();
    let empty = StoredResponse {
        status: 204,
        headers: vec![],
        body: String::new(),
    };
    db.store
        .complete(tenant, "k".into(), empty.clone())
        .await
        .unwrap();
    assert_eq!(
        db.store
            .begin(tenant, "k".into(), "f".into(), at, day_before(at))
            .await
            .unwrap(),
        IdempotencyBegin::Replay(empty)
    );
}

async fn a_key_reused_for_another_request_is_a_mismatch(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    let begin = |fingerprint: &str| {
        db.store
            .begin(tenant, "key".into(), fingerprint.into(), at, day_before(at))
    };
    assert_eq!(begin("first").await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(
        begin("second").await.unwrap(),
        IdempotencyBegin::Mismatch,
        "while the first runs"
    );
    db.store
        .complete(tenant, "key".into(), created())
        .await
        .unwrap();
    assert_eq!(
        begin("second").await.unwrap(),
        IdempotencyBegin::Mismatch,
        "after it completed"
    );
}

async fn a_key_whose_request_still_runs_is_in_progress(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    let begin = || {
        db.store
            .begin(tenant, "key".into(), "same".into(), at, day_before(at))
    };
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::InProgress);
}

async fn an_expired_record_counts_as_absent(db: TestDb) {
    let (tenant, then) = (tenant(), now());
    db.store
        .begin(tenant, "key".into(), "old".into(), then, day_before(then))
        .await
        .unwrap();
    db.store
        .complete(tenant, "key".into(), created())
        .await
        .unwrap();
    let later = then + Duration::days(2);
    let begin = db
        .store
        .begin(tenant, "key".into(), "new".into(), later, day_before(later))
        .await
        .unwrap();
    assert_eq!(
        begin,
        IdempotencyBegin::Started,
        "a different request may take an expired key"
    );
    let same_time = db
        .store
        .begin(tenant, "key".into(), "new".into(), later, day_before(later))
        .await
        .unwrap();
    assert_eq!(
        same_time,
        IdempotencyBegin::InProgress,
        "the new claim is not expired"
    );
    // Exactly at the limit the record is still valid: only older ones expire.
    let (t0, other_key) = (now(), "edge".to_owned());
    db.store
        .begin(tenant, other_key.clone(), "f".into(), t0, day_before(t0))
        .await
        .unwrap();
    assert_eq!(
        db.store
            .begin(tenant, other_key, "f".into(), t0, t0)
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );
}

async fn an_abandoned_key_can_be_claimed_again_but_a_completed_one_stays(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    let begin = || {
        db.store
            .begin(tenant, "key".into(), "f".into(), at, day_before(at))
    };
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::Started);
    db.store.abandon(tenant, "key".into()).await.unwrap();
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::Started);
    db.store
        .complete(tenant, "key".into(), created())
        .await
        .unwrap();
    db.store.abandon(tenant, "key".into()).await.unwrap();
    assert_eq!(begin().await.unwrap(), IdempotencyBegin::Replay(created()));
}

async fn a_completed_answer_is_final(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    db.store
        .begin(tenant, "key".into(), "f".into(), at, day_before(at))
        .await
        .unwrap();
    db.store
        .complete(tenant, "key".into(), created())
        .await
        .unwrap();
    let other = StoredResponse {
        status: 500,
        headers: vec![],
        body: "oops".into(),
    };
    db.store
        .complete(tenant, "key".into(), other)
        .await
        .unwrap();
    let replay = db
        .store
        .begin(tenant, "key".into(), "f".into(), at, day_before(at))
        .await
        .unwrap();
    assert_eq!(replay, IdempotencyBegin::Replay(created()));
}

async fn keys_belong_to_their_tenant(db: TestDb) {
    let (a, b, at) = (tenant(), tenant(), now());
    assert_eq!(
        db.store
            .begin(a, "key".into(), "f".into(), at, day_before(at))
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    assert_eq!(
        db.store
            .begin(b, "key".into(), "g".into(), at, day_before(at))
            .await
            .unwrap(),
        IdempotencyBegin::Started
    );
    db.store.complete(b, "key".into(), created()).await.unwrap();
    db.store.abandon(b, "key".into()).await.unwrap();
    assert_eq!(
        db.store
            .begin(a, "key".into(), "f".into(), at, day_before(at))
            .await
            .unwrap(),
        IdempotencyBegin::InProgress
    );
}

async fn of_racing_begins_for_one_key_exactly_one_starts(db: TestDb) {
    let (tenant, at) = (tenant(), now());
    let store = db.store.clone();
    let outcomes = race(RACERS, move |_| {
        let store = store.clone();
        async move {
            store
                .begin(tenant, "hot".into(), "f".into(), at, day_before(at))
                .await
                .unwrap()
        }
    })
    .await;
    let started = outcomes
        .iter()
        .filter(|o| **o == IdempotencyBegin::Started)
        .count();
    let in_progress = outcomes
        .iter()
        .filter(|o| **o == IdempotencyBegin::InProgress)
        .count();
    assert_eq!((started, in_progress), (1, RACERS - 1), "{outcomes:?}");
}

/// Claims `key` for `tenant` at `at`, completed unless `running`.
async fn claimed(
    db: &TestDb,
    tenant: terrane_domain::TenantId,
    key: &str,
    at: DateTime<Utc>,
    running: bool,
) {
    let begun = db
        .store
        .begin(tenant, key.into(), "f".into(), at, day_before(at))
        .await
        .unwrap();
    assert_eq!(begun, IdempotencyBegin::Started);
    if !running {
        db.store
            .complete(tenant, key.into(), created())
            .await
            .unwrap();
    }
}

async fn expired_records_of_every_tenant_are_purged_oldest_first(db: TestDb) {
    let (a, b, at) = (tenant(), tenant(), now());
    let hours = |n: i64| at - Duration::hours(n);
    // Expired: two of a (one still marked running), one of b; kept: one of each, and one
    // exactly at the limit.
    claimed(&db, a, "a-oldest", hours(50), false).await;
    claimed(&db, b, "b-old", hours(40), false).await;
    claimed(&db, a, "a-old", hours(30), true).await;
    claimed(&db, a, "a-fresh", hours(1), false).await;
    claimed(&db, b, "b-fresh", hours(2), false).await;
    claimed(&db, b, "b-edge", hours(24), false).await;
    let expires_before = day_before(at);
    assert_eq!(
        db.store.purge(expires_before, 2).await.unwrap(),
        2,
        "at most the limit"
    );
    // The oldest went first: b-old (40 h) is gone, a-old (30 h) is still there.
    let still = |tenant, key: &str| {
        db.store
            .begin(tenant, key.into(), "f".into(), at, at - Duration::days(30))
    };
    assert_eq!(
        still(b, "b-old").await.unwrap(),
        IdempotencyBegin::Started,
        "purged"
    );
    assert_eq!(
        still(a, "a-old").await.unwrap(),
        IdempotencyBegin::InProgress,
        "not yet"
    );
    assert_eq!(db.store.purge(expires_before, 100).await.unwrap(), 1);
    assert_eq!(
        db.store.purge(expires_before, 100).await.unwrap(),
        0,
        "nothing left"
    );
    assert_eq!(
        still(a, "a-old").await.unwrap(),
        IdempotencyBegin::Started,
        "purged"
    );
    // Fresh records, and the one exactly a day old, are still replayed.
    for (tenant, key) in [(a, "a-fresh"), (b, "b-fresh"), (b, "b-edge")] {
        assert_eq!(
            db.store
                .begin(tenant, key.into(), "f".into(), at, expires_before)
                .await
                .unwrap(),
            IdempotencyBegin::Replay(created()),
            "{key} is kept"
        );
    }
}

async fn racing_purges_delete_each_expired_record_once(db: TestDb) {
    let at = now();
    let old = at - Duration::hours(30);
    let expired = 120;
    for n in 0..expired {
        claimed(&db, tenant(), &format!("key-{n}"), old, n % 2 == 0).await;
    }
    claimed(&db, tenant(), "fresh", at, false).await;
    let store = std::sync::Arc::new(db.store);
    let purged = race(RACERS, |_| {
        let store = store.clone();
        async move {
            let mut total = 0;
            loop {
                let purged = store.purge(day_before(at), 7).await.unwrap();
                total += purged;
                if purged < 7 {
                    return total;
                }
            }
        }
    })
    .await;
    assert_eq!(purged.iter().sum::<u64>(), expired);
    assert_eq!(
        store.purge(at + Duration::hours(1), 100).await.unwrap(),
        1,
        "only the fresh one was left"
    );
}
