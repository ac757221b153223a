//! Rules into SQL: each derived relation becomes a common table
//! expression over the store's own tables (so SQLite's planner pushes
//! the question's constants into the store's indexes), a recursive one a
//! temporary table filled until nothing new comes, and the question one
//! `SELECT DISTINCT`. Every value from the rule file is a bound
//! parameter; only names the checker made (`r_low_ram`, `t3`) are written
//! into the text.

use super::program::{self, Program, Type};
use super::syntax::{ArithOp, Atom, CmpOp, Literal, Pos, RuleError, Term};
use rusqlite::types::Value;
use std::collections::HashMap;

/// A query being written: its parameters (`?1` is always now).
#[derive(Default)]
pub struct Params {
    pub values: Vec<Value>,
}

impl Params {
    pub fn new(now_ms: i64) -> Params {
        Params {
            values: vec![Value::Integer(now_ms)],
        }
    }

    fn add(&mut self, value: Value) -> String {
        self.values.push(value);
        format!("?{}", self.values.len())
    }
}

/// The column of an end that is now while it is open — the
/// `coalesce(t.end_ms, ?1)` of `interruption(…, End)` — without its
/// coalesce.
fn open_end(sql: &str) -> Option<&str> {
    sql.strip_prefix("coalesce(")?.strip_suffix(", ?1)")
}

/// Whether a `SELECT` removes repeated rows. A relation written inline
/// keeps them, so SQLite can fold it into the query that reads it and
/// search its tables with that query's values; the question, and what a
/// count counts, remove them.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Repeats {
    Removed,
    Kept,
}

/// The SQL name of a derived relation: its checked key, made safe.
pub fn table(key: &str) -> String {
    format!("\"r_{}\"", key.replace('/', "_"))
}

/// The SQL name of the temporary table holding a relation's facts.
pub fn facts_table(key: &str) -> String {
    format!("\"f_{}\"", key.replace('/', "_"))
}

