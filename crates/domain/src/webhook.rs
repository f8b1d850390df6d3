//! Webhooks: URLs that receive an organization's events as signed `POST`s, retried with
//! exponential backoff and jitter until the receiver answers 2xx or the retry window ends.
//!
//! The rules live here: which URLs are acceptable (the probes' [`AddressPolicy`]), which
//! events a webhook takes ([`Webhook::matches`]), the signature ([`signature`]), when the next
//! attempt is due and when a delivery is dead ([`RetryPolicy`], [`WebhookDelivery::record`]).

use crate::error::{FieldError, ValidationErrors};
use crate::event::{Event, SubjectKind};
use crate::health::{url_host, AddressPolicy};
use crate::ids::{TenantId, UserId, WebhookDeliveryId, WebhookId};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::net::IpAddr;

/// Longest URL accepted.
pub const MAX_URL_LENGTH: usize = 2000;
/// Shortest secret a client may choose: a shorter one is guessable.
pub const MIN_SECRET_LENGTH: usize = 16;
/// Longest secret.
pub const MAX_SECRET_LENGTH: usize = 200;
/// Most event type filters on one webhook.
pub const MAX_TYPE_FILTERS: usize = 100;
/// The fixed beginning of a secret terrane generates.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// Most characters of a receiver's error kept on a delivery.
const MAX_ERROR_LENGTH: usize = 500;

/// Where deliveries go: an absolute `http` or `https` URL whose host, when written as an IP
/// address, the address policy allows. A host name is checked again at every attempt, on
/// every address it resolves to (see the sender).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// Validates `text` against `policy`.
    ///
    /// # Errors
    /// A [`FieldError`] on `url` saying what is wrong.
    pub fn parse(text: &str, policy: &AddressPolicy) -> Result<Self, FieldError> {
        let bad = |message: String| FieldError::new("url", message);
        let text = text.trim();
        if text.is_empty() {
            return Err(bad("must not be empty".into()));
        }
        if text.len() > MAX_URL_LENGTH {
            return Err(bad(format!("must be at most {MAX_URL_LENGTH} characters")));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(bad("must be an absolute http:// or https:// URL".into()));
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err(bad(format!("must use http or https, not `{scheme}`")));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("must not contain spaces or control characters".into()));
        }
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if authority.contains('@') {
            return Err(bad(
                "must not carry credentials: the signature authenticates terrane".into(),
            ));
        }
        let host = url_host(text);
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if bare.is_empty() {
            return Err(bad("has no host".into()));
        }
        if let Some(reason) = bare
            .parse::<IpAddr>()
            .ok()
            .and_then(|ip| policy.refusal(ip))
        {
            return Err(bad(reason));
        }
        Ok(Self(text.to_owned()))
    }

    /// A URL read back from storage, trusted as written.
    pub fn stored(text: String) -> Self {
        Self(text)
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The scheme and authority (`https://hooks.example.com:8443`), without the path and
    /// query, which often carry a receiver's token (chat webhooks do): what events show.
    pub fn origin(&self) -> &str {
        let start = self.0.find("://").map_or(0, |i| i + 3);
        let end = self.0[start..]
            .find(['/', '?', '#'])
            .map_or(self.0.len(), |i| start + i);
        &self.0[..end]
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The key deliveries are signed with. Never shown after the webhook's creation.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(String);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    /// Validates a secret a client chose: 16 to 200 printable ASCII characters.
    ///
    /// # Errors
    /// A [`FieldError`] on `secret`.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let length = text.chars().count();
        if !(MIN_SECRET_LENGTH..=MAX_SECRET_LENGTH).contains(&length) {
            return Err(FieldError::new(
                "secret",
                format!(
                    "must be {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters (omit it and terrane generates one)"
                ),
            ));
        }
        if !text.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldError::new(
                "secret",
                "must be printable ASCII without spaces",
            ));
        }
        Ok(Self(text.to_owned()))
    }

    /// A secret from 32 random bytes (the caller draws them).
    pub fn generated(random: [u8; 32]) -> Self {
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        Self(format!("{WEBHOOK_SECRET_PREFIX}{hex}"))
    }

    /// A secret read back from storage.
    pub fn stored(text: String) -> Self {
        Self(text)
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Which events a webhook takes: an event type (`deployment.status_changed`), every type of
/// a kind (`deployment.*`), or every event (`*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypeFilter(String);

impl EventTypeFilter {
    /// Validates one filter.
    ///
    /// # Errors
    /// The reason, for the caller to name the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let word = |w: &str| {
            !w.is_empty()
                && w.len() <= 60
                && w.starts_with(|c: char| c.is_ascii_lowercase())
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let ok = text == "*"
            || match text.split_once('.') {
                Some((kind, rest)) => word(kind) && (rest == "*" || word(rest)),
                None => false,
            };
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "`{text}` is not an event type: write `kind.change` (deployment.status_changed), `kind.*` or `*`"
            ))
        }
    }

    /// Whether an event of `event_type` passes this filter.
    pub fn matches(&self, event_type: &str) -> bool {
        match self.0.strip_suffix('*') {
            Some(prefix) => event_type.starts_with(prefix),
            None => self.0 == event_type,
        }
    }

    /// The filter as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Its id.
    pub id: WebhookId,
    /// The organization whose events it receives.
    pub tenant: TenantId,
    /// Where deliveries go.
    pub url: WebhookUrl,
    /// The signing key.
    pub secret: WebhookSecret,
    /// The events it takes; empty takes every event.
    pub types: Vec<EventTypeFilter>,
    /// Inactive webhooks get no new deliveries, and pending ones wait.
    pub active: bool,
    /// Bumped by every change; the ETag.
    pub version: i64,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether an event of `event_type` is delivered to this webhook: it is active and no
    /// filter is set, or one filter matches.
    pub fn matches(&self, event_type: &str) -> bool {
        self.active && (self.types.is_empty() || self.types.iter().any(|f| f.matches(event_type)))
    }

    /// The webhook after `changes`, its version bumped.
    pub fn apply(&self, changes: WebhookChanges, now: DateTime<Utc>) -> Webhook {
        let mut next = self.clone();
        if let Some(url) = changes.url {
            next.url = url;
        }
        if let Some(secret) = changes.secret {
            next.secret = secret;
        }
        if let Some(types) = changes.types {
            next.types = types;
        }
        if let Some(active) = changes.active {
            next.active = active;
        }
        next.version += 1;
        next.updated_at = now;
        next
    }
}

