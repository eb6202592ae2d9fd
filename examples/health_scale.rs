//! Health checks at scale: TCP passes over 100,000 backends and HTTP/1.1 passes over 10,000
//! (connection reuse off, then on), all on loopback; prints each pass's time, the backends it
//! marked unhealthy (there should be none: every backend is up) and the heap held per probed
//! backend.
//!
//! Run it with `cargo run --release --example health_scale [-- --quick] [--tcp N] [--http N]
//! [--concurrency N] [--passes N] [--threads N] [--out FILE]` (defaults: 100,000 TCP backends,
//! 10,000 HTTP, 256 probes at once, 3 passes, a worker thread per CPU; `--quick` is 10,000 and
//! 1,000, 2 passes). It exits with an error when a pass leaves a backend unhealthy. `--out`
//! writes each pass as a JSON line (`cargo xtask bench` does, for its report); each pass also
//! reports the process's CPU time, which the machine's other work inflates less than the wall
//! time.
//!
//! Every backend is a distinct loopback address `127.a.b.c` on one port: Linux routes all of
//! 127.0.0.0/8 to loopback, so one listener on `0.0.0.0` answers them all and nothing leaves the
//! machine. The listener (or the HTTP server) runs on a thread of its own: it stands for the
//! backends' hosts. The load balancer probes on a multi-thread tokio runtime of `--threads`
//! workers (default: one per CPU), as a service would.
//!
//! The heap is counted by a global counting allocator (`cap`, as the soak test does): what the
//! load balancer with its health records holds per backend, and the most the process holds during
//! a pass (sampled every millisecond) above what it held before. The TCP listener allocates
//! nothing per connection, so the TCP figures are the prober's alone; the HTTP figures include
//! the in-process server's connections.
//!
//! At start the soft open-file limit is raised to the hard limit (each probe in flight holds a
//! socket, each idle reused connection two descriptors here: both ends are in this process),
//! and the concurrency and the reused connections are sized to fit what is allowed.

#[path = "health_scale/args.rs"]
mod args;
#[path = "health_scale/fds.rs"]
mod fds;
#[path = "health_scale/heap.rs"]
mod heap;
#[path = "health_scale/peers.rs"]
mod peers;
#[path = "health_scale/record.rs"]
mod record;
#[path = "health_scale/run.rs"]
mod run;
#[path = "health_scale/targets.rs"]
mod targets;
#[path = "health_scale/verdict.rs"]
mod verdict;

use std::alloc::System;
use std::process::ExitCode;

use cap::Cap;

use lb::BoxError;
use lb::health::{HttpHealthCheck, TcpHealthCheck};
use lb::prelude::*;

use self::args::Args;
use self::peers::{Peer, Serve};
use self::record::Row;

