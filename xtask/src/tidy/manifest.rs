//! Checks of one member's `Cargo.toml`: lints, dependency declarations, allowed edges, and
//! lb-core's optional runtime.

use std::path::Path;

use toml::{Table, Value};

use super::Violation;
use super::edges::Edges;

/// What every member's check needs to know about the workspace.
#[derive(Debug)]
pub(super) struct Context<'a> {
    /// The root manifest.
    pub(super) root: &'a Table,
    /// The package names of the workspace members.
    pub(super) members: &'a [&'a str],
    /// The allowed edges, when ARCHITECTURE.md has a block.
    pub(super) edges: Option<&'a Edges>,
}

/// The kind of a dependency table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Normal,
    Dev,
    Build,
}

const DEP_TABLES: [(&str, Kind); 5] = [
    ("dependencies", Kind::Normal),
    ("dev-dependencies", Kind::Dev),
    ("dev_dependencies", Kind::Dev),
    ("build-dependencies", Kind::Build),
    ("build_dependencies", Kind::Build),
];

/// Keys a member may set next to `workspace = true`.
const INHERITING_KEYS: [&str; 6] = [
    "workspace",
    "features",
    "optional",
    "default-features",
    "default_features",
    "public",
];

/// lb-core's dependencies that must stay behind its `runtime` feature (design.md).
const LB_CORE_RUNTIME_DEPS: [&str; 2] = ["tokio", "async-trait"];

/// One dependency entry as written in a member manifest.
#[derive(Debug)]
struct Dep<'a> {
    /// The key it is declared under.
    key: &'a str,
    value: &'a Value,
    kind: Kind,
    /// Where it is, as a reader finds it in the file: `[dev-dependencies]`,
    /// `[target.'cfg(unix)'.dependencies]`.
    table: String,
}

/// `[package] name`.
pub(super) fn package_name(manifest: &Table) -> Option<&str> {
    manifest.get("package")?.get("name")?.as_str()
}

/// Every dependency entry of the manifest, target-specific ones included.
fn dependencies(manifest: &Table) -> Vec<Dep<'_>> {
    let mut deps = Vec::new();
    collect(manifest, "", &mut deps);
    if let Some(targets) = manifest.get("target").and_then(Value::as_table) {
        for (cfg, table) in targets {
            if let Some(table) = table.as_table() {
                collect(table, &format!("target.'{cfg}'."), &mut deps);
            }
        }
    }
    deps
}

/// The entries of the dependency tables directly in `table`, labelled with `prefix`.
fn collect<'a>(table: &'a Table, prefix: &str, deps: &mut Vec<Dep<'a>>) {
    for (name, kind) in DEP_TABLES {
        let Some(entries) = table.get(name).and_then(Value::as_table) else {
            continue;
        };
        for (key, value) in entries {
            deps.push(Dep {
                key,
                value,
                kind,
                table: format!("[{prefix}{name}]"),
            });
        }
    }
}

/// The root manifest's `[workspace.dependencies]` entry for `key`, when it declares one.
fn root_entry<'a>(root: &'a Table, key: &str) -> Option<&'a Value> {
    root.get("workspace")?.get("dependencies")?.get(key)
}

/// The package a dependency key names: the root manifest's `package = "..."` rename, else the key.
fn package_of<'a>(root: &'a Table, key: &'a str) -> &'a str {
    root_entry(root, key)
        .and_then(|dep| dep.get("package"))
        .and_then(Value::as_str)
        .unwrap_or(key)
}

/// Checks one member manifest, pushing every problem found.
pub(super) fn check(ctx: &Context<'_>, dir: &Path, manifest: &Table, out: &mut Vec<Violation>) {
    let file = dir.join("Cargo.toml");
    let Some(name) = package_name(manifest) else {
        out.push(Violation::new(file, "has no `[package] name`"));
        return;
    };
    let inherits_lints = manifest
        .get("lints")
        .and_then(|lints| lints.get("workspace"))
        .and_then(Value::as_bool)
        == Some(true);
    if !inherits_lints {
        out.push(Violation::new(
            &file,
            "does not inherit the workspace lints: add `[lints] workspace = true`",
        ));
    }
    let allowed = ctx.edges.and_then(|edges| edges.get(name));
    for dep in dependencies(manifest) {
        check_declaration(ctx.root, &dep, &file, out);
        let package = package_of(ctx.root, dep.key);
        let internal = ctx.members.contains(&package);
        let Some(allowed) = allowed else {
            // A member without a line is reported against ARCHITECTURE.md once.
            continue;
        };
        if internal && package != name && !allowed.deps.iter().any(|d| d == package) {
            out.push(Violation::new(
                &file,
                format!(
                    "`{name}` depends on workspace crate `{package}` in {}, which ARCHITECTURE.md \
                     does not allow (line {})",
                    dep.table, allowed.line
                ),
            ));
        }
        if let Some(only) = &allowed.only
            && !internal
            && dep.kind == Kind::Normal
            && !only.iter().any(|o| o == package)
        {
            out.push(Violation::new(
                &file,
                format!(
                    "`{name}` may only have {} as external dependencies (ARCHITECTURE.md line {}), \
                     but {} has `{package}`",
                    only.join(", "),
                    allowed.line,
                    dep.table
                ),
            ));
        }
    }
    if name == "lb-core" {
        check_lb_core_runtime(ctx.root, manifest, &file, out);
    }
}

