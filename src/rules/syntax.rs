//! The rule language's text (sheepdog(7), RULES): clauses, literals and
//! terms with the line and column each came from.
//!
//! ```text
//! low_ram(H)  :- fact(H, "mem_total_bytes", M), M < 4GiB.
//! attack(H, Ip) :- N = count { failed_login(H, Ip, Id) }, N > 20.
//! depends("web01", "switch3").
//! ```
//!
//! The parser never recurses on the input's nesting beyond
//! [`MAX_NESTING`] parentheses, so no file can exhaust the stack.

use std::fmt;

/// Where something is in the file, counted from 1.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// A mistake in a rule file, with where it is and, when there is one,
/// what to write instead.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleError {
    pub pos: Pos,
    pub message: String,
}

impl RuleError {
    pub fn new(pos: Pos, message: impl Into<String>) -> RuleError {
        RuleError {
            pos,
            message: message.into(),
        }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.pos.line, self.pos.col, self.message)
    }
}

/// Deeper parentheses than this are refused, not followed.
pub const MAX_NESTING: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub enum Term {
    Var(String, Pos),
    /// `_`: any value, not named.
    Anon(Pos),
    Str(String),
    Int(i64),
    Real(f64),
    /// The time of the question, in milliseconds since the epoch.
    Now,
    Arith(Box<Term>, ArithOp, Box<Term>),
    /// `cat(A, B, …)`: the values written one after another, as text.
    Cat(Vec<Term>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArithOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl ArithOp {
    pub fn sql(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
        }
    }
}

pub use crate::base::compare::CmpOp;

impl Term {
    /// The variables named in the term, in order.
    pub fn vars<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Term::Var(name, _) => out.push(name),
            Term::Arith(a, _, b) => {
                a.vars(out);
                b.vars(out);
            }
            Term::Cat(parts) => parts.iter().for_each(|p| p.vars(out)),
            _ => {}
        }
    }

    /// A plain value or variable, what an atom's argument may be.
    pub fn is_simple(&self) -> bool {
        !matches!(self, Term::Arith(..) | Term::Cat(_))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Atom {
    pub name: String,
    pub args: Vec<Term>,
    pub pos: Pos,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Atom(Atom),
    Not(Atom),
    Compare(Term, CmpOp, Term, Pos),
    /// `N = count { body }`: the number of distinct answers of the body,
    /// per value of the variables it shares with the rest of the rule.
    Count {
        var: String,
        body: Vec<Literal>,
        pos: Pos,
    },
}

impl Literal {
    pub fn pos(&self) -> Pos {
        match self {
            Literal::Atom(a) | Literal::Not(a) => a.pos,
            Literal::Compare(_, _, _, pos) | Literal::Count { pos, .. } => *pos,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Clause {
    pub head: Atom,
    pub body: Vec<Literal>,
}

/// Reads a whole rule file.
pub fn parse_program(text: &str) -> Result<Vec<Clause>, Vec<RuleError>> {
    let mut parser = Parser::new(text).map_err(|e| vec![e])?;
    let mut clauses = Vec::new();
    let mut errors = Vec::new();
    while parser.peek().kind != Tok::End {
        match parser.clause() {
            Ok(clause) => clauses.push(clause),
            Err(e) => {
                // Every mistake is said, not only the first: the clause
                // is skipped to its `.` and reading goes on.
                errors.push(e);
                parser.skip_clause();
            }
        }
    }
    if errors.is_empty() {
        Ok(clauses)
    } else {
        Err(errors)
    }
}

/// Reads a question: a body without a head (`answer(H, T)`, or
/// `interrupted(H, T), not low_ram(H)`), with or without a final `.`.
pub fn parse_goal(text: &str) -> Result<Vec<Literal>, RuleError> {
    let mut parser = Parser::new(text)?;
    if parser.peek().kind == Tok::End {
        return Err(RuleError::new(
            parser.peek().pos,
            "the question is empty; ask for a relation, like 'answer(H, T)'",
        ));
    }
    let body = parser.body(false)?;
    if parser.peek().kind == Tok::Dot {
        parser.next();
    }
    parser.expect_end()?;
    Ok(body)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    /// A lowercase name: a relation, `not`, `now`, `count`, `cat`.
    Name(String),
    Var(String),
    Anon,
    Str(String),
    Int(i64),
    Real(f64),
    LParen,
    RParen,
    LBrace,
    RBrace,
    Comma,
    Dot,
    If,
    Colon,
    Cmp(CmpOp),
    Arith(ArithOp),
    End,
}

#[derive(Clone, Debug)]
struct Token {
    kind: Tok,
    pos: Pos,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Name(n) => format!("`{n}`"),
        Tok::Var(v) => format!("variable `{v}`"),
        Tok::Anon => "`_`".into(),
        Tok::Str(s) => format!("string \"{}\"", s.escape_debug()),
        Tok::Int(n) => format!("number {n}"),
        Tok::Real(x) => format!("number {x}"),
        Tok::LParen => "`(`".into(),
        Tok::RParen => "`)`".into(),
        Tok::LBrace => "`{`".into(),
        Tok::RBrace => "`}`".into(),
        Tok::Comma => "`,`".into(),
        Tok::Dot => "`.`".into(),
        Tok::If => "`:-`".into(),
        Tok::Colon => "`:`".into(),
        Tok::Cmp(op) => format!("`{}`", op.sql()),
        Tok::Arith(op) => format!("`{}`", op.sql()),
        Tok::End => "the end of the text".into(),
    }
}

/// Units a number may carry: durations in milliseconds, sizes in bytes.
/// `m` is minutes; megabytes are `MB` or `MiB`.
const UNITS: [(&str, i64); 15] = [
    ("ms", 1),
    ("s", 1_000),
    ("m", 60_000),
    ("h", 3_600_000),
    ("d", 86_400_000),
    ("w", 604_800_000),
    ("B", 1),
    ("KiB", 1 << 10),
    ("MiB", 1 << 20),
    ("GiB", 1 << 30),
    ("TiB", 1 << 40),
    ("kB", 1_000),
    ("MB", 1_000_000),
    ("GB", 1_000_000_000),
    ("TB", 1_000_000_000_000),
];

fn lex(text: &str) -> Result<Vec<Token>, RuleError> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let (mut i, mut line, mut col) = (0usize, 1u32, 1u32);
    while i < chars.len() {
        let c = chars[i];
        let pos = Pos { line, col };
        let start = i;
        let kind = match c {
            '\n' => {
                i += 1;
                line += 1;
                col = 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                col += 1;
                continue;
            }
            '%' | '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
                continue;
            }
            '(' => one(&mut i, Tok::LParen),
            ')' => one(&mut i, Tok::RParen),
            '{' => one(&mut i, Tok::LBrace),
            '}' => one(&mut i, Tok::RBrace),
            ',' => one(&mut i, Tok::Comma),
            '.' => one(&mut i, Tok::Dot),
            '+' => one(&mut i, Tok::Arith(ArithOp::Add)),
            '-' => one(&mut i, Tok::Arith(ArithOp::Sub)),
            '*' => one(&mut i, Tok::Arith(ArithOp::Mul)),
            '/' => one(&mut i, Tok::Arith(ArithOp::Div)),
            '=' => one(&mut i, Tok::Cmp(CmpOp::Eq)),
            ':' if chars.get(i + 1) == Some(&'-') => {
                i += 2;
                Tok::If
            }
            ':' => one(&mut i, Tok::Colon),
            '!' if chars.get(i + 1) == Some(&'=') => {
                i += 2;
                Tok::Cmp(CmpOp::Ne)
            }
            '<' | '>' => {
                let with_eq = chars.get(i + 1) == Some(&'=');
                i += if with_eq { 2 } else { 1 };
                match (c, with_eq) {
                    ('<', false) => Tok::Cmp(CmpOp::Lt),
                    ('<', true) => Tok::Cmp(CmpOp::Le),
                    (_, false) => Tok::Cmp(CmpOp::Gt),
                    (_, true) => Tok::Cmp(CmpOp::Ge),
                }
            }
            '"' => {
                let (text, end_line, end_col) = string(&chars, &mut i, pos)?;
                line = end_line;
                col = end_col;
                tokens.push(Token {
                    kind: Tok::Str(text),
                    pos,
                });
                continue;
            }
            c if c.is_ascii_digit() => number(&chars, &mut i, pos)?,
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                if word == "_" {
                    Tok::Anon
                } else if c.is_uppercase() || c == '_' {
                    Tok::Var(word)
                } else {
                    Tok::Name(word)
                }
            }
            other => {
                let hint = match other {
                    '\'' => "; strings are in double quotes: \"tux01\"",
                    ';' => "; write alternatives as separate rules with the same head",
                    '&' | '|' => "; `,` is and; write `or` as separate rules with the same head",
                    _ => "",
                };
                let shown = if other.is_control() {
                    other.escape_debug().to_string()
                } else {
                    other.to_string()
                };
                return Err(RuleError::new(
                    pos,
                    format!("unexpected character `{shown}`{hint}"),
                ));
            }
        };
        col += (i - start) as u32;
        tokens.push(Token { kind, pos });
    }
    tokens.push(Token {
        kind: Tok::End,
        pos: Pos { line, col },
    });
    Ok(tokens)
}

