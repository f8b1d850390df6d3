use super::*;
use chrono::TimeZone;
use serde_json::json;

fn draft(n: u32, data: serde_json::Value) -> AuditDraft {
    AuditDraft::new(
        AuditEntryId::new(format!("e{n}")),
        TenantId(Uuid::from_u128(7)),
        "environment.updated".into(),
        AuditSubject {
            kind: "environment".into(),
            id: Uuid::from_u128(u128::from(n)),
        },
        "ann".into(),
        Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, n).unwrap(),
        data,
    )
}

fn chain(len: u32) -> (Vec<ChainedEntry>, ChainHead) {
    let mut head = ChainHead::EMPTY;
    let entries = (1..=len)
        .map(|n| head.link(draft(n, json!({"n": n}))))
        .collect();
    (entries, head)
}

#[test]
fn the_canonical_entry_is_its_fields_without_hashes_in_sorted_order() {
    let mut head = ChainHead::EMPTY;
    let entry = head.link(draft(1, json!({"to": "ready", "from": "busy", "v": 1.0})));
    assert_eq!(
        canonical_entry(&entry.entry),
        concat!(
            r#"{"actor":"ann","at":"2026-12-04T09:30:01.000000Z","#,
            r#""data":{"from":"busy","to":"ready","v":1},"id":"e1","#,
            r#""organizationId":"00000000-0000-0000-0000-000000000007","sequence":1,"#,
            r#""subject":{"id":"00000000-0000-0000-0000-000000000001","kind":"environment"},"#,
            r#""type":"environment.updated"}"#
        )
    );
    // The canonical entry is the canonical JSON of the same fields, written generically.
    let generic = json!({
        "type": "environment.updated", "sequence": 1, "id": "e1",
        "subject": {"kind": "environment", "id": "00000000-0000-0000-0000-000000000001"},
        "organizationId": "00000000-0000-0000-0000-000000000007", "actor": "ann",
        "at": "2026-12-04T09:30:01.000000Z",
        "data": {"v": 1.0, "from": "busy", "to": "ready"},
    });
    assert_eq!(canonical_entry(&entry.entry), canonical_json(&generic));
}

#[test]
fn the_first_entry_links_to_32_zero_bytes_and_each_next_one_to_the_one_before() {
    let (entries, head) = chain(3);
    assert_eq!(ChainHash::GENESIS.to_hex(), "0".repeat(64));
    assert_eq!(entries[0].previous_hash, ChainHash::GENESIS);
    assert_eq!(entries[1].previous_hash, entries[0].hash);
    assert_eq!(entries[2].previous_hash, entries[1].hash);
    assert_eq!(
        head,
        ChainHead {
            sequence: 3,
            hash: entries[2].hash
        }
    );
    let sequences: Vec<u64> = entries.iter().map(|e| e.entry.sequence).collect();
    assert_eq!(sequences, [1, 2, 3]);
}

#[test]
fn the_hash_is_sha256_of_the_previous_hash_then_the_canonical_text() {
    use sha2::{Digest, Sha256};
    let (entries, _) = chain(2);
    let mut bytes = entries[0].hash.as_bytes().to_vec();
    bytes.extend_from_slice(canonical_entry(&entries[1].entry).as_bytes());
    let expected: [u8; 32] = Sha256::digest(&bytes).into();
    assert_eq!(entries[1].hash, ChainHash::from_bytes(expected));
}

#[test]
fn a_known_entry_has_a_known_hash() {
    // Pinned so that a change to the canonical form (which would break every stored chain)
    // cannot slip through: `printf '\0%.0s' {1..32}; printf '%s' "$canonical"` | sha256sum.
    let mut head = ChainHead::EMPTY;
    let entry = head.link(draft(1, json!({"n": 1})));
    let text = canonical_entry(&entry.entry);
    assert_eq!(
        text,
        concat!(
            r#"{"actor":"ann","at":"2026-12-04T09:30:01.000000Z","data":{"n":1},"id":"e1","#,
            r#""organizationId":"00000000-0000-0000-0000-000000000007","sequence":1,"#,
            r#""subject":{"id":"00000000-0000-0000-0000-000000000001","kind":"environment"},"#,
            r#""type":"environment.updated"}"#
        )
    );
    assert_eq!(entry.hash.to_hex(), KNOWN_HASH);
}

