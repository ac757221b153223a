//! sd-heartbeat: check a service; restart it when it stops answering. See sd-heartbeat(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::HEARTBEAT.main()
}
