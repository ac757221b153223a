//! A rule file made sense of: which name is which relation, with how many
//! arguments, and the order the relations can be worked out in — the
//! strata, so a relation is complete before anything negates or counts
//! it (sheepdog(7), RULES).

use super::syntax::{Atom, Clause, Literal, Pos, RuleError};
use std::collections::{BTreeMap, HashMap};

/// Whether a value is known to be a number (times, durations, counts) —
/// then comparisons are plain SQL and use the store's indexes — or may
/// be text (`fact` values, names), compared as numbers when both look
/// like numbers or sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    Int,
    Any,
}

/// A relation the store provides: how to read it in SQL. `{t}` stands for
/// the table's alias.
pub struct Base {
    pub name: &'static str,
    pub args: &'static [&'static str],
    pub from: &'static str,
    pub columns: &'static [(&'static str, Type)],
    /// A table that grows with every event (millions of rows a year), not
    /// with the number of hosts: a join searches it last (sql.rs).
    pub grows: bool,
}

pub const BASE: [Base; 6] = [
    Base {
        name: "event",
        args: &["Id", "Time", "Host", "Tag", "Kind", "Status"],
        from: "events AS {t}",
        columns: &[
            ("{t}.id", Type::Any),
            ("{t}.time_ms", Type::Int),
            ("{t}.host", Type::Any),
            ("{t}.tag", Type::Any),
            ("{t}.kind", Type::Any),
            ("{t}.status", Type::Any),
        ],
        grows: true,
    },
    Base {
        name: "fact",
        args: &["Host", "Name", "Value"],
        from: "facts AS {t}",
        columns: &[
            ("{t}.host", Type::Any),
            ("{t}.name", Type::Any),
            ("{t}.value", Type::Any),
        ],
        grows: false,
    },
    Base {
        name: "interruption",
        args: &["Host", "Tag", "Start", "End"],
        from: "interruptions AS {t}",
        // An open period ends now (?1), so `End > now - 30d` reads as
        // "overlaps the last 30 days".
        columns: &[
            ("{t}.host", Type::Any),
            ("{t}.tag", Type::Any),
            ("{t}.start_ms", Type::Int),
            ("coalesce({t}.end_ms, ?1)", Type::Int),
        ],
        grows: true,
    },
    Base {
        name: "state",
        args: &["Host", "Tag", "Status", "Since"],
        from: "board AS {t}",
        columns: &[
            ("{t}.host", Type::Any),
            ("{t}.tag", Type::Any),
            ("{t}.status", Type::Any),
            ("{t}.time_ms", Type::Int),
        ],
        grows: false,
    },
    Base {
        name: "maintenance",
        args: &["Host", "Tag", "Until"],
        // The windows in force now (?1): those hosts declared, and the
        // configuration's recurring ones as the reader filled them in
        // (server/maintenance.rs). A Tag of "*" is a window over every
        // tag of its host.
        from: "(SELECT host, tag, until_ms FROM windows WHERE from_ms <= ?1 AND until_ms > ?1
                UNION ALL SELECT host, tag, until_ms FROM temp.recurring_windows WHERE until_ms > ?1) AS {t}",
        columns: &[
            ("{t}.host", Type::Any),
            ("{t}.tag", Type::Any),
            ("{t}.until_ms", Type::Int),
        ],
        grows: false,
    },
    Base {
        name: "field",
        args: &["Id", "Name", "Value"],
        from: "events AS {t} JOIN json_each({t}.body) AS {t}j",
        columns: &[
            ("{t}.id", Type::Any),
            ("{t}j.key", Type::Any),
            ("{t}j.value", Type::Any),
        ],
        grows: true,
    },
];

/// Tests on values written like relations: `version_eq(V, "1.24.0")`,
/// `glob(Host, "web*")`. All their arguments must be bound.
pub const BUILTINS: [&str; 7] = [
    "version_eq",
    "version_ne",
    "version_lt",
    "version_le",
    "version_gt",
    "version_ge",
    "glob",
];

/// Heads that drive the rest of sheepdog, and their arguments.
pub const RESERVED: [(&str, &str); 3] = [
    ("alert", "alert(Host, Tag, Msg)"),
    ("suppress", "suppress(Host, Tag)"),
    ("order", "order(Host, Action, Name, Value, …)"),
];

pub fn base(name: &str) -> Option<&'static Base> {
    BASE.iter().find(|b| b.name == name)
}

pub fn is_builtin(name: &str) -> bool {
    BUILTINS.contains(&name)
}

/// A relation's key: `order` is one relation per number of arguments
/// (`order/2`, `order/4` …); every other name has one arity.
pub fn key(name: &str, arity: usize) -> String {
    if name == "order" {
        format!("order/{arity}")
    } else {
        name.to_string()
    }
}

