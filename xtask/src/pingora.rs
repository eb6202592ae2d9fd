//! The `pingora` step of `cargo xtask ci`: lb-pingora, the crate outside the workspace that runs
//! lb inside a pingora server.
//!
//! lb-pingora is a cargo workspace of its own (excluded from lb's, so that lb's workspace never
//! builds pingora), with its own `target/` and `Cargo.lock`. Its build needs what pingora-core's
//! build needs besides Rust: cmake and a C compiler (zlib-ng and zstd). `.ci/run` installs them;
//! on a machine without them the step fails with a message that says so, and
//! `cargo xtask ci --skip pingora` leaves it out.
//!
//! The step checks what CI checks of lb's own crates: formatting, clippy and rustdoc with
//! warnings as errors, every test (its integration test runs a pingora `Server` in process), and that no crate of
//! its tree brings OpenSSL; then it runs the example in `--demo` mode, which exits by itself.

use std::process::{Command, Stdio};

/// lb-pingora's manifest, relative to the workspace root.
pub(crate) const MANIFEST: &str = "crates/lb-pingora/Cargo.toml";

/// The programs pingora-core's build runs besides cargo and rustc.
const TOOLS: [(&str, &str); 2] = [("cmake", "cmake"), ("cc", "a C compiler (cc)")];

/// The crates that would bring OpenSSL into the tree (deny.toml bans them in lb's workspace).
const BANNED: [&str; 3] = ["openssl", "openssl-sys", "native-tls"];

/// The tools among [`TOOLS`] that do not run here, by description.
pub(crate) fn missing_tools() -> Vec<&'static str> {
    TOOLS
        .iter()
        .filter(|(program, _)| {
            !Command::new(program)
                .arg("--version")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .map(|(_, description)| *description)
        .collect()
}

/// The message for a machine without the tools.
pub(crate) fn missing_tools_message(missing: &[&str]) -> String {
    format!(
        "lb-pingora's build (pingora-core's zlib-ng and zstd) needs {}: install them (Debian: \
         `apt-get install cmake build-essential`; .ci/run does), or skip this step with \
         `--skip pingora`",
        missing.join(" and ")
    )
}

/// The banned crates that `cargo tree --prefix none --format {p}` output names, once each.
pub(crate) fn banned_in(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| BANNED.contains(name))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banned_crates_are_found_by_name_only() {
        let tree = "\
lb-pingora v0.1.0 (/src/crates/lb-pingora)
pingora-core v0.9.1
openssl-probe v0.1.6
openssl-sys v0.9.109
openssl-sys v0.9.109
native-tls v0.2.14
";
        assert_eq!(banned_in(tree), ["native-tls", "openssl-sys"]);
        assert!(banned_in("pingora-rustls v0.9.1\nrustls v0.23.31\n").is_empty());
    }

    #[test]
    fn the_missing_tools_message_names_them_and_the_way_out() {
        let message = missing_tools_message(&["cmake", "a C compiler (cc)"]);
        assert!(message.contains("needs cmake and a C compiler (cc)"));
        assert!(message.contains("--skip pingora"));
    }
}
