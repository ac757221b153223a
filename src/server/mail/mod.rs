//! `sd-mail`: tell a person when something really goes wrong — once.
//!
//! Events come in on stdin (usually from `sd-recv --group mail -- sd-mail
//! --echo`); [`policy`] decides which deserve a mail, [`state`] remembers
//! (and keeps the outbox), [`message`] writes the mail and [`transport`]
//! hands it to the mail system. With `--echo`, an event is printed back
//! once its mail was accepted, or once the policy decided none is due.

mod channels;
mod history;
mod mailer;
mod message;
mod policy;
mod routes;
mod state;
mod suppress;
mod transport;

use crate::base::error::{Error, Result};
use crate::base::exit::Exit;
use crate::base::secret::Secret;
use crate::base::{cli, ident, time};
use crate::config::{ConfigArgs, flag_or_file, layered};
use crate::event::batch::feed_batches;
use crate::event::{DEFAULT_MAX_EVENT_BYTES, Event, Status};
use clap::{ArgMatches, Parser, Subcommand};
use lettre::message::Mailbox;
use mailer::{Decider, Envelope, Mailer};
use policy::Policy;
use state::{ANY, Silence, State};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;
use transport::{SmtpSettings, Transport};

const LONG_ABOUT: &str = "\
Mail a person when something really goes wrong — once, not over and over.

sd-mail reads events as JSON lines on standard input and keeps, per host and \
tag, what state it is in. It mails when the state changes to one of the \
--notify statuses (default fail,error), mails again when it recovers to ok, \
and while it stays bad reminds at most every --repeat (measured in event \
time). Changes within --group-wait go out as one mail. info events change \
nothing; an event older than the state known for its host and tag changes \
nothing; an event older than --max-age never mails at once (a receiver \
replaying history floods no one); the same event id is never mailed twice.

Nothing is lost: a decision and the mail it calls for are committed \
together to the state file, and the mail waits there until the mail server \
accepts it — through --group-wait, retries, and restarts. If the server is \
away, sd-mail retries with backoff, then exits 75 leaving the mail in the \
state file; the next run sends it first. With --echo (the handler protocol \
of sheepdog(7)), an event is printed back once it is decided and the mail \
it calls for, if any, is committed to the state file, so `sd-recv --group \
mail -- sd-mail --echo …` acknowledges what can no longer be lost, and a \
mail server that is away sends nothing to the dead letters.

SMTP URLs: smtp://host:587 is STARTTLS, required; add ?tls=opportunistic to \
allow plaintext when the server offers no STARTTLS, ?tls=none for plaintext \
(loopback test servers); smtps://host:465 is TLS from the start. The user \
comes from the URL, --smtp-user or [mail] user; the password from [mail] \
password_file or SD_SMTP_PASSWORD, never from the command line.

Mail is one channel. The same decision is told, once, through the others \
too: the local syslog (/dev/log), a program (the notification as JSON on \
its stdin; exit 0 is delivered) and webhooks with presets for ntfy, \
Gotify, Matrix, Slack-compatible servers (Mattermost, Rocket.Chat) and \
plain JSON — [[notify]] tables in the configuration (tokens from files \
only), or --channel for those that need no token. Each channel's \
deliveries are remembered: one that is down is retried with backoff, then \
sd-mail exits 75 keeping what it missed, and it alone gets it on the next \
run. Without --to, only the channels are told.

A rule file with suppress(Host, Tag) rules (--rules, [rules] path; \
sheepdog(7) RULES) holds back what a parent's failure explains: before a \
mail goes, the rules are asked of the store (--store); the notifications \
they hold are named at the end of the mail they came with, and their \
recoveries are held too.

Values from events (tag, host, output) go into the subject and body only, \
the subject on one line with control characters removed: an event cannot \
add a header.";

