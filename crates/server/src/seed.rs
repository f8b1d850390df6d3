//! `terrane seed`: loads a synthetic inventory and ledger for benchmarks, and prints what it
//! created (as one JSON object on stdout) and how long it took.

use crate::config::SeedArgs;
use anyhow::Context;
use std::time::Instant;
use terrane_domain::TenantId;
use terrane_ports::{Clock, SystemClock};
use terrane_store::seed::SeedPlan;

pub async fn seed(args: SeedArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let store = crate::open(&args.db).await?;
    let plan = SeedPlan {
        tenant: TenantId(args.tenant),
        components: args.components as usize,
        environments: args.environments as usize,
        deployments: args.deployments as usize,
        now: SystemClock.now(),
        span: chrono::Duration::days(i64::from(args.days)),
    };
    tracing::info!(
        backend = %store.backend(),
        components = plan.components,
        environments = plan.environments,
        deployments = plan.deployments,
        "seeding"
    );
    let report = store.seed(plan).await.context("seeding")?;
    let total = started.elapsed().as_secs_f64();
    let rate = if report.insert_seconds > 0.0 {
        report.deployments as f64 / report.insert_seconds
    } else {
        0.0
    };
    tracing::info!(
        deployments = report.deployments,
        latest = report.latest,
        insert_seconds = format!("{:.1}", report.insert_seconds),
        analyze_seconds = format!("{:.1}", report.analyze_seconds),
        deployments_per_second = format!("{rate:.0}"),
        "seeded"
    );
    let summary = serde_json::json!({
        "backend": store.backend().to_string(),
        "tenant": args.tenant,
        "components": report.components,
        "environments": report.environments,
        "deployments": report.deployments,
        "latestDeployments": report.latest,
        "insertSeconds": report.insert_seconds,
        "analyzeSeconds": report.analyze_seconds,
        "totalSeconds": total,
        "deploymentsPerSecond": rate,
    });
    println!("{summary}");
    Ok(())
}
