//! `/api/v1/environments`: the HTTP face of the environment use cases.

use crate::auth::Authenticated;
use crate::extract::{etag, if_match, not_modified, path_id, with_location, JsonBody, Query};
use crate::freeze_windows::FreezeWindowResponse;
use crate::idempotency::idempotent;
use crate::problem::Problem;
use crate::schema::string_enum;
use crate::target_groups::{AssignmentResponse, TargetGroupRef};
use crate::AppState;
use actix_web::http::header;
use actix_web::{delete, get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use terrane_domain::{
    Actor, Environment, EnvironmentFilter, EnvironmentId, EnvironmentInput, EnvironmentNumber,
    EnvironmentSort, EnvironmentStatus, FieldError, Page, ProjectId, PromotionPolicy,
};
use terrane_domain::{AssignmentInput, AssignmentMode};
use terrane_ports::{EnvironmentQuery, EnvironmentView};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

fn promotion_policy_schema() -> utoipa::openapi::Object {
    string_enum(PromotionPolicy::ALL.iter().map(|p| p.as_str()), "default")
}

fn status_schema() -> utoipa::openapi::Object {
    string_enum(EnvironmentStatus::ALL.iter().map(|s| s.as_str()), "ready")
}

/// Distinguishes an explicit `null` (`Some(None)`) from an absent field (`None`).
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Timing settings, in seconds.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigBody {
    /// How long a deployment may stay in progress (1 to 604800 s, default 600).
    #[schema(example = 600)]
    pub deployment_timeout: Option<i64>,
    /// How often targets are probed (1 to 604800 s, default 30).
    #[schema(example = 30)]
    pub health_check_interval: Option<i64>,
}

/// An environment as a client writes it. On create, absent fields take defaults. On `PUT`,
/// absent fields stay and `null` clears `description` (other fields cannot be null). On
/// `PATCH`, absent and `null` fields both stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "name": "production",
    "displayName": "Production",
    "orderIndex": 3,
    "config": {"deploymentTimeout": 600, "healthCheckInterval": 30},
    "requiredApprovals": 2,
    "requireSod": true,
    "promotionPolicy": "default"
}))]
pub struct EnvironmentBody {
    /// 1 to 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit;
    /// its case is kept; unique in the organization ignoring case.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "production", pattern = "^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")]
    pub name: Option<Option<String>>,
    /// What people read; defaults to the name.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, example = "Production")]
    pub display_name: Option<Option<String>>,
    /// Free text.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub description: Option<Option<String>>,
    /// Place in the promotion order; defaults to the highest index plus one.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, example = 3)]
    pub order_index: Option<Option<i64>>,
    /// Inferred from the name when omitted (`prod`, `production`, `live`, ...).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<bool>)]
    pub is_production: Option<Option<bool>>,
    /// Defaults to true.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<bool>)]
    pub is_active: Option<Option<bool>>,
    /// Defaults to false.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<bool>)]
    pub is_build_environment: Option<Option<bool>>,
    /// Timing settings.
    #[serde(default)]
    pub config: Option<ConfigBody>,
    /// Distinct approvals a deployment needs (0 to 10, default 0).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>, example = 2)]
    pub required_approvals: Option<Option<i64>>,
    /// Bars a deployment's author from approving it. Also accepted as `requireSod`.
    #[serde(default, deserialize_with = "nullable", alias = "requireSod")]
    #[schema(value_type = Option<bool>)]
    pub require_separation_of_duties: Option<Option<bool>>,
    /// `default` (no order gate) or `sequential`.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = promotion_policy_schema)]
    pub promotion_policy: Option<Option<String>>,
    /// Lifecycle status, default `ready`; only on create: afterwards runs and actions drive
    /// it (`PUT` and `PATCH` refuse it).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = status_schema)]
    pub status: Option<Option<String>>,
    /// Target groups of your organization to assign. On create and `PATCH` they are added to
    /// the environment's assignments; on `PUT` they become exactly its assignments (the others
    /// are unassigned, which a group with targets in the environment refuses).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<TargetGroupRef>>)]
    pub target_groups: Option<Option<Vec<TargetGroupRef>>>,
    /// On create only: the template the environment is born from. It starts `busy` while
    /// the template's create workflow runs.
    #[serde(default)]
    pub template: Option<crate::lifecycle::TemplateRef>,
    /// On create only: values of the template's variables (strings).
    #[serde(default)]
    pub variables: Option<serde_json::Map<String, serde_json::Value>>,
    /// On create only: minutes until the environment expires (a template's environment then
    /// runs its destroy workflow).
    #[serde(default)]
    #[schema(example = 120)]
    pub ttl_minutes: Option<i64>,
    /// On create only: the project of your organization it belongs to.
    #[serde(default)]
    pub project_id: Option<Uuid>,
}

