//! The service account use cases: managing accounts and authenticating their secrets.

use crate::agents::token_hash;
use crate::authorize;
use async_trait::async_trait;
use rand::Rng;
use std::sync::Arc;
use terrane_domain::{
    Actor, NewServiceAccount, Page, Permission, ServiceAccount, ServiceAccountId,
    SERVICE_ACCOUNT_LOGIN_PREFIX, SERVICE_ACCOUNT_SECRET_PREFIX,
};
use terrane_ports::{
    Clock, IdSource, ServiceAccountRepository, ServiceAccountService, ServiceError, StoreError,
};

const WHAT: &str = "service account";

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A fresh secret: the prefix and 256 random bits in hex. Only its SHA-256 is stored: a
/// secret this random cannot be found from its hash by guessing, so a slow password hash
/// would only slow every request that carries it.
fn new_secret() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    format!("{SERVICE_ACCOUNT_SECRET_PREFIX}{}", hex(&bytes))
}

/// A fresh login: the prefix and 80 random bits in hex, unique across the server (the store
/// refuses a clash, which at that size does not happen).
fn new_login() -> String {
    let bytes: [u8; 10] = rand::rng().random();
    format!("{SERVICE_ACCOUNT_LOGIN_PREFIX}{}", hex(&bytes))
}

/// The service account use cases.
pub struct ServiceAccounts {
    accounts: Arc<dyn ServiceAccountRepository>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdSource>,
}

impl ServiceAccounts {
    /// Wires the use cases to their ports.
    pub fn new(
        accounts: Arc<dyn ServiceAccountRepository>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdSource>,
    ) -> Self {
        Self {
            accounts,
            clock,
            ids,
        }
    }
}

fn store_error(error: StoreError) -> ServiceError {
    ServiceError::from_store(error, WHAT)
}

#[async_trait]
impl ServiceAccountService for ServiceAccounts {
    async fn create(
        &self,
        actor: &Actor,
        new: NewServiceAccount,
    ) -> Result<(ServiceAccount, String), ServiceError> {
        authorize(actor, Permission::Administer, "creating a service account")?;
        let secret = new_secret();
        let account = self
            .accounts
            .create(
                actor.tenant,
                ServiceAccountId(self.ids.new_id()),
                new,
                new_login(),
                token_hash(&secret),
                actor.user,
                self.clock.now(),
            )
            .await
            .map_err(store_error)?;
        Ok((account, secret))
    }

