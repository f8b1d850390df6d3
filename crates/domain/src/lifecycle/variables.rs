//! The variables of templates and workflows: what they declare, and the values a run gets.

use crate::error::{FieldError, ValidationErrors};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// The values of a run's variables, by name.
pub type Variables = BTreeMap<String, String>;

/// Longest variable name.
pub const MAX_VARIABLE_NAME_LEN: usize = 64;
/// Longest variable value, default or pattern.
pub const MAX_VARIABLE_VALUE_LEN: usize = 4096;

/// A value pattern: a regular expression the whole value must match.
#[derive(Debug, Clone)]
pub struct Pattern {
    source: String,
    regex: regex_lite::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Pattern {
    /// Parses a pattern, anchored so that it must match the whole value.
    ///
    /// # Errors
    /// A [`FieldError`] on `field` when it is not a regular expression.
    pub fn parse(source: &str, field: &str) -> Result<Self, FieldError> {
        if source.len() > MAX_VARIABLE_VALUE_LEN {
            return Err(FieldError::new(field, "must be at most 4096 characters"));
        }
        let regex = regex_lite::Regex::new(&format!("^(?:{source})$"))
            .map_err(|e| FieldError::new(field, format!("is not a regular expression: {e}")))?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether `value` matches it, whole.
    pub fn matches(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// A variable a template or a workflow declares.
#[derive(Debug, Clone, PartialEq)]
pub struct VariableSpec {
    /// Letters, digits and `_`, starting with a letter or `_`; steps see it as
    /// `TERRANE_VAR_<NAME>` (upper-cased).
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Whether a run without a value (and without a default) is refused.
    pub required: bool,
    /// The value when none is given.
    pub default: Option<String>,
    /// A regular expression every value must match, whole.
    pub pattern: Option<Pattern>,
}

/// A variable declaration as a client sends it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VariableSpecInput {
    /// See [`VariableSpec::name`].
    pub name: Option<String>,
    /// See [`VariableSpec::description`].
    pub description: Option<String>,
    /// Defaults to false.
    pub required: Option<bool>,
    /// See [`VariableSpec::default`].
    pub default: Option<String>,
    /// See [`VariableSpec::pattern`].
    pub pattern: Option<String>,
}

/// Whether `name` can name a variable (and so an environment variable of a step).
pub fn is_variable_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && name.len() <= MAX_VARIABLE_NAME_LEN
}

impl VariableSpecInput {
    /// Validates one declaration; errors are named under `at` (`variables[2]`, say).
    pub(crate) fn parse(self, at: &str, errors: &mut ValidationErrors) -> Option<VariableSpec> {
        let before = errors.errors().len();
        let name = match self.name {
            Some(name) if is_variable_name(&name) => Some(name),
            Some(_) => {
                errors.add(
                    format!("{at}.name"),
                    "must be letters, digits and `_`, start with a letter or `_`, at most 64 characters",
                );
                None
            }
            None => {
                errors.add(format!("{at}.name"), "is required");
                None
            }
        };
        let pattern = self
            .pattern
            .as_deref()
            .map(|p| Pattern::parse(p, &format!("{at}.pattern")))
            .transpose();
        let pattern = errors.take(pattern).flatten();
        if let Some(default) = &self.default {
            if default.len() > MAX_VARIABLE_VALUE_LEN {
                errors.add(format!("{at}.default"), "must be at most 4096 characters");
            } else if pattern.as_ref().is_some_and(|p| !p.matches(default)) {
                errors.add(
                    format!("{at}.default"),
                    "does not match the variable's pattern",
                );
            }
        }
        if errors.errors().len() > before {
            return None;
        }
        Some(VariableSpec {
            name: name?,
            description: self.description,
            required: self.required.unwrap_or(false),
            default: self.default,
            pattern,
        })
    }
}

/// The values a run gets: each declared variable's default, overridden by `inherited` (the
/// values the environment was created with) and then by `given`. Every unknown name, every
/// value that is not a string or fails its pattern, and every required variable left without
/// a value is named in one error, as `variables.<name>`.
///
/// # Errors
/// [`ValidationErrors`] naming each bad variable.
pub fn resolve(
    declared: &[&VariableSpec],
    inherited: &Variables,
    given: &Map<String, Value>,
) -> Result<Variables, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let mut values = Variables::new();
    for spec in declared {
        if let Some(value) = inherited.get(&spec.name).or(spec.default.as_ref()) {
            values.insert(spec.name.clone(), value.clone());
        }
    }
    for (name, value) in given {
        let field = format!("variables.{name}");
        let Some(spec) = declared.iter().find(|spec| &spec.name == name) else {
            errors.add(field, "is not a variable of this template or workflow");
            continue;
        };
        let Value::String(value) = value else {
            errors.add(field, "must be a string");
            continue;
        };
        if value.len() > MAX_VARIABLE_VALUE_LEN {
            errors.add(field, "must be at most 4096 characters");
        } else if let Some(pattern) = spec.pattern.as_ref().filter(|p| !p.matches(value)) {
            errors.add(
                field,
                format!("must match the pattern `{}`", pattern.as_str()),
            );
        } else {
            values.insert(name.clone(), value.clone());
        }
    }
    for spec in declared {
        if spec.required && !values.contains_key(&spec.name) && !given.contains_key(&spec.name) {
            errors.add(format!("variables.{}", spec.name), "is required");
        }
    }
    errors.into_result(|| values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(
        name: &str,
        required: bool,
        default: Option<&str>,
        pattern: Option<&str>,
    ) -> VariableSpec {
        VariableSpec {
            name: name.into(),
            description: None,
            required,
            default: default.map(Into::into),
            pattern: pattern.map(|p| Pattern::parse(p, "p").unwrap()),
        }
    }

    fn given(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn every_missing_unknown_and_mismatching_variable_is_named_at_once() {
        let region = spec("region", true, None, Some("[a-z]+-[a-z]+-[0-9]"));
        let size = spec("size", true, None, None);
        let errors = resolve(
            &[&region, &size],
            &Variables::new(),
            &given(json!({"region": "EU", "colour": "red"})),
        )
        .unwrap_err();
        let mut fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["variables.colour", "variables.region", "variables.size"]
        );
    }

    #[test]
    fn defaults_then_inherited_then_given_values_win() {
        let a = spec("a", true, Some("default-a"), None);
        let b = spec("b", false, Some("default-b"), None);
        let c = spec("c", false, None, None);
        let inherited = Variables::from([("b".to_owned(), "inherited-b".to_owned())]);
        let values = resolve(&[&a, &b, &c], &inherited, &given(json!({"c": "given-c"}))).unwrap();
        assert_eq!(values["a"], "default-a");
        assert_eq!(values["b"], "inherited-b");
        assert_eq!(values["c"], "given-c");
    }

    #[test]
    fn patterns_match_the_whole_value_and_values_must_be_strings() {
        let port = spec("port", false, None, Some("[0-9]+"));
        assert!(resolve(&[&port], &Variables::new(), &given(json!({"port": "8080"}))).is_ok());
        for bad in [
            json!({"port": "80a"}),
            json!({"port": "a80"}),
            json!({"port": 80}),
        ] {
            let errors = resolve(&[&port], &Variables::new(), &given(bad)).unwrap_err();
            assert_eq!(errors.errors()[0].field, "variables.port");
        }
    }

    #[test]
    fn declarations_are_checked_name_pattern_and_default() {
        let mut errors = ValidationErrors::new();
        let parsed = VariableSpecInput {
            name: Some("9lives".into()),
            pattern: Some("(".into()),
            ..Default::default()
        }
        .parse("variables[0]", &mut errors);
        assert!(parsed.is_none());
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["variables[0].name", "variables[0].pattern"]);
        let mut errors = ValidationErrors::new();
        VariableSpecInput {
            name: Some("port".into()),
            default: Some("http".into()),
            pattern: Some("[0-9]+".into()),
            ..Default::default()
        }
        .parse("variables[1]", &mut errors);
        assert_eq!(errors.errors()[0].field, "variables[1].default");
    }
}
