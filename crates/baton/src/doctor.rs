//! `baton doctor`: checks that the stored handoffs and conversations agree, on either
//! database (see `baton_store::doctor`), and says what it found.

use std::process::ExitCode;

use baton_server::Config;
use baton_store::doctor::{self, Severity};
use clap::Args;

#[derive(Args)]
pub struct DoctorArgs {
    /// Write the report as one JSON object instead of lines for people.
    #[arg(long)]
    json: bool,
}

/// Runs the checks; exits 1 when something contradicts itself (warnings alone exit 0).
pub async fn run(config: Config, args: DoctorArgs) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(&config).await?;
    let report = doctor::check(&*store).await;
    store.close().await;
    let report = report?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for finding in &report.findings {
            let level = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            println!("{level}: {} ({})", finding.message, finding.code);
        }
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = report.findings.len() - errors;
        println!(
            "checked {} open handoffs and {} conversations waiting for or with a person: {}",
            report.open_handoffs,
            report.conversations_checked,
            match (errors, warnings) {
                (0, 0) => "everything agrees".to_string(),
                (0, w) => format!("no errors, {w} warning(s)"),
                (e, w) => format!("{e} error(s), {w} warning(s)"),
            }
        );
    }
    Ok(if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
