//! The command line of `health_scale`.

/// What to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Args {
    /// Backends of the TCP passes.
    pub(crate) tcp: usize,
    /// Backends of the HTTP/1.1 passes (each with reuse off, then on); 0 skips them.
    pub(crate) http: usize,
    /// The most probes in flight at once.
    pub(crate) concurrency: usize,
    /// Passes of each kind.
    pub(crate) passes: usize,
    /// Worker threads of the prober's runtime.
    pub(crate) threads: usize,
    /// Where to write each pass as a JSON line (for `cargo xtask bench`).
    pub(crate) out: Option<String>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            tcp: 100_000,
            http: 10_000,
            concurrency: 256,
            passes: 3,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            out: None,
        }
    }
}

/// The usage line.
pub(crate) const USAGE: &str = "usage: health_scale [--quick] [--tcp N] [--http N] \
                                [--concurrency N] [--passes N] [--threads N] \
                                [--out FILE]";

impl Args {
    /// Parses the arguments after the program's name. `--quick` (for CI) is 10,000 TCP and
    /// 1,000 HTTP backends, 2 passes; later options override it.
    pub(crate) fn parse(args: &[String]) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut rest = args.iter();
        while let Some(flag) = rest.next() {
            if flag == "--quick" {
                parsed.tcp = 10_000;
                parsed.http = 1_000;
                parsed.passes = 2;
                continue;
            }
            if flag == "--out" {
                let file = rest.next().ok_or("`--out` needs a file")?;
                parsed.out = Some(file.clone());
                continue;
            }
            let mut number = || -> Result<usize, String> {
                let value = rest.next().ok_or(format!("`{flag}` needs a number"))?;
                value
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("`{flag}` needs a number, got `{value}`"))
            };
            match flag.as_str() {
                "--tcp" => parsed.tcp = number()?,
                "--http" => parsed.http = number()?,
                "--concurrency" => parsed.concurrency = number()?.max(1),
                "--passes" => parsed.passes = number()?.max(1),
                "--threads" => parsed.threads = number()?.max(1),
                other => return Err(format!("unknown argument `{other}`; {USAGE}")),
            }
        }
        Ok(parsed)
    }
}
