//! Service accounts: machines acting in one organization with their roles, authenticated by a
//! login and a secret shown once.

use crate::auth::{Actor, Role};
use crate::error::ValidationErrors;
use crate::ids::{TenantId, UserId};
use crate::target_group::{parse_description, parse_name};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The fixed beginning of every service account secret, so a secret is never mistaken for a
/// JWT (`eyJ...`) or an agent token (`trn_agent_...`), and a leaked one is easy to search for.
pub const SERVICE_ACCOUNT_SECRET_PREFIX: &str = "trn_sa_";

/// The fixed beginning of every service account login.
pub const SERVICE_ACCOUNT_LOGIN_PREFIX: &str = "sa-";

/// A service account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ServiceAccountId(pub Uuid);

impl fmt::Display for ServiceAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A stored service account. Its secret is kept only as a hash, never here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its id; also the user id it acts as.
    pub id: ServiceAccountId,
    /// The organization it acts in.
    pub tenant: TenantId,
    /// 1 to 100 letters, digits, `.`, `_` or `-`; unique in the organization.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// What it may do.
    pub roles: Vec<Role>,
    /// The user part of HTTP Basic credentials: unique across the server.
    pub login: String,
    /// Who created it.
    pub created_by: UserId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When its current secret was issued (at creation or at the last rotation).
    pub secret_issued_at: DateTime<Utc>,
}

impl ServiceAccount {
    /// The actor it acts as: itself, in its organization, with its roles.
    pub fn actor(&self) -> Actor {
        Actor {
            user: UserId(self.id.0),
            tenant: self.tenant,
            roles: self.roles.clone(),
        }
    }
}

/// A validated service account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewServiceAccount {
    /// See [`ServiceAccount::name`].
    pub name: String,
    /// See [`ServiceAccount::description`].
    pub description: Option<String>,
    /// See [`ServiceAccount::roles`]; at least one, each once.
    pub roles: Vec<Role>,
}

impl NewServiceAccount {
    /// Validates raw input: `name` and at least one role are required.
    ///
    /// # Errors
    /// [`ValidationErrors`] naming `name`, `description` or `roles`.
    pub fn parse(
        name: Option<&str>,
        description: Option<String>,
        roles: Option<Vec<String>>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = match name {
            None => {
                errors.add("name", "is required");
                None
            }
            Some(name) => errors.take(parse_name(name, "name")),
        };
        let description = errors.take(parse_description(description)).flatten();
        let mut parsed: Vec<Role> = Vec::new();
        match roles {
            None => errors.add("roles", "is required: admin, deployer or viewer"),
            Some(roles) if roles.is_empty() => errors.add("roles", "must list at least one role"),
            Some(roles) => {
                for (index, role) in roles.iter().enumerate() {
                    match role.parse::<Role>() {
                        Ok(role) if !parsed.contains(&role) => parsed.push(role),
                        Ok(_) => {}
                        Err(message) => errors.add(format!("roles[{index}]"), message),
                    }
                }
            }
        }
        match name {
            Some(name) if errors.is_empty() => Ok(Self {
                name,
                description,
                roles: parsed,
            }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_service_account_needs_a_name_and_a_known_role_each_once() {
        let new = NewServiceAccount::parse(
            Some("flexdeploy"),
            None,
            Some(vec!["deployer".into(), "deployer".into(), "viewer".into()]),
        )
        .unwrap();
        assert_eq!(new.roles, [Role::Deployer, Role::Viewer]);
        let errors = NewServiceAccount::parse(None, None, Some(vec!["root".into()])).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "roles[0]"]);
        let errors = NewServiceAccount::parse(Some("ci"), None, Some(vec![])).unwrap_err();
        assert_eq!(errors.errors()[0].field, "roles");
        assert!(NewServiceAccount::parse(Some("bad name"), None, None).is_err());
    }

    #[test]
    fn a_service_account_acts_as_itself_in_its_organization_with_its_roles() {
        let account = ServiceAccount {
            id: ServiceAccountId(Uuid::from_u128(5)),
            tenant: TenantId(Uuid::from_u128(7)),
            name: "ci".into(),
            description: None,
            roles: vec![Role::Viewer],
            login: "sa-1".into(),
            created_by: UserId(Uuid::from_u128(1)),
            created_at: Utc::now(),
            secret_issued_at: Utc::now(),
        };
        let actor = account.actor();
        assert_eq!(actor.user, UserId(Uuid::from_u128(5)));
        assert_eq!(actor.tenant, account.tenant);
        assert_eq!(actor.roles, [Role::Viewer]);
    }
}
