//! The host's half of enrollment: a bundle installed under /etc/sheepdog
//! with the owners and modes the services need, each file written only
//! when it differs (a bundle applied twice changes nothing), then the
//! host's facts and an `enrolled` event barked so the server sees it
//! arrive.

use super::bundle::Bundle;
use super::owner;
use crate::base::error::{Context, Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The first line of a configuration sd-enroll wrote: it may write it
/// again. Any other file with settings of the admin's own is left alone.
const WRITTEN_BY: &str = "# Written by sd-enroll apply";

/// What `apply` did: the files it wrote (none the second time).
pub struct Applied {
    pub written: Vec<PathBuf>,
    pub config: PathBuf,
}

/// Installs `bundle` under `etc`. `replace_config`: overwrite a
/// configuration that has settings of its own.
pub fn apply(bundle: &Bundle, etc: &Path, replace_config: bool) -> Result<Applied> {
    let group = owner::sheepdog_group();
    let secret_mode = owner::secret_mode(group);
    let mut written = Vec::new();
    std::fs::create_dir_all(etc).usage_context("making", etc.display())?;
    let mut put = |name: &str, text: &str, mode: u32, to_group: bool| -> Result<PathBuf> {
        let path = etc.join(name);
        if install(&path, text, mode, if to_group { group } else { None })? {
            written.push(path.clone());
        }
        Ok(path)
    };
    let password_file = put(
        "redis.pass",
        &format!("{}\n", bundle.password),
        secret_mode,
        true,
    )?;
    let key_file = put("host.key", &format!("{}\n", bundle.key), secret_mode, true)?;
    let trusted = match &bundle.order_public_key {
        Some(key) => Some(put("orders.key.pub", key, 0o644, false)?),
        None => None,
    };
    let ca = match &bundle.ca {
        Some(pem) => Some(put("ca.pem", pem, 0o644, false)?),
        None => None,
    };
    let sentinel = match &bundle.sentinel_password {
        Some(pw) => Some(put("sentinel.pass", &format!("{pw}\n"), secret_mode, true)?),
        None => None,
    };
    let config = etc.join("sheepdog.toml");
    let files = Files {
        password: &password_file,
        key: &key_file,
        trusted: trusted.as_deref(),
        ca: ca.as_deref(),
        sentinel_password: sentinel.as_deref(),
    };
    let text = config_text(bundle, &files);
    if let Ok(old) = std::fs::read_to_string(&config)
        && old != text
        && !replace_config
        && !old.starts_with(WRITTEN_BY)
        && has_settings(&old)
    {
        return Err(Error::usage(format!(
            "{} has settings of its own: move it aside (or give --replace-config) and \
             apply again; nothing of the bundle's configuration was written",
            config.display()
        )));
    }
    put("sheepdog.toml", &text, 0o644, false)?;
    Ok(Applied { written, config })
}

/// Where apply put the bundle's files.
struct Files<'a> {
    password: &'a Path,
    key: &'a Path,
    trusted: Option<&'a Path>,
    ca: Option<&'a Path>,
    sentinel_password: Option<&'a Path>,
}

/// The configuration of an enrolled host.
fn config_text(bundle: &Bundle, files: &Files<'_>) -> String {
    let quote = |s: &str| toml::Value::String(s.to_string()).to_string();
    let path = |p: &Path| quote(&p.display().to_string());
    let mut text = format!(
        "{WRITTEN_BY} from the bundle for {host}; it writes\n\
         # it again when a new bundle is applied. Every key: sheepdog(7), CONFIGURATION.\n\n\
         [broker]\nurl = {url}\npassword_file = {password}\nkey_file = {key}\nstream = {stream}\n",
        host = bundle.host,
        url = quote(&bundle.broker_url),
        password = path(files.password),
        key = path(files.key),
        stream = quote(&bundle.stream),
    );
    if let Some(ca) = files.ca {
        text.push_str(&format!("ca_file = {}\n", path(ca)));
    }
    if let Some(sentinel) = files.sentinel_password {
        text.push_str(&format!("sentinel_password_file = {}\n", path(sentinel)));
    }
    text.push_str(&format!("\n[obey]\nhost = {}\n", quote(&bundle.host)));
    if let Some(trusted) = files.trusted {
        text.push_str(&format!("trusted_keys = [{}]\n", path(trusted)));
    }
    for (name, cmd) in &bundle.actions {
        let words: Vec<String> = cmd.iter().map(|w| quote(w)).collect();
        text.push_str(&format!(
            "\n# Orders this host obeys (sheepdog(7), ORDERS); add your own.\n\
             [[action]]\nname = {}\ncmd = [{}]\n",
            quote(name),
            words.join(", ")
        ));
    }
    text
}

/// Whether a configuration sets anything (the package's has only
/// comments).
fn has_settings(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .any(|l| !l.is_empty() && !l.starts_with('#'))
}

/// Writes `text` to `path` with `mode` (and `group`), unless it is
/// already so; whether it wrote.
fn install(path: &Path, text: &str, mode: u32, group: Option<nix::unistd::Gid>) -> Result<bool> {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(old), Ok(meta)) = (std::fs::read_to_string(path), std::fs::metadata(path))
        && old == text
        && meta.mode() & 0o7777 == mode
        && group.is_none_or(|g| meta.gid() == g.as_raw())
    {
        return Ok(false);
    }
    crate::base::paths::replace_file_with(path, text.as_bytes(), Some(mode), |new| {
        owner::give_to_group(new, group).map_err(|e| std::io::Error::other(e.message))
    })
    .context("installing", path.display())?;
    Ok(true)
}

/// Barks this host's facts and an `enrolled` event with the configuration
/// just written: the first words the server hears from it. Returns the
/// status of sd-bark (non-zero: they wait in the spool; it said why).
pub fn announce(bundle: &Bundle, config: &Path) -> Result<std::process::ExitStatus> {
    let facts = sibling("sd-facts")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .context("running", "sd-facts")?;
    let mut lines = facts.stdout;
    let enrolled = serde_json::json!({
        "tag": "enroll",
        "kind": "enrolled",
        "status": "info",
        "msg": format!("{} enrolled: it speaks to the broker as {}", bundle.host,
                       super::owner::user_of(&bundle.host)),
    });
    lines.extend_from_slice(format!("{enrolled}\n").as_bytes());
    let mut bark = sibling("sd-bark")
        .arg("--config")
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .spawn()
        .context("running", "sd-bark")?;
    let mut stdin = bark.stdin.take().expect("piped");
    stdin.write_all(&lines).context("writing to", "sd-bark")?;
    drop(stdin);
    bark.wait().context("waiting for", "sd-bark")
}

/// Another sheepdog command: the program of that name beside this one
/// (every command is installed as a link to one program), else this
/// program asked for it by name.
fn sibling(name: &str) -> Command {
    let me = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("sheepdog"));
    let beside = me.with_file_name(name);
    if beside.exists() {
        return Command::new(beside);
    }
    let mut command = Command::new(me);
    command.arg(name);
    command
}