impl EnvironmentBody {
    /// Takes what only a create reads: how the environment is born.
    fn take_birth(&mut self) -> terrane_ports::BirthInput {
        terrane_ports::BirthInput {
            template: self.template.take().map(|t| (t.name, t.version)),
            variables: self.variables.take(),
            ttl_minutes: self.ttl_minutes.take(),
        }
    }
}

/// How `null` in a body is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nulls {
    /// `null` means "not given" (POST and PATCH).
    Ignore,
    /// `null` clears a nullable field and is refused for the others (PUT).
    Clear,
}

/// A field that may be absent but, under [`Nulls::Clear`], not `null`.
fn required<T>(
    errors: &mut Vec<FieldError>,
    nulls: Nulls,
    value: Option<Option<T>>,
    field: &str,
) -> Option<T> {
    match (value, nulls) {
        (Some(None), Nulls::Clear) => {
            errors.push(FieldError::new(
                field,
                "must not be null; omit it to keep the current value",
            ));
            None
        }
        (value, _) => value.flatten(),
    }
}

impl EnvironmentBody {
    fn into_input(self, nulls: Nulls) -> Result<EnvironmentInput, Problem> {
        let mut errors = Vec::new();
        let config = self.config.unwrap_or_default();
        let input = EnvironmentInput {
            name: required(&mut errors, nulls, self.name, "name"),
            display_name: required(&mut errors, nulls, self.display_name, "displayName"),
            order_index: required(&mut errors, nulls, self.order_index, "orderIndex"),
            is_production: required(&mut errors, nulls, self.is_production, "isProduction"),
            is_active: required(&mut errors, nulls, self.is_active, "isActive"),
            is_build_environment: required(
                &mut errors,
                nulls,
                self.is_build_environment,
                "isBuildEnvironment",
            ),
            required_approvals: required(
                &mut errors,
                nulls,
                self.required_approvals,
                "requiredApprovals",
            ),
            require_separation_of_duties: required(
                &mut errors,
                nulls,
                self.require_separation_of_duties,
                "requireSeparationOfDuties",
            ),
            promotion_policy: required(
                &mut errors,
                nulls,
                self.promotion_policy,
                "promotionPolicy",
            ),
            status: required(&mut errors, nulls, self.status, "status"),
            description: match nulls {
                Nulls::Clear => self.description,
                Nulls::Ignore => self.description.flatten().map(Some),
            },
            deployment_timeout: config.deployment_timeout,
            health_check_interval: config.health_check_interval,
            // PUT replaces the assignments, as FlexDeploy's PUT does; create and PATCH add.
            target_groups: required(&mut errors, nulls, self.target_groups, "targetGroups").map(
                |groups| AssignmentInput {
                    mode: match nulls {
                        Nulls::Clear => AssignmentMode::Replace,
                        Nulls::Ignore => AssignmentMode::Add,
                    },
                    target_groups: groups.into_iter().map(Into::into).collect(),
                },
            ),
            project: self.project_id.map(ProjectId),
        };
        if errors.is_empty() {
            Ok(input)
        } else {
            Err(Problem::validation(&errors))
        }
    }
}

/// Timing settings, in seconds.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigResponse {
    /// Seconds a deployment may stay in progress.
    #[schema(example = 600)]
    pub deployment_timeout: u32,
    /// Seconds between health checks.
    #[schema(example = 30)]
    pub health_check_interval: u32,
}

/// The release an environment currently runs.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentRelease {
    /// Release id.
    pub id: Uuid,
    /// Release name.
    #[schema(example = "myapp-v2.3.1")]
    pub name: String,
    /// When it finished deploying.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub deployed_at: DateTime<Utc>,
}