    async fn get(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
    ) -> Result<ServiceAccount, ServiceError> {
        authorize(actor, Permission::Administer, "reading service accounts")?;
        self.accounts
            .get(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn list(
        &self,
        actor: &Actor,
        page: Page,
    ) -> Result<(Vec<ServiceAccount>, u64), ServiceError> {
        authorize(actor, Permission::Administer, "reading service accounts")?;
        self.accounts
            .list(actor.tenant, page)
            .await
            .map_err(store_error)
    }

    async fn revoke(&self, actor: &Actor, id: ServiceAccountId) -> Result<(), ServiceError> {
        authorize(actor, Permission::Administer, "revoking a service account")?;
        self.accounts
            .delete(actor.tenant, id)
            .await
            .map_err(store_error)
    }

    async fn rotate(
        &self,
        actor: &Actor,
        id: ServiceAccountId,
    ) -> Result<(ServiceAccount, String), ServiceError> {
        authorize(
            actor,
            Permission::Administer,
            "rotating a service account's secret",
        )?;
        let secret = new_secret();
        let account = self
            .accounts
            .rotate(actor.tenant, id, token_hash(&secret), self.clock.now())
            .await
            .map_err(store_error)?;
        Ok((account, secret))
    }

    async fn authenticate(
        &self,
        login: Option<String>,
        secret: String,
    ) -> Result<Option<ServiceAccount>, ServiceError> {
        if !secret.starts_with(SERVICE_ACCOUNT_SECRET_PREFIX) {
            return Ok(None);
        }
        let account = self
            .accounts
            .by_secret_hash(token_hash(&secret))
            .await
            .map_err(store_error)?;
        Ok(account.filter(|account| login.is_none_or(|login| login == account.login)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::actor;
    use chrono::{TimeZone, Utc};
    use terrane_domain::{Role, TenantId, UserId};
    use terrane_ports::{MockClock, MockIdSource, MockServiceAccountRepository};
    use uuid::Uuid;

    fn service(repo: MockServiceAccountRepository) -> ServiceAccounts {
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .returning(|| Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap());
        let mut ids = MockIdSource::new();
        ids.expect_new_id().returning(|| Uuid::from_u128(42));
        ServiceAccounts::new(Arc::new(repo), Arc::new(clock), Arc::new(ids))
    }

    fn account(login: &str) -> ServiceAccount {
        let at = Utc.with_ymd_and_hms(2026, 1, 10, 14, 23, 45).unwrap();
        ServiceAccount {
            id: ServiceAccountId(Uuid::from_u128(42)),
            tenant: TenantId(Uuid::from_u128(7)),
            name: "flexdeploy".into(),
            description: None,
            roles: vec![Role::Deployer],
            login: login.into(),
            created_by: UserId(Uuid::from_u128(1)),
            created_at: at,
            secret_issued_at: at,
        }
    }

    fn new() -> NewServiceAccount {
        NewServiceAccount::parse(Some("flexdeploy"), None, Some(vec!["deployer".into()])).unwrap()
    }

    #[tokio::test]
    async fn creating_stores_only_the_hash_of_a_prefixed_256_bit_secret() {
        let mut repo = MockServiceAccountRepository::new();
        repo.expect_create()
            .returning(|_, _, _, login, hash, _, _| {
                assert_eq!(hash.len(), 64, "a SHA-256 in hex");
                assert!(login.starts_with(SERVICE_ACCOUNT_LOGIN_PREFIX));
                Ok(account(&login))
            });
        let (account, secret) = service(repo)
            .create(&actor(Role::Admin), new())
            .await
            .unwrap();
        assert!(secret.starts_with("trn_sa_"));
        assert_eq!(secret.len(), "trn_sa_".len() + 64, "32 random bytes in hex");
        assert!(account.login.starts_with("sa-"));
    }

    #[tokio::test]
    async fn only_admins_manage_service_accounts() {
        let mut repo = MockServiceAccountRepository::new();
        repo.expect_create().never();
        repo.expect_rotate().never();
        repo.expect_list().never();
        let service = service(repo);
        let deployer = actor(Role::Deployer);
        let id = ServiceAccountId(Uuid::from_u128(42));
        assert!(matches!(
            service.create(&deployer, new()).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            service.rotate(&deployer, id).await,
            Err(ServiceError::Forbidden(_))
        ));
        assert!(matches!(
            service.list(&deployer, Page::default()).await,
            Err(ServiceError::Forbidden(_))
        ));
    }

    #[tokio::test]
    async fn a_secret_authenticates_only_with_its_own_login_and_is_looked_up_by_its_hash() {
        let secret = "trn_sa_abc".to_owned();
        let expected = token_hash(&secret);
        let mut repo = MockServiceAccountRepository::new();
        repo.expect_by_secret_hash()
            .withf(move |hash| *hash == expected)
            .returning(|_| Ok(Some(account("sa-1"))));
        let service = service(repo);
        let ok = service
            .authenticate(Some("sa-1".into()), secret.clone())
            .await
            .unwrap();
        assert_eq!(ok.map(|a| a.login), Some("sa-1".into()));
        let bearer = service.authenticate(None, secret.clone()).await.unwrap();
        assert!(bearer.is_some(), "a bearer secret carries no login");
        let other = service
            .authenticate(Some("sa-2".into()), secret)
            .await
            .unwrap();
        assert!(other.is_none());
    }

    #[tokio::test]
    async fn a_value_without_the_prefix_is_refused_without_a_lookup() {
        let mut repo = MockServiceAccountRepository::new();
        repo.expect_by_secret_hash().never();
        let found = service(repo)
            .authenticate(Some("sa-1".into()), "password".into())
            .await
            .unwrap();
        assert!(found.is_none());
    }
}
