//! Small OpenAPI schema helpers.

use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::Object;

/// A string schema limited to `values`, which come from the domain's own list so the document
/// cannot drift from what is accepted.
pub fn string_enum<'a>(values: impl Iterator<Item = &'a str>, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.map(str::to_owned)))
        .examples([serde_json::Value::String(example.to_owned())])
        .build()
}
