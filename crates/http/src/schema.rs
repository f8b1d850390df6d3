//! Small OpenAPI schema helpers.

use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::{Object, RefOr};

/// A string schema limited to `values`, which come from the domain's own list so the document
/// cannot drift from what is accepted.
pub fn string_enum<'a>(values: impl Iterator<Item = &'a str>, example: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.map(str::to_owned)))
        .examples([serde_json::Value::String(example.to_owned())])
        .build()
}

/// `schema` (a string enum) that also takes `null`.
pub fn nullable(mut schema: Object) -> Object {
    schema.schema_type = SchemaType::Array(vec![Type::String, Type::Null]);
    if let Some(values) = schema.enum_values.as_mut() {
        values.push(serde_json::Value::Null);
    }
    schema
}

/// The roles a token or service account carries: at least one of them.
pub fn roles() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(string_enum(
            [
                terrane_domain::Role::Admin,
                terrane_domain::Role::Deployer,
                terrane_domain::Role::Viewer,
            ]
            .iter()
            .map(|r| r.as_str()),
            "admin",
        ))
        .min_items(Some(1))
        .build()
}

/// Declares `$name`, a document-only schema named `$title`: `$body`'s properties with `$field`s required and
/// never null. Where create (or `PUT`) requires more than an update, the body type is parsed the
/// same way for both (a missing field is a 400 naming it), and the document shows one schema per
/// operation, so a generated client knows what each one needs.
macro_rules! requiring_schema {
    ($(#[$doc:meta])* $name:ident as $title:literal = $body:ty, [$($field:literal),* $(,)?]) => {
        $(#[$doc])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::schema::requiring(<$body as utoipa::PartialSchema>::schema(), &[$($field),*])
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed($title)
            }

            fn schemas(
                schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>,
            ) {
                <$body as utoipa::ToSchema>::schemas(schemas);
            }
        }
    };
}
pub(crate) use requiring_schema;

/// `schema` with `fields` required and not nullable.
pub fn requiring(schema: RefOr<Schema>, fields: &[&str]) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = schema else {
        return schema;
    };
    for field in fields {
        if !object.required.iter().any(|r| r == field) {
            object.required.push((*field).to_owned());
        }
        if let Some(property) = object.properties.get_mut(*field) {
            not_null(property);
        }
    }
    RefOr::T(Schema::Object(object))
}

/// Takes `null` out of what a property accepts: `["string", "null"]` becomes `"string"`, and
/// `oneOf: [null, X]` becomes `X`.
fn not_null(property: &mut RefOr<Schema>) {
    match property {
        RefOr::T(Schema::Object(object)) => {
            without_null(&mut object.schema_type);
            if let Some(values) = object.enum_values.as_mut() {
                values.retain(|v| !v.is_null());
            }
        }
        RefOr::T(Schema::Array(array)) => {
            without_null(&mut array.schema_type);
        }
        RefOr::T(Schema::OneOf(one_of)) => {
            let is_null = |item: &RefOr<Schema>| matches!(item, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null));
            let rest: Vec<RefOr<Schema>> = one_of
                .items
                .iter()
                .filter(|i| !is_null(i))
                .cloned()
                .collect();
            if let [only] = rest.as_slice() {
                *property = only.clone();
            } else {
                one_of.items = rest;
            }
        }
        _ => {}
    }
}

fn without_null(schema_type: &mut SchemaType) {
    if let SchemaType::Array(types) = schema_type {
        let types: Vec<Type> = types
            .iter()
            .filter(|t| **t != Type::Null)
            .cloned()
            .collect();
        *schema_type = match types.as_slice() {
            [one] => SchemaType::Type(one.clone()),
            _ => SchemaType::Array(types),
        };
    }
}