/// A relation the rules define.
#[derive(Debug)]
pub struct Derived {
    pub name: String,
    pub arity: usize,
    /// Where it is first defined.
    pub pos: Pos,
    /// Its clauses, indices into [`Program::clauses`].
    pub clauses: Vec<usize>,
    /// Its stratum's index in [`Program::strata`].
    pub stratum: usize,
    /// Whether its rules read a table that grows with the events
    /// ([`Base::grows`]), directly or through another relation.
    pub grows: bool,
}

/// Relations worked out together: one, or several that depend on each
/// other (recursion).
#[derive(Debug)]
pub struct Stratum {
    pub relations: Vec<String>,
    pub recursive: bool,
}

#[derive(Debug, Default)]
pub struct Program {
    pub clauses: Vec<Clause>,
    pub derived: BTreeMap<String, Derived>,
    /// In dependency order: each stratum only uses those before it (and
    /// itself, positively).
    pub strata: Vec<Stratum>,
}

impl Program {
    /// Checks clauses as parsed: names, arities, negation and recursion.
    pub fn new(clauses: Vec<Clause>) -> Result<Program, Vec<RuleError>> {
        let mut errors = Vec::new();
        let mut derived: BTreeMap<String, Derived> = BTreeMap::new();
        for (index, clause) in clauses.iter().enumerate() {
            let head = &clause.head;
            if let Some(e) = head_error(head) {
                errors.push(e);
                continue;
            }
            let key = key(&head.name, head.args.len());
            match derived.get_mut(&key) {
                Some(d) if d.arity != head.args.len() => errors.push(arity_error(head, d)),
                Some(d) => d.clauses.push(index),
                None => {
                    derived.insert(
                        key,
                        Derived {
                            name: head.name.clone(),
                            arity: head.args.len(),
                            pos: head.pos,
                            clauses: vec![index],
                            stratum: 0,
                            grows: false,
                        },
                    );
                }
            }
        }
        let mut program = Program {
            clauses,
            derived,
            strata: Vec::new(),
        };
        for clause in &program.clauses {
            program.check_body(&clause.body, &mut errors);
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        program.stratify()?;
        program.mark_growing();
        Ok(program)
    }

    /// Marks the relations whose rules read a growing table, stratum by
    /// stratum (each uses only those before it). A recursive relation is
    /// a temporary table filled beforehand: reading it is cheap whatever
    /// it was made from.
    fn mark_growing(&mut self) {
        for s in 0..self.strata.len() {
            if self.strata[s].recursive {
                continue;
            }
            for key in self.strata[s].relations.clone() {
                let grows = self.derived[&key].clauses.iter().any(|&c| {
                    self.clauses[c].body.iter().any(|literal| match literal {
                        Literal::Atom(atom) => self.grows(atom),
                        _ => false,
                    })
                });
                if let Some(d) = self.derived.get_mut(&key) {
                    d.grows = grows;
                }
            }
        }
    }

    /// Whether reading `atom` reads a table that grows with the events.
    pub fn grows(&self, atom: &Atom) -> bool {
        match base(&atom.name) {
            Some(b) => b.grows,
            None => self
                .derived
                .get(&key(&atom.name, atom.args.len()))
                .is_some_and(|d| d.grows),
        }
    }

    /// Checks that every relation a body names exists with that arity.
    pub fn check_body(&self, body: &[Literal], errors: &mut Vec<RuleError>) {
        for literal in body {
            match literal {
                Literal::Atom(atom) | Literal::Not(atom) => {
                    if let Some(e) = self.use_error(atom, matches!(literal, Literal::Not(_))) {
                        errors.push(e);
                    }
                }
                Literal::Count { body, .. } => self.check_body(body, errors),
                Literal::Compare(..) => {}
            }
        }
    }

    fn use_error(&self, atom: &Atom, negated: bool) -> Option<RuleError> {
        let arity = atom.args.len();
        if let Some(base) = base(&atom.name) {
            return (base.args.len() != arity).then(|| {
                RuleError::new(
                    atom.pos,
                    format!(
                        "`{}` has {} arguments: {}({}); here it has {arity}",
                        base.name,
                        base.args.len(),
                        base.name,
                        base.args.join(", ")
                    ),
                )
            });
        }
        if is_builtin(&atom.name) {
            if negated {
                return Some(RuleError::new(
                    atom.pos,
                    format!(
                        "`not {}`: write the opposite test instead (version_ne, version_lt …)",
                        atom.name
                    ),
                ));
            }
            return (arity != 2).then(|| {
                RuleError::new(
                    atom.pos,
                    format!("`{}` takes 2 arguments; here it has {arity}", atom.name),
                )
            });
        }
        match self.derived.get(&key(&atom.name, arity)) {
            Some(d) if d.arity == arity => None,
            Some(d) => Some(arity_error(atom, d)),
            None => Some(RuleError::new(
                atom.pos,
                format!(
                    "unknown relation `{}/{arity}`{}",
                    atom.name,
                    self.suggest(&atom.name)
                ),
            )),
        }
    }

    /// "; did you mean …" for a name that is almost a known one.
    fn suggest(&self, name: &str) -> String {
        let known = BASE
            .iter()
            .map(|b| b.name)
            .chain(BUILTINS)
            .chain(self.derived.values().map(|d| d.name.as_str()));
        let best = known
            .map(|k| (distance(name, k), k))
            .filter(|(d, k)| *d < name.len() && *d <= (k.len().max(name.len()) / 3).max(1))
            .min();
        match best {
            Some((_, k)) => format!("; did you mean `{k}`?"),
            None => "; define it with a rule or a fact, or use one the store provides \
                     (event, fact, interruption, state, field)"
                .into(),
        }
    }

    /// Orders the derived relations into strata (strongly connected
    /// components of the dependency graph, dependencies first), and
    /// refuses negation or counting inside a cycle and recursion with no
    /// way to start.
    fn stratify(&mut self) -> Result<(), Vec<RuleError>> {
        let names: Vec<String> = self.derived.keys().cloned().collect();
        let index: HashMap<&str, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.as_str(), i))
            .collect();
        // edges[p] = (q, negative, where): p's rules use q.
        let mut edges: Vec<Vec<(usize, bool, Pos)>> = vec![Vec::new(); names.len()];
        for (p, name) in names.iter().enumerate() {
            for &c in &self.derived[name].clauses {
                uses(&self.clauses[c].body, false, &mut |atom, negative| {
                    if let Some(&q) = index.get(key(&atom.name, atom.args.len()).as_str()) {
                        edges[p].push((q, negative, atom.pos));
                    }
                });
            }
        }
        let components = strongly_connected(&edges);
        let mut component_of = vec![0; names.len()];
        for (i, component) in components.iter().enumerate() {
            for &p in component {
                component_of[p] = i;
            }
        }
        let mut errors = Vec::new();
        for (i, component) in components.iter().enumerate() {
            let recursive =
                component.len() > 1 || edges[component[0]].iter().any(|e| e.0 == component[0]);
            for &p in component {
                for &(q, negative, pos) in &edges[p] {
                    if negative && component_of[q] == i {
                        errors.push(RuleError::new(
                            pos,
                            format!(
                                "`{}` depends on itself through `not` or `count` (via `{}`): \
                                 such a rule has no stable answer; break the cycle",
                                self.derived[&names[p]].name, self.derived[&names[q]].name
                            ),
                        ));
                    }
                }
            }
            if recursive {
                let has_base_case = component.iter().any(|&p| {
                    self.derived[&names[p]].clauses.iter().any(|&c| {
                        let mut inside = false;
                        uses(&self.clauses[c].body, false, &mut |atom, negative| {
                            if let Some(&q) = index.get(key(&atom.name, atom.args.len()).as_str()) {
                                inside |= !negative && component_of[q] == i;
                            }
                        });
                        !inside
                    })
                });
                if !has_base_case {
                    let first = &self.derived[&names[component[0]]];
                    errors.push(RuleError::new(
                        first.pos,
                        format!(
                            "`{}` is defined only through itself, so it is always empty; \
                             add a rule (or a fact) for it that does not use it",
                            first.name
                        ),
                    ));
                }
            }
            for &p in component {
                self.derived.get_mut(&names[p]).expect("named").stratum = i;
            }
            self.strata.push(Stratum {
                relations: component.iter().map(|&p| names[p].clone()).collect(),
                recursive,
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            errors.sort_by_key(|e| e.pos);
            Err(errors)
        }
    }

    /// The strata a body needs, in order, by index.
    pub fn needed(&self, body: &[Literal]) -> Vec<usize> {
        let mut wanted = vec![false; self.strata.len()];
        let mut stack: Vec<String> = Vec::new();
        uses(body, false, &mut |atom, _| {
            stack.push(key(&atom.name, atom.args.len()))
        });
        while let Some(name) = stack.pop() {
            let Some(d) = self.derived.get(&name) else {
                continue;
            };
            if wanted[d.stratum] {
                continue;
            }
            wanted[d.stratum] = true;
            for relation in &self.strata[d.stratum].relations {
                for &c in &self.derived[relation].clauses {
                    uses(&self.clauses[c].body, false, &mut |atom, _| {
                        stack.push(key(&atom.name, atom.args.len()))
                    });
                }
            }
        }
        (0..self.strata.len()).filter(|&s| wanted[s]).collect()
    }
}

fn head_error(head: &Atom) -> Option<RuleError> {
    let name = head.name.as_str();
    if base(name).is_some() {
        return Some(RuleError::new(
            head.pos,
            format!("`{name}` is a relation the store provides; give yours another name"),
        ));
    }
    if is_builtin(name) {
        return Some(RuleError::new(
            head.pos,
            format!("`{name}` is a built-in test; give your relation another name"),
        ));
    }
    let arity = head.args.len();
    let fits = match name {
        "alert" => arity == 3,
        "suppress" => arity == 2,
        "order" => arity >= 2 && arity.is_multiple_of(2),
        _ => return None,
    };
    let shape = RESERVED.iter().find(|r| r.0 == name).map_or("", |r| r.1);
    (!fits).then(|| {
        RuleError::new(
            head.pos,
            format!("`{name}` is read by sheepdog as {shape}; here it has {arity} arguments"),
        )
    })
}

fn arity_error(atom: &Atom, defined: &Derived) -> RuleError {
    RuleError::new(
        atom.pos,
        format!(
            "`{}` has {} arguments where it is defined (line {}), {} here",
            atom.name,
            defined.arity,
            defined.pos.line,
            atom.args.len()
        ),
    )
}

/// Calls `f` for every relation a body uses, saying whether through `not`
/// or `count` (a use that needs the relation complete first).
pub fn uses<'a>(body: &'a [Literal], inside: bool, f: &mut impl FnMut(&'a Atom, bool)) {
    for literal in body {
        match literal {
            Literal::Atom(atom) if !is_builtin(&atom.name) => f(atom, inside),
            Literal::Not(atom) => f(atom, true),
            Literal::Count { body, .. } => uses(body, true, f),
            _ => {}
        }
    }
}

/// Tarjan's algorithm without recursion (a chain of 10,000 relations must
/// not exhaust the stack): components come out dependencies first.
fn strongly_connected(edges: &[Vec<(usize, bool, Pos)>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut components = Vec::new();
    let mut next = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next edge to follow)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut e)) = work.last_mut() {
            if let Some(&(w, _, _)) = edges[v].get(*e) {
                *e += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                loop {
                    let w = stack.pop().expect("on the stack");
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                component.sort_unstable();
                components.push(component);
            }
        }
    }
    components
}

