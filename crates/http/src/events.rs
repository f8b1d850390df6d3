//! `/api/v1/events`: the event log, read by cursor or as a Server-Sent Events stream.

use crate::auth::Authenticated;
use crate::extract::Query;
use crate::problem::Problem;
use crate::AppState;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::web::Bytes;
use actix_web::{get, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::time::Duration;
use terrane_domain::event::{parse_take, parse_types};
use terrane_domain::{Actor, Event, EventCursor, EventType};
use utoipa::ToSchema;
use uuid::Uuid;

/// How the event stream polls the log and keeps idle connections open.
#[derive(Debug, Clone, Copy)]
pub struct EventStreamSettings {
    /// Between two reads of the log while nothing new came.
    pub poll: Duration,
    /// Most time without sending anything: then a comment line keeps the connection open.
    pub keep_alive: Duration,
}

impl Default for EventStreamSettings {
    fn default() -> Self {
        EventStreamSettings {
            poll: Duration::from_secs(1),
            keep_alive: Duration::from_secs(15),
        }
    }
}

/// What an event is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectResponse {
    /// The kind of resource (`environment`, `deployment`, `freeze_window`, ...).
    pub kind: String,
    /// Its id.
    pub id: Uuid,
}

/// One event of the log.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "812.40",
    "type": "deployment.status_changed",
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "subject": {"kind": "deployment", "id": "01936f6e-0000-7000-8000-0000000000d1"},
    "actor": "01936f6e-0000-7000-8000-0000000000b1",
    "at": "2026-01-10T14:23:45.123456Z",
    "data": {"id": "01936f6e-0000-7000-8000-0000000000d1", "status": "succeeded", "from": "in_progress", "to": "succeeded"}
}))]
pub struct EventResponse {
    /// Its place in the log: pass it as `after` (or `Last-Event-ID`) to read what follows.
    /// Opaque.
    pub id: String,
    /// `<subject kind>.<change>`: `environment.created`, `environment.updated`,
    /// `environment.deleted`, `deployment.created`, `deployment.status_changed`,
    /// `deployment.approved`, `freeze_window.started`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    /// The organization it happened in.
    pub organization_id: Uuid,
    /// What it is about.
    pub subject: SubjectResponse,
    /// Who made the change: the token's subject (a user or service account id), or
    /// `system` for background work.
    pub actor: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The subject after the change (for a deletion, as it was), with `from` and `to` for a
    /// status change.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl From<Event> for EventResponse {
    fn from(event: Event) -> Self {
        EventResponse {
            id: event.id.to_string(),
            event_type: event.event_type.to_string(),
            organization_id: event.organization_id.0,
            subject: SubjectResponse {
                kind: event.subject.kind,
                id: event.subject.id,
            },
            actor: event.actor,
            at: event.at,
            data: event.data,
        }
    }
}

/// The `after` and `types` parameters (and `take`, for the list).
fn read_query(q: &mut Query) -> (Option<EventCursor>, Vec<EventType>) {
    let after = q.parsed("after", |v| v.parse::<EventCursor>());
    let types = q.parsed("types", parse_types).unwrap_or_default();
    (after, types)
}

/// Events of your organization, in order, after a cursor (any role).
///
/// A reader that asks again with `after` set to the `id` of the last event it got never
/// misses an event, even one whose transaction committed after that of a later one: an
/// event is answered only once no transaction still running can come before it.
#[utoipa::path(
    tag = "events",
    params(
        ("after" = Option<String>, Query, pattern = "^[0-9]{1,18}(\\.[0-9]{1,18})?$", description = "The id of the last event you have; from the oldest kept event when absent"),
        ("types" = Option<String>, Query, pattern = "^ *([a-z_]+\\.[a-z_]+)? *(, *([a-z_]+\\.[a-z_]+)? *)*$", description = "Comma-separated event types to answer (all when absent), e.g. `deployment.status_changed,environment.created`"),
        ("take" = Option<i64>, Query, minimum = 1, maximum = 1000, description = "Most events to answer (default 100, 1 to 1000)"),
    ),
    responses(
        (status = 200, description = "The events after the cursor, oldest first (empty when there are none yet)", body = Vec<EventResponse>),
        (status = 400, description = "Bad cursor, types or take", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token without roles", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/events")]
pub async fn list_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let (after, types) = read_query(&mut q);
    let take = q.parsed("take", |v| {
        let n = v
            .parse::<i64>()
            .map_err(|_| format!("must be a whole number, not `{v}`"))?;
        parse_take(Some(n))
    });
    q.finish()?;
    let take = take.unwrap_or(terrane_domain::event::DEFAULT_TAKE);
    let events = state.events.after(&actor, after, types, take).await?;
    Ok(HttpResponse::Ok().json(
        events
            .into_iter()
            .map(EventResponse::from)
            .collect::<Vec<_>>(),
    ))
}

/// The `Last-Event-ID` header, if the client sent one.
fn last_event_id(req: &HttpRequest) -> Result<Option<EventCursor>, Problem> {
    let Some(value) = req.headers().get("last-event-id") else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| Problem::bad_field("Last-Event-ID", "must be the id of an event"))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.trim()
        .parse()
        .map(Some)
        .map_err(|e: String| Problem::bad_field("Last-Event-ID", e))
}

