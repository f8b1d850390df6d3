//! `ProjectRepository`: numbered projects of one tenant, unique by name ignoring case, and
//! environments that belong to one.

use crate::harness::{env_id, named, now, tenant, TestDb};
use terrane_domain::{
    EnvironmentFilter, NewProject, Page, Project, ProjectId, ProjectInput, ProjectNumber, TenantId,
};
use terrane_ports::{EnvironmentRepository, ProjectRepository, StoreError};
use uuid::Uuid;

on_both_backends!(
    a_project_reads_back_by_id_and_by_its_number,
    names_are_unique_per_tenant_ignoring_case,
    another_tenants_project_is_not_found_by_id_or_number,
    projects_list_by_name_either_way_in_pages_with_their_total,
    numbers_of_projects_and_environments_come_from_one_sequence,
    an_environment_belongs_to_a_project_of_its_own_tenant_only_and_filters_by_it,
);

fn new(name: &str) -> NewProject {
    ProjectInput {
        name: Some(name.to_owned()),
        description: Some("groups environments".into()),
        project_manager: Some("ann".into()),
    }
    .into_new()
    .unwrap()
}

async fn create(db: &TestDb, tenant: TenantId, name: &str) -> Result<Project, StoreError> {
    ProjectRepository::create(
        &db.store,
        tenant,
        ProjectId(Uuid::now_v7()),
        new(name),
        "genesis".into(),
        now(),
    )
    .await
}

async fn a_project_reads_back_by_id_and_by_its_number(db: TestDb) {
    let tenant = tenant();
    let created = create(&db, tenant, "Web shop").await.unwrap();
    assert_eq!(created.name.as_str(), "Web shop");
    assert_eq!(created.creator, "genesis");
    assert_eq!(created.project_manager, "ann");
    assert_eq!(created.version, 1);
    assert!(created.number.get() > 0);
    let read = ProjectRepository::get(&db.store, tenant, created.id)
        .await
        .unwrap();
    assert_eq!(read, created);
    let by_number = db.store.by_number(tenant, created.number).await.unwrap();
    assert_eq!(by_number, created);
    assert!(matches!(
        db.store.by_number(tenant, ProjectNumber(999_999_999)).await,
        Err(StoreError::NotFound)
    ));
}

async fn names_are_unique_per_tenant_ignoring_case(db: TestDb) {
    let tenant = tenant();
    create(&db, tenant, "Shop").await.unwrap();
    let taken = create(&db, tenant, "SHOP").await;
    assert!(
        matches!(&taken, Err(StoreError::Conflict(m)) if m.contains("a project named `SHOP`")),
        "{taken:?}"
    );
    create(&db, self::tenant(), "shop").await.unwrap();
}

async fn another_tenants_project_is_not_found_by_id_or_number(db: TestDb) {
    let created = create(&db, tenant(), "Mine").await.unwrap();
    let stranger = tenant();
    assert!(matches!(
        ProjectRepository::get(&db.store, stranger, created.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.by_number(stranger, created.number).await,
        Err(StoreError::NotFound)
    ));
    let (none, total) = ProjectRepository::list(&db.store, stranger, false, Page::default())
        .await
        .unwrap();
    assert_eq!((none.len(), total), (0, 0));
}

async fn projects_list_by_name_either_way_in_pages_with_their_total(db: TestDb) {
    let tenant = tenant();
    for name in ["beta", "Alpha", "gamma"] {
        create(&db, tenant, name).await.unwrap();
    }
    let names = |projects: Vec<Project>| -> Vec<String> {
        projects
            .into_iter()
            .map(|p| p.name.as_str().to_owned())
            .collect()
    };
    let (all, total) = ProjectRepository::list(&db.store, tenant, false, Page::default())
        .await
        .unwrap();
    assert_eq!(
        (names(all), total),
        (vec!["Alpha".into(), "beta".into(), "gamma".into()], 3)
    );
    let page = Page::parse(Some(1), Some(1)).unwrap();
    let (second, total) = ProjectRepository::list(&db.store, tenant, true, page)
        .await
        .unwrap();
    assert_eq!((names(second), total), (vec!["beta".to_owned()], 3));
}

async fn numbers_of_projects_and_environments_come_from_one_sequence(db: TestDb) {
    let tenant = tenant();
    let project = create(&db, tenant, "First").await.unwrap();
    let env = EnvironmentRepository::create(&db.store, tenant, env_id(), named("after"), now())
        .await
        .unwrap();
    let next = create(&db, tenant, "Second").await.unwrap();
    assert!(project.number.get() < env.number.get());
    assert!(env.number.get() < next.number.get());
}

async fn an_environment_belongs_to_a_project_of_its_own_tenant_only_and_filters_by_it(db: TestDb) {
    let tenant = tenant();
    let project = create(&db, tenant, "Platform").await.unwrap();
    let mut inside = named("inside");
    inside.project = Some(project.id);
    let env = EnvironmentRepository::create(&db.store, tenant, env_id(), inside, now())
        .await
        .unwrap();
    assert_eq!(env.project, Some(project.id));
    let read = EnvironmentRepository::get(&db.store, tenant, env.id)
        .await
        .unwrap();
    assert_eq!(read, env);
    EnvironmentRepository::create(&db.store, tenant, env_id(), named("outside"), now())
        .await
        .unwrap();
    let filter = EnvironmentFilter {
        project: Some(project.id),
        ..Default::default()
    };
    let (found, total) = EnvironmentRepository::list(
        &db.store,
        tenant,
        filter,
        Default::default(),
        Page::default(),
    )
    .await
    .unwrap();
    assert_eq!((found, total), (vec![env], 1));

    // A project of another tenant is no project at all.
    let foreign = create(&db, self::tenant(), "Foreign").await.unwrap();
    let mut stray = named("stray");
    stray.project = Some(foreign.id);
    let refused = EnvironmentRepository::create(&db.store, tenant, env_id(), stray, now()).await;
    assert!(
        matches!(&refused, Err(StoreError::MissingReference(f)) if f == "projectId"),
        "{refused:?}"
    );
}
