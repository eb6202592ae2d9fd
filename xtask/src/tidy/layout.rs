//! lb-core's file layout (issue 13): each concept in a file of its own, of at most
//! [`MAX_CODE_LINES`] lines before its tests, and no two files importing each other through
//! `use crate::...` (a file that needs another's items, and is needed by it, is one concept split
//! in two, or two tangled).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{SourceFile, Violation};

/// lb-core's sources, relative to the workspace root.
pub(super) const CORE_SRC: &str = "crates/lb-core/src";

/// The most lines a file of lb-core may hold before its `#[cfg(test)]` module ("about 400").
pub(super) const MAX_CODE_LINES: usize = 420;

/// The lines of `text` before its unit tests (a `#[cfg(test)]` line followed by `mod`).
fn code_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
        .unwrap_or(lines.len())
}

/// The module path of an lb-core source file (`state/mod.rs` -> `state`, `lib.rs` -> ``).
fn module_of(path: &Path) -> Option<String> {
    let relative = path.strip_prefix(CORE_SRC).ok()?;
    let text = relative.to_str()?.strip_suffix(".rs")?;
    let text = text.strip_suffix("/mod").unwrap_or(text);
    Some(if text == "lib" {
        String::new()
    } else {
        text.replace('/', "::")
    })
}

/// The `crate::` paths that `use` statements of `text` name, before its tests; a group
/// (`use crate::a::{b, c::D}`) gives one path per member.
fn used_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .take(code_lines(text))
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use crate::") {
        let before = &rest[..at];
        let starts_statement = before
            .chars()
            .rev()
            .find(|c| !c.is_whitespace())
            .is_none_or(|c| matches!(c, ';' | '}' | '{' | ']' | ')'))
            || before.trim_end().ends_with("pub(crate)")
            || before.trim_end().ends_with("pub(super)")
            || before.trim_end().ends_with("pub");
        let tail = &rest[at + "use crate::".len()..];
        let end = tail.find(';').unwrap_or(tail.len());
        if starts_statement {
            expand("", &tail[..end], &mut paths);
        }
        rest = &tail[end..];
    }
    paths
}

/// Adds to `out` every path of the use tree `tree` (without its `crate::`), after `prefix`.
fn expand(prefix: &str, tree: &str, out: &mut Vec<String>) {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        // `a::B as C` names `a::B`.
        if let Some(name) = tree.split_whitespace().next() {
            out.push(format!("{prefix}{name}"));
        }
        return;
    };
    let head = format!("{prefix}{}", tree[..open].trim());
    let inner = tree[open + 1..].trim_end();
    let inner = inner.strip_suffix('}').unwrap_or(inner);
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                expand(&head, &inner[start..i], out);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !inner[start..].trim().is_empty() {
        expand(&head, &inner[start..], out);
    }
}

/// The module of `modules` that `path` names: its longest prefix that is a module (`state::Take`
/// -> `state`, `health::cell::Flip` -> `health::cell`); `None` for the crate root.
fn target<'m>(path: &str, modules: &'m BTreeSet<String>) -> Option<&'m String> {
    let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
    (1..=parts.len())
        .rev()
        .find_map(|n| modules.get(&parts[..n].join("::")))
}

/// Checks lb-core's files: their length before tests, and that no two import each other.
pub(super) fn check(files: &[SourceFile], out: &mut Vec<Violation>) {
    let core: Vec<(&SourceFile, String)> = files
        .iter()
        .filter_map(|f| module_of(&f.path).map(|m| (f, m)))
        .collect();
    let modules: BTreeSet<String> = core.iter().map(|(_, m)| m.clone()).collect();
    let mut imports: BTreeMap<&str, (&PathBuf, BTreeSet<&String>)> = BTreeMap::new();
    for (file, module) in &core {
        let lines = code_lines(&file.text);
        if lines > MAX_CODE_LINES {
            out.push(Violation::new(
                &file.path,
                format!(
                    "{lines} lines before its tests: lb-core keeps a concept in a file of at most \
                     {MAX_CODE_LINES}; split it"
                ),
            ));
        }
        let targets = used_paths(&file.text)
            .iter()
            .filter_map(|p| target(p, &modules))
            .filter(|t| *t != module)
            .collect();
        imports.insert(module, (&file.path, targets));
    }
    for (module, (path, targets)) in &imports {
        for other in targets {
            let mutual = imports
                .get(other.as_str())
                .is_some_and(|(_, back)| back.iter().any(|m| m.as_str() == *module));
            if mutual && *module < other.as_str() {
                let other_path = &imports[other.as_str()].0;
                out.push(Violation::new(
                    *path,
                    format!(
                        "imports `crate::{other}` ({}), which imports it back: lb-core's files \
                         never import each other; move what both need to one of them or a third",
                        other_path.display()
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: PathBuf::from(path),
            text: text.to_owned(),
        }
    }

    #[test]
    fn use_trees_expand_to_one_path_per_member() {
        let text = "use std::fmt;\nuse crate::a::{B, c::{D, E}};\npub(crate) use crate::f::G as H;\n\
                    use crate::{x::Y,\n    z::W};\n// use crate::commented::Out;\nfn f() { let s = \"use crate::in_string\"; }\n\
                    #[cfg(test)]\nmod tests {\n    use crate::tested::Only;\n}\n";
        assert_eq!(
            used_paths(text),
            ["a::B", "a::c::D", "a::c::E", "f::G", "x::Y", "z::W"]
        );
        assert_eq!(code_lines(text), 7);
    }

    #[test]
    fn mutual_imports_and_long_files_are_reported_once_with_their_files() {
        let tests = "#[cfg(test)]\nmod tests {}\n";
        let long = format!(
            "{}{tests}{}",
            "fn f() {}\n".repeat(MAX_CODE_LINES + 1),
            "\n".repeat(50)
        );
        let files = [
            file("crates/lb-core/src/lib.rs", "mod pick;\n"),
            file(
                "crates/lb-core/src/pick.rs",
                "use crate::selector::Selector;\n",
            ),
            file(
                "crates/lb-core/src/selector.rs",
                "use crate::{pick::LocalPick, state::Take};\n",
            ),
            file(
                "crates/lb-core/src/state/mod.rs",
                "use crate::health::cell::Flip;\n",
            ),
            file("crates/lb-core/src/health/cell.rs", &long),
            file(
                "crates/lb-core/src/health/mod.rs",
                &format!(
                    "{}{tests}{}",
                    "fn f() {}\n".repeat(MAX_CODE_LINES),
                    "\n".repeat(99)
                ),
            ),
            // Other crates are not checked.
            file("crates/lb-selection/src/a.rs", "use crate::b::X;\n"),
            file("crates/lb-selection/src/b.rs", "use crate::a::Y;\n"),
        ];
        let mut out = Vec::new();
        check(&files, &mut out);
        let found: Vec<(String, bool)> = out
            .iter()
            .map(|v| {
                (
                    v.file.display().to_string(),
                    v.message.contains("imports it back"),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("crates/lb-core/src/health/cell.rs".to_owned(), false),
                ("crates/lb-core/src/pick.rs".to_owned(), true),
            ]
        );
        assert!(
            out[0]
                .message
                .starts_with(&format!("{} lines", MAX_CODE_LINES + 1))
        );
        assert!(out[1].message.contains("crates/lb-core/src/selector.rs"));
    }
}