/// An environment.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({
    "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
    "number": 11101,
    "organizationId": "01936f6e-0000-7000-8000-000000000001",
    "name": "production",
    "displayName": "Production",
    "description": null,
    "orderIndex": 3,
    "isProduction": true,
    "isActive": true,
    "isBuildEnvironment": false,
    "config": {"deploymentTimeout": 600, "healthCheckInterval": 30},
    "requiredApprovals": 2,
    "requireSeparationOfDuties": true,
    "promotionPolicy": "default",
    "status": "ready",
    "requestId": null,
    "projectId": null,
    "expiresAt": null,
    "version": 1,
    "createdAt": "2026-01-10T14:23:45Z",
    "updatedAt": "2026-01-10T14:23:45Z",
    "targetGroups": [{
        "assignmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a71",
        "number": 10001,
        "targetGroupId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a70",
        "name": "web",
        "isActive": true
    }],
    "isFrozen": true,
    "activeFreezeWindows": [{
        "id": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6d",
        "environmentId": "01936f6e-7c1a-7d4e-9a3b-1c2d3e4f5a6b",
        "start": "2026-01-15T00:00:00Z",
        "end": "2026-01-20T00:00:00Z",
        "reason": "Holiday freeze",
        "exceptions": ["01936f6e-0000-7000-8000-0000000000a1"],
        "createdBy": "01936f6e-0000-7000-8000-0000000000b1",
        "createdAt": "2026-01-10T14:23:45Z"
    }]
}))]
pub struct EnvironmentResponse {
    /// Id.
    pub id: Uuid,
    /// Server-wide number, for clients that address environments by number (FlexDeploy's
    /// `environmentId`).
    pub number: i64,
    /// The organization (tenant) it belongs to.
    pub organization_id: Uuid,
    /// Unique name (ignoring case).
    pub name: String,
    /// What people read.
    pub display_name: String,
    /// Free text.
    pub description: Option<String>,
    /// Place in the promotion order.
    pub order_index: i32,
    /// Production flag.
    pub is_production: bool,
    /// Inactive environments accept no deployments.
    pub is_active: bool,
    /// Build environment flag.
    pub is_build_environment: bool,
    /// Timing settings.
    pub config: ConfigResponse,
    /// Distinct approvals a deployment needs.
    pub required_approvals: u8,
    /// Whether authors may not approve their own deployments.
    pub require_separation_of_duties: bool,
    /// Promotion order gate.
    #[schema(schema_with = promotion_policy_schema)]
    pub promotion_policy: &'static str,
    /// Lifecycle status.
    #[schema(schema_with = status_schema)]
    pub status: &'static str,
    /// The self-service request it was born from.
    pub request_id: Option<Uuid>,
    /// The project it belongs to.
    pub project_id: Option<Uuid>,
    /// When it expires by itself.
    #[serde(serialize_with = "crate::time::rfc3339_option")]
    pub expires_at: Option<DateTime<Utc>>,
    /// Bumped by every change; also the ETag.
    pub version: i64,
    /// Creation time.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[serde(serialize_with = "crate::time::rfc3339")]
    pub updated_at: DateTime<Utc>,
    /// The target groups assigned to it, ordered by name.
    pub target_groups: Vec<AssignmentResponse>,
    /// Whether a freeze window is active now: deployments are refused, except from the
    /// users an active window names.
    pub is_frozen: bool,
    /// The freeze windows active now, ordered by start.
    pub active_freeze_windows: Vec<FreezeWindowResponse>,
    /// The template it was born from (absent when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<crate::lifecycle::TemplateOfEnvironment>,
    /// What its workflows' steps reported (`terrane:attribute KEY=VALUE`); absent without a
    /// template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<std::collections::BTreeMap<String, String>>,
    /// The release it runs: that of its latest succeeded deployment that belongs to a
    /// release (null until one succeeds there). Always on one environment; on lists with
    /// `includeState=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<CurrentRelease>)]
    pub current_release: Option<Option<CurrentRelease>>,
}

impl From<Environment> for EnvironmentResponse {
    fn from(env: Environment) -> Self {
        Self {
            id: env.id.as_uuid(),
            number: env.number.get(),
            organization_id: env.tenant.as_uuid(),
            name: env.name.as_str().to_owned(),
            display_name: env.display_name,
            description: env.description,
            order_index: env.order_index,
            is_production: env.is_production,
            is_active: env.is_active,
            is_build_environment: env.is_build_environment,
            config: ConfigResponse {
                deployment_timeout: env.config.deployment_timeout,
                health_check_interval: env.config.health_check_interval,
            },
            required_approvals: env.required_approvals,
            require_separation_of_duties: env.require_separation_of_duties,
            promotion_policy: env.promotion_policy.as_str(),
            status: env.status.as_str(),
            request_id: env.request_id,
            project_id: env.project.map(|p| p.as_uuid()),
            expires_at: env.expires_at,
            version: env.version,
            created_at: env.created_at,
            updated_at: env.updated_at,
            target_groups: Vec::new(),
            current_release: None,
            is_frozen: false,
            active_freeze_windows: Vec::new(),
            template: None,
            attributes: None,
        }
    }
}

