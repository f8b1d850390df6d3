//! The dashboard in a real headless Chromium: `tests/browser/dashboard.py` (Playwright,
//! Debian's `/usr/bin/chromium`) against the real binary, on SQLite and on PostgreSQL.
//!
//! The script needs a Python with `playwright` (`.venv/bin/python` at the workspace root, made
//! by `.ci/run`, or `$TERRANE_BROWSER_PYTHON`) and Chromium (`/usr/bin/chromium` or
//! `$TERRANE_CHROMIUM`). Without them the test fails under `CI=true` and is skipped with a
//! loud SKIPPED line otherwise, like the PostgreSQL tests.

use crate::on_both_backends;
use crate::support::TestApp;
use std::path::{Path, PathBuf};
use std::process::Command;

on_both_backends!(the_dashboard_works_in_a_real_browser);

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// The Python and Chromium to run the script with, or why they are missing.
fn browser_tools() -> Result<(PathBuf, PathBuf), String> {
    let python = std::env::var_os("TERRANE_BROWSER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join(".venv/bin/python"));
    let chromium = std::env::var_os("TERRANE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    if !chromium.exists() {
        return Err(format!(
            "no Chromium at {} (apt-get install chromium, or set TERRANE_CHROMIUM)",
            chromium.display()
        ));
    }
    let has_playwright = Command::new(&python)
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|out| out.status.success());
    if !has_playwright {
        return Err(format!(
            "no Python with playwright at {} (python3 -m venv .venv && .venv/bin/pip install -r \
             tests/browser/requirements.txt, or set TERRANE_BROWSER_PYTHON)",
            python.display()
        ));
    }
    Ok((python, chromium))
}

async fn the_dashboard_works_in_a_real_browser(app: TestApp) {
    let (python, chromium) = match browser_tools() {
        Ok(tools) => tools,
        Err(why) if std::env::var("CI").is_ok_and(|ci| ci == "true") => {
            panic!("the browser test cannot run and CI=true: {why}")
        }
        Err(why) => {
            eprintln!("\n*** SKIPPED: the dashboard browser test: {why} ***\n");
            return;
        }
    };
    let token = app.admin();
    let base = app.base.clone();
    let script = workspace().join("tests/browser/dashboard.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args(["--base", &base, "--token", &token])
            .env("TERRANE_CHROMIUM", chromium)
            .output()
            .expect("the browser test starts")
    })
    .await
    .expect("the browser test ran");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the dashboard browser test failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("dashboard browser test passed"), "{stdout}");
}
