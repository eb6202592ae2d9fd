//! Checks of source text: crate docs at the top of `lib.rs`, and no `ignore` doctests.

use super::{Member, SourceFile, Violation};

/// A library crate's `src/lib.rs` must open with `//!` crate docs.
pub(super) fn check_crate_docs(member: &Member, out: &mut Vec<Violation>) {
    let path = member.dir.join("src/lib.rs");
    let Some(lib_rs) = &member.lib_rs else {
        out.push(Violation::new(
            path,
            "is missing: every crate under crates/ is a library",
        ));
        return;
    };
    let first = lib_rs.lines().map(str::trim).find(|line| !line.is_empty());
    if !first.is_some_and(|line| line.starts_with("//!")) {
        out.push(Violation::new(
            path,
            "does not open with `//!` crate docs (one sentence on what the crate is, an example, \
             and a \"Feature flags\" list)",
        ));
    }
}

/// Doctests are real: `no_run` for what needs the network, never `ignore`.
pub(super) fn check_ignore_doctests(file: &SourceFile, out: &mut Vec<Violation>) {
    for (index, line) in file.text.lines().enumerate() {
        if let Some(info) = ignore_fence(line) {
            out.push(Violation::new(
                &file.path,
                format!(
                    "line {}: doctest fence `{info}` is marked `ignore`: make it run, or use \
                     `no_run` when it needs the network",
                    index + 1
                ),
            ));
        }
    }
}

/// When `line` is a doc line opening a code fence whose attributes include `ignore` (or a
/// target-specific `ignore-*`), returns the fence as written.
fn ignore_fence(line: &str) -> Option<&str> {
    let text = doc_text(line)?.trim_start();
    let fence_len = text.chars().take_while(|c| *c == '`' || *c == '~').count();
    if fence_len < 3 {
        return None;
    }
    let info = &text[fence_len..];
    let marked = info
        .split(|c: char| c == ',' || c.is_whitespace())
        .any(|attr| attr == "ignore" || attr.starts_with("ignore-"));
    marked.then_some(text.trim_end())
}

/// The documentation text a line carries, if it can carry any: after `///` or `//!`, after the
/// `*` of a block comment, inside `doc = "..."`, or the line itself (a line inside `/** */`).
/// Plain `//` comments carry none.
fn doc_text(line: &str) -> Option<&str> {
    let trimmed = line.trim_start();
    if let Some(rest) = trimmed.strip_prefix("///") {
        // `////` starts an ordinary comment.
        return (!rest.starts_with('/')).then_some(rest);
    }
    if let Some(rest) = trimmed.strip_prefix("//!") {
        return Some(rest);
    }
    if trimmed.starts_with("//") {
        return None;
    }
    if let Some((_, rest)) = trimmed.split_once("doc = \"") {
        return Some(rest.split('"').next().unwrap_or(rest));
    }
    if let Some(rest) = trimmed
        .strip_prefix("/**")
        .or_else(|| trimmed.strip_prefix("/*!"))
    {
        return Some(rest);
    }
    Some(trimmed.strip_prefix('*').unwrap_or(trimmed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignore_fences_in_every_doc_form_are_found() {
        for line in [
            "/// ```ignore",
            "    /// ```rust,ignore",
            "//! ```ignore",
            "//!```ignore",
            "/// ``` ignore",
            "/// ````ignore",
            "/// ~~~ignore",
            "/// ```rust, ignore",
            "/// ```ignore-windows",
            " * ```ignore",
            "/** ```ignore",
            "```ignore",
            "#![doc = \"```ignore\"]",
            "#[doc = \" ```rust,ignore\"]",
            "#![cfg_attr(not(feature = \"std\"), doc = \" ```ignore\")]",
        ] {
            assert!(ignore_fence(line).is_some(), "missed {line:?}");
        }
    }

    #[test]
    fn other_fences_and_comments_pass() {
        for line in [
            "/// ```",
            "/// ```rust",
            "/// ```no_run",
            "/// ```should_panic",
            "/// ```compile_fail",
            "/// ```text",
            "/// ```ignored_word_is_not_ignore",
            "// ```ignore (an ordinary comment)",
            "//// ```ignore",
            "/// Never mark a fence ```ignore in the middle of a sentence.",
            "let s = 1; // ```ignore",
        ] {
            assert_eq!(ignore_fence(line), None, "flagged {line:?}");
        }
    }
}
