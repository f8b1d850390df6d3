//! The tamper-evident audit log: every event of an organization as an entry, each chained to
//! the one before by hash.
//!
//! `hash = SHA-256(previous hash ‖ canonical JSON of the entry)` where the first entry of an
//! organization links to [`ChainHash::GENESIS`] (32 zero bytes), the canonical JSON is
//! [`canonical_entry`] (RFC 8785 JCS, see [`canonical`]) and `‖` is concatenation of the
//! previous hash's 32 bytes with the text's UTF-8 bytes. Changing any field of a stored entry,
//! or its hashes, breaks the chain at that entry ([`ChainVerifier`]).

pub mod canonical;
mod chain;

pub use canonical::{canonical_json, CanonicalJson};
pub use chain::{
    canonical_entry, entry_hash, verify_chain, AuditDraft, ChainHash, ChainHead, ChainVerifier,
    ChainedEntry, InvalidHash, Verification,
};

use crate::error::FieldError;
use crate::event::Event;
use crate::ids::TenantId;
use chrono::{DateTime, Utc};
use std::fmt;
use uuid::Uuid;

/// An audit entry's id: the id of the event it records, as the event log writes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuditEntryId(String);

impl AuditEntryId {
    /// The entry of the event of this id.
    pub fn new(event_id: impl Into<String>) -> Self {
        Self(event_id.into())
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AuditEntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an entry is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditSubject {
    /// The kind of resource (`environment`, `deployment`, ...).
    pub kind: String,
    /// The resource's id.
    pub id: Uuid,
}

/// One event as it stands in an organization's audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The event's id.
    pub id: AuditEntryId,
    /// Its place in the organization's chain: 1, 2, 3, ... with no gap.
    pub sequence: u64,
    /// The organization.
    pub organization_id: TenantId,
    /// The event's type (`deployment.status_changed`, ...).
    pub event_type: String,
    /// What changed.
    pub subject: AuditSubject,
    /// Who changed it (a user id, a service account, `system`).
    pub actor: String,
    /// When, to the microsecond.
    pub at: DateTime<Utc>,
    /// The event's data, in canonical form.
    pub data: CanonicalJson,
}

impl AuditDraft {
    /// An entry for an event, to be chained by [`ChainHead::link`]. The time is truncated to
    /// microseconds, the precision every store keeps, so the hash reads back the same.
    pub fn new(
        id: AuditEntryId,
        organization_id: TenantId,
        event_type: String,
        subject: AuditSubject,
        actor: String,
        at: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        AuditDraft(AuditEntry {
            id,
            sequence: 0,
            organization_id,
            event_type,
            subject,
            actor,
            at: crate::time::truncate(at),
            data: CanonicalJson::of(&data),
        })
    }

    /// The entry of an event of the log: its id is the event's cursor as the log prints it.
    pub fn of(event: &Event) -> Self {
        Self::new(
            AuditEntryId::new(event.id.to_string()),
            event.organization_id,
            event.event_type.as_str().to_owned(),
            AuditSubject {
                kind: event.subject.kind.clone(),
                id: event.subject.id,
            },
            event.actor.clone(),
            event.at,
            event.data.clone(),
        )
    }

    /// The organization whose chain it goes to.
    pub fn organization_id(&self) -> TenantId {
        self.0.organization_id
    }

    fn at_sequence(mut self, sequence: u64) -> AuditEntry {
        self.0.sequence = sequence;
        self.0
    }
}

/// Which entries of the log to list; every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Entries of this actor, exactly.
    pub actor: Option<String>,
    /// Entries about subjects of this kind.
    pub subject_kind: Option<String>,
    /// Entries about the subject of this id.
    pub subject_id: Option<Uuid>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

impl AuditFilter {
    /// Checks what a client asked for.
    ///
    /// # Errors
    /// A [`FieldError`] on `to` when it is not after `from`, or on `actor` or `subjectKind`
    /// when empty.
    pub fn parse(
        actor: Option<String>,
        subject_kind: Option<String>,
        subject_id: Option<Uuid>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        if actor.as_deref().is_some_and(str::is_empty) {
            errors.push(FieldError::new("actor", "must not be empty"));
        }
        if subject_kind.as_deref().is_some_and(str::is_empty) {
            errors.push(FieldError::new("subjectKind", "must not be empty"));
        }
        if let (Some(from), Some(to)) = (from, to) {
            if to <= from {
                errors.push(FieldError::new("to", "must be after `from`"));
            }
        }
        if errors.is_empty() {
            Ok(Self {
                actor,
                subject_kind,
                subject_id,
                from,
                to,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests;
