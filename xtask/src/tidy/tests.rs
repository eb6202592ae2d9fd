//! Tidy's checks on small in-memory workspaces (each test breaks one rule and asserts it is
//! reported), and tidy on this repository itself.

use std::path::{Path, PathBuf};

use super::{Member, SourceFile, Violation, Workspace, edges};

const ROOT_MANIFEST: &str = r#"
[workspace]
members = ["crates/*", "xtask"]

[workspace.dependencies]
lb-core = { path = "crates/lb-core", default-features = false }
lb-ketama = { path = "crates/lb-ketama" }
lb-selection = { path = "crates/lb-selection" }
core-renamed = { path = "crates/lb-core", package = "lb-core" }
crc32fast = "1.5"
fnv = "1"
proptest = "1"
tokio = { version = "1", default-features = false }
async-trait = "0.1"
arc-swap = "1"
"#;

const ARCHITECTURE: &str = "\
# Architecture

<!-- tidy:edges:start -->
```text
lb-ketama     -> (none)              only: crc32fast
lb-core       -> (none)
lb-selection  -> lb-core, lb-ketama
xtask         -> (none)
```
<!-- tidy:edges:end -->
";

const LIB_RS: &str = "//! A crate.\n\npub fn f() {}\n";

fn manifest(name: &str, body: &str) -> String {
    format!("[package]\nname = \"{name}\"\n\n{body}\n[lints]\nworkspace = true\n")
}

fn member(dir: &str, manifest: String) -> Member {
    Member {
        dir: PathBuf::from(dir),
        manifest,
        lib_rs: dir.starts_with("crates/").then(|| LIB_RS.to_owned()),
    }
}

/// A workspace that follows every rule; each test breaks one.
fn tidy_workspace() -> Workspace {
    Workspace {
        root_manifest: ROOT_MANIFEST.to_owned(),
        architecture: ARCHITECTURE.to_owned(),
        members: vec![
            member(
                "crates/lb-core",
                manifest(
                    "lb-core",
                    "[features]\ndefault = [\"runtime\"]\nruntime = [\"dep:tokio\", \"dep:async-trait\"]\n\n\
                     [dependencies]\narc-swap.workspace = true\n\
                     tokio = { workspace = true, optional = true, features = [\"time\"] }\n\
                     async-trait = { workspace = true, optional = true }\n\n\
                     [dev-dependencies]\ntokio = { workspace = true, features = [\"rt\"] }\n",
                ),
            ),
            member(
                "crates/lb-ketama",
                manifest(
                    "lb-ketama",
                    "[dependencies]\ncrc32fast.workspace = true\n\n[dev-dependencies]\nproptest.workspace = true\n",
                ),
            ),
            member(
                "crates/lb-selection",
                manifest(
                    "lb-selection",
                    "[dependencies]\nlb-core = { workspace = true, default-features = false }\n\
                     lb-ketama.workspace = true\nfnv.workspace = true\n",
                ),
            ),
            member("xtask", manifest("xtask", "[dependencies]\n")),
        ],
        crate_sources: vec![SourceFile {
            path: PathBuf::from("crates/lb-core/src/lib.rs"),
            text: "//! Docs.\n//!\n//! ```no_run\n//! let x = 1;\n//! ```\n".to_owned(),
        }],
    }
}

fn member_mut<'a>(ws: &'a mut Workspace, dir: &str) -> &'a mut Member {
    ws.members
        .iter_mut()
        .find(|m| m.dir == Path::new(dir))
        .expect("the fixture has this member")
}

/// Asserts that exactly the violations whose messages contain `expected` are reported, in `file`.
#[track_caller]
fn assert_reports(ws: &Workspace, file: &str, expected: &[&str]) {
    let violations = ws.check();
    assert_eq!(
        violations.len(),
        expected.len(),
        "expected {expected:?}, got {violations:#?}"
    );
    for (violation, needle) in violations.iter().zip(expected) {
        assert_eq!(violation.file, Path::new(file), "{violation}");
        assert!(
            violation.message.contains(needle),
            "`{violation}` does not mention {needle:?}"
        );
    }
}

#[test]
fn the_fixture_is_tidy() {
    assert_eq!(tidy_workspace().check(), Vec::<Violation>::new());
}

#[test]
fn a_manifest_without_workspace_lints_is_reported() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "xtask").manifest = "[package]\nname = \"xtask\"\n".to_owned();
    assert_reports(&ws, "xtask/Cargo.toml", &["`[lints] workspace = true`"]);

    let mut ws = tidy_workspace();
    member_mut(&mut ws, "xtask").manifest =
        "[package]\nname = \"xtask\"\n\n[lints.rust]\nunsafe_code = \"forbid\"\n".to_owned();
    assert_reports(&ws, "xtask/Cargo.toml", &["`[lints] workspace = true`"]);
}