/// Raw input of a create or a change, as a client sent it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookInput {
    /// See [`Webhook::url`].
    pub url: Option<String>,
    /// See [`Webhook::secret`].
    pub secret: Option<String>,
    /// See [`Webhook::types`].
    pub types: Option<Vec<String>>,
    /// See [`Webhook::active`].
    pub active: Option<bool>,
}

/// A validated webhook to create; `secret` is `None` when terrane is to generate one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// See [`Webhook::url`].
    pub url: WebhookUrl,
    /// The client's secret, if it chose one.
    pub secret: Option<WebhookSecret>,
    /// See [`Webhook::types`].
    pub types: Vec<EventTypeFilter>,
    /// See [`Webhook::active`]; `true` when omitted.
    pub active: bool,
}

impl NewWebhook {
    /// The webhook this creates.
    pub fn into_webhook(
        self,
        id: WebhookId,
        tenant: TenantId,
        secret: WebhookSecret,
        created_by: UserId,
        now: DateTime<Utc>,
    ) -> Webhook {
        Webhook {
            id,
            tenant,
            url: self.url,
            secret: self.secret.unwrap_or(secret),
            types: self.types,
            active: self.active,
            version: 1,
            created_by,
            created_at: now,
            updated_at: now,
        }
    }
}

/// Validated changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookChanges {
    /// A new URL.
    pub url: Option<WebhookUrl>,
    /// A new secret.
    pub secret: Option<WebhookSecret>,
    /// New filters.
    pub types: Option<Vec<EventTypeFilter>>,
    /// Turned on or off.
    pub active: Option<bool>,
}

impl WebhookChanges {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.url.is_none() && self.secret.is_none() && self.types.is_none() && self.active.is_none()
    }
}

