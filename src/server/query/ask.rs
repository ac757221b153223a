//! The questions rules answer (sheepdog(7), RULES): `ask` a relation,
//! check a rule file, turn `alert` into events and answers into orders.

use super::output::Answer;
use crate::base::error::{Context, Error, Result};
use crate::base::sqlite::json_text as text;
use crate::base::{cli, paths, time};
use crate::event::Event;
use crate::rules::{Answers, Rules};
use rusqlite::Connection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, clap::Args)]
pub struct AskArgs {
    /// The question: a relation with variables, like 'answer(H, T)', or
    /// several literals ('interrupted(H, T), not low_ram(H)'). With
    /// --orders it may be left out: the rules' order(Host, Action, …)
    /// heads are asked.
    #[arg(value_name = "GOAL")]
    pub goal: Option<String>,
    /// Print each answer as an order request for `| sd-order`: the goal's
    /// relation names the action (block_ip → block-ip), its first argument
    /// is the host and the others are the action's arguments, named by
    /// their variables (Ip → ip).
    #[arg(long)]
    pub orders: bool,
    /// Print how SQLite will answer instead of the answers (its EXPLAIN
    /// QUERY PLAN): which table each relation reads, through which
    /// index, in which order — to see why a question is slow.
    #[arg(long, conflicts_with = "orders")]
    pub plan: bool,
    #[command(flatten)]
    pub rules: RulesFlag,
}

