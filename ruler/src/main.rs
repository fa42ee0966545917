//! wardflux-ruler entry point: parse flags, set up logging, run the chosen subcommand.

use std::process::ExitCode;
use wardflux_ruler::cli::{self, BaselinesCommand, Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse_from_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    let mut log = cli.log.clone();
    if matches!(cli.command, Some(Command::CheckRules(_))) && log.level == "info" {
        // check-rules prints its findings; only warnings and errors go to the log.
        log.level = "warn".into();
    }
    if let Err(e) = cli::init_logging(&log) {
        eprintln!("{e:#}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        None => cli::run(cli.run).await,
        Some(Command::Run(a)) => cli::run(*a).await,
        Some(Command::CheckRules(a)) => match cli::check_rules(a).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(e) => Err(e),
        },
        Some(Command::Migrate(a)) => cli::migrate(a).await,
        Some(Command::Replay(a)) => cli::replay(a).await,
        Some(Command::Bench(a)) => cli::bench(a).await,
        Some(Command::Summary(a)) => cli::summary_once(a).await,
        Some(Command::Baselines(BaselinesCommand::Learn(a))) => cli::baselines_learn(a).await,
        Some(Command::Baselines(BaselinesCommand::Generate(a))) => cli::baselines_generate(a).await,
        Some(Command::Baselines(BaselinesCommand::Bench(a))) => cli::baselines_bench(a).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "wardflux-ruler failed");
            ExitCode::FAILURE
        }
    }
}