fn parse_types(types: Vec<String>, errors: &mut ValidationErrors) -> Option<Vec<EventTypeFilter>> {
    if types.len() > MAX_TYPE_FILTERS {
        errors.add("types", format!("at most {MAX_TYPE_FILTERS} filters"));
        return None;
    }
    let mut parsed: Vec<EventTypeFilter> = Vec::new();
    let before = errors.errors().len();
    for (index, text) in types.iter().enumerate() {
        match EventTypeFilter::parse(text) {
            Ok(filter) if !parsed.contains(&filter) => parsed.push(filter),
            Ok(_) => {}
            Err(message) => errors.add(format!("types[{index}]"), message),
        }
    }
    (errors.errors().len() == before).then_some(parsed)
}

impl WebhookInput {
    /// Validates a create: `url` is required; the rest is optional.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `url`, `secret` or `types[i]`.
    pub fn into_new(self, policy: &AddressPolicy) -> Result<NewWebhook, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = match self.url {
            None => {
                errors.add("url", "is required");
                None
            }
            Some(url) => errors.take(WebhookUrl::parse(&url, policy)),
        };
        let secret = self
            .secret
            .and_then(|s| errors.take(WebhookSecret::parse(&s)));
        let types = parse_types(self.types.unwrap_or_default(), &mut errors);
        match (url, types) {
            (Some(url), Some(types)) if errors.is_empty() => Ok(NewWebhook {
                url,
                secret,
                types,
                active: self.active.unwrap_or(true),
            }),
            _ => Err(errors),
        }
    }

    /// Validates a change: absent fields stay as they are.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `url`, `secret` or `types[i]`.
    pub fn into_changes(self, policy: &AddressPolicy) -> Result<WebhookChanges, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let url = self
            .url
            .and_then(|u| errors.take(WebhookUrl::parse(&u, policy)));
        let secret = self
            .secret
            .and_then(|s| errors.take(WebhookSecret::parse(&s)));
        let types = self.types.and_then(|t| parse_types(t, &mut errors));
        errors.into_result(|| WebhookChanges {
            url,
            secret,
            types,
            active: self.active,
        })
    }
}

/// The `X-Terrane-Signature` of a delivery: `sha256=` and the hex HMAC-SHA256 of
/// `"<timestamp>.<body>"` keyed with the webhook's secret. A receiver computes the same and
/// compares in constant time, and refuses a timestamp too far from its clock (a replay).
pub fn signature(secret: &WebhookSecret, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let digest = mac.finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

/// Whether `webhook` takes `event`: an event of its organization, of a type it takes, that
/// happened once it existed (a new webhook gets no history), while it is active, and not about
/// the webhook itself (its own creation is not news to its receiver; other webhooks taking
/// `webhook.*` are told).
pub fn takes(webhook: &Webhook, event: &Event) -> bool {
    webhook.tenant == event.organization_id
        && event.at >= webhook.created_at
        && !(event.subject.kind == SubjectKind::Webhook.as_str()
            && event.subject.id == webhook.id.0)
        && webhook.matches(event.event_type.as_str())
}

/// The body of a delivery: the event as `GET /api/v1/events` shows it (`id`, `type`,
/// `organizationId`, `subject {kind, id}`, `actor`, `at`, `data`).
pub fn delivery_body(event: &Event) -> String {
    serde_json::json!({
        "id": event.id.to_string(),
        "type": event.event_type.as_str(),
        "organizationId": event.organization_id.0,
        "subject": {"kind": event.subject.kind, "id": event.subject.id},
        "actor": event.actor,
        "at": event.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "data": event.data,
    })
    .to_string()
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its first attempt or a retry.
    Pending,
    /// The receiver answered 2xx.
    Succeeded,
    /// Every attempt of the retry window failed; redeliver to try again.
    Dead,
}

impl DeliveryStatus {
    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Dead => "dead",
        }
    }
}

