//! sd-mail: mail a person when something really goes wrong, once. See sd-mail(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::MAIL.main()
}
