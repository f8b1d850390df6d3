//! `AuditRepository`: entries appended with compare-and-set on the chainer's progress and
//! each organization's head, read back exactly as chained, filtered and paged per
//! organization; and an entry changed behind the store's back is named by the verification.

use crate::harness::{race, tenant, TestDb, RACERS};
use chrono::{Duration, TimeZone, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};
use serde_json::json;
use std::collections::HashMap;
use terrane_domain::audit::verify_chain;
use terrane_domain::{
    AuditDraft, AuditEntryId, AuditFilter, AuditSubject, ChainHead, ChainedEntry, EventCursor,
    Page, TenantId,
};
use terrane_ports::{AuditRepository, StoreError};
use terrane_store::Backend;
use uuid::Uuid;

on_both_backends!(
    appended_entries_read_back_as_chained_with_the_heads_and_progress,
    an_append_from_a_stale_progress_or_head_writes_nothing,
    racing_appends_of_the_same_events_append_them_once,
    entries_filter_by_actor_subject_and_time_in_chain_order_and_page,
    an_entry_changed_in_the_database_is_named_by_the_verification,
    a_large_append_is_written_whole_in_chain_order,
);

fn cursor(seq: i64) -> EventCursor {
    EventCursor { tx: 0, seq }
}

fn draft(tenant: TenantId, seq: i64, actor: &str, subject: Uuid, minute: u32) -> AuditDraft {
    AuditDraft::new(
        AuditEntryId::new(cursor(seq).to_string()),
        tenant,
        "environment.updated".into(),
        AuditSubject {
            kind: "environment".into(),
            id: subject,
        },
        actor.into(),
        Utc.with_ymd_and_hms(2026, 12, 4, 9, minute, 0).unwrap(),
        json!({"seq": seq, "name": "prod", "ratio": 0.1, "nested": {"b": [1, 2.5], "a": null}}),
    )
}

/// Links drafts to `heads` as the chainer does.
fn link(heads: &mut HashMap<TenantId, ChainHead>, drafts: Vec<AuditDraft>) -> Vec<ChainedEntry> {
    drafts
        .into_iter()
        .map(|d| {
            heads
                .entry(d.organization_id())
                .or_insert(ChainHead::EMPTY)
                .link(d)
        })
        .collect()
}

async fn whole_chain(db: &TestDb, tenant: TenantId) -> Vec<ChainedEntry> {
    let head = db.store.head(tenant).await.unwrap();
    db.store
        .chain(tenant, 0, head.sequence, 1000)
        .await
        .unwrap()
}