impl std::str::FromStr for DeliveryStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "pending" => Ok(DeliveryStatus::Pending),
            "succeeded" => Ok(DeliveryStatus::Succeeded),
            "dead" => Ok(DeliveryStatus::Dead),
            other => Err(format!(
                "`{other}` is not a delivery status: pending, succeeded or dead"
            )),
        }
    }
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// Its id: `X-Terrane-Delivery`, the same on every attempt.
    pub id: WebhookDeliveryId,
    /// The organization.
    pub tenant: TenantId,
    /// The webhook.
    pub webhook: WebhookId,
    /// The event's id (its cursor).
    pub event_id: String,
    /// The event's type: `X-Terrane-Event`.
    pub event_type: String,
    /// The JSON sent, fixed when the delivery is created so every attempt sends the same.
    pub body: String,
    /// Where it is.
    pub status: DeliveryStatus,
    /// Attempts since it was created or last redelivered.
    pub attempts: u32,
    /// The status code of the last answer, if the last attempt got one.
    pub last_status_code: Option<u16>,
    /// Why the last attempt failed, when it did.
    pub last_error: Option<String>,
    /// How long the last attempt took.
    pub last_duration_ms: Option<u64>,
    /// When the last attempt began.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When the next attempt is due, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the current retry window began (creation, or the last redelivery).
    pub retry_from: DateTime<Utc>,
    /// Bumped by every change.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered with this status.
    Answered {
        /// The status code.
        status: u16,
        /// How long the attempt took.
        duration_ms: u64,
    },
    /// No answer: refused connection, timeout, refused address, TLS failure...
    Failed {
        /// What happened.
        reason: String,
        /// How long the attempt took.
        duration_ms: u64,
    },
}

/// When attempts are retried: after `first_delay`, then twice as long each time up to
/// `max_delay`, each delay drawn between half and all of that (jitter, so receivers that
/// come back are not hit by every sender at once), until `retry_for` after the delivery's
/// window began; the last attempt falls at the end of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How long a delivery is retried.
    pub retry_for: Duration,
    /// The delay before the first retry.
    pub first_delay: Duration,
    /// The longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 24 hours, from 10 seconds doubling up to an hour.
    fn default() -> Self {
        Self {
            retry_for: Duration::hours(24),
            first_delay: Duration::seconds(10),
            max_delay: Duration::hours(1),
        }
    }
}

impl RetryPolicy {
    /// The delay after the `failed`-th failed attempt (1-based) before jitter.
    pub fn delay(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(30);
        let delay = self
            .first_delay
            .checked_mul(1_i32 << doublings.min(30))
            .unwrap_or(self.max_delay);
        delay.min(self.max_delay).max(Duration::milliseconds(1))
    }

    /// When to try again after the `failed`-th failed attempt at `now` of a window begun at
    /// `window_start`, with `jitter` in `[0, 1]` drawn by the caller; `None` when the window
    /// is over (the delivery is dead).
    pub fn next_attempt(
        &self,
        window_start: DateTime<Utc>,
        failed: u32,
        now: DateTime<Utc>,
        jitter: f64,
    ) -> Option<DateTime<Utc>> {
        let end = window_start + self.retry_for;
        if now >= end {
            return None;
        }
        let full = self.delay(failed);
        let micros = full.num_microseconds().unwrap_or(i64::MAX);
        let factor = 0.5 + 0.5 * jitter.clamp(0.0, 1.0);
        // A delay is at most an hour or so: far inside f64's exact integers.
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let jittered = Duration::microseconds(((micros as f64) * factor) as i64);
        Some((now + jittered).min(end))
    }
}

/// A redelivery of a delivery that is still pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the delivery is still pending: it is retried by itself; redeliver it once it has succeeded or is dead")]
pub struct StillPending;

