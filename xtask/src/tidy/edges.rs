//! The dependency edges ARCHITECTURE.md allows, read from its machine-readable block.
//!
//! The block sits between `<!-- tidy:edges:start -->` and `<!-- tidy:edges:end -->` (a code
//! fence inside it is fine). Each line reads
//!
//! ```text
//! crate -> dep, dep   only: ext, ext
//! ```
//!
//! where `(none)` means no workspace dependency at all, and the optional `only:` list names the
//! only external normal dependencies the crate may have.

use std::collections::BTreeMap;

use super::Violation;

const FILE: &str = "ARCHITECTURE.md";
pub(super) const START: &str = "<!-- tidy:edges:start -->";
pub(super) const END: &str = "<!-- tidy:edges:end -->";

/// What one crate may depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Allowed {
    /// The workspace crates it may depend on.
    pub(super) deps: Vec<String>,
    /// When set, the only external crates it may have as normal dependencies.
    pub(super) only: Option<Vec<String>>,
    /// The line of ARCHITECTURE.md this comes from (1-based).
    pub(super) line: usize,
}

/// The whole block: crate name to what it may depend on.
pub(super) type Edges = BTreeMap<String, Allowed>;

/// Parses the edges block, reporting every malformed line. `None` when there is no block.
pub(super) fn parse(architecture: &str, violations: &mut Vec<Violation>) -> Option<Edges> {
    let lines: Vec<&str> = architecture.lines().collect();
    let start = lines.iter().position(|line| line.trim() == START);
    let end = lines.iter().position(|line| line.trim() == END);
    let (start, end) = match (start, end) {
        (Some(start), Some(end)) if start < end => (start, end),
        _ => {
            violations.push(Violation::new(
                FILE,
                format!("no dependency edges block: expected `{START}` then `{END}`"),
            ));
            return None;
        }
    };
    let mut edges = Edges::new();
    for (index, raw) in lines.iter().enumerate().take(end).skip(start + 1) {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with("```") || line.starts_with("~~~") {
            continue;
        }
        match parse_line(line) {
            Ok((name, mut allowed)) => {
                allowed.line = number;
                if let Some(first) = edges.get(&name) {
                    violations.push(Violation::new(
                        FILE,
                        format!(
                            "line {number}: `{name}` already has a line (line {})",
                            first.line
                        ),
                    ));
                } else {
                    edges.insert(name, allowed);
                }
            }
            Err(problem) => {
                violations.push(Violation::new(FILE, format!("line {number}: {problem}")));
            }
        }
    }
    Some(edges)
}

fn parse_line(line: &str) -> Result<(String, Allowed), String> {
    let Some((name, rest)) = line.split_once("->") else {
        return Err(format!(
            "`{line}` is not of the form `crate -> dep, dep   only: ext, ext`"
        ));
    };
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!("`{name}` is not a crate name"));
    }
    let (deps, only) = match rest.split_once("only:") {
        Some((deps, only)) => (deps, Some(only)),
        None => (rest, None),
    };
    let deps = match deps.trim() {
        "" => return Err(format!("`{name}` lists no dependencies: write `(none)`")),
        "(none)" => Vec::new(),
        list => names(list)?,
    };
    let only = match only.map(str::trim) {
        None => None,
        Some("") => return Err(format!("`{name}` has an empty `only:` list")),
        Some(list) => Some(names(list)?),
    };
    Ok((
        name.to_owned(),
        Allowed {
            deps,
            only,
            line: 0,
        },
    ))
}

fn names(list: &str) -> Result<Vec<String>, String> {
    list.split(',')
        .map(str::trim)
        .map(|name| {
            if name.is_empty() || name.contains(char::is_whitespace) {
                Err(format!(
                    "`{list}` is not a comma-separated list of crate names"
                ))
            } else {
                Ok(name.to_owned())
            }
        })
        .collect()
}

/// Reports lines about crates that are not workspace members, and members without a line.
pub(super) fn check_names(edges: &Edges, members: &[&str], violations: &mut Vec<Violation>) {
    for (name, allowed) in edges {
        if !members.contains(&name.as_str()) {
            violations.push(Violation::new(
                FILE,
                format!("line {}: `{name}` is not a workspace member", allowed.line),
            ));
        }
        for dep in &allowed.deps {
            if !members.contains(&dep.as_str()) {
                violations.push(Violation::new(
                    FILE,
                    format!(
                        "line {}: `{name}` may depend on `{dep}`, which is not a workspace member",
                        allowed.line
                    ),
                ));
            }
        }
    }
    for member in members {
        if !edges.contains_key(*member) {
            violations.push(Violation::new(
                FILE,
                format!("workspace member `{member}` has no line in the dependency edges block"),
            ));
        }
    }
}
