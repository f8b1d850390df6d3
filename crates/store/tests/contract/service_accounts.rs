//! `ServiceAccountRepository`: accounts of one tenant, found by the hash of their secret from
//! no tenant, revoked and rotated at once.

use crate::harness::{now, tenant, TestDb};
use terrane_domain::{NewServiceAccount, Page, Role, ServiceAccountId, TenantId, UserId};
use terrane_ports::{ServiceAccountRepository, StoreError};
use uuid::Uuid;

on_both_backends!(
    an_account_reads_back_and_is_found_by_its_secret_hash_from_no_tenant,
    a_deleted_account_is_gone_and_its_hash_no_longer_finds_it,
    rotating_replaces_the_hash_at_once,
    names_are_unique_per_tenant_and_logins_across_the_server,
    another_tenants_account_is_not_found,
    accounts_list_by_name_in_pages_with_their_total,
);

fn new(name: &str, roles: &[&str]) -> NewServiceAccount {
    NewServiceAccount::parse(
        Some(name),
        Some("for FlexDeploy".into()),
        Some(roles.iter().map(|r| (*r).to_owned()).collect()),
    )
    .unwrap()
}

async fn create(
    db: &TestDb,
    tenant: TenantId,
    name: &str,
    login: &str,
    hash: &str,
) -> Result<terrane_domain::ServiceAccount, StoreError> {
    ServiceAccountRepository::create(
        &db.store,
        tenant,
        ServiceAccountId(Uuid::now_v7()),
        new(name, &["deployer", "viewer"]),
        login.into(),
        hash.into(),
        UserId(Uuid::now_v7()),
        now(),
    )
    .await
}

async fn an_account_reads_back_and_is_found_by_its_secret_hash_from_no_tenant(db: TestDb) {
    let tenant = tenant();
    let created = create(&db, tenant, "flexdeploy", "sa-1", "hash-1")
        .await
        .unwrap();
    assert_eq!(created.roles, [Role::Deployer, Role::Viewer]);
    assert_eq!(created.login, "sa-1");
    assert_eq!(created.description.as_deref(), Some("for FlexDeploy"));
    assert_eq!(created.secret_issued_at, created.created_at);
    let read = ServiceAccountRepository::get(&db.store, tenant, created.id)
        .await
        .unwrap();
    assert_eq!(read, created);
    let found = db.store.by_secret_hash("hash-1".into()).await.unwrap();
    assert_eq!(found, Some(created));
    assert_eq!(
        db.store.by_secret_hash("hash-2".into()).await.unwrap(),
        None
    );
}

async fn a_deleted_account_is_gone_and_its_hash_no_longer_finds_it(db: TestDb) {
    let tenant = tenant();
    let account = create(&db, tenant, "ci", "sa-1", "hash-1").await.unwrap();
    ServiceAccountRepository::delete(&db.store, tenant, account.id)
        .await
        .unwrap();
    assert_eq!(
        db.store.by_secret_hash("hash-1".into()).await.unwrap(),
        None
    );
    assert_eq!(
        ServiceAccountRepository::get(&db.store, tenant, account.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        ServiceAccountRepository::delete(&db.store, tenant, account.id).await,
        Err(StoreError::NotFound)
    );
}

async fn rotating_replaces_the_hash_at_once(db: TestDb) {
    let tenant = tenant();
    let account = create(&db, tenant, "ci", "sa-1", "old").await.unwrap();
    let later = now() + chrono::Duration::seconds(5);
    let rotated = db
        .store
        .rotate(tenant, account.id, "new".into(), later)
        .await
        .unwrap();
    assert_eq!(rotated.secret_issued_at, later);
    assert_eq!(
        (rotated.login, rotated.created_at),
        (account.login, account.created_at)
    );
    assert_eq!(db.store.by_secret_hash("old".into()).await.unwrap(), None);
    assert_eq!(
        db.store
            .by_secret_hash("new".into())
            .await
            .unwrap()
            .map(|a| a.id),
        Some(account.id)
    );
}

async fn names_are_unique_per_tenant_and_logins_across_the_server(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    create(&db, a, "ci", "sa-1", "h1").await.unwrap();
    let same_name = create(&db, a, "ci", "sa-2", "h2").await.unwrap_err();
    assert!(
        matches!(&same_name, StoreError::Conflict(m) if m.contains("`ci`")),
        "{same_name:?}"
    );
    create(&db, b, "ci", "sa-3", "h3").await.unwrap();
    let same_login = create(&db, b, "other", "sa-1", "h4").await.unwrap_err();
    assert!(
        matches!(same_login, StoreError::Conflict(_)),
        "{same_login:?}"
    );
}

async fn another_tenants_account_is_not_found(db: TestDb) {
    let (mine, theirs) = (tenant(), tenant());
    let account = create(&db, theirs, "ci", "sa-1", "h1").await.unwrap();
    assert_eq!(
        ServiceAccountRepository::get(&db.store, mine, account.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        ServiceAccountRepository::delete(&db.store, mine, account.id).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        db.store.rotate(mine, account.id, "h2".into(), now()).await,
        Err(StoreError::NotFound)
    );
    let (accounts, total) = ServiceAccountRepository::list(&db.store, mine, Page::default())
        .await
        .unwrap();
    assert!(accounts.is_empty() && total == 0);
    assert!(db
        .store
        .by_secret_hash("h1".into())
        .await
        .unwrap()
        .is_some());
}

async fn accounts_list_by_name_in_pages_with_their_total(db: TestDb) {
    let tenant = tenant();
    for (i, name) in ["zeta", "alpha", "mid"].iter().enumerate() {
        create(&db, tenant, name, &format!("sa-{i}"), &format!("h{i}"))
            .await
            .unwrap();
    }
    let page = Page::parse(Some(1), Some(2)).unwrap();
    let (accounts, total) = ServiceAccountRepository::list(&db.store, tenant, page)
        .await
        .unwrap();
    let names: Vec<_> = accounts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!((names, total), (vec!["mid", "zeta"], 3));
}
