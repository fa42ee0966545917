//! wardflux-ruler entry point: parse flags, set up logging, run the chosen subcommand.

use clap::Parser;
use std::process::ExitCode;
use wardflux_ruler::cli::{self, BaselinesCommand, Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = match &cli.command {
        None => cli.run.log.clone(),
        Some(Command::Run(a)) => a.log.clone(),
        Some(Command::Migrate(a)) => a.log.clone(),
        Some(Command::Replay(a)) => a.log.clone(),
        Some(Command::Bench(a)) => a.log.clone(),
        Some(Command::Baselines(BaselinesCommand::Learn(a))) => a.log.clone(),
        Some(Command::Baselines(BaselinesCommand::Generate(a))) => a.log.clone(),
        Some(Command::Baselines(BaselinesCommand::Bench(a))) => a.log.clone(),
        Some(Command::CheckRules(_)) => cli::LogArgs {
            level: "warn".into(),
            format: "logfmt".into(),
        },
    };
    cli::init_logging(&log);
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
