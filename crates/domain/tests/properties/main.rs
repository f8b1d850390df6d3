//! Property tests: every parser of terrane-domain survives any input, and what it parsed
//! reads back as the same value once printed; the state machines never panic and only ever
//! make the moves their tables allow.

mod audit;
mod machines;
mod structured;
mod values;

use proptest::prelude::*;
use serde_json::{Map, Value};

/// Cases per property: enough to find the edges, few enough for `make test`.
pub const CASES: u32 = 256;

/// Any text, biased towards the characters parsers care about.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9._~:/@\\-]{0,70}",
        "[ -~]{0,140}",
    ]
}

/// Any JSON value, a few levels deep.
pub fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        any_text().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(any_text(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Any JSON object whose keys are drawn from `keys` or anything else.
pub fn object_with(keys: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    let key = prop_oneof![4 => prop::sample::select(keys).prop_map(str::to_owned), 1 => any_text()];
    prop::collection::btree_map(key, any_json(), 0..8).prop_map(|m| m.into_iter().collect())
}