#[derive(Debug, Parser)]
#[command(name = "sd-mail", version, about = "Mail on state changes, once", long_about = LONG_ABOUT,
          disable_help_subcommand = true, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Tell notifications here too (repeatable): syslog, program=PATH,
    /// ntfy=TOPIC-URL, slack=WEBHOOK-URL, json=URL; [[notify]] tables
    /// configure these and Gotify and Matrix (tokens from files only).
    #[arg(long, value_name = "SPEC")]
    pub channel: Vec<String>,

    /// Where mail goes (repeat for several) [default: [mail] to].
    #[arg(long, value_name = "ADDRESS")]
    pub to: Vec<String>,

    /// The sender [default: [mail] from, else sheepdog@HOSTNAME].
    #[arg(long, value_name = "ADDRESS")]
    pub from: Option<String>,

    /// The mail server, smtp://HOST:PORT or smtps://HOST:PORT (see above)
    /// [default: [mail] smtp].
    #[arg(long, env = "SD_SMTP", value_name = "URL", conflicts_with = "sendmail")]
    pub smtp: Option<String>,

    /// Trust this CA (PEM) for the mail server's certificate, besides the
    /// system's [default: [mail] smtp_ca].
    #[arg(long, value_name = "FILE")]
    pub smtp_ca: Option<PathBuf>,

    /// Log in as this user [default: from the URL, or [mail] user].
    #[arg(long, value_name = "USER")]
    pub smtp_user: Option<String>,

    /// Hand mail to this sendmail program instead of SMTP [default:
    /// [mail] sendmail].
    #[arg(long, value_name = "PATH")]
    pub sendmail: Option<PathBuf>,

    /// Statuses worth a mail (fail,error,warn), or none for the digest
    /// only [default: [mail] notify, else fail,error].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub notify: Option<Vec<String>>,

    /// Remind at most this often while a problem lasts [default: [mail]
    /// repeat, else 24h].
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub repeat: Option<Duration>,

    /// Gather the changes of this long into one mail [default: [mail]
    /// group_wait, else 30s].
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub group_wait: Option<Duration>,

    /// Also send one summary of everything that happened per this period
    /// (24h) [default: [mail] digest, else none].
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub digest: Option<Duration>,

    /// Events older than this never mail at once [default: [mail]
    /// max_age, else 24h].
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub max_age: Option<Duration>,

    /// Give up on the mail server after this many retries (with backoff
    /// from 1 s); the mail waits for the next run.
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,

    /// How long one SMTP conversation may take.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "30s")]
    pub timeout: Duration,

    /// Print each event once its mail was accepted or no mail is due.
    #[arg(long)]
    pub echo: bool,

    /// Print the mails instead of sending them (on stderr with --echo).
    #[arg(long)]
    pub dry_run: bool,

    /// Record each notification as events (tag sd-mail, kind decided,
    /// then notified once told) through the spool to the broker, and at
    /// start take in what the store (--store) says was decided and told:
    /// of two servers taking turns as the voice (sd-recv --lease), the new
    /// one neither says again what the last one said nor loses what it
    /// had decided. A record that cannot reach the broker stops sd-mail
    /// (exit 69; it waits in the spool): events decided are not let go,
    /// and nothing more is told unrecorded.
    #[arg(long, requires = "echo", conflicts_with = "dry_run")]
    pub record: bool,

    /// Hold back notifications the rule file's suppress(Host, Tag) rules
    /// explain (a switch is down, so its hosts' pings failing is no news);
    /// the mail about the cause names them [default: [rules] path, else
    /// /etc/sheepdog/rules.dl when it exists].
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// The store suppress rules are asked of [default: [store] path, else
    /// as sd-store's].
    #[arg(long, value_name = "DB")]
    pub store: Option<PathBuf>,

    /// Largest event accepted (1MiB, 64KiB).
    #[arg(long, value_name = "SIZE", value_parser = crate::base::size::parse_arg, default_value = "1MiB")]
    pub max_event_size: u64,

    #[command(flatten)]
    pub state: StateArgs,
}

#[derive(Debug, Clone, clap::Args)]
pub struct StateArgs {
    /// The state file [default: [mail] state, $XDG_STATE_HOME/sheepdog/mail.db,
    /// /var/lib/sheepdog/mail.db for root].
    #[arg(long, value_name = "FILE", global = true)]
    pub state: Option<PathBuf>,

