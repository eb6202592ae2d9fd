//! Finds the test command written in README.md, so README and CI cannot drift apart.
//!
//! The command is the first line inside a fenced code block (``` or ~~~) that starts with
//! `cargo test`, optionally after a `$ ` prompt. It is run without a shell, so it must be plain
//! words: quotes, pipes, redirections, variables and line continuations are refused by name.

use std::fmt;

/// Why README.md yields no runnable test command.
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum ReadmeError {
    /// No fenced code block holds a line starting with `cargo test`.
    NoTestCommand,
    /// The test command uses shell syntax this runner does not interpret.
    ShellSyntax {
        /// The command line as written in README.md.
        line: String,
        /// The first character that needs a shell.
        found: char,
    },
}

impl fmt::Display for ReadmeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTestCommand => f.write_str(
                "readme has no test command: expected a line starting with `cargo test` \
                 inside a fenced code block",
            ),
            Self::ShellSyntax { line, found } => write!(
                f,
                "readme test command `{line}` uses shell syntax (`{found}`) that xtask does not \
                 interpret: write plain words"
            ),
        }
    }
}

impl std::error::Error for ReadmeError {}

/// Characters that mean something to a shell; a command that contains one cannot be split into
/// words faithfully without one.
const SHELL_SYNTAX: &[char] = &[
    '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '*', '?', '[', ']', '{', '}',
    '~', '#', '!',
];

/// Returns the words of README's test command, starting with `cargo` and `test`.
pub(crate) fn test_command(readme: &str) -> Result<Vec<String>, ReadmeError> {
    // The opening fence of the block we are in: its character and length.
    let mut fence: Option<(char, usize)> = None;
    for line in readme.lines() {
        let trimmed = line.trim();
        match fence {
            None => fence = opening_fence(trimmed),
            Some((ch, len)) => {
                if closes_fence(trimmed, ch, len) {
                    fence = None;
                } else if let Some(words) = as_test_command(trimmed) {
                    return words;
                }
            }
        }
    }
    Err(ReadmeError::NoTestCommand)
}

/// A line opens a fenced block when it starts with at least three backticks or tildes.
fn opening_fence(line: &str) -> Option<(char, usize)> {
    let ch = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = line.chars().take_while(|c| *c == ch).count();
    (len >= 3).then_some((ch, len))
}

/// A block closes with the same character, at least as many times, and nothing else.
fn closes_fence(line: &str, ch: char, len: usize) -> bool {
    let run = line.chars().take_while(|c| *c == ch).count();
    run >= len && line[run * ch.len_utf8()..].trim().is_empty()
}

/// `Some` when the line is a `cargo test` command: its words, or why they cannot be run.
fn as_test_command(line: &str) -> Option<Result<Vec<String>, ReadmeError>> {
    let command = line.strip_prefix("$ ").unwrap_or(line).trim();
    let mut words = command.split_whitespace();
    if words.next() != Some("cargo") || words.next() != Some("test") {
        return None;
    }
    if let Some(found) = command.chars().find(|c| SHELL_SYNTAX.contains(c)) {
        return Some(Err(ReadmeError::ShellSyntax {
            line: command.to_owned(),
            found,
        }));
    }
    Some(Ok(command.split_whitespace().map(str::to_owned).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn finds_the_command_in_a_fenced_block() {
        let readme =
            "# lb\n\nRun the tests:\n\n```sh\ncargo test --workspace --all-features\n```\n";
        assert_eq!(
            test_command(readme),
            Ok(words("cargo test --workspace --all-features"))
        );
    }

    #[test]
    fn ignores_commands_outside_fences_and_takes_the_first_inside() {
        let readme = "\
Use `cargo test` to test.
cargo test --outside-a-fence

~~~console
$ cargo build
$ cargo test --workspace
~~~

```
cargo test -p lb-ketama
```
";
        assert_eq!(test_command(readme), Ok(words("cargo test --workspace")));
    }

    #[test]
    fn a_longer_fence_is_not_closed_by_a_shorter_one() {
        let readme = "````md\n```\ncargo test --inner\n````\n";
        assert_eq!(test_command(readme), Ok(words("cargo test --inner")));
    }

    #[test]
    fn a_closed_block_does_not_leak_into_the_following_text() {
        let readme = "```\ncargo build\n```\ncargo test --after-the-block\n";
        assert_eq!(test_command(readme), Err(ReadmeError::NoTestCommand));
    }

    #[test]
    fn other_cargo_commands_do_not_count() {
        let readme = "```\ncargo testing\ncargo tests\ncargo bench\n```\n";
        assert_eq!(test_command(readme), Err(ReadmeError::NoTestCommand));
        assert_eq!(test_command(""), Err(ReadmeError::NoTestCommand));
    }

    #[test]
    fn refuses_shell_syntax_by_name() {
        let readme = "```\ncargo test --workspace && echo done\n```\n";
        let err = test_command(readme).expect_err("`&&` needs a shell");
        assert_eq!(
            err,
            ReadmeError::ShellSyntax {
                line: "cargo test --workspace && echo done".to_owned(),
                found: '&',
            }
        );
        assert!(
            err.to_string()
                .contains("`cargo test --workspace && echo done`")
        );
    }

    #[test]
    fn the_missing_command_error_says_what_was_expected() {
        let message = ReadmeError::NoTestCommand.to_string();
        assert!(message.starts_with("readme has no test command"));
        assert!(message.contains("`cargo test`"));
    }
}
