//! The subset of OData `$filter` syntax the agent sends to `/admin/jobs`.
//!
//! Grammar: `term (and term)*`, where a term is `field op literal` or a parenthesised
//! conjunction. Fields: `jobId`, `status` (integers), `startTime`, `endTime`,
//! `lastUpdateTime` (date-times, unquoted as in OData, e.g. `2026-11-27T07:00:00.000Z`; a quoted
//! date-time is accepted too), `state`, `jobType`, `policyType`, `clientName` (quoted strings,
//! `''` escapes a quote; only `eq` and `ne`, as in the vendor table). Operators: `eq ne gt ge
//! lt le`; `null` compares with `eq`/`ne` only. `or`, `not` and functions are refused.
//!
//! A job without the attribute matches `ne` (with any literal but `null`) and nothing else.

use std::cmp::Ordering;
use std::fmt;

use chrono::DateTime;

use crate::dataset::Job;

/// A filter field the simulator understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    /// `jobId`.
    JobId,
    /// `status`.
    Status,
    /// `startTime`.
    StartTime,
    /// `endTime`.
    EndTime,
    /// `lastUpdateTime`.
    LastUpdateTime,
    /// `state`.
    State,
    /// `jobType`.
    JobType,
    /// `policyType`.
    PolicyType,
    /// `clientName`.
    ClientName,
}

const FIELDS: [(&str, Field); 9] = [
    ("jobId", Field::JobId),
    ("status", Field::Status),
    ("startTime", Field::StartTime),
    ("endTime", Field::EndTime),
    ("lastUpdateTime", Field::LastUpdateTime),
    ("state", Field::State),
    ("jobType", Field::JobType),
    ("policyType", Field::PolicyType),
    ("clientName", Field::ClientName),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Time,
    Text,
}

impl Field {
    fn kind(self) -> Kind {
        match self {
            Field::JobId | Field::Status => Kind::Integer,
            Field::StartTime | Field::EndTime | Field::LastUpdateTime => Kind::Time,
            Field::State | Field::JobType | Field::PolicyType | Field::ClientName => Kind::Text,
        }
    }

    fn name(self) -> &'static str {
        FIELDS
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(name, _)| name)
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// `eq`.
    Eq,
    /// `ne`.
    Ne,
    /// `gt`.
    Gt,
    /// `ge`.
    Ge,
    /// `lt`.
    Lt,
    /// `le`.
    Le,
}

impl Op {
    /// The operator of an OData word (`eq`, `ne`, `gt`, `ge`, `lt`, `le`).
    pub(crate) fn parse(word: &str) -> Option<Op> {
        Some(match word {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            _ => return None,
        })
    }

    /// Whether `actual.cmp(literal)` giving `ordering` satisfies the operator.
    pub(crate) fn holds(self, ordering: Ordering) -> bool {
        match self {
            Op::Eq => ordering == Ordering::Equal,
            Op::Ne => ordering != Ordering::Equal,
            Op::Gt => ordering == Ordering::Greater,
            Op::Ge => ordering != Ordering::Less,
            Op::Lt => ordering == Ordering::Less,
            Op::Le => ordering != Ordering::Greater,
        }
    }
}

/// A literal of a comparison.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    /// An integer.
    Integer(i128),
    /// A date-time as Unix nanoseconds.
    Time(i128),
    /// A string.
    Text(String),
    /// `null`.
    Null,
}

/// One `field op literal` comparison.
#[derive(Debug, Clone, PartialEq)]
struct Term {
    field: Field,
    op: Op,
    value: Literal,
}

/// A parsed filter: a conjunction of comparisons (empty: every job matches).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    terms: Vec<Term>,
}

/// Why a filter was refused; the text names the problem and goes into the 400 error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