    #[command(flatten)]
    pub base: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// No mail for a host and tag (or every host or tag) until then; the
    /// state is still tracked.
    Silence(SilenceArgs),
    /// End a silence early.
    Unsilence(UnsilenceArgs),
    /// List the silences in force.
    Silences,
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// The host [default: every host].
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// The tag [default: every tag].
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct UnsilenceArgs {
    #[command(flatten)]
    pub target: Target,

    /// Record it as an event too, for the other server of a pair.
    #[arg(long)]
    pub record: bool,
}

#[derive(Debug, clap::Args)]
pub struct SilenceArgs {
    #[command(flatten)]
    pub target: Target,

    /// How long (2h, 3d).
    #[arg(long = "for", value_name = "DURATION", value_parser = cli::parse_duration)]
    pub duration: Duration,

    /// Why, for whoever lists the silences.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,

    /// Record it as an event too, for the other server of a pair.
    #[arg(long)]
    pub record: bool,
}

pub fn run(args: Args, _: &ArgMatches) -> Result<Exit> {
    let (config, _) = args.state.base.load()?;
    let path = layered(args.state.state.clone(), config.mail.state.clone(), || {
        crate::base::paths::state_dir().join("mail.db")
    });
    match &args.command {
        Some(command) => manage(command, &path, &args.state.base),
        None => serve(args, config, path),
    }
}

/// `silence`, `unsilence`, `silences`.
fn manage(command: &Command, path: &std::path::Path, base: &ConfigArgs) -> Result<Exit> {
    let quiet = base.quiet;
    let mut state = State::open(path)?;
    let now = time::now_ms();
    let name = |t: &Option<String>| t.clone().unwrap_or_else(|| ANY.to_string());
    // The silence is kept either way; a record that could not reach the
    // broker says so in the exit status (it waits in the spool).
    let mut exit = Exit::Ok;
    match command {
        Command::Silence(args) => {
            if args.target.host.is_none() && args.target.tag.is_none() {
                return Err(Error::usage(
                    "silence what? give --host, --tag or both (a silence of everything is \
                     better done by stopping sd-mail)",
                ));
            }
            let silence = Silence {
                host: name(&args.target.host),
                tag: name(&args.target.tag),
                until_ms: now + args.duration.as_millis() as i64,
                reason: args.reason.clone(),
            };
            state.silence(&silence)?;
            if args.record {
                exit = publish(
                    base,
                    history::silence(&ident::short_hostname(), &silence, true),
                )?;
            }
            if !quiet {
                cli::note(format!(
                    "no mail for {} on {} until {}",
                    silence.tag,
                    silence.host,
                    time::format_ms(silence.until_ms)
                ));
            }
        }
        Command::Unsilence(args) => {
            let (host, tag) = (name(&args.target.host), name(&args.target.tag));
            if !state.unsilence(&host, &tag)? {
                return Err(Error::usage(format!("no silence for {tag} on {host}")));
            }
            if args.record {
                let lifted = Silence {
                    host,
                    tag,
                    until_ms: now,
                    reason: None,
                };
                exit = publish(
                    base,
                    history::silence(&ident::short_hostname(), &lifted, false),
                )?;
            }
        }
        Command::Silences => {
            let mut out = io::stdout().lock();
            for s in state.silences(now)? {
                let reason = s.reason.map(|r| format!(": {r}")).unwrap_or_default();
                writeln!(
                    out,
                    "{} {} until {} ({} left){reason}",
                    s.host,
                    s.tag,
                    time::format_ms(s.until_ms),
                    time::human_ms(s.until_ms - now)
                )
                .map_err(cli::stdout_error)?;
            }
        }
    }
    Ok(exit)
}

/// Where sd-mail's own events go when stdout carries the echo: the spool
/// and broker sd-bark would use (the configuration, SD_BROKER, SD_SPOOL).
/// One event of sd-mail's own, sent as sd-bark sends it.
/// Its exit status says whether it reached the broker (69: it waits in
/// the spool for the next sd-bark).
fn publish(base: &ConfigArgs, line: String) -> Result<Exit> {
    let settings = crate::config::Settings::from_environment(base)?;
    Ok(crate::log::outbox::Outbox::send(
        settings.log(),
        settings.quiet,
        vec![line],
    ))
}

/// `--channel KIND[=VALUE]` as the `[[notify]]` table it stands for.
fn channel_spec(spec: &str) -> Result<crate::config::NotifySection> {
    let (kind, value) = match spec.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (spec, None),
    };
    let mut section = crate::config::NotifySection {
        kind: kind.to_string(),
        ..Default::default()
    };
    match (kind, value) {
        ("syslog", None) => {}
        ("program", Some(path)) => section.program = Some(vec![path]),
        ("ntfy" | "slack" | "json", Some(url)) => section.url = Some(url),
        ("gotify" | "matrix", _) => {
            return Err(Error::usage(format!(
                "--channel {kind}: its token goes in a [[notify]] table's token_file, never on the command line"
            )));
        }
        _ => {
            return Err(Error::usage(format!(
                "--channel `{spec}`: expected syslog, program=PATH, ntfy=URL, slack=URL or json=URL"
            )));
        }
    }
    Ok(section)
}

