//! What every operation of the OpenAPI document states, declared once (STYLE.md item 18).
//!
//! Handlers declare their successes and the problems only they can answer (a name taken, a gate
//! refusing). Everything that follows from an operation's shape is added here, by one rule each,
//! so a new route is documented the same way without writing it again:
//!
//! - every authenticated operation can answer 401 and 503 (overloaded or unavailable, with
//!   `Retry-After`), and every authenticated write 403;
//! - a path parameter can answer 400 (malformed) and 404; a query string 400;
//! - a request body 400, 413 and 415;
//! - `If-Match` 412 (and its format), `Idempotency-Key` 422 (and its format, and the
//!   `Idempotent-Replayed` header on the first answer's replays);
//! - `take` and `skip` (Genesis: `page_length`, `page_offset`) their ranges ([`Page`]);
//! - a `201` its `Location`;
//! - a create links to the get, update and delete of what it created;
//! - operation ids are unique across the dialects (`flexdeploy_…`, `genesis_…`).

use terrane_domain::Page;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, Parameter, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{ContentBuilder, OpenApi, PathItem, Ref, RefOr, Response, ResponseBuilder};

/// Longest `Idempotency-Key` the server takes.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// The format of an `If-Match` the server takes: `*`, an ETag it issued (strong or weak), or
/// the bare version.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]{1,18}"|[0-9]{1,18})$"#;

/// The format of an `Idempotency-Key`: visible ASCII, no spaces.
pub const IDEMPOTENCY_KEY_PATTERN: &str = "^[!-~]+$";

/// A shared problem response: its component name, status and what it means.
struct Shared {
    name: &'static str,
    status: u16,
    description: &'static str,
    retry_after: bool,
}

const BAD_REQUEST: Shared = Shared {
    name: "BadRequest",
    status: 400,
    description: "Malformed input: a path id, query parameter, header or body field that breaks the rules this document states, or a body naming a row that does not exist; `errors` names each one",
    retry_after: false,
};
const UNAUTHORIZED: Shared = Shared {
    name: "Unauthorized",
    status: 401,
    description: "No valid credentials",
    retry_after: false,
};
const FORBIDDEN: Shared = Shared {
    name: "Forbidden",
    status: 403,
    description: "Valid credentials whose roles do not allow this",
    retry_after: false,
};
const NOT_FOUND: Shared = Shared {
    name: "NotFound",
    status: 404,
    description: "Nothing with that id in your organization",
    retry_after: false,
};
const PRECONDITION_FAILED: Shared = Shared {
    name: "PreconditionFailed",
    status: 412,
    description: "`If-Match` names a version that is no longer current",
    retry_after: false,
};
const PAYLOAD_TOO_LARGE: Shared = Shared {
    name: "PayloadTooLarge",
    status: 413,
    description: "A body over 1 MiB",
    retry_after: false,
};
const UNSUPPORTED_MEDIA_TYPE: Shared = Shared {
    name: "UnsupportedMediaType",
    status: 415,
    description: "A body that is not sent as `application/json`",
    retry_after: false,
};
const IDEMPOTENCY_KEY_REUSED: Shared = Shared {
    name: "IdempotencyKeyReused",
    status: 422,
    description: "The `Idempotency-Key` was used for a different request",
    retry_after: false,
};
const UNAVAILABLE: Shared = Shared {
    name: "Unavailable",
    status: 503,
    description: "Overloaded (every database connection stayed busy too long) or the database is unreachable: nothing was done, retry after `Retry-After` seconds",
    retry_after: true,
};

const ALL: [&Shared; 9] = [
    &BAD_REQUEST,
    &UNAUTHORIZED,
    &FORBIDDEN,
    &NOT_FOUND,
    &PRECONDITION_FAILED,
    &PAYLOAD_TOO_LARGE,
    &UNSUPPORTED_MEDIA_TYPE,
    &IDEMPOTENCY_KEY_REUSED,
    &UNAVAILABLE,
];

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

fn shared_response(shared: &Shared) -> Response {
    let mut response = ResponseBuilder::new()
        .description(shared.description)
        .content("application/problem+json", problem_content());
    if shared.retry_after {
        response = response.header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1)),
                )
                .description(Some("Seconds to wait before retrying"))
                .build(),
        );
    }
    response.build()
}

/// Completes a document generated from the handlers with what follows from each operation's
/// shape (see the module documentation).
pub fn complete(mut api: OpenApi) -> OpenApi {
    let components = api.components.get_or_insert_with(Default::default);
    for shared in ALL {
        components
            .responses
            .insert(shared.name.to_owned(), RefOr::T(shared_response(shared)));
    }
    let paths: Vec<String> = api.paths.paths.keys().cloned().collect();
    for path in &paths {
        let item = api.paths.paths.get_mut(path).expect("listed path");
        for (method, operation) in operations(item) {
            complete_operation(path, method, operation);
        }
    }
    link_creates(&mut api, &paths);
    api
}

