//! Command line and environment configuration.

use clap::{Args, Parser, Subcommand, ValueEnum};
use terrane_domain::Role;
use uuid::Uuid;

/// terrane: environments, what is deployed into them, and the rules that guard production.
#[derive(Debug, Parser)]
#[command(name = "terrane", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, env = "TERRANE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

/// How logs are written (always to stderr).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations, then serve the API.
    Serve(Box<ServeArgs>),
    /// Apply pending migrations and exit.
    Migrate(DbArgs),
    /// Print a signed bearer token.
    Token(TokenArgs),
    /// Print the OpenAPI document.
    Openapi,
    /// Load a synthetic inventory and ledger into a tenant, for benchmarks.
    Seed(SeedArgs),
}

/// Where the database is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// `sqlite://<file>` (embedded, the default) or `postgres://user@host:port/db`.
    #[arg(
        long,
        env = "TERRANE_DATABASE_URL",
        default_value = "sqlite://terrane.db"
    )]
    pub database_url: String,
    /// Most database connections held at once (default: four times the number of cores).
    #[arg(long, env = "TERRANE_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub db_pool_size: Option<u32>,
    /// Longest a request waits for a free database connection before it is answered 503
    /// with `Retry-After` (`500ms`, `2s` or plain seconds).
    #[arg(long, env = "TERRANE_DB_QUEUE_TIMEOUT", default_value = "2s", value_parser = parse_queue_timeout)]
    pub db_queue_timeout: std::time::Duration,
}

impl DbArgs {
    /// The pool size asked for, or four times the number of cores. A connection also waits:
    /// for its round trips and, on every write, for the commit to reach the disk, so on two
    /// cores 8 connections recorded a fifth more deployments than 4 (889 against 716
    /// create → in_progress → succeeded lives per second on PostgreSQL), with reads as fast
    /// and their p99 no worse. Many more only add database processes competing for the same
    /// cores: 16 served a fifth more reads than 4, with a p99 thirty times worse.
    pub fn pool_size(&self) -> u32 {
        self.db_pool_size.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            u32::try_from(cores * 4).unwrap_or(u32::MAX)
        })
    }
}

/// `terrane serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TERRANE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,
    #[command(flatten)]
    pub db: DbArgs,
    /// HS256 signing secret, at least 32 bytes. Unset: generated once and kept in the database.
    #[arg(long, env = "TERRANE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Failed logins (HTTP Basic on the dialects) a client address may make before it is
    /// locked out for a time that doubles with each further failure.
    #[arg(long, env = "TERRANE_LOGIN_FREE_FAILURES", default_value_t = terrane_http::login_throttle::FREE_FAILURES)]
    pub login_free_failures: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TERRANE_WORKERS")]
    pub workers: Option<usize>,
    /// Keep in this process copies of the deployments it last wrote and the environments it
    /// last read, and decide a deployment's next move on them first (each write still
    /// compares and sets the versions it decided on, so a stale copy only costs a read);
    /// `false` reads every decision from the database.
    #[arg(long, env = "TERRANE_RECENT_COPIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub recent_copies: bool,
    /// Seconds between sweeps for deployments stuck `in_progress` past their environment's
    /// deployment timeout.
    #[arg(long, env = "TERRANE_SWEEP_INTERVAL_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub sweep_interval_secs: u64,
    /// Seconds between purges of the answers kept for `Idempotency-Key` retries that are
    /// past replaying (older than a day).
    #[arg(long, env = "TERRANE_IDEMPOTENCY_PURGE_INTERVAL_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub idempotency_purge_interval_secs: u64,
    /// Milliseconds between rounds of chaining new events into the audit log in the
    /// background (readers of the audit log chain on demand as well).
    #[arg(long, env = "TERRANE_AUDIT_CHAIN_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub audit_chain_interval_ms: u64,
    #[command(flatten)]
    pub events: EventArgs,
    #[command(flatten)]
    pub health: HealthArgs,
    #[command(flatten)]
    pub requests: RequestArgs,
    #[command(flatten)]
    pub workflows: WorkflowArgs,
    #[command(flatten)]
    pub webhooks: WebhookArgs,
}

