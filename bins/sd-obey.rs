//! sd-obey: obey signed orders from the server, safely. See sd-obey(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::OBEY.main()
}