impl WebhookDelivery {
    /// A new pending delivery of an event, due at once.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: WebhookDeliveryId,
        tenant: TenantId,
        webhook: WebhookId,
        event_id: String,
        event_type: String,
        body: String,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant,
            webhook,
            event_id,
            event_type,
            body,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_status_code: None,
            last_error: None,
            last_duration_ms: None,
            last_attempt_at: None,
            next_attempt_at: Some(now),
            retry_from: now,
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    /// The delivery after an attempt begun at `started` ended at `now` with `outcome`: a 2xx
    /// answer succeeds it; anything else schedules a retry by `policy`, or makes it dead
    /// when the retry window is over.
    pub fn record(
        &self,
        outcome: &AttemptOutcome,
        started: DateTime<Utc>,
        now: DateTime<Utc>,
        policy: &RetryPolicy,
        jitter: f64,
    ) -> WebhookDelivery {
        let mut next = self.clone();
        next.attempts = self.attempts.saturating_add(1);
        next.last_attempt_at = Some(started);
        next.version += 1;
        next.updated_at = now;
        let succeeded = match outcome {
            AttemptOutcome::Answered {
                status,
                duration_ms,
            } => {
                next.last_status_code = Some(*status);
                next.last_duration_ms = Some(*duration_ms);
                next.last_error = (!(200..300).contains(status))
                    .then(|| format!("the receiver answered {status}"));
                (200..300).contains(status)
            }
            AttemptOutcome::Failed {
                reason,
                duration_ms,
            } => {
                next.last_status_code = None;
                next.last_duration_ms = Some(*duration_ms);
                next.last_error = Some(reason.chars().take(MAX_ERROR_LENGTH).collect());
                false
            }
        };
        if succeeded {
            next.status = DeliveryStatus::Succeeded;
            next.next_attempt_at = None;
            return next;
        }
        match policy.next_attempt(self.retry_from, next.attempts, now, jitter) {
            Some(at) => {
                next.status = DeliveryStatus::Pending;
                next.next_attempt_at = Some(at);
            }
            None => {
                next.status = DeliveryStatus::Dead;
                next.next_attempt_at = None;
            }
        }
        next
    }

