//! terrane's HTTP adapter: actix-web routes, bearer auth, problem+json errors, the generated
//! OpenAPI document, Swagger UI and the dashboard's embedded page.
//!
//! Handlers turn requests into domain input, call the driving ports of `terrane-ports`, and
//! turn the answers (or [`problem::Problem`]s) into responses. No storage type appears here.

mod agents;
mod audit;
pub mod auth;
mod components;
mod dashboard;
mod deployments;
pub mod document;
mod drift;
mod environments;
pub mod events;
pub mod extract;
pub mod flexdeploy;
mod freeze_windows;
pub mod genesis;
mod headers;
mod health;
mod idempotency;
mod insights;
mod lifecycle;
pub use idempotency::RETENTION_HOURS as IDEMPOTENCY_RETENTION_HOURS;
mod environment_requests;
pub mod login_throttle;
pub mod observe;
mod ops;
mod paging;
pub mod problem;
mod projects;
mod releases;
mod schema;
mod service_accounts;
mod target_groups;
mod targets;
mod templates;
mod time;
mod views;
mod webhooks;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{web, App};
use std::sync::Arc;
use terrane_ports::AgentService;
use terrane_ports::DriftService;
use terrane_ports::EnvironmentRequestService;
use terrane_ports::HealthService;
use terrane_ports::ServiceAccountService;
use terrane_ports::{
    Clock, ComponentService, EnvironmentService, FreezeWindowService, IdempotencyRepository,
    StoreHealth,
};
use terrane_ports::{DeploymentService, ReleaseService};
use terrane_ports::{DeploymentViewService, TargetGroupService, TargetService};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{TokenKeys, MIN_SECRET_LEN};
pub use observe::Metrics;