#[global_allocator]
static HEAP: Cap<System> = Cap::new(System, usize::MAX);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match Args::parse(&args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build();
    match runtime
        .map_err(BoxError::from)
        .and_then(|r| r.block_on(scale(&args)))
    {
        Ok(0) => ExitCode::SUCCESS,
        Ok(unhealthy) => {
            eprintln!("{unhealthy} healthy backends were marked unhealthy");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("health_scale: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs every part; returns the backends marked unhealthy in all of them. Writes the passes to
/// `--out` when asked.
async fn scale(args: &Args) -> Result<usize, BoxError> {
    let mut rows = Vec::new();
    let unhealthy = parts(args, &mut rows).await?;
    if let Some(out) = &args.out {
        let text: String = rows.iter().map(|r| format!("{}\n", r.to_json())).collect();
        std::fs::write(out, text).map_err(|e| format!("cannot write {out}: {e}"))?;
    }
    Ok(unhealthy)
}

/// The TCP part, then the HTTP parts; returns the backends marked unhealthy in all of them.
async fn parts(args: &Args, rows: &mut Vec<Row>) -> Result<usize, BoxError> {
    // The most descriptors a part holds: the probes in flight and what the peer holds (the TCP
    // listener's last connections, or both ends of every reused HTTP connection).
    let held = (peers::HELD as u64).max(2 * args.http as u64);
    let limit = fds::raise(fds::RESERVE + held + 2 * args.concurrency as u64);
    println!(
        "open files: soft limit {} at start, {} now; {} worker threads",
        limit.before, limit.now, args.threads
    );
    let mut unhealthy = 0;
    if args.tcp > 0 {
        // A TCP probe holds one socket, and the listener one per connection until it closes it
        // (the last `HELD` it accepted, and at most one per probe in flight besides).
        let concurrency = fds::concurrency(args.concurrency, limit.now, 2, peers::HELD as u64);
        let peer = peers::start(Serve::Close)?;
        let title = format!("tcp, {} backends, concurrency {concurrency}", args.tcp);
        let check = Box::new(TcpHealthCheck::new());
        let part = Part {
            title: &title,
            probe: "tcp",
            reuse: false,
            count: args.tcp,
            concurrency,
        };
        unhealthy += part.run(&peer, check, args, rows).await?;
    }
    if args.http > 0 {
        let concurrency = fds::concurrency(args.concurrency, limit.now, 2, 0);
        let peer = peers::start(Serve::Http)?;
        for reuse in [false, true] {
            let count = if reuse {
                fds::reused_backends(args.http, limit.now, concurrency)
            } else {
                args.http
            };
            if count < args.http {
                println!(
                    "\n(connection reuse: {count} backends, not {}: their idle connections \
                     would not fit under the open-file limit of {})",
                    args.http, limit.now
                );
            }
            // An empty host sends each backend's own address as `Host`.
            let check = Box::new(HttpHealthCheck::new("", false)?.with_reuse_connection(reuse));
            let title = format!(
                "http/1.1, connection reuse {}, {count} backends, concurrency {concurrency}",
                if reuse { "on" } else { "off" }
            );
            let part = Part {
                title: &title,
                probe: "http",
                reuse,
                count,
                concurrency,
            };
            unhealthy += part.run(&peer, check, args, rows).await?;
        }
    }
    Ok(unhealthy)
}

/// One kind of pass over `count` backends.
struct Part<'a> {
    title: &'a str,
    probe: &'static str,
    reuse: bool,
    count: usize,
    concurrency: usize,
}

impl Part<'_> {
    /// Builds a load balancer over the targets on `peer`, runs the passes, prints them and adds
    /// them to `rows`; returns the most backends a pass left unhealthy.
    async fn run(
        &self,
        peer: &Peer,
        check: Box<dyn HealthCheck>,
        args: &Args,
        rows: &mut Vec<Row>,
    ) -> Result<usize, BoxError> {
        let count = self.count;
        println!("\n{}", self.title);
        if !peer.prioritized {
            println!(
                "  (the server's thread runs at the prober's priority: under load it may fall \
                 behind)"
            );
        }
        let targets = targets::targets(count, peer.port)?;
        let before = HEAP.allocated();
        let lb = run::balancer(&targets, check, self.concurrency);
        let held = HEAP.allocated().saturating_sub(before);
        drop(targets);
        let per = |bytes: usize| bytes as f64 / count as f64;
        println!(
            "  load balancer with its health records: {:.0} bytes of heap per backend",
            per(held)
        );
        let mut worst = 0;
        for n in 1..=args.passes {
            let accepted = peer.accepted();
            let load = record::load_average();
            let cpu = record::cpu_time();
            let peer_cpu = peer.cpu();
            let before = HEAP.allocated();
            let sampler = heap::Peak::start(|| HEAP.allocated());
            let pass = run::pass(&lb).await;
            let peak = sampler.stop();
            let after = HEAP.allocated();
            let cpu = cpu
                .zip(record::cpu_time())
                .map(|(a, b)| b.saturating_sub(a));
            let peer_cpu = peer.cpu().saturating_sub(peer_cpu);
            let row = Row {
                probe: self.probe,
                reuse: self.reuse,
                backends: count,
                concurrency: self.concurrency,
                threads: args.threads,
                pass: n,
                checked: pass.checked,
                failed: pass.failed,
                unhealthy: pass.unhealthy.count,
                accepted: peer.accepted() - accepted,
                elapsed: pass.elapsed,
                cpu,
                peer_cpu,
                lb_bytes: per(held),
                peak_bytes: per(peak.saturating_sub(before)),
                load,
            };
            println!(
                "  pass {n}: {} probes in {:.0} ms ({} ms of CPU, {:.0} of them the backends' \
                 thread; load average {}), {} failed, {} backends unhealthy; {} connections accepted; heap per backend: {:.0} bytes \
                 more at the pass's peak, {:+.0} after it",
                row.checked,
                row.elapsed.as_secs_f64() * 1e3,
                cpu.map_or("?".to_owned(), |c| format!("{:.0}", c.as_secs_f64() * 1e3)),
                peer_cpu.as_secs_f64() * 1e3,
                load.map_or("?".to_owned(), |l| format!("{l:.2}")),
                row.failed,
                row.unhealthy,
                row.accepted,
                row.peak_bytes,
                (after as f64 - before as f64) / count as f64,
            );
            for (why, n) in &pass.unhealthy.reasons {
                println!("      {n} x {why}");
            }
            worst = worst.max(pass.unhealthy.count);
            rows.push(row);
        }
        Ok(worst)
    }
}