#[test]
fn an_edge_not_allowed_is_reported_in_every_dependency_table() {
    let mut ws = tidy_workspace();
    // lb-core may depend on no workspace crate: not as a normal, dev, build or target dependency.
    member_mut(&mut ws, "crates/lb-core").manifest = manifest(
        "lb-core",
        "[dependencies]\nlb-selection.workspace = true\n\n\
         [build-dependencies]\nlb-ketama.workspace = true\n\n\
         [target.'cfg(unix)'.dev-dependencies]\nlb-selection.workspace = true\n",
    );
    assert_reports(
        &ws,
        "crates/lb-core/Cargo.toml",
        &[
            "`lb-core` depends on workspace crate `lb-selection` in [dependencies]",
            "`lb-core` depends on workspace crate `lb-ketama` in [build-dependencies]",
            "`lb-core` depends on workspace crate `lb-selection` in [target.'cfg(unix)'.dev-dependencies]",
        ],
    );
}

#[test]
fn a_renamed_dependency_is_checked_under_its_package_name() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "crates/lb-ketama").manifest = manifest(
        "lb-ketama",
        "[dependencies]\ncrc32fast.workspace = true\ncore-renamed.workspace = true\n",
    );
    assert_reports(
        &ws,
        "crates/lb-ketama/Cargo.toml",
        &["depends on workspace crate `lb-core`"],
    );
}

#[test]
fn an_external_dependency_outside_only_is_reported() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "crates/lb-ketama").manifest = manifest(
        "lb-ketama",
        "[dependencies]\ncrc32fast.workspace = true\nfnv.workspace = true\n\n\
         [dev-dependencies]\nproptest.workspace = true\n",
    );
    // Only the normal dependency counts: proptest as a dev-dependency is fine.
    assert_reports(
        &ws,
        "crates/lb-ketama/Cargo.toml",
        &[
            "may only have crc32fast as external dependencies (ARCHITECTURE.md line 5), but [dependencies] has `fnv`",
        ],
    );
}

#[test]
fn an_ignore_doctest_is_reported_with_its_line() {
    let mut ws = tidy_workspace();
    ws.crate_sources.push(SourceFile {
        path: PathBuf::from("crates/lb-ketama/src/ring.rs"),
        text: "/// Builds a ring.\n///\n/// ```rust,ignore\n/// let ring = Ring::new();\n/// ```\npub fn f() {}\n"
            .to_owned(),
    });
    assert_reports(
        &ws,
        "crates/lb-ketama/src/ring.rs",
        &["line 3: doctest fence ````rust,ignore` is marked `ignore`"],
    );
}

#[test]
fn missing_crate_docs_are_reported() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "crates/lb-ketama").lib_rs = Some("pub fn f() {}\n//! late\n".to_owned());
    member_mut(&mut ws, "crates/lb-selection").lib_rs = None;
    // xtask is not under crates/: it needs no lib.rs.
    let violations = ws.check();
    let rendered: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert_eq!(rendered.len(), 2, "{rendered:#?}");
    assert!(rendered[0].starts_with("crates/lb-ketama/src/lib.rs: does not open with `//!`"));
    assert!(rendered[1].starts_with("crates/lb-selection/src/lib.rs: is missing"));
}

#[test]
fn versions_in_member_manifests_are_reported() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "xtask").manifest = manifest(
        "xtask",
        "[dependencies]\ntoml = \"1\"\nserde = { version = \"1\" }\n\
         fnv = { workspace = true, version = \"1\" }\nundeclared.workspace = true\n",
    );
    assert_reports(
        &ws,
        "xtask/Cargo.toml",
        &[
            "`fnv` in [dependencies] sets `version` next to `workspace = true`",
            "`serde` in [dependencies] does not use `workspace = true`",
            "`toml` in [dependencies] declares version \"1\"",
            "`undeclared` in [dependencies] inherits from the workspace, but the root",
        ],
    );
}

#[test]
fn lb_core_runtime_dependencies_must_be_optional_behind_runtime() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "crates/lb-core").manifest = manifest(
        "lb-core",
        "[features]\nruntime = []\n\n[dependencies]\ntokio.workspace = true\n\
         async-trait = { workspace = true, optional = true }\n",
    );
    assert_reports(
        &ws,
        "crates/lb-core/Cargo.toml",
        &[
            "`async-trait` in [dependencies] is optional but the `runtime` feature does not enable it",
            "`tokio` in [dependencies] must be optional, enabled by the `runtime` feature",
        ],
    );

    // Enabling through another feature, or through `dep/feature`, counts.
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "crates/lb-core").manifest = manifest(
        "lb-core",
        "[features]\nruntime = [\"rt\", \"async-trait/default\"]\nrt = [\"dep:tokio\"]\n\n\
         [dependencies]\ntokio = { workspace = true, optional = true }\n\
         async-trait = { workspace = true, optional = true }\n",
    );
    assert_eq!(ws.check(), Vec::<Violation>::new());
}