/// What the handlers need: the driving ports and a few driven ones used at the edge.
#[derive(Clone)]
pub struct AppState {
    /// Environment use cases.
    pub environments: Arc<dyn EnvironmentService>,
    /// Component catalog use cases.
    pub components: Arc<dyn ComponentService>,
    /// Freeze window use cases.
    pub freeze_windows: Arc<dyn FreezeWindowService>,
    /// Target group use cases.
    pub target_groups: Arc<dyn TargetGroupService>,
    /// Target use cases.
    pub targets: Arc<dyn TargetService>,
    /// Health checks of targets.
    pub health_checks: Arc<dyn HealthService>,
    /// Agents and the inventories they report.
    pub agents: Arc<dyn AgentService>,
    /// Service accounts, and checking their secrets.
    pub service_accounts: Arc<dyn ServiceAccountService>,
    /// Failed logins per client, shared by every worker (see [`login_throttle`]).
    pub login_throttle: Arc<login_throttle::LoginThrottle>,
    /// Drift: the ledger against the inventories.
    pub drift: Arc<dyn DriftService>,
    /// The deployment ledger use cases.
    pub deployments: Arc<dyn DeploymentService>,
    /// Release use cases.
    pub releases: Arc<dyn ReleaseService>,
    /// What is deployed where: matrix, latest, current releases, stickers.
    pub views: Arc<dyn DeploymentViewService>,
    /// Environment request use cases.
    pub requests: Arc<dyn EnvironmentRequestService>,
    /// Environment templates.
    pub templates: Arc<dyn terrane_ports::TemplateService>,
    /// Environments' workflows, runs, actions and lifecycle history.
    pub lifecycle: Arc<dyn terrane_ports::LifecycleService>,
    /// Projects: groups of environments.
    pub projects: Arc<dyn terrane_ports::ProjectService>,
    /// Webhooks and their deliveries.
    pub webhooks: Arc<dyn terrane_ports::WebhookService>,
    /// The audit log and its verification.
    pub audit: Arc<dyn terrane_ports::AuditService>,
    /// First answers to `Idempotency-Key`s.
    pub idempotency: Arc<dyn IdempotencyRepository>,
    /// Readiness of storage.
    pub health: Arc<dyn StoreHealth>,
    /// The time, for idempotency retention.
    pub clock: Arc<dyn Clock>,
    /// The event log.
    pub events: Arc<dyn terrane_ports::EventService>,
    /// How the event stream polls and keeps connections open.
    pub event_stream: events::EventStreamSettings,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "terrane",
        description = "Environments, what is deployed into them, and the rules that guard production.\n\nEvery `/api/v1` route needs `Authorization: Bearer <token>`: a JWT (mint one with `terrane token`) or a service account's secret (`trn_sa_...`). The FlexDeploy dialect under `/flexdeploy/rest/v2` and the Genesis dialect under `/rest` also take `Authorization: Basic base64(login:secret)` with a service account's login and secret. Errors are `application/problem+json` (RFC 9457).",
        license(name = "Apache-2.0")
    ),
    modifiers(&BearerAuth),
    components(schemas(problem::ProblemDocument, problem::ProblemField)),
    tags(
        (name = "environments", description = "Where things are deployed"),
        (name = "freeze-windows", description = "Periods in which an environment takes no deployments, except from the users a window names"),
        (name = "catalog", description = "The component catalog: the things that are deployed"),
        (name = "target-groups", description = "Logical groups of targets (an application tier, a cluster), assigned to environments"),
        (name = "targets", description = "The places things run: Docker and Compose hosts, ECS services, Nomad jobs"),
        (name = "deployments", description = "The deployment ledger and what it says is deployed where"),
        (name = "releases", description = "Named sets of component versions, deployed together"),
        (name = "health", description = "Health checks of targets: on demand, on schedule, and their history"),
        (name = "environment-requests", description = "Self-service environments: requested, reviewed by an admin, provisioned, and expired when their time to live has passed"),
        (name = "templates", description = "Environment templates: variables and workflows whose steps run executables of the server's workflow directory"),
        (name = "agents", description = "Agents beside targets: registration, heartbeats (the health of ECS services) and inventories"),
        (name = "service-accounts", description = "Machines acting in the organization with their roles: a login and a secret shown once, stored only as a hash, revoked or rotated at once"),
        (name = "webhooks", description = "URLs that receive the organization's events as POSTs signed with HMAC-SHA256, retried with exponential backoff for up to 24 hours, delivered in order; their deliveries, and redelivery"),
        (name = "projects", description = "Named groups of environments (Genesis's projects), with a server-wide number"),
        (name = "genesis", description = "Genesis (OpenGenesis REST: projects, environments, actions, workflows, history and time to live) on the wire as Genesis's documents show it, with numeric ids; HTTP Basic with a service account's login and secret, or any bearer token /api/v1 takes"),
        (name = "flexdeploy", description = "FlexDeploy REST v2 (environments and target groups) on the wire as FlexDeploy's documents show it, with numeric ids; HTTP Basic with a service account's login and secret, or any bearer token /api/v1 takes"),
        (name = "audit", description = "The tamper-evident audit log: every event of the organization, chained by SHA-256 hash, and its verification"),
        (name = "events", description = "The event log: every change of state, in order, by cursor or as Server-Sent Events"),
        (name = "ops", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A token from `terrane token` (claims sub, tenant, roles, exp, iat), or a service account's secret (`trn_sa_...`)",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "A service account's login and secret (FlexDeploy dialect only)",
                    ))
                    .build(),
            ),
        );
    }
}

