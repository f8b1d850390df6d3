//! Linking audit entries by hash, and checking the links.

use super::canonical::write_string;
use super::{AuditEntry, AuditEntryId};
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 hash of the chain, written as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash([u8; 32]);

impl ChainHash {
    /// What the first entry of every organization's chain links to: 32 zero bytes.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// The hash of these bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Parses 64 hex digits (either case).
    ///
    /// # Errors
    /// Any other text.
    pub fn parse_hex(text: &str) -> Result<Self, InvalidHash> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 {
            return Err(InvalidHash);
        }
        let mut out = [0_u8; 32];
        for (at, pair) in bytes.chunks_exact(2).enumerate() {
            let high = hex_value(pair[0]).ok_or(InvalidHash)?;
            let low = hex_value(pair[1]).ok_or(InvalidHash)?;
            out[at] = high << 4 | low;
        }
        Ok(Self(out))
    }

    /// 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        out
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({self})")
    }
}

/// Text that is not 64 hex digits where a hash was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a chain hash is 64 hex digits")]
pub struct InvalidHash;

/// The canonical JSON text of an entry: the object of its fields without the hashes,
///
/// `{"actor","at","data","id","organizationId","sequence","subject":{"id","kind"},"type"}`,
///
/// written as [`super::canonical`] says (`data` is held in that form already, see
/// [`super::CanonicalJson`]), with `at` in RFC 3339 UTC with exactly six
/// fractional digits (`2026-12-04T09:30:00.000000Z`), `organizationId` and `subject.id` as
/// lowercase hyphenated UUIDs and `sequence` as a decimal integer.
pub fn canonical_entry(entry: &AuditEntry) -> String {
    // The members in canonical order (all ASCII names, so UTF-16 order is byte order).
    let mut out = String::with_capacity(256);
    out.push_str("{\"actor\":");
    write_string(&mut out, &entry.actor);
    out.push_str(",\"at\":");
    write_string(
        &mut out,
        &entry
            .at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
    );
    out.push_str(",\"data\":");
    out.push_str(entry.data.as_str());
    out.push_str(",\"id\":");
    write_string(&mut out, entry.id.as_str());
    out.push_str(",\"organizationId\":");
    write_string(&mut out, &entry.organization_id.0.hyphenated().to_string());
    out.push_str(",\"sequence\":");
    out.push_str(&entry.sequence.to_string());
    out.push_str(",\"subject\":{\"id\":");
    write_string(&mut out, &entry.subject.id.hyphenated().to_string());
    out.push_str(",\"kind\":");
    write_string(&mut out, &entry.subject.kind);
    out.push_str("},\"type\":");
    write_string(&mut out, &entry.event_type);
    out.push('}');
    out
}

/// `SHA-256(previous ‖ canonical JSON of entry)`: the 32 bytes of the previous hash, then
/// the UTF-8 bytes of [`canonical_entry`].
pub fn entry_hash(previous: &ChainHash, entry: &AuditEntry) -> ChainHash {
    let mut hasher = Sha256::new();
    hasher.update(previous.0);
    hasher.update(canonical_entry(entry).as_bytes());
    ChainHash(hasher.finalize().into())
}

/// An entry with its place in the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainedEntry {
    /// The entry.
    pub entry: AuditEntry,
    /// The hash of the entry before it ([`ChainHash::GENESIS`] for the first).
    pub previous_hash: ChainHash,
    /// [`entry_hash`] of `previous_hash` and the entry.
    pub hash: ChainHash,
}

/// The end of an organization's chain: how many entries it has and the last one's hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    /// The last entry's sequence number (0 for an empty chain).
    pub sequence: u64,
    /// The last entry's hash ([`ChainHash::GENESIS`] for an empty chain).
    pub hash: ChainHash,
}

impl ChainHead {
    /// The head of a chain with no entry yet.
    pub const EMPTY: ChainHead = ChainHead {
        sequence: 0,
        hash: ChainHash::GENESIS,
    };

    /// Links the next entry to this head: gives it the next sequence number, computes its
    /// hash, and moves the head to it.
    pub fn link(&mut self, draft: AuditDraft) -> ChainedEntry {
        let entry = draft.at_sequence(self.sequence + 1);
        let hash = entry_hash(&self.hash, &entry);
        let chained = ChainedEntry {
            entry,
            previous_hash: self.hash,
            hash,
        };
        *self = ChainHead {
            sequence: chained.entry.sequence,
            hash,
        };
        chained
    }
}

/// An entry not chained yet: everything but its sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditDraft(pub(super) AuditEntry);

/// Checks a chain entry by entry, in chain order, recomputing every hash from the one before
/// (the first from [`ChainHash::GENESIS`]); it can be fed in pages.
///
/// An entry is *broken* when its sequence number is not the next one, when its stored
/// previous hash is not the recomputed hash of the entry before, or when its stored hash is
/// not the hash recomputed over its own fields. Checking stops at the first broken entry:
/// it is the first entry changed (an entry whose own fields, previous hash or hash changed is
/// broken itself; an entry removed breaks the link of the one after it; the entries before a
/// change all still verify).
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    recomputed: ChainHead,
    checked: u64,
    broken: Option<AuditEntryId>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier at the start of a chain.
    pub fn new() -> Self {
        Self {
            recomputed: ChainHead::EMPTY,
            checked: 0,
            broken: None,
        }
    }

    /// Checks the next entry; `false` once the chain is broken (further entries are ignored).
    pub fn check(&mut self, chained: &ChainedEntry) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        let hash = entry_hash(&self.recomputed.hash, &chained.entry);
        if chained.entry.sequence != self.recomputed.sequence + 1
            || chained.previous_hash != self.recomputed.hash
            || chained.hash != hash
        {
            self.broken = Some(chained.entry.id.clone());
            return false;
        }
        self.recomputed = ChainHead {
            sequence: chained.entry.sequence,
            hash,
        };
        true
    }

    /// Whether the chain is broken so far.
    pub fn is_broken(&self) -> bool {
        self.broken.is_some()
    }

    /// The verdict once every entry was fed, compared with the chain's recorded `head`: a
    /// chain whose entries all verify but end before or after the head (entries removed at
    /// the end, or appended around the chainer) is not intact either, though no entry can be
    /// named.
    pub fn finish(self, head: ChainHead) -> Verification {
        let ends_at_head = self.recomputed == head;
        Verification {
            ok: self.broken.is_none() && ends_at_head,
            checked: self.checked,
            ends_at_head: self.broken.is_some() || ends_at_head,
            first_broken: self.broken,
        }
    }
}

/// The verdict on an organization's chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// Every entry verifies and the last one is the recorded head.
    pub ok: bool,
    /// Entries checked: all of them when the chain is intact, otherwise up to and including
    /// the first broken one.
    pub checked: u64,
    /// The first broken entry, if any.
    pub first_broken: Option<AuditEntryId>,
    /// `false` when every entry verifies but the chain does not end at its recorded head.
    pub ends_at_head: bool,
}

/// Verifies a whole chain against its recorded head (see [`ChainVerifier`]).
pub fn verify_chain<'a>(
    entries: impl IntoIterator<Item = &'a ChainedEntry>,
    head: ChainHead,
) -> Verification {
    let mut verifier = ChainVerifier::new();
    for entry in entries {
        if !verifier.check(entry) {
            break;
        }
    }
    verifier.finish(head)
}
