//! Rules: Datalog over the herd's history and facts (docs/ARCHITECTURE.md
//! §11, sheepdog(7) RULES).
//!
//! A rule file is read by [`syntax`], made sense of by [`program`]
//! (relations, arities, strata) and answered by [`sql`] on the store:
//! rules become SQL that SQLite runs over the store's own tables and
//! indexes, so a question costs what the same question in SQL would.

pub mod program;
pub mod sql;
pub mod syntax;

use crate::base::error::{Error, Result};
use program::Program;
use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use rusqlite::types::{Value, ValueRef};
use serde_json::Map;
use sql::{Aliases, Params, Repeats};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use syntax::{Literal, RuleError, Term};

/// Rounds a recursive relation may take to settle; more means a rule
/// makes new values forever (`N = M + 1` in a cycle).
const MAX_ROUNDS: usize = 1_000;

/// How long one question may take, unless told otherwise
/// (`sd-query ask --timeout`, `[rules] timeout`).
pub const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// The most memory SQLite may hold for a question's temporary tables and
/// sorts (kept in memory, not in temporary files, so that this bounds
/// them: a cartesian product over `event` wrote 3 GB of them in 30 s).
const MEMORY_BYTES: i64 = 1 << 30;
/// The most answers a question may have.
const MAX_ANSWERS: usize = 1_000_000;

/// A checked rule file, ready to answer.
pub struct Rules {
    program: Program,
    /// The file's name, for messages.
    origin: String,
    /// How long one question may take.
    timeout: std::time::Duration,
}

/// Interrupts what a connection is running once its time is up.
struct Watchdog {
    done: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Watchdog {
    fn start(conn: &Connection, limit: std::time::Duration) -> Watchdog {
        let handle = conn.get_interrupt_handle();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if finished.recv_timeout(limit) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                handle.interrupt();
            }
        });
        Watchdog { done, thread }
    }

    /// The question is answered (or failed): no interrupt after this.
    fn stop(self) {
        drop(self.done);
        let _ = self.thread.join();
    }
}

/// The answers to a question: per answer, the value of each variable.
#[derive(Debug, Default)]
pub struct Answers {
    pub variables: Vec<String>,
    pub rows: Vec<Vec<serde_json::Value>>,
}

impl Answers {
    /// Each answer as one JSON object of bindings, variables in order.
    pub fn objects(&self) -> Vec<Map<String, serde_json::Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.variables
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect()
            })
            .collect()
    }
}

impl Rules {
    /// Reads and checks a rule file; every mistake is named with
    /// `FILE:LINE:COLUMN` (exit 2).
    pub fn load(path: &Path) -> Result<Rules> {
        let text = std::fs::read(path).map_err(|e| {
            Error::usage(format!(
                "reading rules {}: {}",
                path.display(),
                crate::base::error::describe_io(&e)
            ))
        })?;
        let text = String::from_utf8(text).map_err(|e| {
            Error::usage(format!(
                "{}: not UTF-8 text (at byte {})",
                path.display(),
                e.utf8_error().valid_up_to()
            ))
        })?;
        Rules::parse(&text, &path.display().to_string())
    }