#[test]
fn the_edges_block_must_name_every_member_and_only_members() {
    let mut ws = tidy_workspace();
    ws.architecture = ARCHITECTURE
        .replace("xtask         -> (none)\n", "")
        .replace("lb-core, lb-ketama", "lb-core, lb-ketama, lb-gone");
    assert_reports(
        &ws,
        "ARCHITECTURE.md",
        &[
            "line 7: `lb-selection` may depend on `lb-gone`, which is not a workspace member",
            "workspace member `xtask` has no line in the dependency edges block",
        ],
    );
}

#[test]
fn malformed_edges_lines_are_reported_and_the_rest_still_checked() {
    let mut ws = tidy_workspace();
    ws.architecture = ARCHITECTURE
        .replace("xtask         -> (none)", "xtask depends on nothing")
        .replace("lb-core       -> (none)", "lb-core       ->");
    let violations = ws.check();
    let rendered: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        rendered.contains(
            &"ARCHITECTURE.md: line 6: `lb-core` lists no dependencies: write `(none)`".to_owned()
        ),
        "{rendered:#?}"
    );
    assert!(
        rendered.iter().any(|v| v
            .starts_with("ARCHITECTURE.md: line 8: `xtask depends on nothing` is not of the form")),
        "{rendered:#?}"
    );
    assert!(
        rendered
            .iter()
            .any(|v| v.contains("member `lb-core` has no line")),
        "{rendered:#?}"
    );
}

#[test]
fn a_missing_edges_block_is_reported() {
    let mut ws = tidy_workspace();
    ws.architecture = "# Architecture\n\nNo block here.\n".to_owned();
    assert_reports(&ws, "ARCHITECTURE.md", &["no dependency edges block"]);
}

#[test]
fn every_violation_is_reported_not_only_the_first() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "xtask").manifest =
        "[package]\nname = \"xtask\"\n[dependencies]\ntoml = \"1\"\n".to_owned();
    member_mut(&mut ws, "crates/lb-ketama").lib_rs = Some("pub fn f() {}\n".to_owned());
    ws.crate_sources.push(SourceFile {
        path: PathBuf::from("crates/lb-core/src/a.rs"),
        text: "//! ```ignore\n//! ```\n/// ```ignore\n".to_owned(),
    });
    let files: Vec<PathBuf> = ws.check().into_iter().map(|v| v.file).collect();
    assert_eq!(
        files,
        [
            "crates/lb-ketama/src/lib.rs",
            "xtask/Cargo.toml",
            "xtask/Cargo.toml",
            "crates/lb-core/src/a.rs",
            "crates/lb-core/src/a.rs",
        ]
        .map(PathBuf::from)
    );
}

#[test]
fn an_unparsable_manifest_is_reported_by_name() {
    let mut ws = tidy_workspace();
    member_mut(&mut ws, "crates/lb-ketama").manifest = "[package\nname = ".to_owned();
    let violations = ws.check();
    assert!(
        violations
            .iter()
            .any(|v| v.file == Path::new("crates/lb-ketama/Cargo.toml")
                && v.message.starts_with("cannot parse")),
        "{violations:#?}"
    );
}

#[test]
fn the_edges_block_parses_into_allowed_sets() {
    let mut violations = Vec::new();
    let parsed = edges::parse(ARCHITECTURE, &mut violations).expect("the block is there");
    assert_eq!(violations, []);
    let selection = &parsed["lb-selection"];
    assert_eq!(selection.deps, ["lb-core", "lb-ketama"]);
    assert_eq!(selection.only, None);
    assert_eq!(selection.line, 7);
    let ketama = &parsed["lb-ketama"];
    assert!(ketama.deps.is_empty());
    assert_eq!(ketama.only.as_deref(), Some(&["crc32fast".to_owned()][..]));
}