#[derive(Debug, Clone, clap::Args)]
pub struct RulesFlag {
    /// The rule file [default: [rules] path, else /etc/sheepdog/rules.dl].
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// Stop a question that runs longer (exit 75, naming the rule that
    /// grew) [default: [rules] timeout, else 10s].
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Answer as if it were this time: the rules' `now` (a time, 2h for
    /// two hours ago), to see what they said then or will say.
    #[arg(long, value_name = "TIME", value_parser = time::parse_point)]
    pub now: Option<i64>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Only check the file (no store is read); exit 2 naming every mistake.
    #[arg(long)]
    pub check: bool,
    /// The rule file [default: [rules] path, else /etc/sheepdog/rules.dl].
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AlertsArgs {
    #[command(flatten)]
    pub rules: RulesFlag,
    /// What is remembered between runs: the alerts holding now [default:
    /// [rules] alerts_state, else STATE/alerts.json].
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Of two servers running this from cron, only the one holding this
    /// lease in the broker ([broker] url, SD_BROKER) acts; it keeps it
    /// while it runs, the other takes over once it has not run for
    /// --lease-time.
    #[arg(long, value_name = "NAME")]
    pub lease: Option<String>,
    /// How long the lease outlives the holder's last run: longer than the
    /// time between runs.
    #[arg(long, value_name = "DURATION", value_parser = cli::parse_duration, default_value = "15m")]
    pub lease_time: std::time::Duration,
}

/// Whether this server is the one to act (`--lease`): no lease asked, or
/// it holds it; otherwise it says who does.
pub fn holds_lease(args: &AlertsArgs, base: &crate::config::ConfigArgs) -> Result<bool> {
    let Some(name) = &args.lease else {
        return Ok(true);
    };
    let settings = crate::config::Settings::from_environment(base)?;
    let Some(broker) = &settings.broker else {
        return Err(Error::usage(
            "--lease is held in the broker, between servers: set [broker] url or SD_BROKER",
        ));
    };
    let me = crate::base::ident::short_hostname();
    match crate::log::lease::Lease::hold_between_runs(broker, name, &me, args.lease_time)? {
        None => Ok(true),
        Some(holder) => {
            if !settings.quiet {
                crate::base::cli::note(format!(
                    "standby: {holder} holds the lease {name} and evaluates the alerts; this \
                     server takes over when {holder} has not run for {}",
                    time::human(args.lease_time)
                ));
            }
            Ok(false)
        }
    }
}

/// The rule file named by the flag or the configuration; it must exist.
pub fn load(flags: &RulesFlag, config: &crate::config::ConfigFile) -> Result<Rules> {
    let timeout = crate::config::layered(
        flags.timeout,
        config.rules.timeout.map(std::time::Duration::from),
        || crate::rules::DEFAULT_TIMEOUT,
    );
    load_file(flags.rules.as_deref(), config).map(|rules| rules.with_timeout(timeout))
}

/// The rule file named by the flag or the configuration, unchecked
/// against the store.
pub fn load_file(flag: Option<&Path>, config: &crate::config::ConfigFile) -> Result<Rules> {
    match crate::rules::locate(flag, config) {
        Some(path) => Rules::load(&path),
        None => Err(Error::usage(format!(
            "no rule file: give --rules FILE or set [rules] path (the default, {}, does not exist)",
            crate::rules::DEFAULT_PATH
        ))),
    }
}

/// `sd-query rules [--check] [FILE]`: the relations a file defines.
pub fn describe(rules: &Rules, check: bool) -> Result<Option<Answer>> {
    let (clauses, relations) = rules.size();
    if check {
        rules.try_on_empty_store()?;
        cli::note(format!(
            "{}: {clauses} clauses, {relations} relations, no mistakes",
            rules.origin()
        ));
        return Ok(None);
    }
    let rows = rules
        .relations()
        .into_iter()
        .map(|(name, arity, line, clauses)| {
            let mut row = Map::new();
            row.insert("relation".into(), name.into());
            row.insert("arity".into(), arity.into());
            row.insert("line".into(), line.into());
            row.insert("clauses".into(), clauses.into());
            row
        })
        .collect();
    Ok(Some(Answer {
        columns: vec!["relation", "arity", "line", "clauses"],
        rows,
    }))
}

/// `sd-query ask GOAL`: one object of bindings per answer.
pub fn ask(conn: &Connection, rules: &Rules, args: &AskArgs) -> Result<Answer> {
    let now = args.rules.now.unwrap_or_else(time::now_ms);
    if args.orders {
        return orders(conn, rules, args.goal.as_deref(), now);
    }
    let Some(goal) = &args.goal else {
        return Err(Error::usage(
            "what is the question? like: sd-query ask 'answer(H, T)'",
        ));
    };
    if args.plan {
        let rows = rules
            .plan(conn, goal, now)?
            .into_iter()
            .map(|step| Map::from_iter([("plan".to_string(), Value::from(step))]))
            .collect();
        return Ok(Answer {
            columns: vec!["plan"],
            rows,
        });
    }
    let answers = rules.ask(conn, goal, now)?;
    let columns = answers
        .variables
        .iter()
        .map(|v| &*Box::leak(v.clone().into_boxed_str()))
        .collect();
    Ok(Answer {
        columns,
        rows: answers.objects(),
    })
}

/// Order requests (`{"host","action","args"}`) from a goal or from the
/// `order` heads.
fn orders(conn: &Connection, rules: &Rules, goal: Option<&str>, now: i64) -> Result<Answer> {
    let mut rows = Vec::new();
    match goal {
        Some(goal) => {
            let (action, names) = order_shape(goal)?;
            let answers = rules.ask(conn, goal, now)?;
            for row in &answers.rows {
                let index = |name: &str| answers.variables.iter().position(|v| v == name);
                let host = &row[index(&names[0]).expect("the goal's variable")];
                let args = names[1..]
                    .iter()
                    .map(|n| (n.to_lowercase(), row[index(n).expect("variable")].clone()))
                    .collect();
                rows.push(request(host, &Value::from(action.clone()), args));
            }
        }
        None => {
            let arities = rules.order_arities();
            if arities.is_empty() {
                return Err(Error::usage(format!(
                    "{} has no order(Host, Action, Name, Value, …) rules; name a goal: \
                     sd-query ask --orders 'block_ip(H, Ip)'",
                    rules.origin()
                )));
            }
            for arity in arities {
                let vars: Vec<String> = (0..arity).map(|i| format!("V{i}")).collect();
                let answers = rules.ask(conn, &format!("order({})", vars.join(", ")), now)?;
                for row in &answers.rows {
                    let args = row[2..]
                        .chunks(2)
                        .map(|pair| (text(&pair[0]), pair[1].clone()))
                        .collect();
                    rows.push(request(&row[0], &row[1], args));
                }
            }
        }
    }
    Ok(Answer {
        columns: vec!["host", "action", "args"],
        rows,
    })
}

/// The action and variable names of an order goal: `block_ip(H, Ip)` is
/// action `block-ip`, host `H`, argument `ip` from `Ip`.
fn order_shape(goal: &str) -> Result<(String, Vec<String>)> {
    use crate::rules::syntax::{Literal, Term, parse_goal};
    let hint = "with --orders the goal is one relation whose first argument is the host \
                and whose other arguments are variables named like the action's \
                arguments: 'block_ip(H, Ip)'";
    let body = parse_goal(goal).map_err(|e| Error::usage(format!("question:{e}")))?;
    let [Literal::Atom(atom)] = body.as_slice() else {
        return Err(Error::usage(hint));
    };
    let names: Option<Vec<String>> = atom
        .args
        .iter()
        .map(|t| match t {
            Term::Var(name, _) => Some(name.clone()),
            _ => None,
        })
        .collect();
    match names {
        Some(names) if !names.is_empty() => Ok((atom.name.replace('_', "-"), names)),
        _ => Err(Error::usage(hint)),
    }
}

fn request(host: &Value, action: &Value, args: Map<String, Value>) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("host".into(), Value::from(text(host)));
    row.insert("action".into(), Value::from(text(action)));
    // Order arguments are text on the host (`{ip}` in a command line).
    let args = args
        .into_iter()
        .map(|(k, v)| (k, Value::from(text(&v))))
        .collect();
    row.insert("args".into(), Value::Object(args));
    row
}