/// Every entry must inherit from `[workspace.dependencies]`, so versions live in one place.
fn check_declaration(root: &Table, dep: &Dep<'_>, file: &Path, out: &mut Vec<Violation>) {
    let Dep { key, table, .. } = dep;
    match dep.value {
        Value::String(version) => out.push(Violation::new(
            file,
            format!(
                "`{key}` in {table} declares version \"{version}\": declare it once in the root \
                 `[workspace.dependencies]` and write `{key}.workspace = true`"
            ),
        )),
        Value::Table(entry) => {
            if entry.get("workspace").and_then(Value::as_bool) != Some(true) {
                out.push(Violation::new(
                    file,
                    format!(
                        "`{key}` in {table} does not use `workspace = true`: declare it once in \
                         the root `[workspace.dependencies]`"
                    ),
                ));
                return;
            }
            for extra in entry.keys() {
                if !INHERITING_KEYS.contains(&extra.as_str()) {
                    out.push(Violation::new(
                        file,
                        format!(
                            "`{key}` in {table} sets `{extra}` next to `workspace = true`: set it \
                             in the root `[workspace.dependencies]`"
                        ),
                    ));
                }
            }
            if root_entry(root, key).is_none() {
                out.push(Violation::new(
                    file,
                    format!(
                        "`{key}` in {table} inherits from the workspace, but the root \
                         `[workspace.dependencies]` does not declare it"
                    ),
                ));
            }
        }
        _ => out.push(Violation::new(
            file,
            format!("`{key}` in {table} is neither a version nor a table"),
        )),
    }
}

/// design.md: lb-core depends on tokio and async-trait only behind its `runtime` feature.
fn check_lb_core_runtime(root: &Table, manifest: &Table, file: &Path, out: &mut Vec<Violation>) {
    let enabled = runtime_enables(manifest);
    for dep in dependencies(manifest) {
        if dep.kind != Kind::Normal {
            continue;
        }
        let package = package_of(root, dep.key);
        if !LB_CORE_RUNTIME_DEPS.contains(&package) {
            continue;
        }
        let optional = dep.value.get("optional").and_then(Value::as_bool) == Some(true);
        if !optional {
            out.push(Violation::new(
                file,
                format!(
                    "`{}` in {} must be optional, enabled by the `runtime` feature \
                     (design.md: lb-core is usable without tokio)",
                    dep.key, dep.table
                ),
            ));
        } else if !enabled.iter().any(|key| key == dep.key) {
            out.push(Violation::new(
                file,
                format!(
                    "`{}` in {} is optional but the `runtime` feature does not enable it",
                    dep.key, dep.table
                ),
            ));
        }
    }
}

/// The dependency keys that turning on lb-core's `runtime` feature enables, following features
/// that enable other features.
fn runtime_enables(manifest: &Table) -> Vec<String> {
    let Some(features) = manifest.get("features").and_then(Value::as_table) else {
        return Vec::new();
    };
    let mut seen = vec!["runtime".to_owned()];
    let mut queue = vec!["runtime".to_owned()];
    let mut deps = Vec::new();
    while let Some(feature) = queue.pop() {
        let Some(items) = features.get(&feature).and_then(Value::as_array) else {
            continue;
        };
        for item in items.iter().filter_map(Value::as_str) {
            if let Some(dep) = item.strip_prefix("dep:") {
                deps.push(dep.to_owned());
            } else if let Some((dep, _feature)) = item.split_once('/') {
                // `dep/feat` enables `dep`; `dep?/feat` does not.
                if !dep.ends_with('?') {
                    deps.push(dep.to_owned());
                }
            } else if features.contains_key(item) {
                if !seen.iter().any(|s| s == item) {
                    seen.push(item.to_owned());
                    queue.push(item.to_owned());
                }
            } else {
                // An optional dependency's implicit feature.
                deps.push(item.to_owned());
            }
        }
    }
    deps
}