    /// The delivery sent again: pending, due at once, with a fresh retry window and attempt
    /// count, and the same id (a receiver that deduplicates by id sees one delivery).
    ///
    /// # Errors
    /// [`StillPending`] while it is pending.
    pub fn redeliver(&self, now: DateTime<Utc>) -> Result<WebhookDelivery, StillPending> {
        match self.status {
            DeliveryStatus::Pending => Err(StillPending),
            DeliveryStatus::Succeeded | DeliveryStatus::Dead => {
                let mut next = self.clone();
                next.status = DeliveryStatus::Pending;
                next.attempts = 0;
                next.next_attempt_at = Some(now);
                next.retry_from = now;
                next.version += 1;
                next.updated_at = now;
                Ok(next)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_origin_drops_the_path_and_query_that_may_carry_a_token() {
        let url = |text: &str| WebhookUrl::stored(text.to_owned());
        assert_eq!(
            url("https://hooks.example.com/services/T0/B0/XXXX?x=1").origin(),
            "https://hooks.example.com"
        );
        assert_eq!(
            url("http://127.0.0.1:9000").origin(),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            url("http://[::1]:9000?token=1").origin(),
            "http://[::1]:9000"
        );
        assert_eq!(url("https://h.example#frag").origin(), "https://h.example");
    }

    use super::*;
    use crate::health::Cidr;
    use chrono::TimeZone;
    use uuid::Uuid;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 4, 0, 0, 0).unwrap() + Duration::seconds(seconds)
    }

    fn delivery() -> WebhookDelivery {
        WebhookDelivery::new(
            WebhookDeliveryId(Uuid::from_u128(1)),
            TenantId(Uuid::from_u128(2)),
            WebhookId(Uuid::from_u128(3)),
            "1".into(),
            "deployment.status_changed".into(),
            "{}".into(),
            at(0),
        )
    }

    #[test]
    fn urls_must_be_http_without_credentials_and_pass_the_address_policy() {
        let policy = AddressPolicy::default();
        assert!(WebhookUrl::parse("https://hooks.example.com/terrane", &policy).is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/x", &policy).is_ok());
        for bad in [
            "",
            "hooks.example.com",
            "ftp://example.com/",
            "http://user:pw@example.com/",
            "http://169.254.169.254/latest/meta-data",
            "http://[fe80::1]/",
            "http://[fd00:ec2::254]/",
            "http:///path",
            "http://exa mple.com/",
        ] {
            let error = WebhookUrl::parse(bad, &policy).unwrap_err();
            assert_eq!(error.field, "url", "{bad}");
        }
        let refused = WebhookUrl::parse("http://169.254.169.254/", &policy).unwrap_err();
        assert!(
            refused.message.contains("TERRANE_PROBE_ALLOW"),
            "{refused:?}"
        );
    }

    #[test]
    fn the_probe_allow_and_deny_lists_apply_to_webhook_urls() {
        let link_local = Cidr::parse_list("169.254.0.0/16").unwrap();
        let allowing = AddressPolicy::new(link_local, Vec::new());
        assert!(WebhookUrl::parse("http://169.254.10.10/", &allowing).is_ok());
        let denying = AddressPolicy::new(Vec::new(), Cidr::parse_list("10.0.0.0/8").unwrap());
        assert!(WebhookUrl::parse("http://10.1.2.3/", &denying).is_err());
    }

    #[test]
    fn filters_take_a_type_a_kind_or_everything() {
        let filter = |t: &str| EventTypeFilter::parse(t).unwrap();
        assert!(filter("deployment.status_changed").matches("deployment.status_changed"));
        assert!(!filter("deployment.status_changed").matches("deployment.created"));
        assert!(filter("deployment.*").matches("deployment.created"));
        assert!(!filter("deployment.*").matches("deployments.created"));
        assert!(filter("*").matches("environment.updated"));
        for bad in [
            "",
            "deployment",
            "Deployment.x",
            "a.b.c",
            "*.created",
            "a. b",
        ] {
            assert!(EventTypeFilter::parse(bad).is_err(), "{bad}");
        }
    }

    fn webhook(types: &[&str], active: bool) -> Webhook {
        let new = WebhookInput {
            url: Some("http://127.0.0.1/".into()),
            secret: None,
            types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
            active: Some(active),
        }
        .into_new(&AddressPolicy::default())
        .unwrap();
        new.into_webhook(
            WebhookId(Uuid::from_u128(3)),
            TenantId(Uuid::from_u128(2)),
            WebhookSecret::generated([7; 32]),
            UserId(Uuid::from_u128(4)),
            at(0),
        )
    }

    #[test]
    fn a_webhook_takes_every_event_without_filters_and_none_while_inactive() {
        assert!(webhook(&[], true).matches("environment.updated"));
        assert!(!webhook(&[], false).matches("environment.updated"));
        let filtered = webhook(&["deployment.*", "freeze_window.started"], true);
        assert!(filtered.matches("deployment.created"));
        assert!(filtered.matches("freeze_window.started"));
        assert!(!filtered.matches("environment.updated"));
    }

    #[test]
    fn a_webhook_takes_its_organizations_events_from_its_creation_on() {
        use crate::event::{EventCursor, EventType, Subject};
        let hook = webhook(&["environment.*"], true);
        let event = |tenant: u128, at_s: i64, kind: &str| Event {
            id: EventCursor { tx: 0, seq: 5 },
            event_type: EventType::parse(&format!("{kind}.created")).unwrap(),
            organization_id: TenantId(Uuid::from_u128(tenant)),
            subject: Subject {
                kind: kind.into(),
                id: Uuid::from_u128(8),
            },
            actor: "system".into(),
            at: at(at_s),
            data: serde_json::json!({"name": "prod"}),
        };
        assert!(takes(&hook, &event(2, 0, "environment")));
        assert!(
            !takes(&hook, &event(2, -1, "environment")),
            "before it existed"
        );
        assert!(
            !takes(&hook, &event(9, 5, "environment")),
            "another organization"
        );
        assert!(!takes(&hook, &event(2, 5, "deployment")), "filtered out");
        let every = webhook(&[], true);
        let about = |id: Uuid| Event {
            subject: Subject {
                kind: "webhook".into(),
                id,
            },
            event_type: EventType::parse("webhook.created").unwrap(),
            ..event(2, 0, "environment")
        };
        assert!(!takes(&every, &about(every.id.0)), "not its own changes");
        assert!(
            takes(&every, &about(Uuid::from_u128(77))),
            "another webhook's"
        );
        let body: serde_json::Value =
            serde_json::from_str(&delivery_body(&event(2, 0, "environment"))).unwrap();
        assert_eq!(body["id"], "0.5");
        assert_eq!(body["type"], "environment.created");
        assert_eq!(body["subject"]["kind"], "environment");
        assert_eq!(body["data"]["name"], "prod");
        assert_eq!(body["at"], "2026-12-04T00:00:00Z");
    }

    #[test]
    fn inputs_name_each_bad_field() {
        let errors = WebhookInput {
            url: None,
            secret: Some("short".into()),
            types: Some(vec!["deployment.*".into(), "nope".into()]),
            active: None,
        }
        .into_new(&AddressPolicy::default())
        .unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "secret", "types[1]"]);
        let changes = WebhookInput::default()
            .into_changes(&AddressPolicy::default())
            .unwrap();
        assert!(changes.is_empty());
    }

