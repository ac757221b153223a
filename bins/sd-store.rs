//! sd-store: store events in SQLite, idempotently. See sd-store(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::STORE.main()
}
