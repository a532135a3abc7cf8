//! The OData `filter` subset of the opt-in endpoints: `field op value (and field op value)*`,
//! parentheses around the whole or a term tolerated. Each endpoint declares its fields, their
//! type and operators; anything else is refused (400) with a message naming the problem.

use chrono::DateTime;

pub(crate) use super::filter::Op;

/// The type of a filter field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A quoted string.
    Text,
    /// An ISO-8601 date-time, bare or quoted.
    Time,
    /// An integer.
    Int,
}

/// Every operator.
pub(crate) const ALL_OPS: &[Op] = &[Op::Eq, Op::Ne, Op::Gt, Op::Ge, Op::Lt, Op::Le];
/// `eq` and `ne`.
pub(crate) const EQ_NE: &[Op] = &[Op::Eq, Op::Ne];
/// `eq` only.
pub(crate) const EQ: &[Op] = &[Op::Eq];
/// `ge` and `le` only.
pub(crate) const GE_LE: &[Op] = &[Op::Ge, Op::Le];

/// A field an endpoint filters on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldSpec {
    /// The name in the filter text.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// The operators allowed.
    pub ops: &'static [Op],
}

/// A literal of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    /// Nanoseconds since the Unix epoch.
    TimeNs(i128),
    Int(i64),
}

/// One comparison.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    /// The field name (one of the endpoint's).
    pub field: &'static str,
    /// The operator.
    pub op: Op,
    /// The literal.
    pub value: Value,
}

/// The value of a field on an item.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Actual<'a> {
    Text(&'a str),
    /// Unix milliseconds.
    TimeMs(i64),
    Int(i64),
}

impl Term {
    /// Whether `actual` satisfies the comparison (a type mismatch never does).
    pub(crate) fn holds(&self, actual: Actual<'_>) -> bool {
        let ordering = match (&self.value, actual) {
            (Value::Text(v), Actual::Text(a)) => a.cmp(v.as_str()),
            (Value::TimeNs(v), Actual::TimeMs(a)) => (i128::from(a) * 1_000_000).cmp(v),
            (Value::Int(v), Actual::Int(a)) => a.cmp(v),
            _ => return false,
        };
        self.op.holds(ordering)
    }
}

fn tokens(text: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() || c == '(' || c == ')' {
            chars.next();
        } else if c == '\'' {
            chars.next();
            let mut value = String::from("'");
            loop {
                match chars.next() {
                    None => return Err("unterminated string in the filter".to_owned()),
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        value.push('\'');
                    }
                    Some('\'') => break,
                    Some(other) => value.push(other),
                }
            }
            out.push(value);
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || matches!(c, '(' | ')' | '\'') {
                    break;
                }
                word.push(c);
                chars.next();
            }
            out.push(word);
        }
    }
    Ok(out)
}

fn literal(spec: &FieldSpec, token: &str) -> Result<Value, String> {
    let quoted = token.strip_prefix('\'');
    match (spec.kind, quoted) {
        (Kind::Text, Some(text)) => Ok(Value::Text(text.to_owned())),
        (Kind::Text, None) => Err(format!(
            "'{}' takes a quoted string, not '{token}'",
            spec.name
        )),
        (Kind::Time, _) => {
            let text = quoted.unwrap_or(token);
            DateTime::parse_from_rfc3339(text)
                .map(|t| {
                    Value::TimeNs(
                        i128::from(t.timestamp()) * 1_000_000_000
                            + i128::from(t.timestamp_subsec_nanos()),
                    )
                })
                .map_err(|e| format!("invalid date-time '{text}' for '{}': {e}", spec.name))
        }
        (Kind::Int, None) => token
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| format!("'{}' takes an integer, not '{token}'", spec.name)),
        (Kind::Int, Some(_)) => Err(format!("'{}' takes an integer, not a string", spec.name)),
    }
}

/// Parses `text` against the fields of an endpoint; blank text is no term.
pub(crate) fn parse(text: &str, fields: &[FieldSpec]) -> Result<Vec<Term>, String> {
    let tokens = tokens(text)?;
    let mut terms = Vec::new();
    let mut rest = tokens.as_slice();
    while !rest.is_empty() {
        if !terms.is_empty() {
            match rest.split_first() {
                Some((word, tail)) if word == "and" => rest = tail,
                Some((word, _)) => {
                    return Err(format!(
                        "expected 'and' but found '{word}': only conjunctions are supported"
                    ));
                }
                None => break,
            }
        }
        let [name, op, value, tail @ ..] = rest else {
            return Err("incomplete comparison at the end of the filter".to_owned());
        };
        let Some(spec) = fields.iter().find(|f| f.name == name.as_str()) else {
            let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
            return Err(format!(
                "unknown filter field '{name}'; supported fields: {}",
                names.join(", ")
            ));
        };
        let op = Op::parse(op)
            .filter(|op| spec.ops.contains(op))
            .ok_or_else(|| format!("operator '{op}' is not supported on '{name}'"))?;
        terms.push(Term {
            field: spec.name,
            op,
            value: literal(spec, value)?,
        });
        rest = tail;
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[FieldSpec] = &[
        FieldSpec {
            name: "createdDateTime",
            kind: Kind::Time,
            ops: ALL_OPS,
        },
        FieldSpec {
            name: "severity",
            kind: Kind::Text,
            ops: EQ_NE,
        },
        FieldSpec {
            name: "n",
            kind: Kind::Int,
            ops: ALL_OPS,
        },
    ];

    #[test]
    fn conjunctions_parse_and_match() {
        let terms = parse(
            "(createdDateTime ge 2026-11-27T07:00:00.000Z) and severity eq 'O''K' and n lt 5",
            FIELDS,
        )
        .expect("parses");
        assert_eq!(terms.len(), 3);
        let t = DateTime::parse_from_rfc3339("2026-11-27T07:00:00Z")
            .expect("time")
            .timestamp_millis();
        assert!(terms[0].holds(Actual::TimeMs(t)));
        assert!(!terms[0].holds(Actual::TimeMs(t - 1)));
        assert!(terms[1].holds(Actual::Text("O'K")));
        assert!(terms[2].holds(Actual::Int(4)) && !terms[2].holds(Actual::Int(5)));
        assert!(parse("  ", FIELDS).expect("blank").is_empty());
        for bad in [
            "severity gt 'x'",
            "other eq 'x'",
            "severity eq x",
            "n eq '1'",
            "severity eq 'x' or n eq 1",
            "severity eq",
            "createdDateTime ge yesterday",
            "severity eq 'open",
        ] {
            assert!(parse(bad, FIELDS).is_err(), "{bad}");
        }
    }
}
