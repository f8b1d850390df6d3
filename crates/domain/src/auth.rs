//! Who is acting, and what their roles allow.

use crate::ids::{TenantId, UserId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A role carried in a token. Roles are cumulative by intent: `deployer` can read,
/// `admin` can do everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of its tenant.
    Viewer,
    /// Also records deployments and requests environments.
    Deployer,
    /// Everything.
    Admin,
}

impl Role {
    /// The role's wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Deployer => "deployer",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "deployer" => Ok(Role::Deployer),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "unknown role `{other}`: expected admin, deployer or viewer"
            )),
        }
    }
}

/// What an action needs from the actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Read the tenant's rows.
    Read,
    /// Record deployments, request environments.
    Deploy,
    /// Change the inventory and review requests.
    Administer,
}

impl Permission {
    /// The role a person needs at least, for messages.
    pub fn required_role(&self) -> Role {
        match self {
            Permission::Read => Role::Viewer,
            Permission::Deploy => Role::Deployer,
            Permission::Administer => Role::Admin,
        }
    }
}

/// An authenticated caller: a user acting inside one tenant with some roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// Who.
    pub user: UserId,
    /// On behalf of which organization; every row they touch belongs to it.
    pub tenant: TenantId,
    /// What they may do.
    pub roles: Vec<Role>,
}

impl Actor {
    /// True when one of the actor's roles grants `permission`.
    pub fn may(&self, permission: Permission) -> bool {
        self.roles.iter().any(|role| match permission {
            Permission::Read => true,
            Permission::Deploy => matches!(role, Role::Deployer | Role::Admin),
            Permission::Administer => matches!(role, Role::Admin),
        })
    }

    /// True when the actor is an admin.
    pub fn is_admin(&self) -> bool {
        self.may(Permission::Administer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn actor(roles: &[Role]) -> Actor {
        Actor {
            user: UserId(Uuid::nil()),
            tenant: TenantId(Uuid::nil()),
            roles: roles.to_vec(),
        }
    }

    #[test]
    fn every_role_reads_only_admins_administer() {
        use Permission::*;
        let table = [
            (Role::Viewer, [true, false, false]),
            (Role::Deployer, [true, true, false]),
            (Role::Admin, [true, true, true]),
        ];
        for (role, expected) in table {
            let a = actor(&[role]);
            assert_eq!(
                [a.may(Read), a.may(Deploy), a.may(Administer)],
                expected,
                "{role}"
            );
        }
    }

    #[test]
    fn an_actor_without_roles_may_do_nothing() {
        assert!(!actor(&[]).may(Permission::Read));
    }

    #[test]
    fn roles_parse_from_their_wire_names_only() {
        assert_eq!("admin".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
    }
}
