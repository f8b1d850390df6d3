//! `SettingsRepository`.

use crate::harness::{race, TestDb, RACERS};
use terrane_ports::SettingsRepository;

on_both_backends!(
    the_first_stored_value_wins_over_later_candidates,
    racing_inserts_all_end_up_with_the_same_value,
);

async fn the_first_stored_value_wins_over_later_candidates(db: TestDb) {
    let first = db
        .store
        .get_or_insert("jwt_secret".into(), "one".into())
        .await
        .unwrap();
    assert_eq!(first, "one");
    assert_eq!(
        db.store
            .get_or_insert("jwt_secret".into(), "two".into())
            .await
            .unwrap(),
        "one"
    );
    assert_eq!(
        db.store
            .get_or_insert("other".into(), "three".into())
            .await
            .unwrap(),
        "three"
    );
}

async fn racing_inserts_all_end_up_with_the_same_value(db: TestDb) {
    let store = db.store.clone();
    let values = race(RACERS, move |i| {
        let store = store.clone();
        async move {
            store
                .get_or_insert("secret".into(), format!("candidate {i}"))
                .await
                .unwrap()
        }
    })
    .await;
    assert!(values.iter().all(|v| *v == values[0]), "{values:?}");
    assert_eq!(
        db.store
            .get_or_insert("secret".into(), "late".into())
            .await
            .unwrap(),
        values[0]
    );
}
