//! `terrane`: the composition root. Reads configuration, wires the adapters to the use cases,
//! and serves, migrates, mints tokens or prints the OpenAPI document.

mod audit_chainer;
mod config;
mod event_jobs;
mod health_scheduler;
mod jobs;
mod lifecycle_jobs;
mod process;
mod provisioner;
mod purge;
mod seed;
mod sweep;
mod webhook_jobs;
mod workflows;

use actix_web::{web, HttpServer};
use anyhow::Context;
use clap::Parser;
use config::{Cli, Command, DbArgs, ServeArgs, TokenArgs};
use rand::Rng;
use std::sync::Arc;
use terrane_app::Agents;
use terrane_app::Audit;
use terrane_app::Drift;
use terrane_app::Events;
use terrane_app::HealthChecks;
use terrane_app::Projects;
use terrane_app::ServiceAccounts;
use terrane_app::Views;
use terrane_app::{Components, Deployments, Environments, FreezeWindows, Releases};
use terrane_app::{DeliverySettings, WebhookDeliveries, Webhooks};
use terrane_app::{EnvironmentRequests, RequestJobs, RequestPorts, RequestSettings};
use terrane_app::{Lifecycle, LifecyclePorts, RunnerSettings, Templates, WorkflowRunner};
use terrane_app::{TargetGroups, Targets};
use terrane_domain::AddressPolicy;
use terrane_domain::{Actor, TenantId, UserId};
use terrane_http::login_throttle::LoginThrottle;
use terrane_http::{AppState, Metrics, TokenKeys};
use terrane_ports::{Clock, DeploymentRepository, SettingsRepository, SystemClock, UuidV7Source};
use terrane_probe::HttpProber;
use terrane_store::{RecentDeployments, Store};

/// Where the generated signing secret is kept when `TERRANE_JWT_SECRET` is unset.
const SECRET_SETTING: &str = "jwt_secret";

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    config::init_logging(cli.log_format);
    let result = actix_web::rt::System::new().block_on(run(cli.command));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            eprintln!("terrane: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(db) => {
            let store = open(&db).await?;
            tracing::info!(backend = %store.backend(), "migrations applied");
            Ok(())
        }
        Command::Token(args) => token(args).await,
        Command::Seed(args) => seed::seed(args).await,
        Command::Openapi => {
            let document = terrane_http::openapi()
                .to_pretty_json()
                .context("rendering the OpenAPI document")?;
            println!("{document}");
            Ok(())
        }
    }
}

