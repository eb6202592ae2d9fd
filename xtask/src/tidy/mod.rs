//! `cargo xtask tidy`: the workspace conventions no compiler checks.
//!
//! For every workspace member (`crates/*`, `benches`, `examples`, `xtask`):
//!
//! - the manifest has `[lints] workspace = true`;
//! - every dependency (normal, dev, build, and their target-specific tables) is declared with
//!   `workspace = true`, so versions live only in the root manifest;
//! - its dependencies on other workspace crates are among those the edges block of
//!   ARCHITECTURE.md allows, and its external normal dependencies are within an `only:` list
//!   where the block gives one;
//!
//! and for the library crates under `crates/`:
//!
//! - `src/lib.rs` opens with `//!` crate docs;
//! - no `.rs` file has a doctest fence marked `ignore`;
//! - lb-core's `tokio` and `async-trait` are optional, enabled by its `runtime` feature
//!   (design.md: a user who needs strategies but not tokio turns `runtime` off);
//! - lb-core's files hold at most about 400 lines before their tests, and no two of them import
//!   each other (`layout.rs`).
//!
//! Every problem is reported with the file it is in, not only the first one. The checks run on an
//! in-memory [`Workspace`], which [`Workspace::load`] reads from disk and unit tests build by hand.

mod edges;
mod layout;
mod manifest;
mod sources;
#[cfg(test)]
mod tests;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// The files tidy looks at, read into memory.
#[derive(Debug, Default)]
pub(crate) struct Workspace {
    /// The root `Cargo.toml`.
    pub(crate) root_manifest: String,
    /// ARCHITECTURE.md, which holds the allowed dependency edges.
    pub(crate) architecture: String,
    /// The workspace members, in the order the root manifest lists them.
    pub(crate) members: Vec<Member>,
    /// Every `.rs` file under `crates/`, for the doctest check.
    pub(crate) crate_sources: Vec<SourceFile>,
}

/// One workspace member.
#[derive(Debug, Default)]
pub(crate) struct Member {
    /// Its folder, relative to the workspace root (`crates/lb-core`).
    pub(crate) dir: PathBuf,
    /// Its `Cargo.toml`.
    pub(crate) manifest: String,
    /// Its `src/lib.rs`, when it has one.
    pub(crate) lib_rs: Option<String>,
}

/// A source file and its path relative to the workspace root.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub(crate) path: PathBuf,
    pub(crate) text: String,
}

/// One broken convention: the file it is in and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    pub(crate) file: PathBuf,
    pub(crate) message: String,
}

impl Violation {
    pub(crate) fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

/// Why the workspace could not be read.
#[derive(Debug)]
pub(crate) struct LoadError {
    path: PathBuf,
    what: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot read {}: {}", self.path.display(), self.what)
    }
}

impl std::error::Error for LoadError {}

fn io_error(path: &Path, err: &io::Error) -> LoadError {
    LoadError {
        path: path.to_path_buf(),
        what: err.to_string(),
    }
}

fn read(root: &Path, relative: &Path) -> Result<String, LoadError> {
    let path = root.join(relative);
    std::fs::read_to_string(&path).map_err(|err| io_error(&path, &err))
}

impl Workspace {
    /// Reads the root manifest, ARCHITECTURE.md, every member's manifest and `src/lib.rs`, and the
    /// `.rs` files under `crates/`.
    pub(crate) fn load(root: &Path) -> Result<Self, LoadError> {
        let root_manifest = read(root, Path::new("Cargo.toml"))?;
        let architecture = read(root, Path::new("ARCHITECTURE.md"))?;
        let member_dirs = member_dirs(root, &root_manifest)?;
        let mut members = Vec::with_capacity(member_dirs.len());
        for dir in member_dirs {
            let manifest = read(root, &dir.join("Cargo.toml"))?;
            let lib_path = dir.join("src/lib.rs");
            let lib_rs = if root.join(&lib_path).is_file() {
                Some(read(root, &lib_path)?)
            } else {
                None
            };
            members.push(Member {
                dir,
                manifest,
                lib_rs,
            });
        }
        let mut crate_sources = Vec::new();
        collect_rs_files(root, Path::new("crates"), &mut crate_sources)?;
        Ok(Self {
            root_manifest,
            architecture,
            members,
            crate_sources,
        })
    }

