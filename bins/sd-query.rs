//! sd-query: answer questions from the store. See sd-query(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::QUERY.main()
}