fn one(i: &mut usize, tok: Tok) -> Tok {
    *i += 1;
    tok
}

/// A string in double quotes with `\"`, `\\`, `\n` and `\t` escapes;
/// returns where the text goes on after it.
fn string(chars: &[char], i: &mut usize, pos: Pos) -> Result<(String, u32, u32), RuleError> {
    let (mut line, mut col) = (pos.line, pos.col + 1);
    let mut out = String::new();
    *i += 1;
    loop {
        let Some(&c) = chars.get(*i) else {
            return Err(RuleError::new(pos, "this string has no closing `\"`"));
        };
        *i += 1;
        col += 1;
        match c {
            '"' => return Ok((out, line, col)),
            '\\' => {
                let escaped = chars.get(*i).copied();
                *i += 1;
                col += 1;
                out.push(match escaped {
                    Some('"') => '"',
                    Some('\\') => '\\',
                    Some('n') => '\n',
                    Some('t') => '\t',
                    _ => {
                        return Err(RuleError::new(
                            Pos { line, col: col - 2 },
                            "unknown escape in a string; use \\\" \\\\ \\n or \\t",
                        ));
                    }
                });
            }
            '\n' => {
                line += 1;
                col = 1;
                out.push('\n');
            }
            c => out.push(c),
        }
    }
}

