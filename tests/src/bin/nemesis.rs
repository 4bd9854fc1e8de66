//! Faults against a real Duck Duck Goose cluster, then checks on the history.
//!
//!   nemesis --short                      # CI: one minute of faults
//!   nemesis --minutes 10 --seed 42       # an offline run
//!   nemesis --check target/nemesis/seed-42/history.jsonl
//!
//! Exit status: 0 when every check passes, 1 on an anomaly, 2 when the run itself
//! could not be carried out.

use std::process::ExitCode;

use clap::Parser;
use duckgoose_tests::nemesis::{self, Options};

fn main() -> ExitCode {
    let opts = Options::parse();
    if let Some(path) = &opts.check {
        return match nemesis::recheck(path) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => {
                eprintln!("nemesis: {e}");
                ExitCode::from(2)
            }
        };
    }
    match nemesis::run(&opts) {
        Ok(r) if r.passed => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("nemesis: {e}");
            ExitCode::from(2)
        }
    }
}