    /// Checks rules given as text; `origin` names them in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Rules> {
        let fail = |errors: Vec<RuleError>| report(origin, &errors);
        let clauses = syntax::parse_program(text).map_err(fail)?;
        let program = Program::new(clauses).map_err(fail)?;
        // Every rule is written as SQL once now, so a rule whose variables
        // are not bound is refused when the file is read, not when asked.
        let mut errors = Vec::new();
        for clause in &program.clauses {
            if !clause.body.is_empty() {
                if let Err(mut e) = sql::select(
                    &program,
                    &clause.head.args,
                    &clause.body,
                    Repeats::Removed,
                    &mut Params::new(0),
                    &mut Aliases::default(),
                ) {
                    errors.append(&mut e);
                }
            } else {
                errors.extend(fact_error(&clause.head));
            }
        }
        if !errors.is_empty() {
            return Err(fail(errors));
        }
        Ok(Rules {
            program,
            origin: origin.to_string(),
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// The same rules, each question stopped after `timeout`.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Rules {
        self.timeout = timeout;
        self
    }

    /// Runs every relation once on an empty store in memory, for `rules
    /// --check`: what SQLite itself refuses (a chain of a thousand
    /// relations is "nested too deep") is found before a store is asked.
    pub fn try_on_empty_store(&self) -> Result<()> {
        let mut conn = Connection::open_in_memory().map_err(sql_error)?;
        crate::store::schema::migrate(&mut conn).map_err(Error::io)?;
        let mut refused = Vec::new();
        for derived in self.program.derived.values() {
            let vars: Vec<String> = (0..derived.arity).map(|i| format!("V{i}")).collect();
            let goal = format!("{}({})", derived.name, vars.join(", "));
            if let Err(e) = self.ask(&conn, &goal, 0) {
                refused.push(format!(
                    "{}:{}:{}: SQLite cannot answer `{}`: {}",
                    self.origin, derived.pos.line, derived.pos.col, derived.name, e.message
                ));
            }
        }
        if refused.is_empty() {
            Ok(())
        } else {
            Err(Error::usage(refused.join("\n")))
        }
    }

    /// The file the rules came from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many clauses and relations the file has, for `rules --check`.
    pub fn size(&self) -> (usize, usize) {
        (self.program.clauses.len(), self.program.derived.len())
    }

    /// Each relation the file defines: name, arity, the line of its first
    /// clause and how many clauses it has.
    pub fn relations(&self) -> Vec<(String, usize, u32, usize)> {
        self.program
            .derived
            .values()
            .map(|d| (d.name.clone(), d.arity, d.pos.line, d.clauses.len()))
            .collect()
    }

    /// Whether the file defines this relation (`alert`, `suppress` …).
    pub fn defines(&self, name: &str) -> bool {
        self.program.derived.values().any(|d| d.name == name)
    }

    /// The arities `order` is defined with.
    pub fn order_arities(&self) -> Vec<usize> {
        self.program
            .derived
            .values()
            .filter(|d| d.name == "order")
            .map(|d| d.arity)
            .collect()
    }

    /// Answers a question (`answer(H, T)`, or several literals) on the
    /// store, as of `now_ms`.
    pub fn ask(&self, conn: &Connection, question: &str, now_ms: i64) -> Result<Answers> {
        self.bounded(conn, question, |growing| {
            self.answer(conn, question, now_ms, growing)
        })
    }

    /// How SQLite will answer `question` (`EXPLAIN QUERY PLAN`), one step
    /// a line, indented under the step it belongs to: which table each
    /// relation reads and through which index. Recursive relations are
    /// worked out first, as for an answer.
    pub fn plan(&self, conn: &Connection, question: &str, now_ms: i64) -> Result<Vec<String>> {
        self.bounded(conn, question, |growing| {
            let statement = self.statement(conn, question, now_ms, growing)?;
            explain(conn, &statement)
        })
    }

    /// Runs `work` bounded in time and memory: a rule that grows without
    /// end (a cartesian product, a recursion making new values) is
    /// stopped, named (`work` keeps in its argument the relation being
    /// worked out), with exit 75.
    fn bounded<T>(
        &self,
        conn: &Connection,
        question: &str,
        work: impl FnOnce(&mut String) -> Result<T>,
    ) -> Result<T> {
        let watchdog = Watchdog::start(conn, self.timeout);
        // SAFETY: sets SQLite's process-wide heap limit; no pointers.
        unsafe {
            if rusqlite::ffi::sqlite3_hard_heap_limit64(-1) == 0 {
                rusqlite::ffi::sqlite3_hard_heap_limit64(MEMORY_BYTES);
            }
        }
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(sql_error)?;
        let mut growing = question.to_string();
        let done = work(&mut growing);
        watchdog.stop();
        done.map_err(|e| self.stopped(e, &growing))
    }

    /// What a question that ran out of time or memory says: which rule
    /// grew, and what to do.
    fn stopped(&self, error: Error, growing: &str) -> Error {
        let why = if error.message.contains("interrupted") {
            format!("ran past {}", crate::base::time::human(self.timeout))
        } else if error.message.contains("out of memory") {
            format!("needed more than {} MiB", MEMORY_BYTES >> 20)
        } else if error.message.contains("answers") {
            format!("has more than {MAX_ANSWERS} answers")
        } else {
            return error;
        };
        Error::new(
            crate::base::exit::Exit::TempFail,
            format!(
                "{}: `{growing}` {why} and was stopped: a rule that grows without bound \
                 (a product of large relations, a recursion making new values)? bound it, \
                 or give more time with --timeout ([rules] timeout)",
                self.origin
            ),
        )
    }

    fn answer(
        &self,
        conn: &Connection,
        question: &str,
        now_ms: i64,
        growing: &mut String,
    ) -> Result<Answers> {
        let statement = self.statement(conn, question, now_ms, growing)?;
        let rows = query(
            conn,
            &statement.sql,
            &statement.params,
            statement.variables.len(),
        )?;
        Ok(Answers {
            variables: statement.variables,
            rows,
        })
    }

    /// The question as one SQL statement, the temporary tables it reads
    /// filled.
    fn statement(
        &self,
        conn: &Connection,
        question: &str,
        now_ms: i64,
        growing: &mut String,
    ) -> Result<Statement> {
        let goal = syntax::parse_goal(question).map_err(|e| report("question", &[e]))?;
        let mut errors = Vec::new();
        self.program.check_body(&goal, &mut errors);
        if !errors.is_empty() {
            return Err(report("question", &errors));
        }
        let mut variables: Vec<&str> = Vec::new();
        for literal in &goal {
            if let Literal::Atom(atom) = literal {
                atom.args.iter().for_each(|t| t.vars(&mut variables));
            }
        }
        let mut seen = std::collections::HashSet::new();
        variables.retain(|v| seen.insert(*v));
        let head: Vec<Term> = variables
            .iter()
            .map(|v| Term::Var(v.to_string(), syntax::Pos::default()))
            .collect();
        let mut params = Params::new(now_ms);
        // One naming of tables for the whole statement, so a plan's `t3`
        // is one relation.
        let mut aliases = Aliases::default();
        let select = sql::select(
            &self.program,
            &head,
            &goal,
            Repeats::Removed,
            &mut params,
            &mut aliases,
        )
        .map_err(|e| report("question", &e))?;
        let needed = self.program.needed(&goal);
        register_functions(conn)?;
        let prefix = self.prepare(conn, &needed, &mut params, &mut aliases, growing)?;
        *growing = question.to_string();
        // Answers come sorted, so the same store gives the same output.
        let order: Vec<String> = (1..=variables.len()).map(|i| i.to_string()).collect();
        let order = if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", order.join(", "))
        };
        Ok(Statement {
            sql: format!("{prefix}{select}{order}"),
            params,
            variables: variables.iter().map(|v| v.to_string()).collect(),
        })
    }

