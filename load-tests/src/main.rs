//! `skirmish-bots`: parses the flags, runs the bots, prints the summary,
//! writes the JSON and HTML reports and turns the budgets into the exit status
//! (0 passed, 1 a budget exceeded, 2 the run could not be made).

use std::process::ExitCode;

use clap::Parser;
use skirmish_load_tests::{Options, Report, run};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let options = Options::parse();
    // Quiet by default: the spawned server logs every connection at info.
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("skirmish-bots")
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return fail(&format!("cannot start the runtime: {err}")),
    };
    runtime.block_on(async_main(options))
}

async fn async_main(options: Options) -> ExitCode {
    let plan = match options.plan() {
        Ok(plan) => plan,
        Err(err) => return fail(&err.to_string()),
    };
    let interrupt = CancellationToken::new();
    let on_ctrl_c = interrupt.clone();
    let ctrl_c = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            on_ctrl_c.cancel();
        }
    });
    let result = run(&plan, interrupt).await;
    ctrl_c.abort();
    let report = match result {
        Ok(report) => report,
        Err(err) => return fail(&err.to_string()),
    };
    print_summary(&report);
    if let Some(path) = &options.report
        && let Err(err) = report.write_json(path)
    {
        return fail(&err.to_string());
    }
    if let Some(path) = &options.html
        && let Err(err) = report.write_html(path)
    {
        return fail(&err.to_string());
    }
    if let Some(dir) = &options.svg_dir
        && let Err(err) = report.write_svgs(dir)
    {
        return fail(&err.to_string());
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

#[expect(
    clippy::print_stdout,
    reason = "the summary table is the program's output"
)]
fn print_summary(report: &Report) {
    print!("{}", report.table());
}

#[expect(
    clippy::print_stderr,
    reason = "a command-line tool reports why it could not run"
)]
fn fail(message: &str) -> ExitCode {
    eprintln!("skirmish-bots: {message}");
    ExitCode::from(2)
}
