//! Request parsing that answers problems: JSON bodies, query strings, path ids, preconditions.

use crate::problem::{Problem, ProblemKind};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use terrane_domain::FieldError;
use uuid::Uuid;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// A JSON body; a wrong content type is a 415, a body over 1 MiB a 413, and malformed JSON or a
/// wrong type a 400 naming the field (by its JSON path).
#[derive(Debug)]
pub struct JsonBody<T> {
    /// The parsed value.
    pub value: T,
    /// The raw bytes, for idempotency fingerprints.
    pub raw: web::Bytes,
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            require_json(content_type_ok)?;
            let raw = bytes.await.map_err(unreadable)?;
            let value = parse_object(&raw)?;
            Ok(JsonBody { value, raw })
        })
    }
}

/// A JSON body that may be left out: an empty (or blank) body is `None`, whatever its content
/// type; anything else follows the rules of [`JsonBody`].
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJsonBody<T> {
    type Error = Problem;
    type Future = LocalBoxFuture<'static, Result<Self, Problem>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let content_type_ok = is_json(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            let raw = bytes.await.map_err(unreadable)?;
            // Nothing, or JSON `null` (what the document's `oneOf: [null, …]` allows), is none.
            let text = raw.trim_ascii();
            if text.is_empty() || text == b"null" {
                return Ok(OptionalJsonBody(None));
            }
            require_json(content_type_ok)?;
            parse_object(&raw).map(|value| OptionalJsonBody(Some(value)))
        })
    }
}

fn require_json(content_type_ok: bool) -> Result<(), Problem> {
    if content_type_ok {
        Ok(())
    } else {
        Err(Problem::new(
            ProblemKind::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ))
    }
}

fn unreadable(error: actix_web::Error) -> Problem {
    match error.as_response_error().status_code().as_u16() {
        413 => Problem::new(
            ProblemKind::PayloadTooLarge,
            "the body is larger than 1 MiB",
        ),
        _ => Problem::bad_field("body", format!("the body could not be read: {error}")),
    }
}

/// Every body terrane takes is an object; serde would also read a struct from an array, which
/// only confuses the error messages.
fn parse_object<T: DeserializeOwned>(raw: &[u8]) -> Result<T, Problem> {
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(Problem::bad_field("body", "must be a JSON object"));
    }
    parse_json(raw)
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses JSON, naming the field that failed by its path.
///
/// # Errors
/// A 400 problem.
pub fn parse_json<T: DeserializeOwned>(raw: &[u8]) -> Result<T, Problem> {
    let mut value: serde_json::Value = serde_json::from_slice(raw)
        .map_err(|inner| Problem::bad_field("body", format!("is not valid JSON: {inner}")))?;
    whole_numbers(&mut value);
    if contains_nul(&value) {
        return Err(Problem::bad_field("body", NUL_MESSAGE));
    }
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            // Broken JSON is a property of the whole body, wherever the parser stopped.
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                Problem::bad_field("body", format!("is not valid JSON: {inner}"))
            }
            _ => {
                let field = if path == "." || path.is_empty() {
                    "body".to_owned()
                } else {
                    path
                };
                Problem::bad_field(field, strip_position(&inner.to_string()))
            }
        }
    })
}

const NUL_MESSAGE: &str = "must not contain NUL characters (\\u0000)";

fn contains_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => text.contains('\0'),
        serde_json::Value::Array(items) => items.iter().any(contains_nul),
        serde_json::Value::Object(map) => {
            map.iter().any(|(k, v)| k.contains('\0') || contains_nul(v))
        }
        _ => false,
    }
}