fn err<T>(message: impl fmt::Display) -> Result<T, FilterError> {
    Err(FilterError(message.to_string()))
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    Quoted(String),
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<Token>, FilterError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '(' {
            chars.next();
            tokens.push(Token::Open);
        } else if c == ')' {
            chars.next();
            tokens.push(Token::Close);
        } else if c == '\'' {
            chars.next();
            let mut value = String::new();
            loop {
                match chars.next() {
                    None => return err(format!("unterminated string starting at offset {start}")),
                    Some((_, '\'')) => {
                        if matches!(chars.peek(), Some((_, '\''))) {
                            chars.next();
                            value.push('\'');
                        } else {
                            break;
                        }
                    }
                    Some((_, other)) => value.push(other),
                }
            }
            tokens.push(Token::Quoted(value));
        } else {
            let mut end = text.len();
            while let Some(&(i, c)) = chars.peek() {
                if c.is_whitespace() || matches!(c, '(' | ')' | '\'') {
                    end = i;
                    break;
                }
                chars.next();
            }
            tokens.push(Token::Word(text[start..end].to_owned()));
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn conjunction(&mut self, terms: &mut Vec<Term>, depth: usize) -> Result<(), FilterError> {
        if depth > 32 {
            return err("filter nests parentheses too deeply");
        }
        self.primary(terms, depth)?;
        while let Some(Token::Word(word)) = self.peek() {
            match word.as_str() {
                "and" => {
                    self.pos += 1;
                    self.primary(terms, depth)?;
                }
                "or" | "not" => {
                    return err(format!(
                        "logical operator '{word}' is not supported; use 'and'"
                    ));
                }
                other => return err(format!("expected 'and' but found '{other}'")),
            }
        }
        Ok(())
    }

    fn primary(&mut self, terms: &mut Vec<Term>, depth: usize) -> Result<(), FilterError> {
        match self.next() {
            Some(Token::Open) => {
                self.conjunction(terms, depth + 1)?;
                match self.next() {
                    Some(Token::Close) => Ok(()),
                    _ => err("missing ')'"),
                }
            }
            Some(Token::Word(name)) => {
                let term = self.comparison(&name)?;
                terms.push(term);
                Ok(())
            }
            Some(Token::Close) => err("unexpected ')'"),
            Some(Token::Quoted(text)) => err(format!("expected a field name but found '{text}'")),
            None => err("expected a comparison at the end of the filter"),
        }
    }

    fn comparison(&mut self, name: &str) -> Result<Term, FilterError> {
        if name == "not" {
            return err("logical operator 'not' is not supported");
        }
        let Some(field) = FIELDS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f) else {
            let supported: Vec<&str> = FIELDS.iter().map(|(n, _)| *n).collect();
            return err(format!(
                "unknown filter field '{name}'; supported fields: {}",
                supported.join(", ")
            ));
        };
        let op = match self.next() {
            Some(Token::Word(word)) => match Op::parse(&word) {
                Some(op) => op,
                None => return err(format!("unknown operator '{word}' after '{name}'")),
            },
            _ => return err(format!("expected an operator after '{name}'")),
        };
        if field.kind() == Kind::Text && !matches!(op, Op::Eq | Op::Ne) {
            return err(format!(
                "operator '{}' is not supported on '{name}'",
                op_name(op)
            ));
        }
        let value = match self.next() {
            Some(Token::Word(word)) if word == "null" => Literal::Null,
            Some(Token::Word(word)) => literal_from_word(field, &word)?,
            Some(Token::Quoted(text)) => match field.kind() {
                Kind::Text => Literal::Text(text),
                Kind::Time => Literal::Time(parse_time(&text)?),
                Kind::Integer => {
                    return err(format!(
                        "'{name}' takes an integer, not the string '{text}'"
                    ));
                }
            },
            _ => return err(format!("expected a value after '{name} {}'", op_name(op))),
        };
        if value == Literal::Null && !matches!(op, Op::Eq | Op::Ne) {
            return err(format!(
                "'null' can only be compared with eq or ne ('{name}')"
            ));
        }
        Ok(Term { field, op, value })
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Eq => "eq",
        Op::Ne => "ne",
        Op::Gt => "gt",
        Op::Ge => "ge",
        Op::Lt => "lt",
        Op::Le => "le",
    }
}

fn literal_from_word(field: Field, word: &str) -> Result<Literal, FilterError> {
    match field.kind() {
        Kind::Integer => word
            .parse::<i128>()
            .ok()
            .filter(|v| v.unsigned_abs() <= u128::from(u64::MAX))
            .map(Literal::Integer)
            .ok_or_else(|| {
                FilterError(format!("'{}' takes an integer, not '{word}'", field.name()))
            }),
        Kind::Time => parse_time(word).map(Literal::Time),
        Kind::Text => err(format!(
            "'{}' takes a quoted string such as '{word}', not a bare word",
            field.name()
        )),
    }
}

fn parse_time(text: &str) -> Result<i128, FilterError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| i128::from(t.timestamp()) * 1_000_000_000 + i128::from(t.timestamp_subsec_nanos()))
        .map_err(|e| FilterError(format!("invalid date-time '{text}': {e}")))
}

/// Milliseconds to nanoseconds.
fn ms_to_ns(ms: i64) -> i128 {
    i128::from(ms) * 1_000_000
}

