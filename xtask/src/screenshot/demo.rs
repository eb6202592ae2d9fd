//! `reverse_proxy --status-demo`, built and run as a child process driven through its
//! standard input and output.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// The running demo; it is killed when dropped.
pub(crate) struct Demo {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// The status page's URL.
    pub(crate) page: String,
    metrics: String,
    /// Each backend's name and address.
    pub(crate) backends: Vec<(String, String)>,
}

impl Demo {
    /// Builds the example and starts it, with its status page on a free port.
    pub(crate) fn start(root: &Path) -> Result<Self, String> {
        let cargo = crate::cargo();
        let built = Command::new(&cargo)
            .args(["build", "-p", "lb-examples", "--example", "reverse_proxy"])
            .current_dir(root)
            .status()
            .map_err(|e| format!("running cargo: {e}"))?;
        if !built.success() {
            return Err("building the reverse_proxy example failed".to_owned());
        }
        let target =
            std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), Into::into);
        let exe = target.join("debug").join("examples").join("reverse_proxy");
        let mut child = Command::new(&exe)
            .args(["--status-demo", "--admin", "127.0.0.1:0"])
            .env("RUST_LOG", "error")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", exe.display()))?;
        let stdout = child.stdout.take().ok_or("no standard output")?;
        let (send, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut demo = Demo {
            stdin: child.stdin.take(),
            child,
            lines,
            page: String::new(),
            metrics: String::new(),
            backends: Vec::new(),
        };
        loop {
            let line = demo.next_line(Duration::from_secs(30))?;
            if let Some(url) = line.strip_prefix("status page: ") {
                demo.page = url.to_owned();
            } else if let Some(url) = line.strip_prefix("metrics: ") {
                demo.metrics = url.to_owned();
            } else if let Some(rest) = line.strip_prefix("backend ") {
                let (name, addr) = rest.split_once(' ').ok_or("a backend line")?;
                demo.backends.push((name.to_owned(), addr.to_owned()));
            } else if line.starts_with("commands:") {
                break;
            }
        }
        if demo.page.is_empty() || demo.backends.len() != 3 {
            return Err(format!(
                "the demo printed no page or not three backends: {} {:?}",
                demo.page, demo.backends
            ));
        }
        Ok(demo)
    }

    fn next_line(&self, within: Duration) -> Result<String, String> {
        match self.lines.recv_timeout(within) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                Err(format!("the demo printed nothing for {within:?}"))
            }
            Err(RecvTimeoutError::Disconnected) => Err("the demo ended".to_owned()),
        }
    }

    /// Stops backend `name` and waits for the demo to confirm.
    pub(crate) fn stop(&mut self, name: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the demo's input is closed")?;
        writeln!(stdin, "stop {name}").map_err(|e| format!("writing to the demo: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if self
                .next_line(left)?
                .starts_with(&format!("stopped {name}"))
            {
                return Ok(());
            }
        }
    }

    /// Checks that `/metrics` counted the stopped backend's health flip.
    pub(crate) fn check_metrics(&self, victim: &str) -> Result<(), String> {
        let text = ureq::get(&self.metrics)
            .call()
            .map_err(|e| format!("GET {}: {e}", self.metrics))?
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("reading {}: {e}", self.metrics))?;
        let series = format!("lb_health_changes_total{{lb=\"proxy\",backend=\"{victim}\"}} 1");
        if !text.lines().any(|l| l == series) {
            return Err(format!("/metrics has no line `{series}`"));
        }
        Ok(())
    }

    /// Asks the demo to end, and waits a little for it.
    pub(crate) fn quit(mut self) {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "quit");
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}