const KNOWN_HASH: &str = "fd6892ac40abea03cd48867cb579593ff93b02e5e625d2f58ac56c3570509917";

#[test]
fn hashes_read_back_from_hex() {
    let (entries, _) = chain(1);
    let hex = entries[0].hash.to_hex();
    assert_eq!(ChainHash::parse_hex(&hex), Ok(entries[0].hash));
    assert_eq!(
        ChainHash::parse_hex(&hex.to_uppercase()),
        Ok(entries[0].hash)
    );
    assert!(ChainHash::parse_hex(&hex[1..]).is_err());
    assert!(ChainHash::parse_hex(&format!("{}g", &hex[1..])).is_err());
}

#[test]
fn an_untouched_chain_verifies() {
    let (entries, head) = chain(5);
    let verdict = verify_chain(&entries, head);
    assert_eq!(
        verdict,
        Verification {
            ok: true,
            checked: 5,
            first_broken: None,
            ends_at_head: true
        }
    );
    assert!(verify_chain(&[], ChainHead::EMPTY).ok);
}

#[test]
fn a_changed_field_names_its_entry() {
    let (entries, head) = chain(4);
    let mut changed = entries.clone();
    changed[2].entry.actor = "mallory".into();
    let verdict = verify_chain(&changed, head);
    assert!(!verdict.ok);
    assert_eq!(verdict.checked, 3);
    assert_eq!(verdict.first_broken, Some(AuditEntryId::new("e3")));

    let mut changed = entries.clone();
    changed[1].entry.data = CanonicalJson::of(&json!({"n": 99}));
    assert_eq!(
        verify_chain(&changed, head).first_broken,
        Some(AuditEntryId::new("e2"))
    );
}

#[test]
fn a_rehashed_entry_still_breaks_the_link_of_the_next_one() {
    // Someone who recomputes the changed entry's hash is caught at the entry after it.
    let (entries, head) = chain(3);
    let mut changed = entries.clone();
    changed[0].entry.actor = "mallory".into();
    changed[0].hash = entry_hash(&ChainHash::GENESIS, &changed[0].entry);
    assert_eq!(
        verify_chain(&changed, head).first_broken,
        Some(AuditEntryId::new("e2"))
    );
}

#[test]
fn a_removed_entry_is_named_by_the_next_one_and_a_removed_tail_by_the_head() {
    let (entries, head) = chain(4);
    let mut removed = entries.clone();
    removed.remove(1);
    assert_eq!(
        verify_chain(&removed, head).first_broken,
        Some(AuditEntryId::new("e3"))
    );
    let verdict = verify_chain(&entries[..3], head);
    assert!(!verdict.ok);
    assert!(!verdict.ends_at_head);
    assert_eq!((verdict.checked, verdict.first_broken), (3, None));
}

#[test]
fn the_verifier_can_be_fed_in_pages() {
    let (entries, head) = chain(7);
    let mut verifier = ChainVerifier::new();
    for page in entries.chunks(3) {
        for entry in page {
            assert!(verifier.check(entry));
        }
    }
    assert!(verifier.finish(head).ok);
}

#[test]
fn a_filter_needs_to_after_from() {
    let at = Utc.with_ymd_and_hms(2026, 12, 4, 9, 30, 0).unwrap();
    let errors =
        AuditFilter::parse(Some(String::new()), None, None, Some(at), Some(at)).unwrap_err();
    let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["actor", "to"]);
    assert!(AuditFilter::parse(None, Some("environment".into()), None, Some(at), None).is_ok());
}
