//! Shell completions for bash, zsh and fish, generated from the same clap
//! definitions as the man pages and checked into `completions/` (a test
//! fails when one is stale; `SD_UPDATE_MAN=1 cargo test --features gen man_pages`
//! regenerates them with the pages).

use clap_complete::Shell;
use std::path::PathBuf;

/// The shells completions are made for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Where a command's completion for a shell lives in the repository
/// (and, under the same name, where `make install` puts it).
pub fn file(shell: Shell, command: &str) -> PathBuf {
    let name = match shell {
        Shell::Zsh => format!("_{command}"),
        Shell::Fish => format!("{command}.fish"),
        _ => command.to_string(),
    };
    PathBuf::from("completions")
        .join(shell.to_string())
        .join(name)
}

/// The completion script of one command for one shell.
pub fn render(shell: Shell, page: &crate::manual::tool::Tool) -> String {
    let mut command = page.command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, page.name, &mut out);
    String::from_utf8(out).expect("completion scripts are UTF-8")
}