fn serve(args: Args, config: crate::config::ConfigFile, path: PathBuf) -> Result<Exit> {
    let mail = &config.mail;
    let host = ident::short_hostname();
    // A list on the command line replaces the file's, as any flag does.
    let to = layered(
        (!args.to.is_empty()).then(|| args.to.clone()),
        Some(mail.to.clone()),
        Vec::new,
    );
    let timeout = args.timeout;
    let mut channels = Vec::new();
    for section in &config.notify {
        channels.push(channels::Channel::from_config(section, timeout)?);
    }
    for spec in &args.channel {
        channels.push(channels::Channel::from_config(
            &channel_spec(spec)?,
            timeout,
        )?);
    }
    if to.is_empty() && channels.is_empty() && config.route.is_empty() {
        return Err(Error::usage(
            "who should hear of it? give --to ADDRESS (or [mail] to in the configuration file), \
             or --channel SPEC ([[notify]] tables)",
        ));
    }
    let from = layered(args.from.clone(), mail.from.clone(), || {
        format!("sheepdog@{host}")
    });
    let address = |a: &str, what: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| Error::usage(format!("{what} `{a}` is not a mail address: {e}")))
    };
    let envelope = Envelope {
        from: address(&from, "--from")?,
        to: to
            .iter()
            .map(|a| address(a, "--to"))
            .collect::<Result<_>>()?,
        host,
    };
    let notify = match flag_or_file(args.notify.clone(), mail.notify.clone()) {
        None => vec![Status::Fail, Status::Error],
        Some(list) if list.iter().any(|s| s == "none") => Vec::new(),
        Some(list) => list
            .iter()
            .map(|s| {
                s.trim().parse::<Status>().map_err(|_| {
                    Error::usage(format!(
                        "--notify: `{s}` is not a status (ok, warn, fail, error) or none"
                    ))
                })
            })
            .collect::<Result<_>>()?,
    };
    let ms = |d: Duration| d.as_millis() as i64;
    let or = |flag: Option<Duration>, file: Option<crate::config::HumanDuration>, default: u64| {
        layered(flag, file.map(Duration::from), || {
            Duration::from_secs(default)
        })
    };
    let policy = Policy {
        notify,
        repeat_ms: ms(or(args.repeat, mail.repeat, 86_400)),
        max_age_ms: ms(or(args.max_age, mail.max_age, 86_400)),
    };
    let digest_ms = flag_or_file(args.digest, mail.digest.map(Duration::from)).map(ms);
    let transport = if args.dry_run || to.is_empty() {
        Transport::DryRun {
            to_stderr: args.echo,
        }
    } else if let Some(program) = args
        .sendmail
        .clone()
        .or_else(|| args.smtp.is_none().then(|| mail.sendmail.clone()).flatten())
    {
        Transport::Sendmail(program)
    } else if let Some(url) = flag_or_file(args.smtp.clone(), mail.smtp.clone()) {
        let password = match &mail.password_file {
            Some(file) => Some(Secret::from_file(file, "password file")?),
            None => std::env::var("SD_SMTP_PASSWORD").ok().map(Secret::new),
        };
        Transport::smtp(SmtpSettings {
            url: &url,
            user: flag_or_file(args.smtp_user.as_deref(), mail.user.as_deref()),
            password,
            ca: flag_or_file(args.smtp_ca.as_deref(), mail.smtp_ca.as_deref()),
            timeout: args.timeout,
        })?
    } else {
        return Err(Error::usage(
            "where should mail go? give --smtp URL or --sendmail PATH (or [mail] smtp), \
             or --dry-run to print it",
        ));
    };
    // A preview changes nothing: it decides on a scratch copy of the
    // state, so it says what a real run would send and a later real run
    // still sends it.
    let (state, _scratch) = if args.dry_run {
        let (state, scratch) = State::scratch_copy(&path)?;
        (state, Some(scratch))
    } else {
        (State::open(&path)?, None)
    };
    // The recurring maintenance windows: what the decider holds, and what
    // the suppression rules see.
    let windows = crate::server::maintenance::Recurrences::from_config(&config.maintenance)?;
    let suppression = match crate::rules::locate(args.rules.as_deref(), &config) {
        Some(file) => {
            let store = crate::store::Store::locate(args.store.as_deref(), &config);
            let timeout = config
                .rules
                .timeout
                .map_or(crate::rules::DEFAULT_TIMEOUT, |t| t.0);
            match crate::rules::Rules::load(&file) {
                Ok(rules) => {
                    suppress::Suppression::new(rules.with_timeout(timeout), store, windows.clone())
                }
                // A rule file named on the command line must be right; one
                // from the configuration, broken by an edit, must not stop
                // the mail.
                Err(e) if args.rules.is_some() => return Err(e),
                Err(e) => {
                    cli::warn(format!("{e}\nmailing without suppression"));
                    None
                }
            }
        }
        None => None,
    };
    let names: Vec<String> = channels.iter().map(|c| c.name.clone()).collect();
    let routes = routes::Routes::new(&config.route, &to, &names, &mail.allow_event_recipients)?;
    let mut mailer = Mailer {
        state,
        path,
        transport,
        envelope,
        decider: Decider {
            policy,
            group_wait_ms: ms(or(args.group_wait, mail.group_wait, 30)),
            digest: digest_ms.is_some(),
            windows,
        },
        digest_ms,
        retries: args.retries,
        echo: args.echo.then(|| io::BufWriter::new(io::stdout())),
        next_due: None,
        quiet: args.state.base.quiet,
        suppression,
        // A preview tells no channel: it prints what mail would say.
        mail: !to.is_empty() || !config.route.is_empty() || args.dry_run,
        channels: if args.dry_run { Vec::new() } else { channels },
        routes,
        events: if args.echo {
            Some(crate::config::Settings::from_environment(&args.state.base)?)
        } else {
            None
        },
        record: args.record,
    };
    if args.record {
        mailer.send_waiting_records()?;
        let store = crate::store::Store::locate(args.store.as_deref(), &config);
        let group_wait_ms = mailer.decider.group_wait_ms;
        let rebuilt = history::rebuild(
            &mut mailer.state,
            &store,
            mailer.events.as_ref(),
            crate::base::time::now_ms(),
            group_wait_ms,
        )?;
        if rebuilt != history::Rebuilt::default() && !args.state.base.quiet {
            cli::note(format!(
                "took in what was told of {} host(s) and tag(s) from {}, {} notification(s) \
                 decided and not yet told, and {} silence(s) set or lifted",
                rebuilt.states,
                store.display(),
                rebuilt.queued,
                rebuilt.silences
            ));
        }
    }
    // What a previous run could not send goes first.
    mailer.send_due(i64::MAX)?;
    mailer.plan()?;
    let max = usize::try_from(args.max_event_size).unwrap_or(DEFAULT_MAX_EVENT_BYTES);
    let input = io::BufReader::new(io::stdin());
    let prepare = |event: Event| {
        let line = event.to_line();
        (event, line)
    };
    feed_batches(input, max, prepare, &mut mailer)
}
