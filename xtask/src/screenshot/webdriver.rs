//! The few WebDriver commands `screenshot` needs, sent to a chromedriver on loopback: open a
//! session of headless Chromium, load a page, run a script, take a screenshot, close.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

/// A chromedriver process and one browser session in it; both end when dropped.
pub(crate) struct Browser {
    agent: ureq::Agent,
    base: String,
    session: String,
    driver: Child,
}

impl Browser {
    /// Starts `chromedriver` on a free loopback port and opens a headless Chromium session
    /// (`chromium` from the distribution) with a window of `width` x `height`.
    pub(crate) fn start(width: u32, height: u32) -> Result<Self, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("finding a free port: {e}"))?
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                format!(
                    "starting chromedriver: {e} (Debian: apt-get install chromium chromium-driver)"
                )
            })?;
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        let mut browser = Browser {
            agent: ureq::Agent::new_with_config(config),
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            driver,
        };
        browser.wait_ready()?;
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", format!("--window-size={width},{height}"),
            ]},
        }}});
        let answer = browser.command("POST", "/session", Some(capabilities))?;
        browser.session = answer["sessionId"]
            .as_str()
            .ok_or_else(|| format!("chromedriver opened no session: {answer}"))?
            .to_owned();
        Ok(browser)
    }

    fn wait_ready(&self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(status) = self.command("GET", "/status", None)
                && status["ready"] == true
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("chromedriver did not become ready within 15 s".to_owned());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends one command; its `value`, or the WebDriver error it answered.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("POST", body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
            ("DELETE", _) => self.agent.delete(&url).call(),
            _ => self.agent.get(&url).call(),
        };
        let mut response = response.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let text = response
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .map_err(|e| format!("{method} {path}: reading the answer: {e}"))?;
        let answer: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{method} {path}: not JSON ({e}): {text:.200}"))?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status}: {}", answer["value"]));
        }
        Ok(answer["value"].clone())
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// Loads `url` and waits for it to load.
    pub(crate) fn open(&self, url: &str) -> Result<(), String> {
        self.command(
            "POST",
            &self.session_path("/url"),
            Some(json!({"url": url})),
        )
        .map(drop)
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub(crate) fn run(&self, script: &str) -> Result<Value, String> {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
    }

    /// A PNG of the window.
    pub(crate) fn screenshot(&self) -> Result<Vec<u8>, String> {
        let encoded = self.command("GET", &self.session_path("/screenshot"), None)?;
        let encoded = encoded
            .as_str()
            .ok_or_else(|| format!("the screenshot is not a string: {encoded:.100}"))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| format!("the screenshot is not base64: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.command("DELETE", &self.session_path(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