    /// Fills the temporary tables the strata need (facts from the file,
    /// recursive relations) and returns the `WITH …` that defines the rest.
    fn prepare(
        &self,
        conn: &Connection,
        needed: &[usize],
        params: &mut Params,
        aliases: &mut Aliases,
        growing: &mut String,
    ) -> Result<String> {
        let mut ctes: Vec<String> = Vec::new();
        let with = |ctes: &[String]| {
            if ctes.is_empty() {
                String::new()
            } else {
                format!("WITH {} ", ctes.join(", "))
            }
        };
        for &s in needed {
            let stratum = &self.program.strata[s];
            // Each relation's rules as SELECTs, its facts in a table.
            let mut selects: Vec<(String, Vec<String>)> = Vec::new();
            for key in &stratum.relations {
                let derived = &self.program.derived[key];
                // A relation of one rule is written inline (see
                // `Repeats`); one of several is their union, once.
                let repeats = if !stratum.recursive && derived.clauses.len() == 1 {
                    Repeats::Kept
                } else {
                    Repeats::Removed
                };
                let mut parts = Vec::new();
                let facts: Vec<&syntax::Clause> = derived
                    .clauses
                    .iter()
                    .map(|&c| &self.program.clauses[c])
                    .filter(|c| c.body.is_empty())
                    .collect();
                if !facts.is_empty() {
                    let table = sql::facts_table(key);
                    let columns = sql::columns(derived.arity);
                    run(conn, &format!("DROP TABLE IF EXISTS temp.{table}"), &[])?;
                    run(conn, &format!("CREATE TEMP TABLE {table} ({columns})"), &[])?;
                    let marks = vec!["?"; derived.arity].join(", ");
                    let insert = format!("INSERT INTO temp.{table} VALUES ({marks})");
                    for fact in facts {
                        let values: Vec<Value> = fact.head.args.iter().map(constant).collect();
                        run(conn, &insert, &values)?;
                    }
                    parts.push(format!("SELECT {columns} FROM temp.{table}"));
                }
                for &c in &derived.clauses {
                    let clause = &self.program.clauses[c];
                    if clause.body.is_empty() {
                        continue;
                    }
                    let select = sql::select(
                        &self.program,
                        &clause.head.args,
                        &clause.body,
                        repeats,
                        params,
                        aliases,
                    )
                    .map_err(|e| report(&self.origin, &e))?;
                    parts.push(select);
                }
                selects.push((key.clone(), parts));
            }
            if !stratum.recursive {
                let (key, parts) = &selects[0];
                let arity = self.program.derived[key].arity;
                let inline = if parts.len() == 1 {
                    "NOT MATERIALIZED "
                } else {
                    ""
                };
                ctes.push(format!(
                    "{}({}) AS {inline}({})",
                    sql::table(key),
                    sql::columns(arity),
                    parts.join(" UNION ")
                ));
                continue;
            }
            for (key, _) in &selects {
                let table = sql::table(key);
                let columns = sql::columns(self.program.derived[key].arity);
                run(conn, &format!("DROP TABLE IF EXISTS temp.{table}"), &[])?;
                run(conn, &format!("CREATE TEMP TABLE {table} ({columns})"), &[])?;
            }
            let prefix = with(&ctes);
            let mut rounds = 0;
            growing.clone_from(&self.program.derived[&selects[0].0].name);
            loop {
                let mut added = 0;
                for (key, parts) in &selects {
                    let table = sql::table(key);
                    for part in parts {
                        added += run(
                            conn,
                            &format!(
                                "{prefix}INSERT INTO temp.{table} SELECT * FROM ({part}) \
                                 EXCEPT SELECT * FROM temp.{table}"
                            ),
                            &params.values,
                        )?;
                    }
                }
                if added == 0 {
                    break;
                }
                rounds += 1;
                if rounds >= MAX_ROUNDS {
                    let name = &self.program.derived[&selects[0].0].name;
                    return Err(Error::usage(format!(
                        "{}: `{name}` was still growing after {MAX_ROUNDS} rounds: a recursive \
                         rule makes a new value each time (like N = M + 1); bound it",
                        self.origin
                    )));
                }
            }
        }
        Ok(with(&ctes))
    }
}

