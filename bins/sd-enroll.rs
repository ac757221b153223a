//! sd-enroll: a host joins the herd in one command on each side. See sd-enroll(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::ENROLL.main()
}