    /// Every violation in the workspace, grouped by check.
    pub(crate) fn check(&self) -> Vec<Violation> {
        let mut violations = Vec::new();
        let root = match self.root_manifest.parse::<toml::Table>() {
            Ok(root) => root,
            Err(err) => {
                violations.push(Violation::new(
                    "Cargo.toml",
                    format!("cannot parse: {}", err.message()),
                ));
                return violations;
            }
        };
        let edges = edges::parse(&self.architecture, &mut violations);
        let mut parsed = Vec::with_capacity(self.members.len());
        for member in &self.members {
            let path = member.dir.join("Cargo.toml");
            match member.manifest.parse::<toml::Table>() {
                Ok(table) => parsed.push((member, table)),
                Err(err) => violations.push(Violation::new(
                    path,
                    format!("cannot parse: {}", err.message()),
                )),
            }
        }
        let names: Vec<&str> = parsed
            .iter()
            .filter_map(|(_, table)| manifest::package_name(table))
            .collect();
        if let Some(edges) = &edges {
            edges::check_names(edges, &names, &mut violations);
        }
        for (member, table) in &parsed {
            manifest::check(
                &manifest::Context {
                    root: &root,
                    members: &names,
                    edges: edges.as_ref(),
                },
                &member.dir,
                table,
                &mut violations,
            );
            if member.dir.starts_with("crates") {
                sources::check_crate_docs(member, &mut violations);
            }
        }
        for file in &self.crate_sources {
            sources::check_ignore_doctests(file, &mut violations);
        }
        layout::check(&self.crate_sources, &mut violations);
        violations
    }
}

/// The member folders the root manifest names, relative to the root. Supports what this
/// workspace uses: plain paths and a trailing `/*`, minus `exclude`.
fn member_dirs(root: &Path, root_manifest: &str) -> Result<Vec<PathBuf>, LoadError> {
    let table: toml::Table = root_manifest
        .parse()
        .map_err(|err: toml::de::Error| LoadError {
            path: root.join("Cargo.toml"),
            what: err.message().to_owned(),
        })?;
    let workspace = table.get("workspace").and_then(toml::Value::as_table);
    let patterns = |key: &str| -> Vec<String> {
        workspace
            .and_then(|ws| ws.get(key))
            .and_then(toml::Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(toml::Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let excluded: Vec<PathBuf> = patterns("exclude").iter().map(PathBuf::from).collect();
    let mut dirs = Vec::new();
    for pattern in patterns("members") {
        if let Some(parent) = pattern.strip_suffix("/*") {
            let listing = root.join(parent);
            let entries = std::fs::read_dir(&listing).map_err(|err| io_error(&listing, &err))?;
            let mut found = Vec::new();
            for entry in entries {
                let entry = entry.map_err(|err| io_error(&listing, &err))?;
                if entry.path().join("Cargo.toml").is_file() {
                    found.push(Path::new(parent).join(entry.file_name()));
                }
            }
            found.sort();
            dirs.extend(found);
        } else if pattern.contains(['*', '?', '[']) {
            return Err(LoadError {
                path: root.join("Cargo.toml"),
                what: format!("tidy does not understand the member pattern `{pattern}`"),
            });
        } else {
            dirs.push(PathBuf::from(pattern));
        }
    }
    dirs.retain(|dir| !excluded.contains(dir));
    Ok(dirs)
}

/// Collects the `.rs` files under `dir` (relative to `root`), skipping hidden and `target` folders.
fn collect_rs_files(root: &Path, dir: &Path, out: &mut Vec<SourceFile>) -> Result<(), LoadError> {
    let absolute = root.join(dir);
    if !absolute.is_dir() {
        return Ok(());
    }
    let mut entries: Vec<_> = std::fs::read_dir(&absolute)
        .map_err(|err| io_error(&absolute, &err))?
        .collect::<Result<_, _>>()
        .map_err(|err| io_error(&absolute, &err))?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let relative = dir.join(&*name);
        let file_type = entry
            .file_type()
            .map_err(|err| io_error(&entry.path(), &err))?;
        if file_type.is_dir() {
            if !name.starts_with('.') && !name.starts_with("target") {
                collect_rs_files(root, &relative, out)?;
            }
        } else if name.ends_with(".rs") {
            let text = read(root, &relative)?;
            out.push(SourceFile {
                path: relative,
                text,
            });
        }
    }
    Ok(())
}

/// Checks the workspace at `root` and prints what it finds; returns the number of problems
/// (a workspace that cannot be read counts as one).
pub(crate) fn report(root: &Path) -> usize {
    let workspace = match Workspace::load(root) {
        Ok(workspace) => workspace,
        Err(err) => {
            eprintln!("tidy: {err}");
            return 1;
        }
    };
    let violations = workspace.check();
    for violation in &violations {
        eprintln!("tidy: {violation}");
    }
    if violations.is_empty() {
        println!(
            "tidy: ok ({} workspace members, {} source files under crates/)",
            workspace.members.len(),
            workspace.crate_sources.len()
        );
    } else {
        eprintln!("tidy: {} problem(s)", violations.len());
    }
    violations.len()
}

/// `cargo xtask tidy`: returns whether the workspace is tidy.
pub(crate) fn run(root: &Path) -> bool {
    report(root) == 0
}