/// One alert remembered as holding.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Holding {
    host: String,
    tag: String,
    msg: String,
    since: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct AlertState {
    alerts: Vec<Holding>,
}

/// `sd-query alerts`: a `fail` event for each alert that starts to hold,
/// an `ok` for each that stopped; what holds is remembered in `state`
/// only once the events are written, so none is lost or repeated.
pub fn alerts(
    conn: &Connection,
    rules: &Rules,
    args: &AlertsArgs,
    config: &crate::config::ConfigFile,
) -> Result<()> {
    let path = crate::config::layered(
        args.state.clone(),
        config.rules.alerts_state.clone(),
        || paths::state_dir().join("alerts.json"),
    );
    let before: AlertState = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            Error::usage(format!(
                "{}: not an alerts state file ({e}); move it away to start afresh",
                path.display()
            ))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => AlertState::default(),
        Err(e) => return Err(Error::local_io(format!("reading {}", path.display()), e)),
    };
    let now = args.rules.now.unwrap_or_else(time::now_ms);
    // With its rules gone, an alert cannot stop holding by itself: each
    // that held is cleared, saying why, or the board stays red for ever.
    let rules_gone = !rules.defines("alert");
    if rules_gone && before.alerts.is_empty() {
        return Err(Error::usage(format!(
            "{} has no alert(Host, Tag, Msg) rules",
            rules.origin()
        )));
    }
    let holding = if rules_gone {
        cli::note(format!(
            "{} has no alert(Host, Tag, Msg) rules any more: clearing the {} alert(s) that held",
            rules.origin(),
            before.alerts.len()
        ));
        BTreeMap::new()
    } else {
        holding_now(&rules.ask(conn, "alert(Host, Tag, Msg)", now)?)
    };
    let was: BTreeMap<(String, String), &Holding> = before
        .alerts
        .iter()
        .map(|h| ((h.host.clone(), h.tag.clone()), h))
        .collect();
    let stamp = time::format_ms(now);
    let mut events = Vec::new();
    let mut after = AlertState::default();
    for ((host, tag), msg) in &holding {
        let since = match was.get(&(host.clone(), tag.clone())) {
            Some(h) => h.since.clone(),
            None => {
                events.push(alert_event(host, tag, "fail", "holds", msg, &stamp));
                stamp.clone()
            }
        };
        after.alerts.push(Holding {
            host: host.clone(),
            tag: tag.clone(),
            msg: msg.clone(),
            since,
        });
    }
    for (key, h) in &was {
        if !holding.contains_key(key) {
            let (reason, why) = if rules_gone {
                (
                    "rule-gone",
                    format!("its rule is gone from {}", rules.origin()),
                )
            } else {
                ("cleared", "no longer holds".to_string())
            };
            let msg = format!("{why} (since {}): {}", h.since, h.msg);
            events.push(alert_event(&h.host, &h.tag, "ok", reason, &msg, &stamp));
        }
    }
    let out = std::io::stdout();
    let mut out = std::io::BufWriter::new(out.lock());
    for event in &events {
        writeln!(out, "{}", event.to_line()).map_err(cli::stdout_error)?;
    }
    out.flush().map_err(cli::stdout_error)?;
    let text = serde_json::to_vec_pretty(&after).expect("serializable");
    crate::base::paths::replace_file(&path, &text).context("writing", path.display())
}

/// The alerts holding now, one per host and tag (several messages for
/// one are joined).
fn holding_now(answers: &Answers) -> BTreeMap<(String, String), String> {
    let mut holding: BTreeMap<(String, String), String> = BTreeMap::new();
    for row in &answers.rows {
        let key = (text(&row[0]), text(&row[1]));
        let msg = text(&row[2]);
        holding
            .entry(key)
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&msg);
            })
            .or_insert(msg);
    }
    holding
}

/// An alert's event: kind `alert`, so its `ok` clears the alert but never
/// counts as a job's success (docs/ARCHITECTURE.md §1).
fn alert_event(host: &str, tag: &str, status: &str, reason: &str, msg: &str, time: &str) -> Event {
    let mut event = Event::new();
    event.set("v", 1);
    event.set("time", time);
    event.set("host", host);
    event.set("tag", tag);
    event.set("kind", "alert");
    event.set("status", status);
    event.set("reason", reason);
    event.set("msg", msg);
    event
}
