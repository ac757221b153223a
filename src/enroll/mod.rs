//! `sd-enroll`: a host joins the herd in one command on each side. On the
//! server, `add HOST` makes the host's broker user (it may add events and
//! read only its own orders), its password and its HMAC key, keeps the
//! server's copy of the key in the keyring sd-recv checks, and writes a
//! bundle; on the host, `apply BUNDLE` installs it and the host barks its
//! facts. `revoke` takes it all back, `list` shows who is enrolled.

pub mod bundle;
pub mod host;
mod owner;
pub mod server;

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::{cli, ident, time};
use crate::config::{CommonArgs, Settings};
use clap::{ArgMatches, Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};

const LONG_ABOUT: &str = "\
Enroll hosts in one command on each side.

On the server, `sd-enroll add HOST` (idempotent; again, it rotates) makes \
the host's Redis user sd-HOST, allowed to add events and to read only its \
own orders stream (sheepdog(7), Who may speak), with a random password; a \
fresh HMAC key for its events, whose server copy goes into the keyring \
(KEYRING/HOST.key, for `sd-recv --keyring KEYRING --require-signed`); and \
one bundle, mode 0600: the broker URL, the password, the key, the orders' \
public key, the broker's CA when it uses TLS, and a starter allow-list \
with one harmless action (uptime). sd-enroll speaks to the broker as its \
administrator: [broker] url and password_file, or SD_BROKER, name a user \
allowed ACL. The users are saved with ACL SAVE (an aclfile) or CONFIG \
REWRITE, so they survive a restart of Redis.

On the host, as root, `sd-enroll apply BUNDLE` installs it under \
/etc/sheepdog (the secrets mode 0640, group sheepdog), writes \
sheepdog.toml, and barks the host's facts and an `enrolled` event: the \
server sees the host arrive. A bundle for another host name is refused; \
applied twice, nothing changes the second time.

`sd-enroll revoke HOST` deletes the user (its connections close) and the \
key: the host's next bark is refused, its events wait in its spool, and \
it says the broker refused it. `sd-enroll list` prints every enrolled \
host, when it was enrolled and when the store last heard from it.

The bundle is the only copy of the host's secrets outside the server: \
copy it to the host, apply it, delete it. Secrets are never printed nor \
put in argv.";

#[derive(Debug, Parser)]
#[command(name = "sd-enroll", version, about = "Enroll hosts: one command on the server, one on the host",
          long_about = LONG_ABOUT, disable_help_subcommand = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Action,
}

