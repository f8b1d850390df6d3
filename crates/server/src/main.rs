//! `terrane`: the composition root. Reads configuration, wires the adapters to the use cases,
//! and serves, migrates, mints tokens or prints the OpenAPI document.

mod config;

use actix_web::{web, HttpServer};
use anyhow::Context;
use clap::Parser;
use config::{Cli, Command, DbArgs, ServeArgs, TokenArgs};
use rand::Rng;
use std::sync::Arc;
use terrane_app::{Components, Environments, FreezeWindows};
use terrane_app::{TargetGroups, Targets};
use terrane_domain::{Actor, TenantId, UserId};
use terrane_http::{AppState, Metrics, TokenKeys};
use terrane_ports::{Clock, SettingsRepository, SystemClock, UuidV7Source};
use terrane_store::Store;

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
        Command::Serve(args) => serve(args).await,
        Command::Migrate(db) => {
            let store = open(&db).await?;
            tracing::info!(backend = %store.backend(), "migrations applied");
            Ok(())
        }
        Command::Token(args) => token(args).await,
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
        .with_context(|| format!("connecting to {}", config::redact(&db.database_url)))?;
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
    let state = AppState {
        target_groups: Arc::new(TargetGroups::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        targets: Arc::new(Targets::new(
            store.clone(),
            clock.clone(),
            Arc::new(UuidV7Source),
        )),
        environments: Arc::new(Environments::new(
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
        idempotency: store.clone(),
        health: store.clone(),
        clock,
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
    // actix drains in-flight requests on SIGTERM and Ctrl-C, then `run` returns.
    server.run().await.context("serving")?;
    tracing::info!("stopped");
    Ok(())
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
