//! sd-bark: stamp, spool and publish events. See sd-bark(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::BARK.main()
}
