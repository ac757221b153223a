//! sd-recv: receive events, print them or feed a handler. See sd-recv(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::RECV.main()
}