/// JSON Schema counts `3.0` as the integer 3 (the document says `integer`): such numbers are
/// read as integers, so an integer field takes them. Others stay as they are.
fn whole_numbers(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Number(number) => {
            if let Some(float) = number.as_f64().filter(|_| number.is_f64()) {
                // Exactly representable and within i64: 2^63 is where i64 ends.
                if float.fract() == 0.0 && float.abs() < 9_223_372_036_854_775_808.0 {
                    *number = serde_json::Number::from(float as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

/// A query string whose parameters are parsed one by one, each failure naming its parameter.
/// Parameters nobody asked for are refused at [`Query::finish`], so a typo never silently
/// widens a search.
#[derive(Debug)]
pub struct Query {
    params: HashMap<String, String>,
    errors: Vec<FieldError>,
}

impl Query {
    /// Parses the request's query string.
    ///
    /// # Errors
    /// A 400 when the query string is not form-encoded.
    pub fn of(req: &HttpRequest) -> Result<Self, Problem> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(req.query_string()).map_err(|e| {
                Problem::bad_field("query", format!("the query string is malformed: {e}"))
            })?;
        let mut params = HashMap::new();
        let mut errors = Vec::new();
        for (name, value) in pairs {
            // No database can keep a NUL in text (PostgreSQL refuses it): refused at the edge.
            if value.contains('\0') {
                errors.push(FieldError::new(name.clone(), NUL_MESSAGE));
            }
            if params.insert(name.clone(), value).is_some() {
                errors.push(FieldError::new(name, "may be given only once"));
            }
        }
        Ok(Self { params, errors })
    }

    /// Whether the parameter was given (and not read yet).
    pub fn contains(&self, name: &str) -> bool {
        self.params.contains_key(name)
    }

    /// A text parameter.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.params.remove(name)
    }

    /// A parameter parsed by `parse`, whose error message is recorded under the parameter name.
    pub fn parsed<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let value = self.params.remove(name)?;
        match parse(&value) {
            Ok(v) => Some(v),
            Err(message) => {
                self.errors.push(FieldError::new(name, message));
                None
            }
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, name: &str) -> Option<bool> {
        self.parsed(name, |v| match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("must be true or false, not `{v}`")),
        })
    }

    /// A whole number.
    pub fn integer(&mut self, name: &str) -> Option<i64> {
        self.parsed(name, |v| {
            v.parse::<i64>()
                .map_err(|_| format!("must be a whole number, not `{v}`"))
        })
    }

    /// A UUID.
    pub fn uuid(&mut self, name: &str) -> Option<Uuid> {
        self.parsed(name, |v| {
            Uuid::parse_str(v).map_err(|_| format!("must be a UUID, not `{v}`"))
        })
    }

    /// An RFC 3339 time (a `+` of the offset left unescaped, which reads as a space, is
    /// taken as the `+` it was).
    pub fn time(&mut self, name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        self.parsed(name, |v| {
            chrono::DateTime::parse_from_rfc3339(v)
                .or_else(|_| chrono::DateTime::parse_from_rfc3339(&v.replace(' ', "+")))
                .map(|t| t.with_timezone(&chrono::Utc))
                .map_err(|_| {
                    format!("must be an RFC 3339 time such as 2026-01-09T10:00:00Z, not `{v}`")
                })
        })
    }

    /// Records a problem found while interpreting parameters.
    pub fn error(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    /// Succeeds when every parameter was understood and none is unknown.
    ///
    /// # Errors
    /// A 400 naming every bad or unknown parameter.
    pub fn finish(mut self) -> Result<(), Problem> {
        let mut unknown: Vec<_> = self.params.keys().cloned().collect();
        unknown.sort();
        for name in unknown {
            self.errors
                .push(FieldError::new(name, "is not a known query parameter"));
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Problem::validation(&self.errors))
        }
    }
}

/// A UUID path segment.
///
/// # Errors
/// A 400 naming the segment when it is not a UUID.
pub fn path_id(req: &HttpRequest, name: &str) -> Result<Uuid, Problem> {
    let raw = req.match_info().get(name).unwrap_or_default();
    Uuid::parse_str(raw)
        .map_err(|_| Problem::bad_field(name, format!("must be a UUID, not `{raw}`")))
}

/// A created resource's response with its `Location`.
///
/// # Errors
/// A 500 if `url` is not a valid header value, which a path of ids never is.
pub fn with_location(
    mut response: actix_web::HttpResponse,
    url: &str,
) -> Result<actix_web::HttpResponse, Problem> {
    let value = header::HeaderValue::from_str(url).map_err(Problem::internal)?;
    response.headers_mut().insert(header::LOCATION, value);
    Ok(response)
}

/// The ETag of a version.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}

/// The version an `If-Match` header requires, if any (`*` requires nothing beyond existence).
///
/// # Errors
/// A 400 when the header is neither `*`, an ETag terrane issued, nor a bare version.
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, Problem> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    // A bare version (`3`) is taken for its ETag (`"3"`): clients that strip quotes still work.
    let bare = (1..=18).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    let version = if bare {
        text.parse().ok()
    } else {
        parse_etag(text)
    };
    version.map(Some).ok_or_else(|| {
        Problem::bad_field(
            "If-Match",
            format!("must be an ETag this server issued, like \"3\", not `{text}`"),
        )
    })
}

fn parse_etag(text: &str) -> Option<i64> {
    let text = text.strip_prefix("W/").unwrap_or(text);
    text.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
}

/// True when `If-None-Match` already names `version`, so a 304 will do.
pub fn not_modified(req: &HttpRequest, version: i64) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim() == "*"
                || v.split(',')
                    .filter_map(|t| parse_etag(t.trim()))
                    .any(|t| t == version)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase", deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: Option<String>,
        config: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        deployment_timeout: Option<i64>,
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let problem =
            parse_json::<Body>(br#"{"config": {"deploymentTimeout": "ten"}}"#).unwrap_err();
        assert_eq!(problem.errors[0].field, "config.deploymentTimeout");
        assert!(
            problem.errors[0].message.contains("expected i64"),
            "{}",
            problem.errors[0].message
        );
    }

    #[test]
    fn malformed_json_names_the_body() {
        let problem = parse_json::<Body>(b"{\"name\": ").unwrap_err();
        assert_eq!(problem.errors[0].field, "body");
        assert_eq!(problem.status(), 400);
    }

    #[test]
    fn unknown_fields_are_named() {
        let problem = parse_json::<Body>(br#"{"nmae": "x"}"#).unwrap_err();
        assert!(problem.errors[0].message.contains("unknown field `nmae`"));
    }

    #[test]
    fn etags_parse_strong_and_weak() {
        assert_eq!(parse_etag("\"3\""), Some(3));
        assert_eq!(parse_etag("W/\"3\""), Some(3));
        assert_eq!(parse_etag("3"), None);
    }

    #[test]
    fn if_none_match_lists_are_understood() {
        let req = TestRequest::default()
            .insert_header((header::IF_NONE_MATCH, "\"1\", \"4\""))
            .to_http_request();
        assert!(not_modified(&req, 4));
        assert!(!not_modified(&req, 2));
    }

    #[test]
    fn query_parameters_are_named_when_bad_or_unknown() {
        let req =
            TestRequest::with_uri("/x?isActive=yes&orderIndex=1&colour=red").to_http_request();
        let mut query = Query::of(&req).unwrap();
        assert_eq!(query.boolean("isActive"), None);
        assert_eq!(query.integer("orderIndex"), Some(1));
        let problem = query.finish().unwrap_err();
        let fields: Vec<_> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["isActive", "colour"]);
    }
}