fn operations(item: &mut PathItem) -> Vec<(&'static str, &mut Operation)> {
    [
        ("get", item.get.as_mut()),
        ("post", item.post.as_mut()),
        ("put", item.put.as_mut()),
        ("patch", item.patch.as_mut()),
        ("delete", item.delete.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, o)| o.map(|o| (m, o)))
    .collect()
}

/// Adds `shared` to `operation`; where the handler declared that status with another body (a
/// dialect's own error shape), the problem body is added beside it, since malformed input is
/// answered with a problem there too.
fn add(operation: &mut Operation, shared: &Shared) {
    let response = operation
        .responses
        .responses
        .entry(shared.status.to_string())
        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(shared.name)));
    if let RefOr::T(response) = response {
        response
            .content
            .entry("application/problem+json".to_owned())
            .or_insert_with(problem_content);
        if shared.retry_after {
            response
                .headers
                .entry("Retry-After".to_owned())
                .or_insert_with(retry_after);
        }
    }
}

fn retry_after() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("Seconds to wait before retrying"))
        .build()
}

fn problem_content() -> utoipa::openapi::Content {
    ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("Problem")))
        .build()
}

fn dialect(path: &str) -> Option<&'static str> {
    if path.starts_with("/flexdeploy/") {
        Some("flexdeploy")
    } else if path.starts_with("/rest/") {
        Some("genesis")
    } else {
        None
    }
}

fn complete_operation(path: &str, method: &str, operation: &mut Operation) {
    if let (Some(prefix), Some(id)) = (dialect(path), operation.operation_id.as_mut()) {
        if !id.starts_with(prefix) {
            *id = format!("{prefix}_{id}");
        }
    }
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    if !secured {
        return;
    }
    add(operation, &UNAUTHORIZED);
    add(operation, &UNAVAILABLE);
    if method != "get" {
        add(operation, &FORBIDDEN);
    }
    let mut in_path = false;
    let mut in_query = false;
    let mut if_match = false;
    let mut idempotency_key = false;
    for parameter in operation.parameters.iter_mut().flatten() {
        match parameter.parameter_in {
            ParameterIn::Path => in_path = true,
            ParameterIn::Query => {
                in_query = true;
                constrain_query(parameter);
            }
            ParameterIn::Header if parameter.name.eq_ignore_ascii_case("If-Match") => {
                if_match = true;
                parameter.schema = Some(pattern_schema(IF_MATCH_PATTERN, None));
            }
            ParameterIn::Header if parameter.name.eq_ignore_ascii_case("Idempotency-Key") => {
                idempotency_key = true;
                parameter.schema = Some(pattern_schema(
                    IDEMPOTENCY_KEY_PATTERN,
                    Some(IDEMPOTENCY_KEY_MAX),
                ));
            }
            _ => {}
        }
    }
    if in_path {
        add(operation, &BAD_REQUEST);
        add(operation, &NOT_FOUND);
    }
    if in_query || if_match || idempotency_key {
        add(operation, &BAD_REQUEST);
    }
    if operation.request_body.is_some() {
        add(operation, &BAD_REQUEST);
        add(operation, &PAYLOAD_TOO_LARGE);
        add(operation, &UNSUPPORTED_MEDIA_TYPE);
    }
    if if_match {
        add(operation, &PRECONDITION_FAILED);
    }
    if idempotency_key {
        add(operation, &IDEMPOTENCY_KEY_REUSED);
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if status == "201" && !response.headers.contains_key("Location") {
            response
                .headers
                .insert("Location".into(), string_header("The new resource's URL"));
        }
        if idempotency_key && status.starts_with('2') {
            response.headers.insert(
                "Idempotent-Replayed".into(),
                HeaderBuilder::new()
                    .schema(
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .enum_values(Some(["true"])),
                    )
                    .description(Some(
                        "`true` when this is the stored first answer to the same `Idempotency-Key`",
                    ))
                    .build(),
            );
        }
    }
}

fn pattern_schema(pattern: &str, max_length: Option<usize>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(Some(1))
        .max_length(max_length)
        .into()
}

/// `take` and `skip` state the ranges [`Page::parse`] enforces, unless the operation states
/// its own (the event log is read by cursor, up to 1,000 events at a time).
fn constrain_query(parameter: &mut Parameter) {
    if let Some(RefOr::T(Schema::Object(object))) = &parameter.schema {
        if object.maximum.is_some() {
            return;
        }
    }
    let range = match parameter.name.as_str() {
        "take" => Some((1, i64::from(Page::MAX_TAKE), i64::from(Page::DEFAULT_TAKE))),
        "skip" | "page_offset" => Some((0, i64::from(u32::MAX), 0)),
        "page_length" => Some((1, i64::from(Page::MAX_TAKE), i64::from(Page::DEFAULT_TAKE))),
        _ => None,
    };
    if let Some((minimum, maximum, default)) = range {
        parameter.schema = Some(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                    utoipa::openapi::KnownFormat::Int64,
                )))
                .minimum(Some(minimum))
                .maximum(Some(maximum))
                .default(Some(default.into()))
                .into(),
        );
    }
}