/// Webhook deliveries: timeouts, retries and the worker.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// Longest one delivery attempt may take (lookup, connection, answer), like `10s` or
    /// `500ms`; no answer within it is a failed attempt.
    #[arg(long, env = "TERRANE_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_queue_timeout)]
    pub webhook_timeout: std::time::Duration,
    /// How long a delivery is retried after its first attempt failed (exponential backoff
    /// with jitter), like `24h` or `30s`; then it is dead.
    #[arg(long, env = "TERRANE_WEBHOOK_RETRY_FOR", default_value = "24h", value_parser = parse_queue_timeout)]
    pub webhook_retry_for: std::time::Duration,
    /// The delay before the first retry, doubled at each further one up to
    /// `--webhook-backoff-max`, like `10s` or `200ms`.
    #[arg(long, env = "TERRANE_WEBHOOK_BACKOFF", default_value = "10s", value_parser = parse_queue_timeout)]
    pub webhook_backoff: std::time::Duration,
    /// The longest delay between two retries.
    #[arg(long, env = "TERRANE_WEBHOOK_BACKOFF_MAX", default_value = "1h", value_parser = parse_queue_timeout)]
    pub webhook_backoff_max: std::time::Duration,
    /// How often this replica looks for due deliveries and new events, in milliseconds.
    #[arg(long, env = "TERRANE_WEBHOOK_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub webhook_poll_ms: u64,
    /// Most deliveries this replica attempts at once (each to another webhook).
    #[arg(long, env = "TERRANE_WEBHOOK_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub webhook_concurrency: u32,
}

/// Environment lifecycle: the workflow directory and the runner.
#[derive(Debug, Args)]
pub struct WorkflowArgs {
    /// Directory whose executables the steps of templates name (by file name only). Unset:
    /// templates with steps are refused.
    #[arg(long, env = "TERRANE_WORKFLOW_DIR")]
    pub workflow_dir: Option<std::path::PathBuf>,
    /// Seconds a replica's lease on a run it executes lasts unless renewed; once it has run
    /// out (the replica stopped), another replica fails the run.
    #[arg(long, env = "TERRANE_WORKFLOW_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub workflow_lease_secs: u64,
    /// Milliseconds between a replica's looks for runs to execute, and between the renewals
    /// of the lease of a step it runs (when it also sees a cancel).
    #[arg(long, env = "TERRANE_WORKFLOW_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(50..=60_000))]
    pub workflow_poll_ms: u64,
    /// Most runs one replica executes at once.
    #[arg(long, env = "TERRANE_WORKFLOW_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub workflow_concurrency: u32,
}

/// Environment requests: time to live, provisioning and the TTL reaper.
#[derive(Debug, Args)]
pub struct RequestArgs {
    /// Seconds between runs of the TTL reaper, which deprovisions every environment whose
    /// expiry has passed (also how often the provisioning worker looks for requests that a
    /// stopped replica left behind).
    #[arg(long = "reaper-interval", env = "TERRANE_REAPER_INTERVAL_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub reaper_interval_secs: u64,
    /// Environments the reaper claims per transaction; also the most requests one replica
    /// provisions at once.
    #[arg(long, env = "TERRANE_REAPER_BATCH_SIZE", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub reaper_batch_size: u32,
    /// Hours an ephemeral environment lives when its request names no `ttlHours`.
    #[arg(long, env = "TERRANE_DEFAULT_TTL_HOURS", default_value_t = terrane_domain::TtlPolicy::DEFAULT_HOURS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub default_ttl_hours: u32,
    /// Most hours a request may ask for (and most minutes, times 60, a time to live set on an
    /// environment).
    #[arg(long, env = "TERRANE_MAX_TTL_HOURS", default_value_t = terrane_domain::TtlPolicy::MAX_HOURS, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_ttl_hours: u32,
    /// An executable that makes the environment of an approved request (request as JSON on
    /// stdin, fields in TERRANE_REQUEST_* variables; exit 0 for success). Unset: terrane's
    /// own inventory is the environment, and approval answers `active` at once.
    #[arg(long, env = "TERRANE_PROVISION_COMMAND")]
    pub provision_command: Option<std::path::PathBuf>,
    /// An executable that tears down an expired environment (same input, plus
    /// TERRANE_ENVIRONMENT_ID and TERRANE_ENVIRONMENT_NAME). Unset: expiring marks the
    /// environment destroyed.
    #[arg(long, env = "TERRANE_DEPROVISION_COMMAND")]
    pub deprovision_command: Option<std::path::PathBuf>,
    /// How long a provision or deprovision command may run before it is killed and fails:
    /// `90s`, `15m`, `1h`, or plain seconds.
    #[arg(long, env = "TERRANE_PROVISION_TIMEOUT", default_value = "15m", value_parser = parse_timeout)]
    pub provision_timeout: std::time::Duration,
    /// Bars the requester of an environment from approving it (`true` or `false`).
    #[arg(long, env = "TERRANE_REQUESTS_REQUIRE_SOD", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub requests_require_sod: bool,
}

