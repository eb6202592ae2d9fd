//! `cargo xtask screenshot`: the reverse-proxy example's status page in a real headless
//! Chromium (the distribution's `chromium` and `chromium-driver` packages, driven over
//! WebDriver). It runs `reverse_proxy --status-demo`, loads `/lb/status`, checks that every
//! backend of the demo appears healthy, stops one backend, checks that the page shows it
//! unhealthy within two of its refreshes (read from the page's DOM, as a person would see it),
//! and saves a screenshot to `docs/status-page.png` (`--out PATH` to write elsewhere).
//!
//! Nothing in `cargo test` needs a browser: the page's server side is tested in lb-tower and in
//! the examples' tests; this command is the check of what a person sees.

mod demo;
mod webdriver;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use demo::Demo;
use webdriver::Browser;

/// The backend the check stops.
const VICTIM: &str = "bravo";
/// The page's refresh interval in the demo (lb-tower's default).
const REFRESH: Duration = Duration::from_secs(2);

/// Reads the page: how many JSON answers it has rendered, and each backend row.
const READ_PAGE: &str = r#"return {
  fetches: Number(document.body.dataset.fetches),
  rows: Array.from(document.querySelectorAll("tr[data-backend]")).map((r) => ({
    backend: r.dataset.backend, state: r.dataset.state, since: Number(r.dataset.sinceFetch),
  })),
};"#;

/// The options of `cargo xtask screenshot`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Options {
    /// Where to write the PNG (default `docs/status-page.png`).
    pub(crate) out: Option<PathBuf>,
}

impl Options {
    pub(crate) fn parse(args: &[String]) -> Result<Self, String> {
        match args {
            [] => Ok(Options::default()),
            [flag, path] if flag == "--out" => Ok(Options {
                out: Some(PathBuf::from(path)),
            }),
            other => Err(format!(
                "unknown arguments to `screenshot`: `{}`",
                other.join(" ")
            )),
        }
    }
}

/// Runs the check; prints what failed.
pub(crate) fn run(root: &Path, options: &Options) -> bool {
    match check(root, options) {
        Ok(out) => {
            println!(
                "screenshot: the page showed every backend, and {VICTIM} unhealthy within two refreshes of its stop; saved {}",
                out.display()
            );
            true
        }
        Err(e) => {
            eprintln!("screenshot: {e}");
            false
        }
    }
}

#[derive(Debug)]
struct Row {
    backend: String,
    state: String,
    since: u64,
}

/// The page's rendered answers and rows.
fn read_page(browser: &Browser) -> Result<(u64, Vec<Row>), String> {
    let page = browser.run(READ_PAGE)?;
    let fetches = page["fetches"].as_u64().unwrap_or(0);
    let rows = page["rows"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|r: &Value| Row {
            backend: r["backend"].as_str().unwrap_or_default().to_owned(),
            state: r["state"].as_str().unwrap_or_default().to_owned(),
            since: r["since"].as_u64().unwrap_or(0),
        })
        .collect();
    Ok((fetches, rows))
}

/// Reads the page until `done` holds, or fails after `within`.
fn wait_for(
    browser: &Browser,
    within: Duration,
    what: &str,
    done: impl Fn(u64, &[Row]) -> bool,
) -> Result<(u64, Vec<Row>), String> {
    let deadline = Instant::now() + within;
    loop {
        let (fetches, rows) = read_page(browser)?;
        if done(fetches, &rows) {
            return Ok((fetches, rows));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{what}: not seen within {within:?}; the page had {fetches} answers and rows {rows:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn check(root: &Path, options: &Options) -> Result<PathBuf, String> {
    let mut demo = Demo::start(root)?;
    let browser = Browser::start(1200, 460)?;
    browser.open(&demo.page)?;
    let backends = demo.backends.clone();
    let shown = |rows: &[Row], name: &str| -> Option<String> {
        let addr = &backends.iter().find(|(n, _)| n == name)?.1;
        rows.iter()
            .find(|r| &r.backend == addr)
            .map(|r| r.state.clone())
    };
    let (before, _) = wait_for(
        &browser,
        Duration::from_secs(15),
        "every backend of the demo, healthy",
        |fetches, rows| {
            fetches >= 1
                && backends
                    .iter()
                    .all(|(name, _)| shown(rows, name).as_deref() == Some("healthy"))
        },
    )?;
    demo.stop(VICTIM)?;
    // Two refreshes after the stop (plus one more second for the browser to render).
    let (after, rows) = wait_for(
        &browser,
        REFRESH * 2 + Duration::from_secs(1),
        "two refreshes after the stop",
        |fetches, _| fetches >= before + 2,
    )?;
    let victim = &backends
        .iter()
        .find(|(n, _)| n == VICTIM)
        .ok_or("no victim")?
        .1;
    let row = rows
        .iter()
        .find(|r| &r.backend == victim)
        .ok_or_else(|| format!("{VICTIM} left the page: {rows:?}"))?;
    if row.state != "unhealthy" || row.since > before + 2 {
        return Err(format!(
            "{VICTIM} was stopped after answer {before}; at answer {after} the page shows it {} since answer {}",
            row.state, row.since
        ));
    }
    for (name, _) in backends.iter().filter(|(n, _)| n != VICTIM) {
        if shown(&rows, name).as_deref() != Some("healthy") {
            return Err(format!("{name} is not shown healthy: {rows:?}"));
        }
    }
    println!(
        "screenshot: {VICTIM} stopped after answer {before}, shown unhealthy from answer {}",
        row.since
    );
    demo.check_metrics(victim)?;
    let png = browser.screenshot()?;
    let out = options
        .out
        .clone()
        .unwrap_or_else(|| root.join("docs").join("status-page.png"));
    std::fs::write(&out, png).map_err(|e| format!("writing {}: {e}", out.display()))?;
    drop(browser);
    demo.quit();
    Ok(out)
}