/// The columns of a derived relation: `c0, c1, …`.
pub fn columns(arity: usize) -> String {
    (0..arity)
        .map(|i| format!("c{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A variable's value in the query being written.
#[derive(Clone)]
struct Binding {
    sql: String,
    ty: Type,
}

/// One rule body being written as a `SELECT`.
struct Scope<'p> {
    program: &'p Program,
    /// Each relation's table(s), and whether it grows with the events.
    from: Vec<(String, bool)>,
    conditions: Vec<String>,
    bound: HashMap<String, Binding>,
    errors: Vec<RuleError>,
}

/// Aliases unique within a whole statement (counts nest a scope in
/// another).
#[derive(Default)]
pub struct Aliases(usize);

impl Aliases {
    fn next(&mut self) -> String {
        self.0 += 1;
        format!("t{}", self.0)
    }
}

/// Writes `SELECT DISTINCT head… FROM … WHERE …` for one rule (or a
/// question, whose head is its variables). Errors name variables that no
/// relation binds.
pub fn select(
    program: &Program,
    head: &[Term],
    body: &[Literal],
    repeats: Repeats,
    params: &mut Params,
    aliases: &mut Aliases,
) -> Result<String, Vec<RuleError>> {
    let mut scope = Scope {
        program,
        from: Vec::new(),
        conditions: Vec::new(),
        bound: HashMap::new(),
        errors: Vec::new(),
    };
    let mut outside: Vec<&str> = Vec::new();
    head.iter().for_each(|t| t.vars(&mut outside));
    scope.body(body, &outside, params, aliases);
    let mut columns = Vec::new();
    for (i, term) in head.iter().enumerate() {
        if let Some(sql) = scope.term(term, params, "in the head") {
            columns.push(format!("{sql} AS c{i}"));
        }
    }
    if !scope.errors.is_empty() {
        return Err(scope.errors);
    }
    Ok(scope.finish(&columns.join(", "), repeats))
}

impl Scope<'_> {
    fn finish(self, columns: &str, repeats: Repeats) -> String {
        let columns = if columns.is_empty() { "1" } else { columns };
        let distinct = if repeats == Repeats::Removed {
            "DISTINCT "
        } else {
            ""
        };
        let mut sql = format!("SELECT {distinct}{columns}");
        if !self.from.is_empty() {
            sql.push_str(" FROM ");
            sql.push_str(&join(self.from));
        }
        if !self.conditions.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.conditions.join(" AND "));
        }
        sql
    }

    /// Binds a body's variables and writes its conditions. `outside`: the
    /// variables used beyond this body (the head's), which counts group by.
    fn body(
        &mut self,
        body: &[Literal],
        outside: &[&str],
        params: &mut Params,
        aliases: &mut Aliases,
    ) {
        // Relations bind first, then counts, then `X = …` in whatever order
        // they can be worked out, then the tests.
        for literal in body {
            if let Literal::Atom(atom) = literal
                && !program::is_builtin(&atom.name)
            {
                self.relation(atom, params, aliases);
            }
        }
        for (i, literal) in body.iter().enumerate() {
            if let Literal::Count {
                var,
                body: inner,
                pos,
            } = literal
            {
                // The variables shared with the rest of the rule group the count.
                let mut elsewhere: Vec<&str> = outside.to_vec();
                for (j, other) in body.iter().enumerate() {
                    if j != i {
                        literal_vars(other, &mut elsewhere);
                    }
                }
                self.count(var, inner, &elsewhere, *pos, params, aliases);
            }
        }
        let mut pending: Vec<&Literal> = body
            .iter()
            .filter(|l| matches!(l, Literal::Compare(..)))
            .collect();
        loop {
            let before = pending.len();
            pending.retain(|literal| {
                let Literal::Compare(left, CmpOp::Eq, right, _) = literal else {
                    return true;
                };
                for (var, value) in [(left, right), (right, left)] {
                    if let Term::Var(name, _) = var
                        && !self.bound.contains_key(name)
                        && self.all_bound(value)
                    {
                        let ty = self.type_of(value);
                        if let Some(sql) = self.term(value, params, "") {
                            self.bound.insert(name.clone(), Binding { sql, ty });
                        }
                        return false;
                    }
                }
                true
            });
            if pending.len() == before {
                break;
            }
        }
        for literal in pending {
            if let Literal::Compare(left, op, right, pos) = literal {
                self.compare(left, *op, right, *pos, params);
            }
        }
        for literal in body {
            match literal {
                Literal::Atom(atom) if program::is_builtin(&atom.name) => {
                    self.builtin(atom, params)
                }
                Literal::Not(atom) => self.negation(atom, params, aliases),
                _ => {}
            }
        }
    }

    fn all_bound(&self, term: &Term) -> bool {
        let mut vars = Vec::new();
        term.vars(&mut vars);
        vars.iter().all(|v| self.bound.contains_key(*v)) && !contains_anon(term)
    }

    fn type_of(&self, term: &Term) -> Type {
        match term {
            Term::Int(_) | Term::Real(_) | Term::Now => Type::Int,
            Term::Var(name, _) => self.bound.get(name).map_or(Type::Any, |b| b.ty),
            Term::Arith(a, _, b)
                if self.type_of(a) == Type::Int && self.type_of(b) == Type::Int =>
            {
                Type::Int
            }
            _ => Type::Any,
        }
    }

    /// A term as SQL, every variable in it bound; `None` (and an error
    /// saying `role`) if one is not.
    fn term(&mut self, term: &Term, params: &mut Params, role: &str) -> Option<String> {
        Some(match term {
            Term::Var(name, pos) => match self.bound.get(name) {
                Some(b) => b.sql.clone(),
                None => {
                    self.errors.push(unbound(name, *pos, role));
                    return None;
                }
            },
            Term::Anon(pos) => {
                self.errors.push(RuleError::new(
                    *pos,
                    "`_` stands for any value in a relation's argument; here it means nothing",
                ));
                return None;
            }
            Term::Str(s) => params.add(Value::Text(s.clone())),
            Term::Int(n) => params.add(Value::Integer(*n)),
            Term::Real(x) => params.add(Value::Real(*x)),
            Term::Now => "?1".to_string(),
            Term::Arith(a, op, b) => {
                let a = self.term(a, params, role);
                let b = self.term(b, params, role);
                let (a, b) = (a?, b?);
                match op {
                    // Integer division would surprise: 7 / 2 is 3.5.
                    ArithOp::Div => format!("({a} * 1.0 / {b})"),
                    op => format!("({a} {} {b})", op.sql()),
                }
            }
            Term::Cat(parts) => {
                let parts: Vec<Option<String>> =
                    parts.iter().map(|p| self.term(p, params, role)).collect();
                let parts: Option<Vec<String>> = parts.into_iter().collect();
                format!("({})", parts?.join(" || "))
            }
        })
    }

    /// A relation in the body: a table in `FROM`, its arguments bound or
    /// compared.
    fn relation(&mut self, atom: &Atom, params: &mut Params, aliases: &mut Aliases) {
        let alias = aliases.next();
        let (from, columns) = source(self.program, atom, &alias);
        self.from.push((from, self.program.grows(atom)));
        for (term, (column, ty)) in atom.args.iter().zip(columns) {
            match term {
                Term::Anon(_) => {}
                Term::Var(name, _) => match self.bound.get(name) {
                    Some(b) => self.conditions.push(format!("{column} = {}", b.sql)),
                    None => {
                        self.bound.insert(name.clone(), Binding { sql: column, ty });
                    }
                },
                constant => {
                    if let Some(value) = self.term(constant, params, "") {
                        self.conditions.push(format!("{column} = {value}"));
                    }
                }
            }
        }
    }

    /// `N = count { … }`: a grouped subquery joined like a relation.
    fn count(
        &mut self,
        var: &str,
        inner: &[Literal],
        elsewhere: &[&str],
        pos: Pos,
        params: &mut Params,
        aliases: &mut Aliases,
    ) {
        let mut scope = Scope {
            program: self.program,
            from: Vec::new(),
            conditions: Vec::new(),
            bound: HashMap::new(),
            errors: Vec::new(),
        };
        let mut inner_vars = Vec::new();
        for literal in inner {
            literal_vars(literal, &mut inner_vars);
        }
        inner_vars.sort_unstable();
        inner_vars.dedup();
        let shared: Vec<&str> = inner_vars
            .iter()
            .copied()
            .filter(|v| elsewhere.contains(v))
            .collect();
        scope.body(inner, &shared, params, aliases);
        let mut columns = Vec::new();
        for (i, name) in inner_vars.iter().enumerate() {
            match scope.bound.get(*name) {
                Some(b) => columns.push(format!("{} AS v{i}", b.sql)),
                None => scope.errors.push(unbound(name, pos, "in the count")),
            }
        }
        self.errors.append(&mut scope.errors);
        let types: Vec<Type> = shared
            .iter()
            .map(|v| scope.bound.get(*v).map_or(Type::Any, |b| b.ty))
            .collect();
        let inner_sql = scope.finish(&columns.join(", "), Repeats::Removed);
        let alias = aliases.next();
        let groups: Vec<String> = shared
            .iter()
            .map(|v| {
                format!(
                    "v{}",
                    inner_vars.iter().position(|i| i == v).expect("inner")
                )
            })
            .collect();
        let grouped = if groups.is_empty() {
            format!("(SELECT count(*) AS n FROM ({inner_sql})) AS {alias}")
        } else {
            format!(
                "(SELECT {g}, count(*) AS n FROM ({inner_sql}) GROUP BY {g}) AS {alias}",
                g = groups.join(", ")
            )
        };
        // Grouped, it is as many rows as groups: small.
        self.from.push((grouped, false));
        for ((name, group), ty) in shared.iter().zip(&groups).zip(types) {
            let column = format!("{alias}.{group}");
            match self.bound.get(*name) {
                Some(b) => self.conditions.push(format!("{column} = {}", b.sql)),
                None => {
                    self.bound
                        .insert(name.to_string(), Binding { sql: column, ty });
                }
            }
        }
        let n = format!("{alias}.n");
        match self.bound.get(var) {
            Some(b) => self.conditions.push(format!("{n} = {}", b.sql)),
            None => {
                self.bound.insert(
                    var.to_string(),
                    Binding {
                        sql: n,
                        ty: Type::Int,
                    },
                );
            }
        }
    }

    fn compare(&mut self, left: &Term, op: CmpOp, right: &Term, _pos: Pos, params: &mut Params) {
        let numbers = self.type_of(left) == Type::Int && self.type_of(right) == Type::Int;
        let plain = numbers
            || (matches!(op, CmpOp::Eq | CmpOp::Ne)
                && (matches!(left, Term::Str(_) | Term::Var(..))
                    && matches!(right, Term::Str(_) | Term::Var(..))));
        let (Some(a), Some(b)) = (
            self.term(left, params, "in a comparison"),
            self.term(right, params, "in a comparison"),
        ) else {
            return;
        };
        self.conditions.push(if plain {
            let op = op.sql();
            match (open_end(&a), open_end(&b)) {
                // An open period's end is now: said so an index on the
                // ends can find the periods (a coalesce() hides it).
                (Some(end), _) => format!("({end} {op} {b} OR ({end} IS NULL AND ?1 {op} {b}))"),
                (None, Some(end)) => format!("({a} {op} {end} OR ({end} IS NULL AND {a} {op} ?1))"),
                (None, None) => format!("{a} {op} {b}"),
            }
        } else {
            format!("sd_compare({a}, {b}) {} 0", op.sql())
        });
    }

    fn builtin(&mut self, atom: &Atom, params: &mut Params) {
        let role = format!("in {}(…)", atom.name);
        let args: Vec<Option<String>> = atom
            .args
            .iter()
            .map(|t| self.term(t, params, &role))
            .collect();
        let [Some(a), Some(b)] = args.as_slice() else {
            return;
        };
        let condition = match atom.name.as_str() {
            "glob" => format!("{a} GLOB {b}"),
            name => {
                let op = match &name["version_".len()..] {
                    "eq" => "=",
                    "ne" => "!=",
                    "lt" => "<",
                    "le" => "<=",
                    "gt" => ">",
                    _ => ">=",
                };
                format!("sd_version_cmp({a}, {b}) {op} 0")
            }
        };
        self.conditions.push(condition);
    }

    /// `not p(…)`: no row of p with these values. Its variables must be
    /// bound elsewhere (`_` stands for any value).
    fn negation(&mut self, atom: &Atom, params: &mut Params, aliases: &mut Aliases) {
        let alias = aliases.next();
        let (from, columns) = source(self.program, atom, &alias);
        let mut conditions = Vec::new();
        for (term, (column, _)) in atom.args.iter().zip(columns) {
            if matches!(term, Term::Anon(_)) {
                continue;
            }
            if let Some(value) = self.term(term, params, "under `not`") {
                conditions.push(format!("{column} = {value}"));
            }
        }
        let condition = if conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", conditions.join(" AND "))
        };
        self.conditions
            .push(format!("NOT EXISTS (SELECT 1 FROM {from}{condition})"));
    }
}