/// Parses a timeout: `90s`, `15m`, `1h`, or a plain number of seconds.
pub fn parse_timeout(value: &str) -> Result<std::time::Duration, String> {
    let duration = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        parse_duration(&format!("{value}s"))?
    } else {
        parse_duration(value)?
    };
    duration
        .to_std()
        .map_err(|_| format!("`{value}` is not a positive duration"))
}

/// Parses a queue timeout: `250ms`, or whatever [`parse_timeout`] takes.
pub fn parse_queue_timeout(value: &str) -> Result<std::time::Duration, String> {
    match value.strip_suffix("ms") {
        Some(ms) => match ms.parse::<u64>() {
            Ok(ms) if ms > 0 => Ok(std::time::Duration::from_millis(ms)),
            _ => Err(format!(
                "`{value}` is not a positive duration like 500ms or 2s"
            )),
        },
        None => parse_timeout(value),
    }
}

/// Health probes and their scheduler.
#[derive(Debug, Args)]
pub struct HealthArgs {
    /// Address blocks probes may reach despite the defaults that refuse link-local and cloud
    /// metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254); comma-separated CIDRs.
    #[arg(long, env = "TERRANE_PROBE_ALLOW", value_parser = parse_cidrs, default_value = "")]
    pub probe_allow: CidrList,
    /// More address blocks probes may never reach, whatever the allow list says;
    /// comma-separated CIDRs.
    #[arg(long, env = "TERRANE_PROBE_DENY", value_parser = parse_cidrs, default_value = "")]
    pub probe_deny: CidrList,
    /// Longest a probe may take, connection included, in milliseconds.
    #[arg(long, env = "TERRANE_PROBE_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=120_000))]
    pub probe_timeout_ms: u64,
    /// How often the scheduler looks for targets whose check is due, in seconds (each
    /// target is checked every `config.healthCheckInterval` of its environment); 0 turns
    /// scheduled checks off on this replica.
    #[arg(long, env = "TERRANE_HEALTH_SCHEDULER_INTERVAL_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub health_scheduler_interval_secs: u64,
    /// How often agents are expected to send a heartbeat, in seconds; an agent is online
    /// while its last one is at most three of these old.
    #[arg(long, env = "TERRANE_AGENT_HEARTBEAT_INTERVAL_SECS", default_value_t = 30, value_parser = clap::value_parser!(i64).range(1..=86_400))]
    pub agent_heartbeat_interval_secs: i64,
}

/// A parsed list of address blocks.
#[derive(Debug, Clone, Default)]
pub struct CidrList(pub Vec<terrane_domain::Cidr>);

fn parse_cidrs(value: &str) -> Result<CidrList, String> {
    terrane_domain::Cidr::parse_list(value).map(CidrList)
}

/// `terrane token`.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The organization the token acts in.
    #[arg(long)]
    pub tenant: Uuid,
    /// The user the token speaks for.
    #[arg(long)]
    pub subject: Uuid,
    /// A role: admin, deployer or viewer (repeat for several).
    #[arg(long = "role", required = true, value_parser = parse_role)]
    pub role: Vec<Role>,
    /// Lifetime, like `30m`, `24h` or `7d`.
    #[arg(long, default_value = "24h", value_parser = parse_duration)]
    pub expires_in: chrono::Duration,
    #[command(flatten)]
    pub db: DbArgs,
    /// The signing secret, when the server has one configured.
    #[arg(long, env = "TERRANE_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

/// `terrane seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The organization to fill; it must not have components named `component-NNNN` or
    /// environments named `env-NN` yet.
    #[arg(long)]
    pub tenant: Uuid,
    /// Components to create.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub components: u32,
    /// Environments to create.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=99))]
    pub environments: u32,
    /// Deployments to record, spread over the components, environments and the last `days`.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(0..=100_000_000))]
    pub deployments: u32,
    /// How many days back the oldest deployment is.
    #[arg(long, default_value_t = 365, value_parser = clap::value_parser!(u32).range(1..=36_500))]
    pub days: u32,
}

fn parse_role(value: &str) -> Result<Role, String> {
    value.parse()
}