/// Connects and applies pending migrations.
async fn open(db: &DbArgs) -> anyhow::Result<Store> {
    let store = Store::connect(&db.database_url, db.pool_size())
        .with_context(|| format!("connecting to {}", config::redact(&db.database_url)))?
        .with_queue_timeout(db.db_queue_timeout);
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

/// The signing keys: `TERRANE_JWT_SECRET` when set, otherwise a random secret generated once
/// and kept in the database, so `serve`, `token` and every replica agree without setup.
async fn signing_keys(store: &Store, configured: Option<&str>) -> anyhow::Result<TokenKeys> {
    let secret = match configured {
        Some(secret) => secret.to_owned(),
        None => {
            let candidate: String = rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(64)
                .map(char::from)
                .collect();
            store
                .get_or_insert(SECRET_SETTING.to_owned(), candidate)
                .await
                .context("reading the signing secret")?
        }
    };
    Ok(TokenKeys::new(secret.as_bytes())?)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Refuse a bad secret before touching the database, so the message is the first thing seen.
    if let Some(secret) = &args.jwt_secret {
        TokenKeys::new(secret.as_bytes())?;
    }
    let store = open(&args.db).await?;
    let keys = web::Data::new(signing_keys(&store, args.jwt_secret.as_deref()).await?);
    let store = Arc::new(store);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let ledger: Arc<dyn DeploymentRepository> = if args.recent_copies {
        Arc::new(RecentDeployments::new(store.clone()))
    } else {
        store.clone()
    };
    let deployments = Arc::new(Deployments::new(
        ledger.clone(),
        clock.clone(),
        Arc::new(UuidV7Source),
    ));
    let addresses = AddressPolicy::new(
        args.health.probe_allow.0.clone(),
        args.health.probe_deny.0.clone(),
    );
    let probe_timeout = std::time::Duration::from_millis(args.health.probe_timeout_ms);
    let prober = HttpProber::new(addresses.clone()).with_timeouts(
        probe_timeout.min(terrane_probe::DEFAULT_CONNECT_TIMEOUT),
        probe_timeout,
    );
    let health_checks = Arc::new(HealthChecks::new(
        store.clone(),
        store.clone(),
        Arc::new(prober),
        clock.clone(),
        Arc::new(UuidV7Source),
    ));
    let request_ports = request_ports(&args.requests, &store, &clock)?;
    let request_settings = RequestSettings {
        ttl: terrane_domain::TtlPolicy::new(
            args.requests.default_ttl_hours,
            args.requests.max_ttl_hours,
        )
        .map_err(anyhow::Error::msg)?,
        require_separation_of_duties: args.requests.requests_require_sod,
    };
    let webhooks = Arc::new(Webhooks::new(
        store.clone(),
        addresses.clone(),
        clock.clone(),
        Arc::new(UuidV7Source),
    ));
    let webhook_deliveries = Arc::new(webhook_deliveries(
        &args.webhooks,
        &store,
        &clock,
        &addresses,
    ));
    let lifecycle = lifecycle_wiring(&args, &store, &clock, request_settings.ttl)?;
    let agents = Arc::new(Agents::new(
        store.clone(),
        store.clone(),
        clock.clone(),
        Arc::new(UuidV7Source),
        chrono::Duration::seconds(args.health.agent_heartbeat_interval_secs),
    ));
    let audit = Arc::new(Audit::new(store.clone(), store.clone()));
    let state = AppState {
        audit: audit.clone(),
        templates: lifecycle.templates,
        lifecycle: lifecycle.service,
        drift: Arc::new(Drift::new(
            store.clone(),
            store.clone(),
            store.clone(),
            store.clone(),
        )),
        agents,
        service_accounts: Arc::new(ServiceAccounts::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        login_throttle: Arc::new(LoginThrottle::with_free_failures(args.login_free_failures)),
        requests: Arc::new(EnvironmentRequests::new(
            request_ports.ports.clone(),
            request_settings,
        )),
        health_checks: health_checks.clone(),
        target_groups: Arc::new(TargetGroups::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        targets: Arc::new(
            Targets::new(store.clone(), clock.clone(), Arc::new(UuidV7Source))
                .with_address_policy(addresses),
        ),
        environments: Arc::new(Environments::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        projects: Arc::new(Projects::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        components: Arc::new(Components::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        freeze_windows: Arc::new(FreezeWindows::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        deployments: deployments.clone(),
        releases: Arc::new(Releases::new(
            store.clone(),
            ledger.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        views: Arc::new(Views::new(store.clone(), clock.clone())),
        webhooks,
        idempotency: store.clone(),
        health: store.clone(),
        clock: clock.clone(),
        events: Arc::new(Events::new(store.clone())),
        event_stream: terrane_http::events::EventStreamSettings {
            poll: std::time::Duration::from_millis(args.events.event_stream_poll_ms),
            keep_alive: std::time::Duration::from_secs(args.events.event_stream_keepalive_secs),
        },
    };
    let metrics = web::Data::new(Metrics::default());
    let backend = store.backend();
    let mut server =
        HttpServer::new(move || terrane_http::app(state.clone(), keys.clone(), metrics.clone()))
            .shutdown_timeout(30)
            .bind(&args.listen)
            .with_context(|| format!("listening on {}", args.listen))?;
    if let Some(workers) = args.workers {
        server = server.workers(workers);
    }
    for addr in server.addrs() {
        tracing::info!(%backend, "listening on http://{addr}");
    }
    let sweeper = actix_web::rt::spawn(sweep::run(
        deployments,
        std::time::Duration::from_secs(args.sweep_interval_secs),
    ));
    let purger = actix_web::rt::spawn(purge::run(
        store.clone(),
        clock.clone(),
        std::time::Duration::from_secs(args.idempotency_purge_interval_secs),
    ));
    let chainer = actix_web::rt::spawn(audit_chainer::run(
        audit,
        std::time::Duration::from_millis(args.audit_chain_interval_ms),
    ));
    let event_retention = actix_web::rt::spawn(event_jobs::retention(
        store.clone(),
        clock.clone(),
        args.events.event_retention,
        std::time::Duration::from_secs(args.events.event_purge_interval_secs),
    ));
    let window_edges = actix_web::rt::spawn(event_jobs::freeze_window_edges(
        store.clone(),
        clock.clone(),
        std::time::Duration::from_secs(args.events.freeze_window_events_interval_secs),
    ));
    let scheduler = (args.health.health_scheduler_interval_secs > 0).then(|| {
        actix_web::rt::spawn(health_scheduler::run(
            health_checks,
            std::time::Duration::from_secs(args.health.health_scheduler_interval_secs),
        ))
    });
    let job_settings = jobs::JobSettings {
        interval: std::time::Duration::from_secs(args.requests.reaper_interval_secs),
        batch_size: args.requests.reaper_batch_size,
    };
    let request_jobs = Arc::new(RequestJobs::new(request_ports.ports));
    let provisioning = actix_web::rt::spawn(jobs::provisioning_worker(
        request_jobs.clone(),
        request_ports.queue,
        job_settings,
    ));
    let reaper = actix_web::rt::spawn(jobs::reaper(request_jobs, job_settings));
    let runner = actix_web::rt::spawn(lifecycle_jobs::runner(
        lifecycle.runner.clone(),
        lifecycle.queue,
        std::time::Duration::from_millis(args.workflows.workflow_poll_ms),
        args.workflows.workflow_concurrency,
    ));
    let expiry = actix_web::rt::spawn(lifecycle_jobs::expiry(
        lifecycle.runner,
        job_settings.interval,
        job_settings.batch_size,
    ));
    let deliverer = actix_web::rt::spawn(webhook_jobs::delivery_worker(
        webhook_deliveries,
        std::time::Duration::from_millis(args.webhooks.webhook_poll_ms),
        args.webhooks.webhook_concurrency,
    ));
    // actix drains in-flight requests on SIGTERM and Ctrl-C, then `run` returns.
    let served = server.run().await.context("serving");
    provisioning.abort();
    deliverer.abort();
    reaper.abort();
    runner.abort();
    expiry.abort();
    if let Some(scheduler) = scheduler {
        scheduler.abort();
    }
    sweeper.abort();
    purger.abort();
    chainer.abort();
    event_retention.abort();
    window_edges.abort();
    served?;
    tracing::info!("stopped");
    Ok(())
}

/// The webhook delivery worker's use cases: the store's queue, and HTTP to the addresses the
/// probes' policy allows.
fn webhook_deliveries(
    args: &config::WebhookArgs,
    store: &Arc<Store>,
    clock: &Arc<dyn Clock>,
    addresses: &AddressPolicy,
) -> WebhookDeliveries {
    let duration = |d: std::time::Duration| {
        chrono::Duration::from_std(d).unwrap_or(chrono::Duration::hours(24))
    };
    let settings = DeliverySettings {
        retry: terrane_domain::RetryPolicy {
            retry_for: duration(args.webhook_retry_for),
            first_delay: duration(args.webhook_backoff),
            max_delay: duration(args.webhook_backoff_max),
        },
        timeout: args.webhook_timeout,
    };
    WebhookDeliveries::new(
        store.clone(),
        store.clone(),
        Arc::new(terrane_probe::HttpWebhookSender::new(
            addresses.clone(),
            args.webhook_timeout,
        )),
        clock.clone(),
        Arc::new(UuidV7Source),
        settings,
    )
}

/// The ports of environment requests, with the queue that wakes this replica's
/// provisioning worker.
struct LifecycleWiring {
    templates: Arc<dyn terrane_ports::TemplateService>,
    service: Arc<dyn terrane_ports::LifecycleService>,
    runner: Arc<WorkflowRunner>,
    queue: Arc<jobs::WorkerQueue>,
}

fn lifecycle_wiring(
    args: &ServeArgs,
    store: &Arc<Store>,
    clock: &Arc<dyn Clock>,
    ttl: terrane_domain::TtlPolicy,
) -> anyhow::Result<LifecycleWiring> {
    let dir = args
        .workflows
        .workflow_dir
        .clone()
        .filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = &dir {
        anyhow::ensure!(
            dir.is_dir(),
            "the workflow directory {} does not exist or is not a directory",
            dir.display()
        );
    }
    let executor = Arc::new(workflows::DirectoryExecutor::new(dir));
    let queue = Arc::new(jobs::WorkerQueue::default());
    let ports = LifecyclePorts {
        environments: store.clone(),
        templates: store.clone(),
        lifecycle: store.clone(),
        queue: queue.clone(),
        clock: clock.clone(),
        ids: Arc::new(UuidV7Source),
    };
    let lease = std::time::Duration::from_secs(args.workflows.workflow_lease_secs);
    let settings = RunnerSettings {
        owner: uuid::Uuid::now_v7(),
        lease,
        // Renewed at least three times per lease, so one slow renewal does not lose it.
        poll: std::time::Duration::from_millis(args.workflows.workflow_poll_ms).min(lease / 3),
    };
    Ok(LifecycleWiring {
        templates: Arc::new(Templates::new(
            store.clone(),
            executor.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        service: Arc::new(Lifecycle::new(ports.clone(), ttl)),
        runner: Arc::new(WorkflowRunner::new(ports, executor, settings)),
        queue,
    })
}

struct RequestWiring {
    ports: RequestPorts,
    queue: Arc<jobs::WorkerQueue>,
}

/// Wires the request use cases: the command provisioner when a command is configured, the
/// built-in one otherwise.
fn request_ports(
    args: &config::RequestArgs,
    store: &Arc<Store>,
    clock: &Arc<dyn Clock>,
) -> anyhow::Result<RequestWiring> {
    let configured =
        |path: &Option<std::path::PathBuf>| path.clone().filter(|p| !p.as_os_str().is_empty());
    let (provision, deprovision) = (
        configured(&args.provision_command),
        configured(&args.deprovision_command),
    );
    let provisioner: Arc<dyn terrane_ports::Provisioner> =
        if provision.is_none() && deprovision.is_none() {
            Arc::new(terrane_app::BuiltinProvisioner)
        } else {
            for path in provision.iter().chain(deprovision.iter()) {
                anyhow::ensure!(
                    path.is_file(),
                    "the provisioning command {} does not exist or is not a file",
                    path.display()
                );
            }
            Arc::new(provisioner::CommandProvisioner::new(
                provision,
                deprovision,
                args.provision_timeout,
            ))
        };
    let queue = Arc::new(jobs::WorkerQueue::default());
    Ok(RequestWiring {
        ports: RequestPorts {
            requests: store.clone(),
            environments: store.clone(),
            components: store.clone(),
            provisioner,
            queue: queue.clone(),
            clock: clock.clone(),
            ids: Arc::new(UuidV7Source),
        },
        queue,
    })
}

async fn token(args: TokenArgs) -> anyhow::Result<()> {
    let store = open(&args.db).await?;
    let keys = signing_keys(&store, args.jwt_secret.as_deref()).await?;
    let actor = Actor {
        user: UserId(args.subject),
        tenant: TenantId(args.tenant),
        roles: args.role,
    };
    let now = SystemClock.now();
    let token = keys
        .issue(&actor, now, now + args.expires_in)
        .map_err(anyhow::Error::msg)?;
    println!("{token}");
    Ok(())
}