/// A fact in the file must be all values: `depends("web01", "switch3").`
fn fact_error(head: &syntax::Atom) -> Option<RuleError> {
    head.args.iter().find_map(|arg| match arg {
        Term::Var(name, pos) => Some(RuleError::new(
            *pos,
            format!(
                "a fact holds values, not variables (`{name}`); quote it, or give the rule a body"
            ),
        )),
        Term::Anon(_) | Term::Now | Term::Arith(..) | Term::Cat(_) => Some(RuleError::new(
            head.pos,
            "a fact holds values (strings and numbers); to compute one, give the rule a body",
        )),
        _ => None,
    })
}

fn constant(term: &Term) -> Value {
    match term {
        Term::Str(s) => Value::Text(s.clone()),
        Term::Int(n) => Value::Integer(*n),
        Term::Real(x) => Value::Real(*x),
        _ => Value::Null,
    }
}

/// One error per line: `FILE:LINE:COLUMN: what`, exit 2.
fn report(origin: &str, errors: &[RuleError]) -> Error {
    let lines: Vec<String> = errors.iter().map(|e| format!("{origin}:{e}")).collect();
    Error::usage(lines.join("\n"))
}

fn sql_error(e: rusqlite::Error) -> Error {
    Error::io(format!("answering from the store: {e}"))
}

/// Binds as many of `values` as the statement names (`?1` … `?N`).
fn bind(stmt: &mut rusqlite::Statement<'_>, values: &[Value]) -> Result<()> {
    for i in 1..=stmt.parameter_count() {
        let value = values.get(i - 1).cloned().unwrap_or(Value::Null);
        stmt.raw_bind_parameter(i, value).map_err(sql_error)?;
    }
    Ok(())
}

