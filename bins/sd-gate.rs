//! sd-gate: pings over HTTP in, events out. See sd-gate(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::GATE.main()
}