/// Filters, sorting and paging of the environment list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // documents the parameters; they are parsed one by one in `list_query`.
pub struct EnvironmentListParams {
    /// Number equals this.
    number: Option<i64>,
    /// Name equals this, ignoring case.
    name: Option<String>,
    /// Display name contains this, ignoring case.
    display_name: Option<String>,
    /// Only active (true) or inactive (false) environments.
    is_active: Option<bool>,
    /// Only build (true) or non-build (false) environments.
    is_build_environment: Option<bool>,
    /// Only production (true) or non-production (false) environments.
    is_production: Option<bool>,
    /// Order index equals this.
    #[param(minimum = -2147483648, maximum = 2147483647)]
    order_index: Option<i64>,
    /// Lifecycle status equals this (`ready`, `busy`, `broken`, `destroyed`).
    #[param(schema_with = status_schema)]
    status: Option<String>,
    /// Belongs to this project.
    project_id: Option<Uuid>,
    /// `name`, `orderIndex` or `createdAt`; prefix with `~` for descending. Default `orderIndex`.
    #[param(pattern = "^~?(name|orderIndex|createdAt)$")]
    sort: Option<String>,
    /// Rows to skip (default 0).
    skip: Option<i64>,
    /// Rows to return (default 20, at most 100).
    take: Option<i64>,
    /// Adds `currentRelease` to each environment.
    include_state: Option<bool>,
}

fn list_query(req: &HttpRequest) -> Result<(EnvironmentQuery, bool), Problem> {
    let mut q = Query::of(req)?;
    let filter = EnvironmentFilter {
        number: q.integer("number").map(EnvironmentNumber),
        name: q.text("name"),
        display_name: q.text("displayName"),
        is_active: q.boolean("isActive"),
        is_build_environment: q.boolean("isBuildEnvironment"),
        is_production: q.boolean("isProduction"),
        order_index: q.parsed("orderIndex", |v| {
            v.parse::<i32>()
                .map_err(|_| format!("must be a whole number, not `{v}`"))
        }),
        status: q.parsed("status", |v| v.parse()),
        project: q.parsed("projectId", |v| {
            Uuid::parse_str(v)
                .map(ProjectId)
                .map_err(|_| format!("must be a UUID, not `{v}`"))
        }),
        statuses: Vec::new(),
    };
    let sort = q
        .parsed("sort", |v| EnvironmentSort::parse(v).map_err(|e| e.message))
        .unwrap_or_default();
    let (skip, take) = (q.integer("skip"), q.integer("take"));
    let include_state = q.boolean("includeState").unwrap_or(false);
    let page = Page::parse(skip, take).unwrap_or_else(|errors| {
        errors.into_iter().for_each(|e| q.error(e));
        Page::default()
    });
    q.finish()?;
    Ok((EnvironmentQuery { filter, sort, page }, include_state))
}

impl EnvironmentResponse {
    /// The representation of `view`, with `currentRelease` when `include_state`.
    fn of(view: EnvironmentView, include_state: bool) -> Self {
        let mut response = EnvironmentResponse::from(view.environment);
        if let Some(lifecycle) = view.lifecycle {
            response.attributes = Some(lifecycle.attributes.clone());
            response.template = Some(lifecycle.into());
        }
        response.target_groups = view.assignments.into_iter().map(Into::into).collect();
        response.is_frozen = !view.freeze_windows.is_empty();
        response.active_freeze_windows = view
            .freeze_windows
            .into_iter()
            .map(FreezeWindowResponse::from)
            .collect();
        if include_state {
            response.current_release = Some(view.current_release.map(|release| CurrentRelease {
                id: release.id,
                name: release.name,
                deployed_at: release.deployed_at,
            }));
        }
        response
    }
}

/// One environment's response with its ETag, read as it is now (after a write, with what the
/// write changed), with its current release.
pub(crate) async fn one(
    state: &AppState,
    actor: &Actor,
    status: actix_web::http::StatusCode,
    id: EnvironmentId,
) -> Result<HttpResponse, Problem> {
    let view = state.environments.view(actor, id).await?;
    Ok(shown(status, view))
}

/// `view` as a response with `status` and its ETag.
fn shown(status: actix_web::http::StatusCode, view: EnvironmentView) -> HttpResponse {
    let version = view.environment.version;
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(version)))
        .json(EnvironmentResponse::of(view, true))
}

fn location(env: &Environment) -> String {
    format!("/api/v1/environments/{}", env.id)
}

