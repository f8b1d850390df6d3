//! Projects: named groups of environments (Genesis groups environments in projects).

use crate::error::{FieldError, ValidationErrors};
use crate::ids::{ProjectId, ProjectNumber, TenantId};
use chrono::{DateTime, Utc};

/// Longest project name.
pub const MAX_PROJECT_NAME_LEN: usize = 64;
/// Longest project manager.
pub const MAX_PROJECT_MANAGER_LEN: usize = 100;
/// Longest description.
pub const MAX_PROJECT_DESCRIPTION_LEN: usize = 2000;

/// A project name: 1 to 64 letters, digits, `.`, `-`, `_` or spaces; unique in its
/// organization ignoring case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectName(String);

impl ProjectName {
    /// Parses a name.
    ///
    /// # Errors
    /// A [`FieldError`] on `name` saying what is allowed.
    pub fn parse(value: &str) -> Result<Self, FieldError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ');
        let length = value.chars().count();
        if (1..=MAX_PROJECT_NAME_LEN).contains(&length)
            && value.chars().all(allowed)
            && !value.trim().is_empty()
        {
            Ok(Self(value.to_owned()))
        } else {
            Err(FieldError::new(
                "name",
                "must be 1 to 64 letters, digits, `.`, `-`, `_` or spaces",
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// Its id.
    pub id: ProjectId,
    /// Its server-wide number, for clients that address projects by number (Genesis).
    pub number: ProjectNumber,
    /// The organization it belongs to.
    pub tenant: TenantId,
    /// Unique per organization, ignoring case.
    pub name: ProjectName,
    /// Free text.
    pub description: Option<String>,
    /// Who manages it, in words.
    pub project_manager: String,
    /// Who created it (the creating actor's user id, or the name a client gave).
    pub creator: String,
    /// Bumped by every change.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Raw project fields as a client sends them; `None` means absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectInput {
    /// See [`Project::name`]; required.
    pub name: Option<String>,
    /// See [`Project::description`].
    pub description: Option<String>,
    /// See [`Project::project_manager`]; required.
    pub project_manager: Option<String>,
}

/// A validated project to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewProject {
    /// Its name.
    pub name: ProjectName,
    /// Free text.
    pub description: Option<String>,
    /// Who manages it.
    pub project_manager: String,
}

impl ProjectInput {
    /// Validates a new project, every bad or missing field reported at once.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `name`, `description` or `projectManager`.
    pub fn into_new(self) -> Result<NewProject, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match self.name.as_deref() {
            Some(name) => errors.take(ProjectName::parse(name)),
            None => {
                errors.add("name", "is required");
                None
            }
        };
        let manager = match self.project_manager.as_deref().map(str::trim) {
            Some(manager)
                if !manager.is_empty() && manager.chars().count() <= MAX_PROJECT_MANAGER_LEN =>
            {
                Some(manager.to_owned())
            }
            Some(_) => {
                errors.add("projectManager", "must be 1 to 100 characters");
                None
            }
            None => {
                errors.add("projectManager", "is required");
                None
            }
        };
        if self
            .description
            .as_ref()
            .is_some_and(|d| d.chars().count() > MAX_PROJECT_DESCRIPTION_LEN)
        {
            errors.add("description", "must be at most 2000 characters");
        }
        match (name, manager) {
            (Some(name), Some(project_manager)) if errors.is_empty() => Ok(NewProject {
                name,
                description: self.description,
                project_manager,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_1_to_64_letters_digits_dots_dashes_underscores_and_spaces() {
        for ok in ["a", "My project", "p.1-x_y", &"a".repeat(64)] {
            assert!(ProjectName::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", " ", "a/b", "é", &"a".repeat(65)] {
            assert_eq!(ProjectName::parse(bad).unwrap_err().field, "name", "{bad}");
        }
    }

    #[test]
    fn a_new_project_needs_a_name_and_a_manager() {
        let errors = ProjectInput::default().into_new().unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "projectManager"]);
        let new = ProjectInput {
            name: Some("Shop".into()),
            description: None,
            project_manager: Some(" ann ".into()),
        }
        .into_new()
        .unwrap();
        assert_eq!(
            (new.name.as_str(), new.project_manager.as_str()),
            ("Shop", "ann")
        );
    }
}
