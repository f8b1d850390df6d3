//! The audit chain: canonical JSON is one text per value, an untouched chain verifies, and
//! any single change to a stored entry is named by the verification.

use crate::{any_json, any_text, CASES};
use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use serde_json::Value;
use terrane_domain::audit::{canonical_json, entry_hash, verify_chain};
use terrane_domain::*;
use uuid::Uuid;

/// An event not chained yet, with any text and any data.
fn any_draft() -> impl Strategy<Value = AuditDraft> {
    (
        any_text(),
        any::<u128>(),
        any_text(),
        any_text(),
        any::<u128>(),
        any_text(),
        0_i64..4_102_444_800_000_000,
        any_json(),
    )
        .prop_map(
            |(id, tenant, kind, event_type, subject, actor, micros, data)| {
                AuditDraft::new(
                    AuditEntryId::new(id),
                    TenantId(Uuid::from_u128(tenant)),
                    event_type,
                    AuditSubject {
                        kind,
                        id: Uuid::from_u128(subject),
                    },
                    actor,
                    Utc.timestamp_micros(micros).unwrap(),
                    data,
                )
            },
        )
}

/// A chain of 1 to 12 entries and its head.
fn any_chain() -> impl Strategy<Value = (Vec<ChainedEntry>, ChainHead)> {
    prop::collection::vec(any_draft(), 1..12).prop_map(|drafts| {
        let mut head = ChainHead::EMPTY;
        let entries = drafts.into_iter().map(|d| head.link(d)).collect();
        (entries, head)
    })
}

/// One change to a stored entry: which field, and the new content drawn for it.
#[derive(Debug, Clone)]
enum Change {
    Id(String),
    Sequence(u64),
    Organization(u128),
    Type(String),
    SubjectKind(String),
    SubjectId(u128),
    Actor(String),
    At(i64),
    Data(Value),
    PreviousHash([u8; 32]),
    Hash([u8; 32]),
}

fn any_change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any_text().prop_map(Change::Id),
        any::<u64>().prop_map(Change::Sequence),
        any::<u128>().prop_map(Change::Organization),
        any_text().prop_map(Change::Type),
        any_text().prop_map(Change::SubjectKind),
        any::<u128>().prop_map(Change::SubjectId),
        any_text().prop_map(Change::Actor),
        (0_i64..4_102_444_800_000_000).prop_map(Change::At),
        any_json().prop_map(Change::Data),
        any::<[u8; 32]>().prop_map(Change::PreviousHash),
        any::<[u8; 32]>().prop_map(Change::Hash),
    ]
}

/// Applies `change` to `entry`; `false` when it leaves the entry as it was.
fn apply(entry: &mut ChainedEntry, change: Change) -> bool {
    let before = entry.clone();
    let e = &mut entry.entry;
    match change {
        Change::Id(id) => e.id = AuditEntryId::new(id),
        Change::Sequence(n) => e.sequence = n,
        Change::Organization(t) => e.organization_id = TenantId(Uuid::from_u128(t)),
        Change::Type(t) => e.event_type = t,
        Change::SubjectKind(k) => e.subject.kind = k,
        Change::SubjectId(id) => e.subject.id = Uuid::from_u128(id),
        Change::Actor(a) => e.actor = a,
        Change::At(micros) => e.at = Utc.timestamp_micros(micros).unwrap(),
        Change::Data(data) => e.data = CanonicalJson::of(&data),
        Change::PreviousHash(bytes) => entry.previous_hash = ChainHash::from_bytes(bytes),
        Change::Hash(bytes) => entry.hash = ChainHash::from_bytes(bytes),
    }
    *entry != before
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn canonical_json_is_one_text_per_value_however_it_was_written(value in any_json()) {
        let canonical = canonical_json(&value);
        // Pretty-printed (other whitespace), compact (serde's own member order) or canonical,
        // the text reads back to values with one canonical text, which is valid JSON.
        let texts = [
            serde_json::to_string_pretty(&value).unwrap(),
            serde_json::to_string(&value).unwrap(),
            canonical.clone(),
        ];
        let again: Vec<String> = texts
            .iter()
            .map(|text| canonical_json(&serde_json::from_str::<Value>(text).unwrap()))
            .collect();
        prop_assert_eq!(&again[0], &again[1]);
        // That is the value's own canonical text whenever serde_json reads the value back
        // exactly: its reader may land a double on a neighbour, differently for `9.8e16` and
        // `98000000000000000` (why stored entries keep their data as canonical text rather
        // than parsing it again).
        // serde_json (without `float_roundtrip`) reads `-416377102585639900000`, the canonical
        // text of -4.163771025856399e20, as its neighbour: both texts must read back exactly.
        let exact = texts[1..]
            .iter()
            .all(|text| serde_json::from_str::<Value>(text).unwrap() == value);
        if exact {
            prop_assert_eq!(&again[0], &canonical);
            prop_assert_eq!(&again[2], &canonical);
        }
    }

    #[test]
    fn an_untouched_chain_verifies((entries, head) in any_chain()) {
        let verdict = verify_chain(&entries, head);
        prop_assert!(verdict.ok);
        prop_assert_eq!(verdict.checked, entries.len() as u64);
        prop_assert_eq!(verdict.first_broken, None);
    }

    #[test]
    fn any_single_change_to_an_entry_is_named_as_the_first_broken_one(
        (entries, head) in any_chain(),
        at in any::<prop::sample::Index>(),
        change in any_change(),
    ) {
        let at = at.index(entries.len());
        let mut changed = entries.clone();
        prop_assume!(apply(&mut changed[at], change));
        // Named as it is stored (after the change, when the change was to the id).
        let id = changed[at].entry.id.clone();
        let verdict = verify_chain(&changed, head);
        prop_assert!(!verdict.ok);
        prop_assert_eq!(verdict.checked, at as u64 + 1);
        prop_assert_eq!(verdict.first_broken, Some(id));
    }

    #[test]
    fn a_changed_entry_whose_hash_was_recomputed_is_caught_at_the_next_link(
        (entries, head) in any_chain(),
        at in any::<prop::sample::Index>(),
        actor in any_text(),
    ) {
        let at = at.index(entries.len());
        let mut changed = entries.clone();
        changed[at].entry.actor = actor;
        prop_assume!(changed[at] != entries[at]);
        changed[at].hash = entry_hash(&changed[at].previous_hash, &changed[at].entry);
        let verdict = verify_chain(&changed, head);
        prop_assert!(!verdict.ok);
        // The last entry has no next link: the recorded head catches it.
        let named = entries.get(at + 1).map(|next| next.entry.id.clone());
        prop_assert_eq!(verdict.first_broken, named);
    }

    #[test]
    fn a_removed_entry_is_named_by_the_one_after_it_or_caught_by_the_head(
        (entries, head) in any_chain(),
        at in any::<prop::sample::Index>(),
    ) {
        let at = at.index(entries.len());
        let mut removed = entries.clone();
        removed.remove(at);
        let verdict = verify_chain(&removed, head);
        prop_assert!(!verdict.ok);
        let named = entries.get(at + 1).map(|next| next.entry.id.clone());
        prop_assert_eq!(verdict.first_broken, named);
    }
}