async fn appended_entries_read_back_as_chained_with_the_heads_and_progress(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    assert_eq!(db.store.progress().await.unwrap(), None);
    let subject = Uuid::now_v7();
    let mut heads = HashMap::new();
    let first = link(
        &mut heads,
        vec![
            draft(a, 1, "ann", subject, 1),
            draft(b, 2, "bob", subject, 2),
            draft(a, 3, "ann", subject, 3),
        ],
    );
    db.store
        .append(None, cursor(3), first.clone())
        .await
        .unwrap();
    assert_eq!(db.store.progress().await.unwrap(), Some(cursor(3)));
    let read = db.store.heads(vec![a, b, tenant()]).await.unwrap();
    assert_eq!(read[&a], heads[&a]);
    assert_eq!(read[&b], heads[&b]);
    assert_eq!(read.len(), 3);
    assert_eq!(read.values().filter(|h| **h == ChainHead::EMPTY).count(), 1);

    // A second append continues both chains from their heads.
    let mut stored_heads = read;
    let second = link(&mut stored_heads, vec![draft(a, 4, "cy", subject, 4)]);
    db.store
        .append(Some(cursor(3)), cursor(4), second.clone())
        .await
        .unwrap();
    let chain_a = whole_chain(&db, a).await;
    assert_eq!(
        chain_a,
        vec![first[0].clone(), first[2].clone(), second[0].clone()]
    );
    assert_eq!(
        chain_a.iter().map(|e| e.entry.sequence).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(verify_chain(&chain_a, db.store.head(a).await.unwrap()).ok);
    assert_eq!(whole_chain(&db, b).await, vec![first[1].clone()]);
    // Pages of the chain, bounded by a sequence.
    assert_eq!(
        db.store.chain(a, 1, 2, 10).await.unwrap(),
        vec![first[2].clone()]
    );
    assert_eq!(db.store.head(tenant()).await.unwrap(), ChainHead::EMPTY);
}

async fn an_append_from_a_stale_progress_or_head_writes_nothing(db: TestDb) {
    let a = tenant();
    let subject = Uuid::now_v7();
    let mut heads = HashMap::new();
    let first = link(&mut heads, vec![draft(a, 1, "ann", subject, 1)]);
    db.store.append(None, cursor(1), first).await.unwrap();

    // From a progress that moved on.
    let mut stale = HashMap::new();
    let again = link(&mut stale, vec![draft(a, 2, "ann", subject, 2)]);
    let refused = db.store.append(None, cursor(2), again).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    // From the right progress but linked to a head that is not the chain's.
    let mut wrong = HashMap::from([(a, ChainHead::EMPTY)]);
    let forked = link(&mut wrong, vec![draft(a, 2, "ann", subject, 2)]);
    let refused = db.store.append(Some(cursor(1)), cursor(2), forked).await;
    assert!(
        matches!(refused, Err(StoreError::Conflict(_))),
        "{refused:?}"
    );

    assert_eq!(db.store.progress().await.unwrap(), Some(cursor(1)));
    assert_eq!(whole_chain(&db, a).await.len(), 1);
    assert_eq!(db.store.head(a).await.unwrap(), heads[&a]);
}

async fn racing_appends_of_the_same_events_append_them_once(db: TestDb) {
    let a = tenant();
    let subject = Uuid::now_v7();
    let mut heads = HashMap::new();
    let entries = link(
        &mut heads,
        (1..=5)
            .map(|n| draft(a, n, "ann", subject, n as u32))
            .collect(),
    );
    let store = db.store.clone();
    let results = race(RACERS, move |_| {
        let (store, entries) = (store.clone(), entries.clone());
        async move { store.append(None, cursor(5), entries).await }
    })
    .await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(won, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(StoreError::Conflict(_)))));
    let chain = whole_chain(&db, a).await;
    assert_eq!(chain.len(), 5);
    assert!(verify_chain(&chain, db.store.head(a).await.unwrap()).ok);
}

async fn entries_filter_by_actor_subject_and_time_in_chain_order_and_page(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let (one, two) = (Uuid::now_v7(), Uuid::now_v7());
    let mut heads = HashMap::new();
    let entries = link(
        &mut heads,
        vec![
            draft(a, 1, "ann", one, 1),
            draft(a, 2, "bob", two, 2),
            draft(b, 3, "ann", one, 3),
            draft(a, 4, "ann", two, 4),
            draft(a, 5, "ann", one, 5),
        ],
    );
    db.store.append(None, cursor(5), entries).await.unwrap();
    let ids = |entries: &[ChainedEntry]| -> Vec<String> {
        entries.iter().map(|e| e.entry.id.to_string()).collect()
    };
    let list = |filter: AuditFilter, page: Page| {
        let store = db.store.clone();
        async move { store.list(a, filter, page).await.unwrap() }
    };
    let (all, total) = list(AuditFilter::default(), Page::default()).await;
    assert_eq!(
        (ids(&all), total),
        (
            vec!["0.1", "0.2", "0.4", "0.5"]
                .into_iter()
                .map(String::from)
                .collect(),
            4
        )
    );
    let by_actor = AuditFilter {
        actor: Some("ann".into()),
        ..Default::default()
    };
    let (page, total) = list(by_actor.clone(), Page::parse(Some(1), Some(1)).unwrap()).await;
    assert_eq!((ids(&page), total), (vec!["0.4".to_owned()], 3));
    let (past, total) = list(by_actor, Page::parse(Some(5), None).unwrap()).await;
    assert_eq!((past.len(), total), (0, 3));
    let by_subject = AuditFilter {
        subject_kind: Some("environment".into()),
        subject_id: Some(two),
        ..Default::default()
    };
    let (found, _) = list(by_subject, Page::default()).await;
    assert_eq!(ids(&found), ["0.2", "0.4"]);
    let other_kind = AuditFilter {
        subject_kind: Some("deployment".into()),
        ..Default::default()
    };
    assert_eq!(list(other_kind, Page::default()).await.1, 0);
    let at = |minute| Utc.with_ymd_and_hms(2026, 12, 4, 9, minute, 0).unwrap();
    let window = AuditFilter {
        from: Some(at(2)),
        to: Some(at(4) + Duration::seconds(0)),
        ..Default::default()
    };
    let (found, _) = list(window, Page::default()).await;
    // `from` is inclusive, `to` exclusive.
    assert_eq!(ids(&found), ["0.2"]);
    // Another organization sees only its own.
    let (theirs, total) = db
        .store
        .list(b, AuditFilter::default(), Page::default())
        .await
        .unwrap();
    assert_eq!((ids(&theirs), total), (vec!["0.3".to_owned()], 1));
}