#[derive(Debug, Subcommand)]
pub enum Action {
    /// On the server: make HOST's broker user, password and key, and its
    /// bundle (again: new ones, the old stop working).
    Add {
        #[arg(value_name = "HOST")]
        host: String,
        /// Where to write the bundle (mode 0600), `-` for stdout
        /// [default: HOST.bundle here].
        #[arg(long, short = 'o', value_name = "FILE")]
        out: Option<PathBuf>,
        /// The broker's URL as the hosts reach it [default: the server's,
        /// without its user and password].
        #[arg(long, value_name = "URL")]
        host_url: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// On the host, as root: install BUNDLE and bark the host's facts.
    Apply {
        #[arg(value_name = "BUNDLE")]
        bundle: PathBuf,
        /// Install a bundle made for another host name.
        #[arg(long)]
        other_host: bool,
        /// Overwrite a sheepdog.toml that has settings of its own.
        #[arg(long)]
        replace_config: bool,
        /// Where the configuration goes.
        #[arg(long, value_name = "DIR", default_value = "/etc/sheepdog")]
        etc: PathBuf,
        /// Install only; bark nothing.
        #[arg(long)]
        quiet_arrival: bool,
    },
    /// On the server: delete HOST's broker user and key.
    Revoke {
        #[arg(value_name = "HOST")]
        host: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Every enrolled host: when, and when it last spoke.
    List {
        /// The store that says when each host last spoke [default: [store]
        /// path, else the default store].
        #[arg(long, value_name = "DB")]
        db: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// The keyring sd-recv --keyring checks.
    #[arg(long, value_name = "DIR", default_value = "/etc/sheepdog/keyring")]
    pub keyring: PathBuf,
    /// The private key orders are signed with; its .pub goes into bundles
    /// [default: [order] key_file].
    #[arg(long, value_name = "FILE")]
    pub order_key: Option<PathBuf>,
    #[command(flatten)]
    pub common: CommonArgs,
}

pub fn run(args: Args, matches: &ArgMatches) -> Result<Exit> {
    let sub = matches.subcommand().map(|(_, m)| m).unwrap_or(matches);
    match args.command {
        Action::Add {
            host,
            out,
            host_url,
            server,
        } => add(&host, out, host_url.as_deref(), &server, sub),
        Action::Apply {
            bundle,
            other_host,
            replace_config,
            etc,
            quiet_arrival,
        } => apply(&bundle, other_host, replace_config, &etc, quiet_arrival),
        Action::Revoke { host, server } => {
            let settings = Settings::resolve(&server.common, sub)?;
            let (user, key, persisted) = server::revoke(&host, &settings, &server.keyring)?;
            if !user && !key {
                cli::note(format!("{host} was not enrolled: nothing to revoke"));
                return Ok(Exit::Ok);
            }
            cli::note(format!(
                "revoked {host}: the broker user {} is gone and its connections closed, the key \
                 {} removed; its events now wait in its spool",
                server::user_of(&host),
                server::keyring_file(&server.keyring, &host).display()
            ));
            warn_unsaved(&persisted);
            Ok(Exit::Ok)
        }
        Action::List { db, server } => list(db, &server, sub),
    }
}

fn add(
    host: &str,
    out: Option<PathBuf>,
    host_url: Option<&str>,
    server: &ServerArgs,
    matches: &ArgMatches,
) -> Result<Exit> {
    let settings = Settings::resolve(&server.common, matches)?;
    let order_key = server
        .order_key
        .clone()
        .or_else(|| settings.config.order.key_file.clone());
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{host}.bundle")));
    let enrolled = server::add(
        host,
        &server::Enrolling {
            settings: &settings,
            keyring: &server.keyring,
            host_url,
            order_key: order_key.clone(),
        },
    )?;
    enrolled.bundle.write(&out)?;
    let shown = if out == Path::new("-") {
        "on stdout".to_string()
    } else {
        out.display().to_string()
    };
    cli::note(format!(
        "enrolled {host}: broker user {}, its key in {}; the bundle {shown} (mode 0600) is the \
         only copy of its secrets: copy it to {host}, run `sd-enroll apply BUNDLE` there as \
         root, and delete it",
        server::user_of(host),
        enrolled.key_file.display()
    ));
    if order_key.is_none() {
        cli::warn(
            "no orders' key ([order] key_file or --order-key): the host trusts no one's orders \
             until [obey] trusted_keys is set (sd-order keygen makes a key)",
        );
    }
    warn_unsaved(&enrolled.persisted);
    Ok(Exit::Ok)
}

fn warn_unsaved(persisted: &server::Persisted) {
    if let server::Persisted::Not(why) = persisted {
        cli::warn(format!(
            "the broker could not save its users ({why}): they last until Redis restarts; \
             give redis-server an aclfile (or a config file it may rewrite)"
        ));
    }
}

fn apply(
    path: &Path,
    other_host: bool,
    replace_config: bool,
    etc: &Path,
    quiet_arrival: bool,
) -> Result<Exit> {
    let bundle = bundle::Bundle::read(path)?;
    let here = ident::short_hostname();
    if bundle.host != here && !other_host {
        return Err(Error::usage(format!(
            "{}: this bundle is for {}, and this host is {here}: apply it there (or give \
             --other-host, if this host's events are to speak as {here} all the same)",
            path.display(),
            bundle.host
        )));
    }
    if !ident::is_root() && etc == Path::new("/etc/sheepdog") {
        return Err(Error::usage(
            "sd-enroll apply installs into /etc/sheepdog: run it as root (or give --etc DIR)",
        ));
    }
    let applied = host::apply(&bundle, etc, replace_config)?;
    if applied.written.is_empty() {
        cli::note(format!(
            "{} is applied already: nothing changed",
            path.display()
        ));
        return Ok(Exit::Ok);
    }
    let names: Vec<String> = applied
        .written
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    cli::note(format!("installed {}", names.join(", ")));
    if quiet_arrival {
        return Ok(Exit::Ok);
    }
    let barked = host::announce(&bundle, &applied.config)?;
    if !barked.success() {
        return Err(Error::new(
            Exit::Unavailable,
            "the bundle is installed, but its first events could not be sent (sd-bark said \
             why above); they wait in the spool and go with the next bark",
        ));
    }
    cli::note(format!(
        "{} has enrolled: its facts and an `enrolled` event are on their way",
        bundle.host
    ));
    Ok(Exit::Ok)
}

fn list(db: Option<PathBuf>, server: &ServerArgs, matches: &ArgMatches) -> Result<Exit> {
    let settings = Settings::resolve(&server.common, matches)?;
    let hosts = server::hosts(&settings, &server.keyring)?;
    let db = crate::store::Store::locate(db.as_deref(), &settings.config);
    let store = crate::store::Store::open_read_only(&db).ok();
    let mut out = std::io::stdout().lock();
    for (host, since, has_user) in hosts {
        let spoke = store
            .as_ref()
            .and_then(|conn| crate::store::board::last_heard_ms(conn, &host));
        let line = serde_json::json!({
            "host": host,
            "enrolled": time::format_ms(since),
            "last_spoke": spoke.map(time::format_ms),
            "broker_user": has_user,
        });
        writeln!(out, "{line}").map_err(|e| Error::io(format!("writing: {e}")))?;
    }
    Ok(Exit::Ok)
}