/// Edit distance, for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(here + 1);
            previous = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::super::syntax::parse_program;
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        Program::new(parse_program(text).unwrap())
            .unwrap_err()
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    #[test]
    fn strata_put_dependencies_first() {
        let program = Program::new(
            parse_program(
                "up(H, P) :- depends(H, P).\n\
                 up(H, P) :- depends(H, X), up(X, P).\n\
                 depends(\"a\", \"b\").\n\
                 quiet(H) :- depends(H, _), not up(H, \"r\").\n",
            )
            .unwrap(),
        )
        .unwrap();
        let order: Vec<(&str, bool)> = program
            .strata
            .iter()
            .map(|s| (s.relations[0].as_str(), s.recursive))
            .collect();
        let at = |name| order.iter().position(|s| s.0 == name).unwrap();
        assert!(
            at("depends") < at("up") && at("up") < at("quiet"),
            "{order:?}"
        );
        assert!(order[at("up")].1 && !order[at("quiet")].1);
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        assert_eq!(
            errors("a(X) :- fact(X, Y)."),
            ["1:9: `fact` has 3 arguments: fact(Host, Name, Value); here it has 2"]
        );
        assert_eq!(
            errors("a(X) :- b(X).\nb(X, Y) :- fact(X, Y, _)."),
            ["1:9: `b` has 2 arguments where it is defined (line 2), 1 here"]
        );
        assert!(errors("a(X) :- evnt(X, _, _, _, _, _).")[0].contains("did you mean `event`?"));
        assert!(
            errors("a(X) :- b(X), not a(X).\nb(\"x\").")[0]
                .contains("depends on itself through `not`")
        );
        assert!(errors("a(X) :- a(X).")[0].contains("defined only through itself"));
        assert!(errors("event(1, 2, 3, 4, 5, 6).")[0].contains("the store provides"));
        assert!(errors("alert(H, T) :- fact(H, T, _).")[0].contains("alert(Host, Tag, Msg)"));
        assert!(errors("order(H, A, N) :- fact(H, A, N).")[0].contains("order(Host, Action"));
    }

    #[test]
    fn a_chain_of_ten_thousand_relations_does_not_exhaust_the_stack() {
        let mut text = String::from("p0(X) :- fact(X, _, _).\n");
        for i in 1..10_000 {
            text.push_str(&format!("p{i}(X) :- p{}(X).\n", i - 1));
        }
        let program = Program::new(parse_program(&text).unwrap()).unwrap();
        assert_eq!(program.strata.len(), 10_000);
        let goal = super::super::syntax::parse_goal("p9999(X)").unwrap();
        assert_eq!(program.needed(&goal).len(), 10_000);
    }
}
