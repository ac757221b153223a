//! sd-obey: obey signed orders from the server, safely. See sd-obey(1).

fn main() -> std::process::ExitCode {
    sheepdog::commands::OBEY.main()
}