fn api(config: &mut ServiceConfig) {
    config
        .service(
            utoipa_actix_web::scope("/api/v1")
                // Before any `/deployments/{id}`, which would take `matrix` for an id.
                .service(views::deployment_matrix)
                .service(views::latest_deployments)
                .service(insights::dora)
                .service(insights::environment_diff)
                .service(deployments::create_deployment)
                .service(deployments::list_deployments)
                .service(deployments::get_deployment)
                .service(deployments::patch_deployment)
                .service(deployments::deployment_history)
                .service(deployments::approve_deployment)
                .service(deployments::list_deployment_approvals)
                .service(deployments::deployment_gates)
                .service(releases::create_release)
                .service(releases::list_releases)
                .service(releases::get_release)
                .service(releases::deploy_release)
                .service(environments::create_environment)
                .service(environments::list_environments)
                .service(environments::get_environment)
                .service(environments::put_environment)
                .service(environments::patch_environment)
                .service(environments::delete_environment)
                .service(lifecycle::list_runs)
                .service(lifecycle::get_run)
                .service(lifecycle::list_workflows)
                .service(lifecycle::start_workflow)
                .service(lifecycle::list_actions)
                .service(lifecycle::take_action)
                .service(lifecycle::environment_history)
                .service(templates::create_template)
                .service(templates::list_templates)
                .service(templates::get_template)
                .service(templates::put_template)
                .service(templates::delete_template)
                .service(freeze_windows::create_freeze_window)
                .service(freeze_windows::list_freeze_windows)
                .service(freeze_windows::get_freeze_window)
                .service(freeze_windows::delete_freeze_window)
                .service(components::create_component)
                .service(components::list_components)
                .service(components::get_component)
                .service(components::patch_component)
                .service(components::delete_component)
                .service(target_groups::create_target_group)
                .service(target_groups::list_environment_target_groups)
                .service(target_groups::list_target_groups)
                .service(target_groups::get_target_group)
                .service(target_groups::put_target_group)
                .service(target_groups::delete_target_group)
                .service(targets::create_target)
                .service(targets::list_targets)
                .service(targets::get_target)
                .service(targets::put_target)
                .service(targets::patch_target)
                .service(targets::delete_target)
                .service(targets::get_target_sticker)
                .service(health::check_target_health)
                .service(health::list_target_health_checks)
                .service(agents::create_agent)
                .service(agents::list_agents)
                .service(agents::get_agent)
                .service(agents::delete_agent)
                .service(agents::agent_heartbeat)
                .service(agents::report_inventory)
                .service(agents::get_inventory)
                .service(service_accounts::create_service_account)
                .service(service_accounts::list_service_accounts)
                .service(service_accounts::get_service_account)
                .service(service_accounts::delete_service_account)
                .service(service_accounts::rotate_service_account)
                .service(drift::get_target_drift)
                .service(drift::get_environment_drift)
                .service(environment_requests::create_request)
                .service(environment_requests::list_requests)
                .service(environment_requests::get_request)
                .service(environment_requests::patch_request)
                .service(environment_requests::delete_request)
                .service(environment_requests::approve_request)
                .service(environment_requests::reject_request)
                .service(environment_requests::expire_request)
                .service(environment_requests::retry_request)
                .service(environment_requests::request_history)
                .service(environment_requests::set_environment_ttl)
                .service(environment_requests::remove_environment_ttl)
                .service(projects::create_project)
                .service(projects::list_projects)
                .service(projects::get_project)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::patch_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::list_deliveries)
                .service(webhooks::redeliver)
                .service(audit::list_audit)
                .service(audit::verify_audit)
                .service(events::list_events)
                .service(events::stream_events),
        )
        .configure(flexdeploy::routes)
        .configure(genesis::routes)
        .service(ops::healthz)
        .service(ops::readyz)
        .service(ops::metrics);
}

/// The OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(api)
        .split_for_parts()
        .1;
    paging::document(&mut doc);
    document::complete(doc)
}

/// The whole application: API routes, docs, ops endpoints, problem pages and the fallback.
pub fn app(
    state: AppState,
    keys: web::Data<TokenKeys>,
    metrics: web::Data<Metrics>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let (app, mut api_doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(api)
        .split_for_parts();
    paging::document(&mut api_doc);
    let api_doc = document::complete(api_doc);
    let routes = web::Data::new(ops::RouteTable::from_openapi(&api_doc));
    app.app_data(web::Data::new(state))
        .app_data(keys)
        .app_data(metrics)
        .app_data(routes)
        .app_data(web::PayloadConfig::new(extract::MAX_BODY_BYTES))
        .service(SwaggerUi::new("/swagger-ui/{_:.*}").url("/api-docs/openapi.json", api_doc))
        .service(ops::swagger_redirect)
        .service(ops::problem_page)
        .service(dashboard::index)
        .service(dashboard::assets)
        .default_service(web::to(ops::fallback))
        .wrap(from_fn(acting))
        .wrap(from_fn(ops::method_guard))
        .wrap(from_fn(headers::conditional_get))
        .wrap(from_fn(headers::security_headers))
        .wrap(from_fn(observe::observe))
}

/// Handles a request inside a scope that its authentication fills with the actor (see
/// [`terrane_ports::acting_once_known`]): the events its writes record name who made them.
async fn acting(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    terrane_ports::acting_once_known(next.call(req)).await
}