impl Filter {
    /// Parses a filter; blank text is the empty filter.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        let tokens = tokenize(text)?;
        if tokens.is_empty() {
            return Ok(Filter::default());
        }
        let mut parser = Parser { tokens, pos: 0 };
        let mut terms = Vec::new();
        parser.conjunction(&mut terms, 0)?;
        if let Some(token) = parser.peek() {
            return err(format!("unexpected {token:?} after the filter"));
        }
        Ok(Filter { terms })
    }

    /// Whether the job matches every comparison.
    pub fn matches(&self, job: &Job<'_>) -> bool {
        self.terms.iter().all(|term| term.matches(job))
    }

    /// Inclusive bounds on `jobId` implied by the filter (`lo > hi`: nothing can match), so a
    /// walk does not need to visit jobs outside them.
    pub fn job_id_bounds(&self) -> (u64, u64) {
        let (mut lo, mut hi) = (0i128, i128::from(u64::MAX));
        for term in &self.terms {
            if let (Field::JobId, Literal::Integer(v)) = (term.field, &term.value) {
                match term.op {
                    Op::Eq => {
                        lo = lo.max(*v);
                        hi = hi.min(*v);
                    }
                    Op::Gt => lo = lo.max(v + 1),
                    Op::Ge => lo = lo.max(*v),
                    Op::Lt => hi = hi.min(v - 1),
                    Op::Le => hi = hi.min(*v),
                    Op::Ne => {}
                }
            }
        }
        if lo > hi {
            return (1, 0);
        }
        let clamp = |v: i128| u64::try_from(v.max(0)).unwrap_or(u64::MAX);
        (clamp(lo), clamp(hi))
    }
}

impl Term {
    fn matches(&self, job: &Job<'_>) -> bool {
        let ordering = match self.field {
            Field::JobId => cmp_int(Some(i128::from(job.job_id)), &self.value),
            Field::Status => cmp_int(job.status.map(i128::from), &self.value),
            Field::StartTime => cmp_time(Some(job.start_ms), &self.value),
            Field::EndTime => cmp_time(job.end_ms, &self.value),
            Field::LastUpdateTime => cmp_time(Some(job.last_update_ms), &self.value),
            Field::State => cmp_text(job.state.map(|s| s.as_str()), &self.value),
            Field::JobType => cmp_text(job.job_type, &self.value),
            Field::PolicyType => cmp_text(job.policy_type, &self.value),
            Field::ClientName => cmp_text(Some(job.client_name), &self.value),
        };
        match ordering {
            Compared::Ordered(ordering) => self.op.holds(ordering),
            Compared::Absent => self.op == Op::Ne,
            Compared::NullCheck { present } => present == (self.op == Op::Ne),
        }
    }
}

enum Compared {
    Ordered(Ordering),
    Absent,
    NullCheck { present: bool },
}

fn compared<T: Ord>(actual: Option<T>, literal: T) -> Compared {
    match actual {
        Some(actual) => Compared::Ordered(actual.cmp(&literal)),
        None => Compared::Absent,
    }
}

fn cmp_int(actual: Option<i128>, value: &Literal) -> Compared {
    match value {
        Literal::Null => Compared::NullCheck {
            present: actual.is_some(),
        },
        Literal::Integer(v) => compared(actual, *v),
        _ => Compared::Absent,
    }
}

fn cmp_time(actual_ms: Option<i64>, value: &Literal) -> Compared {
    match value {
        Literal::Null => Compared::NullCheck {
            present: actual_ms.is_some(),
        },
        Literal::Time(ns) => compared(actual_ms.map(ms_to_ns), *ns),
        _ => Compared::Absent,
    }
}

