//! The `runbook` binary: parses arguments, runs the command, exits with its code.

fn main() {
    std::process::exit(runbook::cli::main());
}
