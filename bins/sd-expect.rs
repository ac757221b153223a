//! sd-expect: the dead man's switch. See sd-expect(1).

fn main() -> std::process::ExitCode {
    sheepdog::manual::commands::EXPECT.main()
}