/// One event of the stream as Server-Sent Events carry it: its `id:` (the cursor), `event:`
/// (the type) and `data:` (the event as `GET /api/v1/events` shows it, as JSON text).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // documents the stream; the handler writes the lines itself.
pub struct StreamedEvent {
    /// The event's id, to resume from with `Last-Event-ID`.
    id: String,
    /// The event's type.
    event: String,
    /// The event, as JSON text.
    data: String,
}

/// Events of your organization as Server-Sent Events (any role).
///
/// Each event is sent as `id: <cursor>`, `event: <type>` and `data: <the event as JSON, as
/// in GET /api/v1/events>`. The stream starts after `Last-Event-ID` (which a browser's
/// EventSource sends when it reconnects), else after `after`, else at the oldest kept event,
/// and never misses or repeats an event. A comment line (`: keep-alive`) is sent whenever
/// nothing else was for 15 seconds. The server polls the log and holds no database
/// connection while idle.
#[utoipa::path(
    tag = "events",
    params(
        ("after" = Option<String>, Query, pattern = "^[0-9]{1,18}(\\.[0-9]{1,18})?$", description = "Start after this event id (`Last-Event-ID` takes precedence)"),
        ("types" = Option<String>, Query, pattern = "^ *([a-z_]+\\.[a-z_]+)? *(, *([a-z_]+\\.[a-z_]+)? *)*$", description = "Comma-separated event types to send (all when absent)"),
        ("Last-Event-ID" = Option<String>, Header, nullable = false, pattern = "^([0-9]{1,18}(\\.[0-9]{1,18})?)?$", description = "Resume after this event id"),
    ),
    responses(
        (status = 200, description = "A stream of events, open until the client leaves", content_type = "text/event-stream", body = StreamedEvent,
         example = json!("id: 812.40\nevent: deployment.status_changed\ndata: {\"id\":\"812.40\",\"type\":\"deployment.status_changed\",...}\n\n: keep-alive\n\n")),
        (status = 400, description = "Bad cursor or types", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "A token without roles", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/events/stream")]
pub async fn stream_events(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let mut q = Query::of(&req)?;
    let (after, types) = read_query(&mut q);
    q.finish()?;
    let resume = last_event_id(&req)?;
    let cursor = resume.or(after);
    // Refuse a reader the service refuses before answering 200.
    state.events.after(&actor, cursor, types.clone(), 1).await?;
    let settings = state.event_stream;
    let stream = Stream {
        state: state.into_inner(),
        actor,
        types,
        cursor,
        settings,
        quiet_since: tokio::time::Instant::now(),
        first: true,
    };
    let body = futures_util::stream::unfold(stream, Stream::next);
    Ok(HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, "text/event-stream"))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// A reader's place in the stream.
struct Stream {
    state: std::sync::Arc<AppState>,
    actor: Actor,
    types: Vec<EventType>,
    cursor: Option<EventCursor>,
    settings: EventStreamSettings,
    /// Since when nothing was sent.
    quiet_since: tokio::time::Instant,
    /// Whether nothing was sent yet (the first chunk goes out at once, so clients see the
    /// stream open).
    first: bool,
}

impl Stream {
    /// The next chunk: the events that came since the last one, or a keep-alive comment
    /// after `keep_alive` of silence. Ends the stream when reading fails.
    async fn next(mut self) -> Option<(Result<Bytes, actix_web::Error>, Stream)> {
        if self.first {
            self.first = false;
            self.quiet_since = tokio::time::Instant::now();
            return Some((Ok(Bytes::from_static(b": stream open\n\n")), self));
        }
        loop {
            let read = self
                .state
                .events
                .after(
                    &self.actor,
                    self.cursor,
                    self.types.clone(),
                    terrane_domain::event::MAX_TAKE,
                )
                .await;
            let events = match read {
                Ok(events) => events,
                Err(error) => {
                    tracing::warn!(%error, "the event stream could not read the log; closing it");
                    return None;
                }
            };
            if !events.is_empty() {
                let mut chunk = String::new();
                for event in events {
                    self.cursor = Some(event.id);
                    let id = event.id.to_string();
                    let event_type = event.event_type.to_string();
                    let data = serde_json::to_string(&EventResponse::from(event))
                        .unwrap_or_else(|_| "{}".to_owned());
                    chunk.push_str(&format!("id: {id}\nevent: {event_type}\ndata: {data}\n\n"));
                }
                self.quiet_since = tokio::time::Instant::now();
                return Some((Ok(Bytes::from(chunk)), self));
            }
            let keep_alive_at = self.quiet_since + self.settings.keep_alive;
            let now = tokio::time::Instant::now();
            if now >= keep_alive_at {
                self.quiet_since = now;
                return Some((Ok(Bytes::from_static(b": keep-alive\n\n")), self));
            }
            // No connection is held here: each read takes one from the pool and gives it back.
            tokio::time::sleep(self.settings.poll.min(keep_alive_at - now)).await;
        }
    }
}