    #[test]
    fn generated_secrets_are_prefixed_256_bit_hex() {
        let secret = WebhookSecret::generated([0xab; 32]);
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(secret.expose().len(), 6 + 64);
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }

    #[test]
    fn the_signature_is_the_hmac_of_timestamp_dot_body() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac 'whsec_test_secret_0123'
        let secret = WebhookSecret::parse("whsec_test_secret_0123").unwrap();
        let signed = signature(&secret, 1_700_000_000, r#"{"a":1}"#);
        assert_eq!(
            signed,
            "sha256=b1e06771f9a20c020fc4b9be257996790d615bbe4d030159b6a5669fdada024c"
        );
    }

    #[test]
    fn retries_back_off_exponentially_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1), Duration::seconds(10));
        assert_eq!(policy.delay(2), Duration::seconds(20));
        assert_eq!(policy.delay(4), Duration::seconds(80));
        assert_eq!(policy.delay(20), Duration::hours(1));
        assert_eq!(policy.delay(u32::MAX), Duration::hours(1));
        let now = at(100);
        assert_eq!(
            policy.next_attempt(at(0), 1, now, 1.0),
            Some(now + Duration::seconds(10))
        );
        assert_eq!(
            policy.next_attempt(at(0), 1, now, 0.0),
            Some(now + Duration::seconds(5))
        );
    }

    #[test]
    fn the_last_attempt_falls_at_the_end_of_the_window_and_then_the_delivery_is_dead() {
        let policy = RetryPolicy::default();
        let failed = AttemptOutcome::Answered {
            status: 500,
            duration_ms: 3,
        };
        let near_end = at(24 * 3600 - 30);
        let mut d = delivery();
        d.attempts = 25;
        let next = d.record(&failed, near_end, near_end, &policy, 1.0);
        assert_eq!(next.status, DeliveryStatus::Pending);
        assert_eq!(next.next_attempt_at, Some(at(24 * 3600)));
        let end = at(24 * 3600);
        let dead = next.record(&failed, end, end, &policy, 1.0);
        assert_eq!(dead.status, DeliveryStatus::Dead);
        assert_eq!(dead.next_attempt_at, None);
        assert_eq!(dead.attempts, 27);
        assert_eq!(dead.last_status_code, Some(500));
    }

    #[test]
    fn a_2xx_answer_succeeds_and_anything_else_is_retried() {
        let policy = RetryPolicy::default();
        let d = delivery();
        let ok = d.record(
            &AttemptOutcome::Answered {
                status: 204,
                duration_ms: 12,
            },
            at(1),
            at(1),
            &policy,
            0.5,
        );
        assert_eq!(ok.status, DeliveryStatus::Succeeded);
        assert_eq!((ok.attempts, ok.last_status_code), (1, Some(204)));
        assert_eq!(ok.last_error, None);
        for outcome in [
            AttemptOutcome::Answered {
                status: 302,
                duration_ms: 1,
            },
            AttemptOutcome::Failed {
                reason: "Connection refused".into(),
                duration_ms: 1,
            },
            AttemptOutcome::Failed {
                reason: "no answer within the timeout".into(),
                duration_ms: 10_000,
            },
        ] {
            let retried = d.record(&outcome, at(1), at(1), &policy, 0.5);
            assert_eq!(retried.status, DeliveryStatus::Pending, "{outcome:?}");
            assert!(retried.next_attempt_at.unwrap() > at(1));
            assert!(retried.last_error.is_some());
        }
    }

    #[test]
    fn only_a_finished_delivery_is_redelivered_with_its_id_and_a_fresh_window() {
        let d = delivery();
        assert_eq!(d.redeliver(at(5)), Err(StillPending));
        let mut dead = d.clone();
        dead.status = DeliveryStatus::Dead;
        dead.attempts = 9;
        let again = dead.redeliver(at(90_000)).unwrap();
        assert_eq!(again.id, d.id);
        assert_eq!(again.status, DeliveryStatus::Pending);
        assert_eq!(again.attempts, 0);
        assert_eq!(again.retry_from, at(90_000));
        assert_eq!(again.next_attempt_at, Some(at(90_000)));
    }
}