/// A number, maybe with a fraction and a unit (`30d`, `4GiB`, `1.5h`).
fn number(chars: &[char], i: &mut usize, pos: Pos) -> Result<Tok, RuleError> {
    let start = *i;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    // A dot followed by a digit is a fraction; otherwise it ends the clause.
    if chars.get(*i) == Some(&'.') && chars.get(*i + 1).is_some_and(|c| c.is_ascii_digit()) {
        *i += 1;
        while *i < chars.len() && chars[*i].is_ascii_digit() {
            *i += 1;
        }
    }
    let digits: String = chars[start..*i].iter().collect();
    let unit_start = *i;
    while *i < chars.len() && chars[*i].is_ascii_alphabetic() {
        *i += 1;
    }
    let unit: String = chars[unit_start..*i].iter().collect();
    let too_big = || RuleError::new(pos, format!("the number {digits}{unit} is too large"));
    let factor = if unit.is_empty() {
        None
    } else {
        Some(
            UNITS
                .iter()
                .find(|(name, _)| *name == unit)
                .map(|(_, f)| *f)
                .ok_or_else(|| {
                    RuleError::new(
                        pos,
                        format!(
                            "unknown unit `{unit}` after {digits}; durations take ms s m h d w, \
                             sizes B KiB MiB GiB TiB kB MB GB TB"
                        ),
                    )
                })?,
        )
    };
    if let Ok(whole) = digits.parse::<i64>() {
        return match factor {
            None => Ok(Tok::Int(whole)),
            Some(f) => whole.checked_mul(f).map(Tok::Int).ok_or_else(too_big),
        };
    }
    let value: f64 = digits.parse().map_err(|_| too_big())?;
    let value = value * factor.unwrap_or(1) as f64;
    if !value.is_finite() || value.abs() >= i64::MAX as f64 {
        return Err(too_big());
    }
    Ok(match factor {
        Some(_) => Tok::Int(value.round() as i64),
        None => Tok::Real(value),
    })
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Parser, RuleError> {
        Ok(Parser {
            tokens: lex(text)?,
            at: 0,
        })
    }

    fn peek(&self) -> &Token {
        &self.tokens[self.at]
    }

    fn next(&mut self) -> Token {
        let token = self.tokens[self.at].clone();
        if token.kind != Tok::End {
            self.at += 1;
        }
        token
    }

    /// Past the `.` that ends the clause under way (or to the end).
    fn skip_clause(&mut self) {
        loop {
            match self.next().kind {
                Tok::Dot | Tok::End => return,
                _ => {}
            }
        }
    }

    fn unexpected(&self, wanted: &str) -> RuleError {
        let token = self.peek();
        RuleError::new(
            token.pos,
            format!("expected {wanted}, found {}", describe(&token.kind)),
        )
    }

    fn expect(&mut self, tok: Tok, wanted: &str) -> Result<Token, RuleError> {
        if self.peek().kind == tok {
            Ok(self.next())
        } else {
            Err(self.unexpected(wanted))
        }
    }

    fn expect_end(&self) -> Result<(), RuleError> {
        match self.peek().kind {
            Tok::End => Ok(()),
            _ => Err(self.unexpected("the end of the question")),
        }
    }

    fn clause(&mut self) -> Result<Clause, RuleError> {
        let head = match self.peek().kind.clone() {
            Tok::Name(name) if !is_keyword(&name) => {
                let pos = self.next().pos;
                self.atom(name, pos, true)?
            }
            Tok::Var(_) => {
                return Err(self.unexpected(
                    "a relation name to start a rule (names of relations begin with a \
                     lowercase letter; variables with an uppercase one)",
                ));
            }
            _ => return Err(self.unexpected("a relation name to start a rule")),
        };
        let body = match self.peek().kind {
            Tok::Dot => Vec::new(),
            Tok::If => {
                self.next();
                self.body(false)?
            }
            Tok::Cmp(CmpOp::Eq) | Tok::Colon => {
                return Err(self.unexpected("`:-` (a rule) or `.` (a fact)"));
            }
            _ => return Err(self.unexpected("`:-` or `.` after the head")),
        };
        if self.peek().kind != Tok::Dot {
            return Err(self.unexpected("`,` or `.` to end the rule"));
        }
        self.next();
        Ok(Clause { head, body })
    }

    /// Literals separated by commas, up to `.`, `}` or the end.
    fn body(&mut self, in_count: bool) -> Result<Vec<Literal>, RuleError> {
        let mut body = vec![self.literal(in_count)?];
        while self.peek().kind == Tok::Comma {
            self.next();
            body.push(self.literal(in_count)?);
        }
        Ok(body)
    }

    fn literal(&mut self, in_count: bool) -> Result<Literal, RuleError> {
        let token = self.peek().clone();
        match &token.kind {
            Tok::Name(n) if n == "not" => {
                self.next();
                let pos = self.peek().pos;
                match self.next().kind {
                    Tok::Name(name) if !is_keyword(&name) => {
                        Ok(Literal::Not(self.atom(name, pos, false)?))
                    }
                    _ => Err(RuleError::new(
                        pos,
                        "expected a relation after `not`, like `not low_ram(H)`",
                    )),
                }
            }
            Tok::Name(n) if !is_keyword(n) => {
                let name = n.clone();
                self.next();
                if self.peek().kind == Tok::LParen {
                    return Ok(Literal::Atom(self.atom(name, token.pos, false)?));
                }
                Err(RuleError::new(
                    token.pos,
                    format!(
                        "`{name}` is neither a relation with arguments nor a value; \
                         quote text (\"{name}\") and start variables with a capital"
                    ),
                ))
            }
            Tok::Var(var)
                if self.tokens[self.at + 1].kind == Tok::Cmp(CmpOp::Eq)
                    && matches!(&self.tokens.get(self.at + 2).map(|t| &t.kind), Some(Tok::Name(n)) if n == "count") =>
            {
                let var = var.clone();
                self.at += 3;
                if in_count {
                    return Err(RuleError::new(
                        token.pos,
                        "a count inside a count; define the inner one as its own relation",
                    ));
                }
                if self.peek().kind == Tok::Colon {
                    self.next();
                }
                self.expect(Tok::LBrace, "`{` to open the counted body: N = count { … }")?;
                let body = self.body(true)?;
                self.expect(Tok::RBrace, "`,` or `}` to close the counted body")?;
                Ok(Literal::Count {
                    var,
                    body,
                    pos: token.pos,
                })
            }
            _ => {
                let left = self.expr(0)?;
                let op = match self.peek().kind {
                    Tok::Cmp(op) => op,
                    _ => {
                        return Err(
                            self.unexpected("a comparison (= != < <= > >=) after this value")
                        );
                    }
                };
                self.next();
                let right = self.expr(0)?;
                Ok(Literal::Compare(left, op, right, token.pos))
            }
        }
    }

    /// `name(arg, …)`; only a head's arguments may be computed
    /// (`alert(H, "disk", cat("full: ", P))`).
    fn atom(&mut self, name: String, pos: Pos, head: bool) -> Result<Atom, RuleError> {
        self.expect(Tok::LParen, &format!("`(` and the arguments of `{name}`"))?;
        let mut args = Vec::new();
        if self.peek().kind == Tok::RParen {
            return Err(self.unexpected(&format!("an argument of `{name}`")));
        }
        {
            loop {
                let start = self.peek().pos;
                let term = self.expr(0)?;
                if !head && !term.is_simple() {
                    return Err(RuleError::new(
                        start,
                        "a relation's argument is a variable or a value; compute it in the \
                         body instead (X = A + 1)",
                    ));
                }
                args.push(term);
                if self.peek().kind != Tok::Comma {
                    break;
                }
                self.next();
            }
        }
        self.expect(
            Tok::RParen,
            &format!("`,` or `)` in the arguments of `{name}`"),
        )?;
        Ok(Atom { name, args, pos })
    }

    /// A value: sums of products of plain terms.
    fn expr(&mut self, depth: usize) -> Result<Term, RuleError> {
        let mut left = self.product(depth)?;
        while let Tok::Arith(op @ (ArithOp::Add | ArithOp::Sub)) = self.peek().kind {
            self.next();
            let right = self.product(depth)?;
            left = Term::Arith(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn product(&mut self, depth: usize) -> Result<Term, RuleError> {
        let mut left = self.primary(depth)?;
        while let Tok::Arith(op @ (ArithOp::Mul | ArithOp::Div)) = self.peek().kind {
            self.next();
            let right = self.primary(depth)?;
            left = Term::Arith(Box::new(left), op, Box::new(right));
        }
        Ok(left)
    }

    fn primary(&mut self, depth: usize) -> Result<Term, RuleError> {
        let token = self.next();
        Ok(match token.kind {
            Tok::Var(name) => Term::Var(name, token.pos),
            Tok::Anon => Term::Anon(token.pos),
            Tok::Str(s) => Term::Str(s),
            Tok::Int(n) => Term::Int(n),
            Tok::Real(x) => Term::Real(x),
            Tok::Arith(ArithOp::Sub) => match self.next().kind {
                Tok::Int(n) => Term::Int(-n),
                Tok::Real(x) => Term::Real(-x),
                _ => return Err(RuleError::new(token.pos, "expected a number after `-`")),
            },
            Tok::Name(n) if n == "now" => Term::Now,
            Tok::Name(n) if n == "cat" => {
                self.expect(Tok::LParen, "`(` after cat")?;
                let mut parts = vec![self.nested(depth, token.pos)?];
                while self.peek().kind == Tok::Comma {
                    self.next();
                    parts.push(self.nested(depth, token.pos)?);
                }
                self.expect(Tok::RParen, "`,` or `)` in cat(…)")?;
                Term::Cat(parts)
            }
            Tok::LParen => {
                let inner = self.nested(depth, token.pos)?;
                self.expect(Tok::RParen, "`)`")?;
                inner
            }
            Tok::Name(n) => {
                return Err(RuleError::new(
                    token.pos,
                    format!(
                        "`{n}` is not a value: quote text (\"{n}\"), start variables with a \
                         capital letter"
                    ),
                ));
            }
            other => {
                self.at -= usize::from(other != Tok::End);
                return Err(self.unexpected("a value or a variable"));
            }
        })
    }

    fn nested(&mut self, depth: usize, pos: Pos) -> Result<Term, RuleError> {
        if depth >= MAX_NESTING {
            return Err(RuleError::new(
                pos,
                format!("nested more than {MAX_NESTING} deep; name the parts in the body"),
            ));
        }
        self.expr(depth + 1)
    }
}

fn is_keyword(name: &str) -> bool {
    matches!(name, "not" | "now" | "count" | "cat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_question_parses() {
        let clauses = parse_program(
            "% the seed\n\
             low_ram(H)         :- fact(H, \"mem_total_bytes\", M), M < 4GiB.\n\
             interrupted(H, T)  :- interruption(H, T, _, End), End > now - 30d.\n\
             depends(\"web01\", \"switch3\").\n",
        )
        .unwrap();
        assert_eq!(clauses.len(), 3);
        assert_eq!(
            clauses[0].body[1],
            Literal::Compare(
                Term::Var("M".into(), Pos { line: 2, col: 54 }),
                CmpOp::Lt,
                Term::Int(4 << 30),
                Pos { line: 2, col: 54 }
            )
        );
        let Literal::Compare(_, CmpOp::Gt, Term::Arith(now, ArithOp::Sub, days), _) =
            &clauses[1].body[1]
        else {
            panic!("{:?}", clauses[1].body[1]);
        };
        assert_eq!((&**now, &**days), (&Term::Now, &Term::Int(30 * 86_400_000)));
        assert!(clauses[2].body.is_empty());
    }

    #[test]
    fn counts_negation_and_cat() {
        let clauses = parse_program(
            "a(H, Ip, M) :- N = count : { f(H, Ip, Id), Id != \"x\" }, N > 20, \
             not ok(H), M = cat(\"from \", Ip).",
        )
        .unwrap();
        assert!(
            matches!(&clauses[0].body[0], Literal::Count { var, body, .. } if var == "N" && body.len() == 2)
        );
        assert!(matches!(&clauses[0].body[2], Literal::Not(a) if a.name == "ok"));
        assert!(
            matches!(&clauses[0].body[3], Literal::Compare(_, CmpOp::Eq, Term::Cat(p), _) if p.len() == 2)
        );
    }

    fn error(text: &str) -> String {
        parse_program(text).unwrap_err()[0].to_string()
    }

    #[test]
    fn mistakes_say_where_and_what_to_write() {
        assert_eq!(
            error("a(X) :- b(X)\nc(Y) :- d(Y)."),
            "2:1: expected `,` or `.` to end the rule, found `c`"
        );
        assert!(
            error("a(X) :- b('x').").contains("double quotes"),
            "{}",
            error("a(X) :- b('x').")
        );
        assert!(error("a(X) :- b(X), M < 4Gb.").contains("unknown unit"));
        assert!(error("a(\"x).").starts_with("1:3: this string has no closing"));
        assert!(error("a(X) :- b(tux).").contains("quote text (\"tux\")"));
        assert!(error("A(X) :- b(X).").contains("lowercase"));
        assert!(
            error("a(X) :- N = count { b(X), M = count { c(M) } }.")
                .contains("count inside a count")
        );
        assert!(error("a(X) :- b(X); c(X).").contains("separate rules"));
    }

    #[test]
    fn deep_nesting_is_refused_not_followed() {
        let deep = format!(
            "a(X) :- b(Y), X = {}Y{}.",
            "(".repeat(10_000),
            ")".repeat(10_000)
        );
        assert!(error(&deep).contains("nested more than 64 deep"));
    }

    #[test]
    fn a_goal_is_a_body() {
        assert_eq!(parse_goal("answer(H, T)").unwrap().len(), 1);
        assert_eq!(parse_goal("a(H), not b(H).").unwrap().len(), 2);
        assert!(parse_goal("").is_err());
        assert!(parse_goal("a(H) b").is_err());
    }
}
