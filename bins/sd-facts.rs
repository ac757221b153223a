//! sd-facts: report the machine's indicators. See sd-facts(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::FACTS.main()
}
