//! sheepdog: every command in one program, called by the name of the
//! link it is started through (`sd-run`, `sd-bark` …). See sheepdog(7).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::main()
}