/// A body's tables for `FROM`: those that do not grow with the events
/// (facts, the board, the rules' own) in whatever order SQLite likes,
/// then each growing one after all before it (`CROSS JOIN`, which SQLite
/// keeps in order). So "the periods of the low-RAM hosts" searches the
/// periods of those few hosts, instead of every period and then the
/// hosts: SQLite, knowing nothing of the tables' sizes, chose the latter.
fn join(from: Vec<(String, bool)>) -> String {
    let (growing, small): (Vec<_>, Vec<_>) = from.into_iter().partition(|(_, grows)| *grows);
    let growing = growing.into_iter().map(|(table, _)| table);
    if small.is_empty() {
        return growing.collect::<Vec<_>>().join(", ");
    }
    let mut sql = small
        .into_iter()
        .map(|(table, _)| table)
        .collect::<Vec<_>>()
        .join(", ");
    for table in growing {
        sql.push_str(" CROSS JOIN ");
        sql.push_str(&table);
    }
    sql
}

/// Where a relation's rows come from, and its columns as SQL.
fn source(program: &Program, atom: &Atom, alias: &str) -> (String, Vec<(String, Type)>) {
    if let Some(base) = program::base(&atom.name) {
        let columns = base
            .columns
            .iter()
            .map(|(sql, ty)| (sql.replace("{t}", alias), *ty))
            .collect();
        return (base.from.replace("{t}", alias), columns);
    }
    let key = program::key(&atom.name, atom.args.len());
    debug_assert!(program.derived.contains_key(&key));
    let columns = (0..atom.args.len())
        .map(|i| (format!("{alias}.c{i}"), Type::Any))
        .collect();
    (format!("{} AS {alias}", table(&key)), columns)
}

fn literal_vars<'a>(literal: &'a Literal, out: &mut Vec<&'a str>) {
    match literal {
        Literal::Atom(a) | Literal::Not(a) => a.args.iter().for_each(|t| t.vars(out)),
        Literal::Compare(a, _, b, _) => {
            a.vars(out);
            b.vars(out);
        }
        Literal::Count { var, body, .. } => {
            out.push(var);
            body.iter().for_each(|l| literal_vars(l, out));
        }
    }
}

fn contains_anon(term: &Term) -> bool {
    match term {
        Term::Anon(_) => true,
        Term::Arith(a, _, b) => contains_anon(a) || contains_anon(b),
        Term::Cat(parts) => parts.iter().any(contains_anon),
        _ => false,
    }
}

fn unbound(name: &str, pos: Pos, role: &str) -> RuleError {
    let role = if role.is_empty() {
        String::new()
    } else {
        format!(" {role}")
    };
    RuleError::new(
        pos,
        format!(
            "variable `{name}`{role} is not bound: name it in a relation of the body \
             (not under `not`), or give it a value with `{name} = …`"
        ),
    )
}
