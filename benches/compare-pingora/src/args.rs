//! The command line both binaries take: `[--quick] [--out FILE]`.

/// Parsed options.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Fewer rounds: a run of seconds, for a first look.
    pub quick: bool,
    /// Where the JSON lines go; standard output when absent.
    pub out: Option<String>,
}

impl Args {
    /// Parses the arguments after the program name.
    pub fn parse(args: &[String]) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            match arg.as_str() {
                "--quick" => parsed.quick = true,
                "--out" => {
                    let file = rest.next().ok_or("`--out` needs a file name")?;
                    parsed.out = Some(file.clone());
                }
                other => {
                    return Err(format!(
                        "unknown argument `{other}`; usage: [--quick] [--out FILE]"
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// Writes `lines` (one JSON value each) where `--out` says.
    pub fn write(&self, lines: &[serde_json::Value]) -> std::io::Result<()> {
        use std::io::Write;
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        match &self.out {
            Some(path) => std::fs::write(path, text),
            None => std::io::stdout().lock().write_all(text.as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_flags() {
        assert_eq!(Args::parse(&[]), Ok(Args::default()));
        assert_eq!(
            Args::parse(&args("--quick --out x.jsonl")),
            Ok(Args {
                quick: true,
                out: Some("x.jsonl".into())
            })
        );
        assert!(Args::parse(&args("--out")).is_err());
        assert!(Args::parse(&args("--fast")).is_err());
    }
}
