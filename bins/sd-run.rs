//! sd-run: run a job and report it as one event. See sd-run(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::RUN.main()
}