fn run(conn: &Connection, sql: &str, values: &[Value]) -> Result<usize> {
    let mut stmt = conn.prepare(sql).map_err(sql_error)?;
    bind(&mut stmt, values)?;
    stmt.raw_execute().map_err(sql_error)
}

/// `EXPLAIN QUERY PLAN` of a statement, its steps indented under their
/// parents.
fn explain(conn: &Connection, statement: &Statement) -> Result<Vec<String>> {
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {}", statement.sql))
        .map_err(sql_error)?;
    bind(&mut stmt, &statement.params.values)?;
    let mut rows = stmt.raw_query();
    let mut depth: Vec<(i64, usize)> = Vec::new();
    let mut lines = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let (id, parent): (i64, i64) = (
            row.get(0).map_err(sql_error)?,
            row.get(1).map_err(sql_error)?,
        );
        let detail: String = row.get(3).map_err(sql_error)?;
        let level = depth
            .iter()
            .find(|(step, _)| *step == parent)
            .map_or(0, |(_, level)| level + 1);
        depth.push((id, level));
        lines.push(format!("{}{detail}", "  ".repeat(level)));
    }
    Ok(lines)
}

/// A question written as SQL: the statement, its values, the variables
/// its columns answer.
struct Statement {
    sql: String,
    params: Params,
    variables: Vec<String>,
}

fn query(
    conn: &Connection,
    sql: &str,
    params: &Params,
    width: usize,
) -> Result<Vec<Vec<serde_json::Value>>> {
    let mut stmt = conn.prepare(sql).map_err(sql_error)?;
    bind(&mut stmt, &params.values)?;
    let mut rows = stmt.raw_query();
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        if out.len() >= MAX_ANSWERS {
            return Err(Error::io(format!("more than {MAX_ANSWERS} answers")));
        }
        let mut values = Vec::with_capacity(width);
        for i in 0..width {
            values.push(crate::base::sqlite::json_value(
                row.get_ref(i).map_err(sql_error)?,
            ));
        }
        out.push(values);
    }
    Ok(out)
}

/// A value as rules compare it: a number when it is one (or a size like
/// `4GiB`), else its text.
enum Comparable {
    Number(f64),
    Text,
}

fn comparable(value: ValueRef<'_>) -> Option<Comparable> {
    Some(match value {
        ValueRef::Null | ValueRef::Blob(_) => return None,
        ValueRef::Integer(n) => Comparable::Number(n as f64),
        ValueRef::Real(x) => Comparable::Number(x),
        ValueRef::Text(t) => match crate::base::compare::number(&String::from_utf8_lossy(t)) {
            Some(x) => Comparable::Number(x),
            None => Comparable::Text,
        },
    })
}

fn text_of(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(x) => Some(x.to_string()),
        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
        _ => None,
    }
}

fn sign(ordering: Ordering) -> i64 {
    ordering as i64
}

/// `sd_compare(a, b)`: -1, 0 or 1 as rules order values (numbers as
/// numbers, else text); NULL when either is missing.
/// `sd_version_cmp(installed, wanted)`: Debian order, a wanted version
/// without revision compared with the upstream part only (as `--fact`).
fn register_functions(conn: &Connection) -> Result<()> {
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("sd_compare", 2, flags, |ctx| {
        let (a, b) = (comparable(ctx.get_raw(0)), comparable(ctx.get_raw(1)));
        Ok(match (a, b) {
            (Some(Comparable::Number(a)), Some(Comparable::Number(b))) => {
                a.partial_cmp(&b).map(sign)
            }
            (Some(_), Some(_)) => {
                let a = text_of(ctx.get_raw(0)).unwrap_or_default();
                let b = text_of(ctx.get_raw(1)).unwrap_or_default();
                Some(sign(a.cmp(&b)))
            }
            _ => None,
        })
    })
    .map_err(sql_error)?;
    conn.create_scalar_function("sd_version_cmp", 2, flags, |ctx| {
        let (Some(a), Some(b)) = (text_of(ctx.get_raw(0)), text_of(ctx.get_raw(1))) else {
            return Ok(None);
        };
        Ok(crate::base::compare::compare_versions(&a, &b).map(sign))
    })
    .map_err(sql_error)
}