/// Create an environment.
#[utoipa::path(
    tag = "environments",
    request_body = EnvironmentCreateBodyDoc,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retries with the same key and body get the first answer for 24 hours")),
    responses(
        (status = 201, description = "Created", body = EnvironmentResponse,
         headers(("Location" = String, description = "The new environment's URL"), ("ETag" = String, description = "Its version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/environments")]
pub async fn create_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<EnvironmentBody>,
) -> Result<HttpResponse, Problem> {
    let mut value = body.value;
    let birth = value.take_birth();
    let input = value.into_input(Nulls::Ignore)?;
    idempotent(&req, &state, &actor, &body.raw, || async {
        let created = actix_web::http::StatusCode::CREATED;
        if birth == terrane_ports::BirthInput::default() {
            let view = state.environments.create(&actor, input).await?;
            let url = location(&view.environment);
            return with_location(shown(created, view), &url);
        }
        let env = state
            .lifecycle
            .create_environment(&actor, input, birth)
            .await?;
        with_location(one(&state, &actor, created, env.id).await?, &location(&env))
    })
    .await
}

/// List environments, ordered by `orderIndex` then `name` unless `sort` says otherwise.
#[utoipa::path(
    tag = "environments",
    params(EnvironmentListParams),
    responses(
        (status = 200, description = "The page of environments", body = Vec<EnvironmentResponse>,
         headers(("X-Total-Count" = u64, description = "Environments matching the filters, over all pages"))),
        (status = 400, description = "Bad filter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments")]
pub async fn list_environments(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let (query, include_state) = list_query(&req)?;
    let page = query.page;
    let (views, total) = state
        .environments
        .view_page(&actor, query, include_state)
        .await?;
    let body: Vec<EnvironmentResponse> = views
        .into_iter()
        .map(|view| EnvironmentResponse::of(view, include_state))
        .collect();
    Ok(crate::paging::page_of(&req, page, total).json(body))
}

/// Get one environment. `If-None-Match` with its current ETag answers 304.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id")),
    responses(
        (status = 200, description = "The environment", body = EnvironmentResponse, headers(("ETag" = String, description = "Its version"))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 404, description = "No such environment in your organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/environments/{id}")]
pub async fn get_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = EnvironmentId(path_id(&req, "id")?);
    let view = state.environments.view(&actor, id).await?;
    let version = view.environment.version;
    if not_modified(&req, version) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(version)))
            .finish());
    }
    Ok(shown(actix_web::http::StatusCode::OK, view))
}

async fn update(
    req: HttpRequest,
    state: web::Data<AppState>,
    actor: Actor,
    body: EnvironmentBody,
    nulls: Nulls,
) -> Result<HttpResponse, Problem> {
    let id = EnvironmentId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    let mut body = body;
    crate::lifecycle::refuse_birth_fields(body.take_birth())?;
    let input = body.into_input(nulls)?;
    let env = state
        .environments
        .update(&actor, id, expected, input)
        .await?;
    one(&state, &actor, actix_web::http::StatusCode::OK, env.id).await
}

/// Replace fields of an environment: fields present replace, fields absent stay, `null`
/// clears `description`.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = EnvironmentBody,
    responses(
        (status = 200, description = "Updated", body = EnvironmentResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/environments/{id}")]
pub async fn put_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<EnvironmentBody>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, Nulls::Clear).await
}

/// Change some fields of an environment: absent or `null` fields stay as they are.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"),
           ("If-Match" = Option<String>, Header, description = "Only update if this is still the current ETag")),
    request_body = EnvironmentBody,
    responses(
        (status = 200, description = "Updated", body = EnvironmentResponse, headers(("ETag" = String, description = "The new version"))),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Name taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/environments/{id}")]
pub async fn patch_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
    body: JsonBody<EnvironmentBody>,
) -> Result<HttpResponse, Problem> {
    update(req, state, actor, body.value, Nulls::Ignore).await
}

/// The answer to a delete.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deleted {
    /// Always true.
    #[schema(example = true)]
    pub deleted: bool,
}

/// Delete an environment.
#[utoipa::path(
    tag = "environments",
    params(("id" = Uuid, Path, description = "Environment id"),
           ("If-Match" = Option<String>, Header, description = "Only delete if this is still the current ETag")),
    responses(
        (status = 200, description = "Deleted", body = Deleted, example = json!({"deleted": true})),
        (status = 404, description = "No such environment", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/environments/{id}")]
pub async fn delete_environment(
    req: HttpRequest,
    state: web::Data<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<HttpResponse, Problem> {
    let id = EnvironmentId(path_id(&req, "id")?);
    let expected = if_match(&req)?;
    state.environments.delete(&actor, id, expected).await?;
    Ok(HttpResponse::Ok().json(Deleted { deleted: true }))
}

crate::schema::requiring_schema!(
    /// What a create takes (see [`EnvironmentBody`]).
    EnvironmentCreateBodyDoc as "EnvironmentCreateBody" = EnvironmentBody, ["name"]
);