/// The body field of a create's answer that holds the id its item path takes.
fn id_field(api: &OpenApi, response: &Response) -> Option<String> {
    let schema = response.content.get("application/json")?.schema.as_ref()?;
    let mut properties = Vec::new();
    collect_properties(api, schema, &mut properties, 0);
    ["id", "environmentId", "targetGroupId"]
        .into_iter()
        .find(|f| properties.iter().any(|p| p == f))
        .map(str::to_owned)
}

fn collect_properties(api: &OpenApi, schema: &RefOr<Schema>, into: &mut Vec<String>, depth: u8) {
    if depth > 4 {
        return;
    }
    match schema {
        RefOr::Ref(reference) => {
            let name = reference
                .ref_location
                .rsplit('/')
                .next()
                .unwrap_or_default();
            if let Some(schema) = api.components.as_ref().and_then(|c| c.schemas.get(name)) {
                collect_properties(api, schema, into, depth + 1);
            }
        }
        RefOr::T(Schema::Object(object)) => into.extend(object.properties.keys().cloned()),
        RefOr::T(Schema::AllOf(all_of)) => {
            for item in &all_of.items {
                collect_properties(api, item, into, depth + 1);
            }
        }
        _ => {}
    }
}

/// The item path of what a `POST` on `path` creates: `path/{param}`, or for a create under
/// another resource (`/api/v1/environments/{envId}/target-groups`) the top-level collection
/// of the same name (`/api/v1/target-groups/{id}`).
fn item_path<'a>(api: &'a OpenApi, path: &str) -> Option<(&'a String, &'a PathItem, usize)> {
    let last = path.rsplit('/').next()?;
    let candidates = [format!("{path}/{{"), format!("/api/v1/{last}/{{")];
    candidates.iter().find_map(|prefix| {
        api.paths
            .paths
            .iter()
            .find(|(p, _)| {
                p.strip_prefix(prefix.as_str())
                    .is_some_and(|rest| rest.ends_with('}') && !rest.contains('/'))
            })
            .map(|(p, item)| (p, item, prefix.len()))
    })
}

/// Each create (a `POST` on `P` answering 201, or 200 in a dialect) links to the operations of
/// `P/{param}`, with `param` taken from the created body's id.
fn link_creates(api: &mut OpenApi, paths: &[String]) {
    let mut links: Vec<(String, String, serde_json::Map<String, serde_json::Value>)> = Vec::new();
    for path in paths {
        let item = &api.paths.paths[path];
        let Some(post) = item.post.as_ref() else {
            continue;
        };
        let Some((status, RefOr::T(created))) = ["201", "200"]
            .into_iter()
            .find_map(|s| post.responses.responses.get(s).map(|r| (s, r)))
        else {
            continue;
        };
        let Some(field) = id_field(api, created) else {
            continue;
        };
        let Some((child, child_item, prefix_len)) = item_path(api, path) else {
            continue;
        };
        let param = &child[prefix_len..child.len() - 1];
        let mut found = serde_json::Map::new();
        for (method, operation) in [
            ("Get", child_item.get.as_ref()),
            ("Put", child_item.put.as_ref()),
            ("Patch", child_item.patch.as_ref()),
            ("Delete", child_item.delete.as_ref()),
        ] {
            let Some(operation_id) = operation.and_then(|o| o.operation_id.clone()) else {
                continue;
            };
            let mut parameters = serde_json::Map::new();
            parameters.insert(param.to_owned(), format!("$response.body#/{field}").into());
            // Parameters of the collection path pass through (`/environments/{envId}/…`).
            for segment in child
                .split('/')
                .filter(|s| path.split('/').any(|p| p == *s))
            {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    parameters.insert(name.to_owned(), format!("$request.path.{name}").into());
                }
            }
            found.insert(
                format!("{method}Created"),
                serde_json::json!({"operationId": operation_id, "parameters": parameters}),
            );
        }
        if !found.is_empty() {
            links.push((path.clone(), status.to_owned(), found));
        }
    }
    for (path, status, found) in links {
        let item = api.paths.paths.get_mut(&path).expect("listed path");
        if let Some(RefOr::T(response)) = item
            .post
            .as_mut()
            .and_then(|post| post.responses.responses.get_mut(&status))
        {
            // utoipa 5.5 writes a `Link`'s `operationId` as `operation_id`, which no OpenAPI
            // tool reads: the links go in as the response's own `links` field instead.
            let links = Extensions::from_iter([("links", serde_json::Value::Object(found))]);
            match response.extensions.as_mut() {
                Some(extensions) => extensions.merge(links),
                None => response.extensions = Some(links),
            }
        }
    }
}
