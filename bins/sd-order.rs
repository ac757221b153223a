//! sd-order: sign and send orders to hosts. See sd-order(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::ORDER.main()
}