/// The rule file to read: `--rules`, else `[rules] path`, else
/// /etc/sheepdog/rules.dl (`None` when that default does not exist,
/// so commands that only may use rules go on without).
pub fn locate(flag: Option<&Path>, config: &crate::config::ConfigFile) -> Option<PathBuf> {
    if let Some(path) = crate::config::flag_or_file(flag, config.rules.path.as_deref()) {
        return Some(path.to_path_buf());
    }
    let default = Path::new(DEFAULT_PATH);
    default.exists().then(|| default.to_path_buf())
}

pub const DEFAULT_PATH: &str = "/etc/sheepdog/rules.dl";

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with the tables rules read, and a few rows.
    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::schema::migrate(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO facts VALUES ('tux01', 'mem_total_bytes', '2147483648', 0),
                                      ('tux02', 'mem_total_bytes', '17179869184', 0),
                                      ('tux01', 'pkg.nginx', '1.24.0-2', 0),
                                      ('tux02', 'pkg.nginx', '1.24.0-2', 0);
             INSERT INTO interruptions VALUES ('tux01', 'BORG', 1000, NULL, 'a', 'fail'),
                                              ('tux02', 'BORG', 1000, 2000, 'b', 'fail');",
        )
        .unwrap();
        conn
    }

    fn ask(rules: &str, question: &str) -> Vec<String> {
        let rules = Rules::parse(rules, "test.dl").unwrap();
        let answers = rules.ask(&store(), question, 10_000).unwrap();
        answers
            .objects()
            .iter()
            .map(|o| serde_json::to_string(o).unwrap())
            .collect()
    }

    #[test]
    fn the_seed_question() {
        let rules = "low_ram(H) :- fact(H, \"mem_total_bytes\", M), M < 4GiB.
                     runs(H, P, V) :- fact(H, P, V).
                     interrupted(H, T) :- interruption(H, T, _, End), End > now - 5s.
                     answer(H, T) :- interrupted(H, T), low_ram(H), runs(H, \"pkg.nginx\", V), version_eq(V, \"1.24.0\").";
        assert_eq!(ask(rules, "answer(H, T)"), [r#"{"H":"tux01","T":"BORG"}"#]);
        assert_eq!(
            ask(rules, "interrupted(H, \"BORG\"), not low_ram(H)"),
            Vec::<String>::new()
        );
    }

    /// The plans a year of events needs (bench/scale.sh): the seed
    /// question reads the facts first, then only the matching hosts'
    /// periods of the window through the index on (host, end); the board
    /// of one tag reads the events past the board's mark, not every
    /// event of the tag.
    #[test]
    fn questions_read_the_few_rows_they_need() {
        let rules = Rules::parse(
            "low_ram(H) :- fact(H, \"mem_total_bytes\", M), M < 4GiB.
             interrupted(H, T) :- interruption(H, T, _, End), End > now - 30d.
             answer(H, T) :- interrupted(H, T), low_ram(H).
             down(H) :- state(H, \"ping\", \"fail\", _).",
            "test.dl",
        )
        .unwrap();
        let conn = store();
        let plan = rules.plan(&conn, "answer(H, T)", 10_000).unwrap();
        let step = |what: &str| {
            plan.iter()
                .position(|line| line.contains(what))
                .unwrap_or_else(|| panic!("no {what} in {plan:#?}"))
        };
        assert!(step("USING COVERING INDEX interruptions_host_end (host=?") > step("SCAN t3"));
        assert!(
            plan[0].contains("SCAN t3"),
            "the facts (low_ram) first: {plan:#?}"
        );
        assert!(!plan.iter().any(|l| l.contains("MATERIALIZE")), "{plan:#?}");
        let plan = rules.plan(&conn, "down(H)", 10_000).unwrap();
        assert!(
            plan.iter()
                .any(|l| l.contains("SEARCH events USING INTEGER PRIMARY KEY (rowid>?)")),
            "{plan:#?}"
        );
        assert!(
            !plan.iter().any(|l| l.contains("events_tag_time")),
            "{plan:#?}"
        );
    }

    #[test]
    fn recursion_facts_and_counts() {
        let rules = "depends(\"web01\", \"switch3\"). depends(\"switch3\", \"router1\"). depends(\"web02\", \"switch3\").
                     up(H, P) :- depends(H, P).
                     up(H, P) :- depends(H, X), up(X, P).
                     fans(P, N) :- N = count { up(H, P) }.";
        assert_eq!(
            ask(rules, "up(\"web01\", P)"),
            [r#"{"P":"router1"}"#, r#"{"P":"switch3"}"#]
        );
        let mut fans = ask(rules, "fans(P, N), N > 1");
        fans.sort();
        assert_eq!(
            fans,
            [r#"{"P":"router1","N":3}"#, r#"{"P":"switch3","N":2}"#]
        );
    }

    #[test]
    fn unbound_variables_are_refused_when_the_file_is_read() {
        let e = Rules::parse("a(H, X) :- fact(H, _, _).", "r.dl")
            .err()
            .unwrap();
        assert!(
            e.message
                .starts_with("r.dl:1:6: variable `X` in the head is not bound"),
            "{}",
            e.message
        );
        let e = Rules::parse("a(H) :- fact(H, _, _), not state(H, T, _, _).", "r.dl")
            .err()
            .unwrap();
        assert!(
            e.message.contains("`T` under `not` is not bound"),
            "{}",
            e.message
        );
        let e = Rules::parse("a(X).", "r.dl").err().unwrap();
        assert!(e.message.contains("a fact holds values"), "{}", e.message);
    }

    #[test]
    fn questions_of_every_shape() {
        let rules = "k(\"a\", 1). k(\"b\", 2). k(\"c\", 2).
                     total(N) :- N = count { k(X, _) }.
                     per(V, N) :- N = count { k(X, V) }.
                     big(X) :- k(X, V), V * 2 > 3, cat(X, \"!\") = \"b!\".";
        // A yes-or-no question: one empty object when it holds.
        assert_eq!(ask(rules, "k(\"a\", 1)"), ["{}"]);
        assert_eq!(ask(rules, "k(\"a\", 2)"), Vec::<String>::new());
        assert_eq!(ask(rules, "total(N)"), [r#"{"N":3}"#]);
        assert_eq!(
            ask(rules, "per(V, N)"),
            [r#"{"V":1,"N":1}"#, r#"{"V":2,"N":2}"#]
        );
        assert_eq!(ask(rules, "big(X)"), [r#"{"X":"b"}"#]);
        // Values compare as numbers when both are, sizes included.
        assert_eq!(
            ask(rules, "fact(H, \"mem_total_bytes\", M), M >= 16GiB"),
            [r#"{"H":"tux02","M":"17179869184"}"#]
        );
        // An open period ends now; times compare as numbers.
        assert_eq!(
            ask(rules, "interruption(H, T, S, E), E - S > 5000"),
            [r#"{"H":"tux01","T":"BORG","S":1000,"E":10000}"#]
        );
        assert_eq!(
            ask(
                rules,
                "fact(H, \"pkg.nginx\", V), version_lt(V, \"1.24.0-3\"), glob(H, \"tux0[2-9]\")"
            ),
            [r#"{"H":"tux02","V":"1.24.0-2"}"#]
        );
    }

    #[test]
    fn missing_values_end_a_recursion() {
        // NULL kinds flow into a recursive relation: the rounds still end.
        let conn = store();
        conn.execute_batch(
            "INSERT INTO events (id, time_ms, host, tag, kind, status, received_ms, body)
             VALUES ('e1', 1, 'a', 't', NULL, NULL, 1, '{}'), ('e2', 2, 'b', 't', NULL, 'ok', 1, '{}');",
        )
        .unwrap();
        let rules = Rules::parse(
            "r(H, K) :- event(_, _, H, _, K, _).
             r(H, K) :- r(X, K), event(_, _, H, _, _, _), H != X.",
            "r.dl",
        )
        .unwrap();
        assert_eq!(rules.ask(&conn, "r(H, K)", 0).unwrap().rows.len(), 2);
    }

    #[test]
    fn endless_recursion_stops_with_a_reason() {
        let rules = Rules::parse("n(0). n(X) :- n(Y), X = Y + 1.", "r.dl").unwrap();
        let e = rules.ask(&store(), "n(X)", 0).unwrap_err();
        assert!(e.message.contains("still growing"), "{}", e.message);
    }
}