/// Parses `90s`, `30m`, `24h` or `7d`.
pub fn parse_duration(value: &str) -> Result<chrono::Duration, String> {
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{value}` is not a duration like 30m, 24h or 7d"))?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" | "" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or d")),
    };
    if n <= 0 {
        return Err("the duration must be positive".into());
    }
    Ok(chrono::Duration::seconds(seconds))
}

/// Hides a password in a database URL before it is logged.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Logs to stderr (stdout carries command output such as tokens), as text or JSON lines.
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_hours_and_days() {
        assert_eq!(parse_duration("90s").unwrap().num_seconds(), 90);
        assert_eq!(parse_duration("30m").unwrap().num_minutes(), 30);
        assert_eq!(parse_duration("24h").unwrap().num_hours(), 24);
        assert_eq!(parse_duration("7d").unwrap().num_days(), 7);
        assert!(parse_duration("0h").is_err());
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn timeouts_take_a_unit_or_plain_seconds() {
        assert_eq!(parse_timeout("15m").unwrap().as_secs(), 900);
        assert_eq!(parse_timeout("2s").unwrap().as_secs(), 2);
        assert_eq!(parse_timeout("90").unwrap().as_secs(), 90);
        assert!(parse_timeout("0").is_err());
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn queue_timeouts_take_milliseconds_too() {
        assert_eq!(parse_queue_timeout("250ms").unwrap().as_millis(), 250);
        assert_eq!(parse_queue_timeout("2s").unwrap().as_secs(), 2);
        assert_eq!(parse_queue_timeout("3").unwrap().as_secs(), 3);
        assert!(parse_queue_timeout("0ms").is_err());
        assert!(parse_queue_timeout("xms").is_err());
    }

    #[test]
    fn passwords_are_hidden_in_logged_urls() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://terrane.db"), "sqlite://terrane.db");
    }

    #[test]
    fn probe_address_lists_are_comma_separated_cidrs() {
        assert_eq!(parse_cidrs("10.0.0.0/8, fd00::/8").unwrap().0.len(), 2);
        assert!(parse_cidrs("").unwrap().0.is_empty());
        assert!(parse_cidrs("10.0.0.0/40")
            .unwrap_err()
            .contains("10.0.0.0/40"));
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}

/// The event log: how long events are kept, and how the event stream behaves.
#[derive(Debug, Args)]
pub struct EventArgs {
    /// How long events are kept before the background purge deletes them: a number with a
    /// unit, `30d`, `12h`, `90m` or `45s` (a bare number is seconds).
    #[arg(long, env = "TERRANE_EVENT_RETENTION", default_value = "30d", value_parser = parse_retention)]
    pub event_retention: chrono::Duration,
    /// Seconds between purges of events older than the retention.
    #[arg(long, env = "TERRANE_EVENT_PURGE_INTERVAL_SECS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub event_purge_interval_secs: u64,
    /// Most seconds an event stream stays silent: then it sends a keep-alive comment.
    #[arg(long, env = "TERRANE_EVENT_STREAM_KEEPALIVE_SECS", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=15))]
    pub event_stream_keepalive_secs: u64,
    /// Milliseconds between two reads of the log by an idle event stream.
    #[arg(long, env = "TERRANE_EVENT_STREAM_POLL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub event_stream_poll_ms: u64,
    /// Seconds between two looks for freeze windows that began or ended (each is recorded
    /// once, whatever the number of replicas).
    #[arg(long, env = "TERRANE_FREEZE_WINDOW_EVENTS_INTERVAL_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub freeze_window_events_interval_secs: u64,
}

/// `30d`, `12h`, `90m`, `45s` or a bare number of seconds; at least one second.
fn parse_retention(text: &str) -> Result<chrono::Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, "s"),
    };
    let n: i64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 30d, 12h, 90m or 45s"))?;
    let seconds = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3_600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
    .filter(|s| (1..=100 * 365 * 86_400).contains(s))
    .ok_or_else(|| {
        format!("`{text}` is not a duration such as 30d, 12h, 90m or 45s (at least 1s, at most 100 years)")
    })?;
    Ok(chrono::Duration::seconds(seconds))
}

#[cfg(test)]
mod event_args_tests {
    use super::parse_retention;

    #[test]
    fn retention_takes_a_number_and_a_unit() {
        assert_eq!(parse_retention("30d"), Ok(chrono::Duration::days(30)));
        assert_eq!(parse_retention("2h"), Ok(chrono::Duration::hours(2)));
        assert_eq!(parse_retention("5m"), Ok(chrono::Duration::minutes(5)));
        assert_eq!(parse_retention("7"), Ok(chrono::Duration::seconds(7)));
        for bad in ["", "0s", "d", "3w", "-1d", "1.5h"] {
            assert!(parse_retention(bad).is_err(), "{bad}");
        }
    }
}
