//! A target's labels, and the label filters of the target list.

use crate::error::{FieldError, ValidationErrors};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A label key: 1 to 63 lowercase letters, digits, `.`, `_`, `/` or `-`.
fn check_label_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > Labels::MAX_KEY_LEN {
        return Err("label keys must be 1 to 63 characters".into());
    }
    if key.bytes().all(|b| {
        b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'/' | b'-')
    }) {
        Ok(())
    } else {
        Err("label keys may contain only lowercase letters, digits, '.', '_', '/' and '-'".into())
    }
}

/// A target's labels: at most 64 pairs of a key (1 to 63 of `a-z 0-9 . _ / -`) and a text
/// value of at most 255 characters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Labels(BTreeMap<String, String>);

impl Labels {
    /// Most labels on one target.
    pub const MAX_LABELS: usize = 64;
    /// Longest key.
    pub const MAX_KEY_LEN: usize = 63;
    /// Longest value, in characters.
    pub const MAX_VALUE_LEN: usize = 255;

    /// Parses a JSON object of string values.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `labels` when there are too many, and `labels.<key>` for
    /// each bad key or value.
    pub fn parse(raw: &Map<String, Value>) -> Result<Labels, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if raw.len() > Self::MAX_LABELS {
            errors.add("labels", "may hold at most 64 labels");
        }
        let mut labels = BTreeMap::new();
        for (key, value) in raw {
            let field = format!("labels.{key}");
            if let Err(message) = check_label_key(key) {
                errors.add(field, message);
                continue;
            }
            match value {
                Value::String(text) if text.chars().count() <= Self::MAX_VALUE_LEN => {
                    labels.insert(key.clone(), text.clone());
                }
                Value::String(_) => errors.add(field, "must be at most 255 characters"),
                _ => errors.add(field, "must be a string"),
            }
        }
        errors.into_result(|| Labels(labels))
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True without labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels as a JSON object.
    pub fn to_json(&self) -> Map<String, Value> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    }
}

/// A label filter: a target matches when it has every listed pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector(BTreeMap<String, String>);

impl LabelSelector {
    /// Parses a JSON object of string values, such as `{"role":"web"}`.
    ///
    /// # Errors
    /// A [`FieldError`] on `labels` when the text is not a JSON object of strings.
    pub fn parse(text: &str) -> Result<Self, FieldError> {
        let bad = |message: String| FieldError::new("labels", message);
        let value: Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "must be a JSON object of strings, like {{\"role\":\"web\"}}: {e}"
            ))
        })?;
        let Value::Object(map) = value else {
            return Err(bad(
                "must be a JSON object of strings, like {\"role\":\"web\"}".into(),
            ));
        };
        map.into_iter()
            .map(|(key, value)| match value {
                Value::String(text) => Ok((key, text)),
                _ => Err(bad(format!("the value of `{key}` must be a string"))),
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// Whether `labels` has every pair of this selector.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.0
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v.as_str()))
    }

    /// The pairs, ordered by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// True when it lists no pair (and so matches every target).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The selector as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
        )
    }
}