/// A scratch folder removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("the temp dir is writable");
        Self(dir)
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.0.join(relative);
        let parent = path.parent().expect("a relative file path has a parent");
        std::fs::create_dir_all(parent).expect("the temp dir is writable");
        std::fs::write(path, text).expect("the temp dir is writable");
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn load_expands_members_and_reads_sources_from_disk() {
    let tmp = TempDir::new("tidy-load");
    tmp.write(
        "Cargo.toml",
        "[workspace]\nmembers = [\"crates/*\", \"xtask\"]\nexclude = [\"crates/old\"]\n",
    );
    tmp.write("ARCHITECTURE.md", ARCHITECTURE);
    tmp.write("crates/lb-ketama/Cargo.toml", &manifest("lb-ketama", ""));
    tmp.write("crates/lb-ketama/src/lib.rs", "//! Ring.\n");
    tmp.write("crates/lb-ketama/src/ring.rs", "/// ```ignore\n/// ```\n");
    tmp.write("crates/lb-ketama/target/skipped.rs", "/// ```ignore\n");
    tmp.write("crates/lb-core/Cargo.toml", &manifest("lb-core", ""));
    tmp.write("crates/old/Cargo.toml", &manifest("old", ""));
    tmp.write("crates/not-a-crate/notes.txt", "no manifest here");
    tmp.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n");

    let ws = Workspace::load(&tmp.0).expect("the scratch workspace is readable");
    let dirs: Vec<&Path> = ws.members.iter().map(|m| m.dir.as_path()).collect();
    assert_eq!(
        dirs,
        [
            Path::new("crates/lb-core"),
            Path::new("crates/lb-ketama"),
            Path::new("xtask")
        ]
    );
    assert_eq!(ws.members[1].lib_rs.as_deref(), Some("//! Ring.\n"));
    let sources: Vec<&Path> = ws.crate_sources.iter().map(|f| f.path.as_path()).collect();
    assert_eq!(
        sources,
        [
            Path::new("crates/lb-ketama/src/lib.rs"),
            Path::new("crates/lb-ketama/src/ring.rs")
        ]
    );
    let rendered: Vec<String> = ws.check().iter().map(ToString::to_string).collect();
    assert_eq!(
        rendered,
        [
            "ARCHITECTURE.md: line 7: `lb-selection` is not a workspace member",
            "crates/lb-core/src/lib.rs: is missing: every crate under crates/ is a library",
            "xtask/Cargo.toml: does not inherit the workspace lints: add `[lints] workspace = true`",
            "crates/lb-ketama/src/ring.rs: line 1: doctest fence ````ignore` is marked `ignore`: \
             make it run, or use `no_run` when it needs the network",
        ]
    );
}

#[test]
fn load_names_the_file_it_cannot_read() {
    let tmp = TempDir::new("tidy-unreadable");
    tmp.write("Cargo.toml", "[workspace]\nmembers = [\"missing\"]\n");
    tmp.write("ARCHITECTURE.md", ARCHITECTURE);
    let err = Workspace::load(&tmp.0).expect_err("the member has no manifest");
    let message = err.to_string();
    assert!(
        message.starts_with("cannot read ") && message.contains("missing/Cargo.toml"),
        "{message}"
    );
}

#[test]
fn report_counts_the_problems_it_prints() {
    let tmp = TempDir::new("tidy-report");
    tmp.write("Cargo.toml", "[workspace]\nmembers = [\"xtask\"]\n");
    tmp.write("ARCHITECTURE.md", "no block\n");
    tmp.write("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n");
    // Two problems: no edges block (members are then not checked against one) and no lints.
    assert_eq!(super::report(&tmp.0), 2);
    assert!(!super::run(&tmp.0));

    tmp.write(
        "ARCHITECTURE.md",
        ARCHITECTURE.replace("lb-", "gone-").as_str(),
    );
    tmp.write("xtask/Cargo.toml", &manifest("xtask", ""));
    let unknown = ["gone-ketama", "gone-core", "gone-selection"];
    // One line per crate that is not a member, plus one per listed dependency that is not one.
    assert_eq!(super::report(&tmp.0), unknown.len() + 2);

    // A workspace that cannot be read counts as one problem.
    std::fs::remove_file(tmp.0.join("Cargo.toml")).expect("the file exists");
    assert_eq!(super::report(&tmp.0), 1);
}

/// `cargo test --workspace` runs tidy on this repository, so an untidy tree fails the tests.
#[test]
fn this_workspace_is_tidy() {
    let root = crate::workspace_root();
    let ws = Workspace::load(&root).expect("the workspace is readable");
    assert!(
        ws.members.iter().any(|m| m.dir == Path::new("xtask")),
        "members were found: {:?}",
        ws.members
    );
    let violations = ws.check();
    let rendered: Vec<String> = violations.iter().map(ToString::to_string).collect();
    assert!(
        violations.is_empty(),
        "tidy found problems:\n{}",
        rendered.join("\n")
    );
}
