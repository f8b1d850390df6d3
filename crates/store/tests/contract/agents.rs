//! `AgentRepository`: agents of one tenant found by token hash from no tenant, their targets,
//! and the latest inventory per target.

use crate::harness::{env_id, named, now, tenant, TestDb};
use crate::target_groups::new_target;
use terrane_domain::{
    AgentId, Inventory, InventoryComponent, NewAgent, Page, TargetId, TenantId, UserId,
};
use terrane_ports::{AgentRepository, EnvironmentRepository, StoreError, TargetRepository};
use uuid::Uuid;

async fn target(db: &TestDb, tenant: TenantId, name: &str) -> TargetId {
    let env = EnvironmentRepository::create(&db.store, tenant, env_id(), named(name), now())
        .await
        .unwrap()
        .id;
    TargetRepository::create(
        &db.store,
        tenant,
        TargetId(Uuid::now_v7()),
        new_target(name, env, None),
        now(),
    )
    .await
    .unwrap()
    .id
}

async fn agent(
    db: &TestDb,
    tenant: TenantId,
    name: &str,
    targets: Vec<TargetId>,
    hash: &str,
) -> AgentId {
    let new = NewAgent::parse(Some(name), Some(targets.iter().map(|t| t.0).collect())).unwrap();
    AgentRepository::create(
        &db.store,
        tenant,
        AgentId(Uuid::now_v7()),
        new,
        hash.into(),
        UserId(Uuid::now_v7()),
        now(),
    )
    .await
    .unwrap()
    .id
}

fn inventory(tenant: TenantId, target: TargetId, agent: AgentId, version: &str) -> Inventory {
    Inventory {
        target_id: target,
        tenant,
        agent_id: agent,
        collected_at: now(),
        received_at: now(),
        components: vec![InventoryComponent {
            component_id: None,
            component_name: Some("api".into()),
            version: version.into(),
            digest: None,
        }],
    }
}

on_both_backends!(
    a_token_hash_finds_its_agent_in_any_tenant_with_its_targets,
    agents_serve_only_their_tenants_targets_and_go_when_deleted,
    the_latest_inventory_replaces_the_previous_one_and_goes_with_its_target,
);

async fn a_token_hash_finds_its_agent_in_any_tenant_with_its_targets(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let web = target(&db, a, "web").await;
    let id = agent(&db, a, "edge", vec![web], "hash-a").await;
    agent(&db, b, "edge", vec![], "hash-b").await;
    let found = db
        .store
        .by_token_hash("hash-a".into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id, found.tenant, found.target_ids),
        (id, a, vec![web])
    );
    assert_eq!(db.store.by_token_hash("nope".into()).await.unwrap(), None);
    let beat = db
        .store
        .heartbeat(a, id, Some("1.2.3".into()), now())
        .await
        .unwrap();
    assert_eq!(beat.agent_version.as_deref(), Some("1.2.3"));
    assert!(beat.last_seen_at.is_some());
    let (listed, total) = AgentRepository::list(&db.store, b, Page::default())
        .await
        .unwrap();
    assert_eq!((listed.len(), total), (1, 1));
    assert_eq!(
        AgentRepository::get(&db.store, b, id).await,
        Err(StoreError::NotFound)
    );
}

async fn agents_serve_only_their_tenants_targets_and_go_when_deleted(db: TestDb) {
    let (a, b) = (tenant(), tenant());
    let foreign = target(&db, b, "web").await;
    let new = NewAgent::parse(Some("edge"), Some(vec![foreign.0])).unwrap();
    let refused = AgentRepository::create(
        &db.store,
        a,
        AgentId(Uuid::now_v7()),
        new,
        "h".into(),
        UserId(Uuid::now_v7()),
        now(),
    )
    .await
    .unwrap_err();
    assert_eq!(refused, StoreError::MissingReference("targetIds".into()));
    let id = agent(&db, a, "edge", vec![], "h").await;
    AgentRepository::delete(&db.store, a, id).await.unwrap();
    assert_eq!(db.store.by_token_hash("h".into()).await.unwrap(), None);
    assert_eq!(
        AgentRepository::delete(&db.store, a, id).await,
        Err(StoreError::NotFound)
    );
}

async fn the_latest_inventory_replaces_the_previous_one_and_goes_with_its_target(db: TestDb) {
    let a = tenant();
    let web = target(&db, a, "web").await;
    let id = agent(&db, a, "edge", vec![web], "h").await;
    assert_eq!(db.store.inventory(a, web).await.unwrap(), None);
    db.store
        .save_inventory(inventory(a, web, id, "1"))
        .await
        .unwrap();
    let latest = inventory(a, web, id, "2");
    db.store.save_inventory(latest.clone()).await.unwrap();
    assert_eq!(db.store.inventory(a, web).await.unwrap(), Some(latest));
    assert_eq!(
        db.store.inventory(tenant(), web).await,
        Err(StoreError::NotFound)
    );
    assert_eq!(
        db.store
            .save_inventory(inventory(tenant(), web, id, "3"))
            .await,
        Err(StoreError::NotFound)
    );
    // Deleting the target takes its inventory and the agent's link to it along.
    TargetRepository::delete(&db.store, a, web, None)
        .await
        .unwrap();
    let agent = AgentRepository::get(&db.store, a, id).await.unwrap();
    assert!(agent.target_ids.is_empty());
    assert_eq!(db.store.inventory(a, web).await, Err(StoreError::NotFound));
}