/// Runs `sql` on the test database behind the store's back.
fn tamper(db: &TestDb, sql: &str) {
    match db.store.backend() {
        Backend::Postgres => PgConnection::establish(&db.url)
            .unwrap()
            .batch_execute(sql)
            .unwrap(),
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            SqliteConnection::establish(path)
                .unwrap()
                .batch_execute(sql)
                .unwrap()
        }
    }
}

async fn an_entry_changed_in_the_database_is_named_by_the_verification(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let subject = Uuid::now_v7();
    let mut heads = HashMap::new();
    let entries = link(
        &mut heads,
        (1..=6)
            .map(|n| draft(if n == 4 { b } else { a }, n, "ann", subject, n as u32))
            .collect(),
    );
    db.store.append(None, cursor(6), entries).await.unwrap();
    let head = db.store.head(a).await.unwrap();
    assert!(verify_chain(&whole_chain(&db, a).await, head).ok);

    // The data of the third entry of a: even a change that keeps it valid JSON of the same
    // members, with the same meaning to a JSON reader ("0.10" for 0.1), is named.
    tamper(
        &db,
        &format!(
            "UPDATE audit_entries SET data = replace(data, '\"ratio\":0.1', '\"ratio\":0.10') \
             WHERE tenant_id = '{a}' AND sequence = 3"
        ),
    );
    let verdict = verify_chain(&whole_chain(&db, a).await, head);
    assert!(!verdict.ok);
    assert_eq!(verdict.checked, 3);
    assert_eq!(verdict.first_broken, Some(AuditEntryId::new("0.3")));

    // An actor changed earlier in the chain is named first.
    tamper(
        &db,
        &format!(
            "UPDATE audit_entries SET actor = 'mallory' WHERE tenant_id = '{a}' AND sequence = 2"
        ),
    );
    let verdict = verify_chain(&whole_chain(&db, a).await, head);
    assert_eq!(verdict.first_broken, Some(AuditEntryId::new("0.2")));
    // The other organization's chain is untouched.
    assert!(verify_chain(&whole_chain(&db, b).await, db.store.head(b).await.unwrap()).ok);
}

/// An append larger than one insert statement's batch reads back whole, in chain order.
async fn a_large_append_is_written_whole_in_chain_order(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let subject = Uuid::now_v7();
    let drafts = (1..=250)
        .map(|seq| draft(if seq % 3 == 0 { b } else { a }, seq, "ann", subject, 1))
        .collect();
    let mut heads = HashMap::new();
    let chained = link(&mut heads, drafts);
    db.store
        .append(None, cursor(250), chained.clone())
        .await
        .unwrap();
    for tenant in [a, b] {
        let chain = whole_chain(&db, tenant).await;
        let expected: Vec<ChainedEntry> = chained
            .iter()
            .filter(|e| e.entry.organization_id == tenant)
            .cloned()
            .collect();
        assert_eq!(chain, expected);
        assert!(verify_chain(&chain, db.store.head(tenant).await.unwrap()).ok);
    }
}