fn cmp_text(actual: Option<&str>, value: &Literal) -> Compared {
    match value {
        Literal::Null => Compared::NullCheck {
            present: actual.is_some(),
        },
        Literal::Text(text) => compared(actual, text.as_str()),
        _ => Compared::Absent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::JobState;

    fn job() -> Job<'static> {
        Job {
            job_id: 10,
            job_type: Some("BACKUP"),
            policy_type: None,
            state: Some(JobState::Done),
            status: Some(0),
            queue_reason: Some(0),
            kilobytes: Some(1),
            files: Some(1),
            dedup_ratio: None,
            start_ms: 1_795_752_000_000,     // 2026-11-27T04:00:00.000Z
            end_ms: Some(1_795_766_400_000), // 2026-11-27T08:00:00.000Z
            last_update_ms: 1_795_766_400_500,
            client_name: "o'brien-客户端",
            id_as_string: false,
        }
    }

    fn eval(filter: &str) -> bool {
        Filter::parse(filter).expect(filter).matches(&job())
    }

    fn error(filter: &str) -> String {
        Filter::parse(filter).expect_err(filter).0
    }

    #[test]
    fn agent_filters_parse_and_match() {
        assert!(eval(
            "state eq 'DONE' and endTime gt 2026-11-27T07:00:00.000Z"
        ));
        assert!(!eval(
            "state eq 'DONE' and endTime gt 2026-11-27T08:00:00.000Z"
        ));
        assert!(eval("endTime ge 2026-11-27T08:00:00Z"));
        assert!(!eval(
            "endTime gt 2026-11-27T07:59:59.9999Z and endTime lt 2026-11-27T08:00:00Z"
        ));
        assert!(eval("endTime gt 2026-11-27T08:59:59.999+01:00"));
        assert!(!eval("state ne 'DONE'"));
        assert!(eval(
            "jobId gt 9 and jobId le 10 and status eq 0 and jobType eq 'BACKUP'"
        ));
        assert!(eval(
            "(jobId ge 10) and (status lt 1 and lastUpdateTime gt '2026-11-27T08:00:00Z')"
        ));
        assert!(eval("  "));
        assert!(eval(""));
    }

    #[test]
    fn quotes_and_unicode() {
        assert!(eval("clientName eq 'o''brien-客户端'"));
        assert!(!eval("clientName eq 'o''brien'"));
        assert!(eval("clientName ne 'o''brien'"));
        assert!(eval("clientName ne ''''"));
        assert_eq!(
            Filter::parse("clientName eq 'a b ''c'' ( d )'").map(|f| f.terms[0].value.clone()),
            Ok(Literal::Text("a b 'c' ( d )".to_owned()))
        );
        assert!(error("clientName eq 'o''brien").contains("unterminated"));
    }

    #[test]
    fn absent_attributes_only_match_ne() {
        assert!(eval("policyType ne 'VMWARE'"));
        assert!(!eval("policyType eq 'VMWARE'"));
        assert!(eval("policyType eq null"));
        assert!(!eval("policyType ne null"));
        assert!(eval("jobType ne null"));
        let mut running = job();
        running.end_ms = None;
        running.status = None;
        let f = |text: &str| Filter::parse(text).expect(text).matches(&running);
        assert!(f("endTime ne 2026-11-27T08:00:00Z"));
        assert!(!f("endTime gt 2000-01-01T00:00:00Z"));
        assert!(!f("endTime lt 2100-01-01T00:00:00Z"));
        assert!(f("status ne 0"));
        assert!(!f("status eq 0"));
    }

    #[test]
    fn bad_filters_name_the_problem() {
        assert!(error("bogus eq 1").contains("unknown filter field 'bogus'"));
        assert!(error("state gt 'DONE'").contains("not supported on 'state'"));
        assert!(error("state eq DONE").contains("quoted string"));
        assert!(error("jobId eq 'x'").contains("integer"));
        assert!(error("jobId eq 1x").contains("integer"));
        assert!(error("endTime gt 2026-13-01T00:00:00Z").contains("invalid date-time"));
        assert!(error("state eq 'DONE' or state eq 'ACTIVE'").contains("'or'"));
        assert!(error("not state eq 'DONE'").contains("'not'"));
        assert!(error("state eq").contains("expected a value"));
        assert!(error("state").contains("operator"));
        assert!(error("state like 'x'").contains("unknown operator 'like'"));
        assert!(error("(state eq 'DONE'").contains("missing ')'"));
        assert!(error("state eq 'DONE')").contains("unexpected"));
        assert!(error("state eq 'DONE' and").contains("end of the filter"));
        assert!(error("jobId gt null").contains("null"));
        assert!(error(&"(".repeat(100)).contains("deeply"));
        assert!(error("contains(clientName,'x')").contains("unknown filter field"));
    }

    #[test]
    fn job_id_bounds_narrow_the_walk() {
        let bounds = |text: &str| Filter::parse(text).expect(text).job_id_bounds();
        assert_eq!(bounds(""), (0, u64::MAX));
        assert_eq!(bounds("jobId gt 5 and jobId le 9"), (6, 9));
        assert_eq!(bounds("jobId eq 7 and state eq 'DONE'"), (7, 7));
        assert_eq!(bounds("jobId lt 0"), (1, 0));
        assert_eq!(bounds("jobId gt 9 and jobId lt 3"), (1, 0));
        assert_eq!(bounds("jobId ge -5"), (0, u64::MAX));
    }
}
