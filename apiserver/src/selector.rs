//! Label and field selectors, as kube-apiserver parses and matches them.
//!
//! [`LabelSelector`] follows `apimachinery/pkg/labels/selector.go`: the same lexer (so whitespace,
//! `in`/`notin` and `!` behave the same), the same key and value validation and error texts, and
//! the same canonical string form (requirements sorted by key, set values sorted). It is built
//! either from the `labelSelector` query parameter ([`LabelSelector::parse`]) or from a
//! `metav1.LabelSelector` object ([`LabelSelector::from_label_selector_json`]).
//!
//! [`FieldSelector`] follows `apimachinery/pkg/fields/selector.go` (`=`, `==`, `!=`, AND by comma,
//! `\,` `\=` `\\` escapes). Which fields a resource supports is the caller's whitelist
//! ([`FieldSelector::check_fields`], [`selectable_fields`]); values are read with [`field_value`]
//! or, with upstream's per-resource aliases and defaults, [`selectable_value`].
//!
//! Start at [`LabelSelector::parse`] and [`FieldSelector::parse`].

use std::fmt;

use serde_json::Value;

use crate::error::{ApiError, Result};

/// The operator of one label requirement (`k8s.io/apimachinery/pkg/selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `k=v`.
    Equals,
    /// `k==v`.
    DoubleEquals,
    /// `k!=v`; also matches objects without `k`.
    NotEquals,
    /// `k in (a,b)`.
    In,
    /// `k notin (a,b)`; also matches objects without `k`.
    NotIn,
    /// `k`.
    Exists,
    /// `!k`.
    DoesNotExist,
    /// `k>n` (integer comparison).
    GreaterThan,
    /// `k<n` (integer comparison).
    LessThan,
}

/// One requirement of a label selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement, validating the key, the values and their number for the operator
    /// as upstream's `labels.NewRequirement` does.
    pub fn new(key: &str, op: Operator, values: Vec<String>) -> Result<Requirement> {
        let mut errs = Vec::new();
        if let Some(e) = label_key_error(key, "key") {
            errs.push(e);
        }
        match op {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(format!(
                "values: Invalid value: {}: for 'in', 'notin' operators, values set can't be empty",
                json_list(&values)
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals if values.len() != 1 => {
                errs.push(format!(
                    "values: Invalid value: {}: exact-match compatibility requires one single value",
                    json_list(&values)
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(format!(
                "values: Invalid value: {}: values set must be empty for exists and does not exist",
                json_list(&values)
            )),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(format!(
                        "values: Invalid value: {}: for 'Gt', 'Lt' operators, exactly one value is required",
                        json_list(&values)
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!(
                            "values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let problems = label_value_problems(v);
            if !problems.is_empty() {
                errs.push(format!(
                    "values[{i}][{key}]: Invalid value: {v:?}: {}",
                    problems.join("; ")
                ));
            }
        }
        match errs.len() {
            0 => Ok(Requirement {
                key: key.to_string(),
                op,
                values,
            }),
            1 => Err(ApiError::BadRequest(errs.remove(0))),
            _ => Err(ApiError::BadRequest(format!("[{}]", errs.join(", ")))),
        }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values (empty for `Exists`/`DoesNotExist`).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set (`name -> value`) satisfies this requirement.
    pub fn matches_lookup<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        let found = lookup(&self.key);
        match self.op {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                found.is_some_and(|v| self.values.iter().any(|x| x == v))
            }
            Operator::NotEquals | Operator::NotIn => {
                found.is_none_or(|v| !self.values.iter().any(|x| x == v))
            }
            Operator::Exists => found.is_some(),
            Operator::DoesNotExist => found.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(have), [want]) = (
                    found.and_then(|v| v.parse::<i64>().ok()),
                    self.values.as_slice(),
                ) else {
                    return false;
                };
                let Ok(want) = want.parse::<i64>() else {
                    return false;
                };
                if self.op == Operator::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let op = match self.op {
            Operator::Equals => "=",
            Operator::DoubleEquals => "==",
            Operator::NotEquals => "!=",
            Operator::In => " in ",
            Operator::NotIn => " notin ",
            Operator::GreaterThan => ">",
            Operator::LessThan => "<",
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
        };
        f.write_str(op)?;
        let mut values = self.values.clone();
        values.sort();
        let set = matches!(self.op, Operator::In | Operator::NotIn);
        if set {
            f.write_str("(")?;
        }
        f.write_str(&values.join(","))?;
        if set {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A parsed label selector: the AND of its requirements.
///
/// The empty selector matches everything; [`LabelSelector::nothing`] (what a `null`
/// `metav1.LabelSelector` converts to) matches nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// The selector that matches every object.
    pub fn everything() -> LabelSelector {
        LabelSelector::default()
    }

    /// The selector that matches no object.
    pub fn nothing() -> LabelSelector {
        LabelSelector {
            requirements: Vec::new(),
            nothing: true,
        }
    }

    /// Parses the string form (`labelSelector` query parameter, `kubectl -l`).
    ///
    /// The empty string selects everything. Errors are 400 `BadRequest` with upstream's texts,
    /// e.g. `unable to parse requirement: found '', expected: identifier`.
    pub fn parse(s: &str) -> Result<LabelSelector> {
        let mut parser = Parser {
            tokens: lex(s),
            pos: 0,
        };
        let mut requirements = parser.parse().map_err(ApiError::BadRequest)?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` object (`matchLabels` + `matchExpressions`), as
    /// upstream's `metav1.LabelSelectorAsSelector` does: `null` selects nothing, `{}` everything.
    pub fn from_label_selector_json(sel: &Value) -> Result<LabelSelector> {
        let Some(obj) = sel.as_object() else {
            return if sel.is_null() {
                Ok(LabelSelector::nothing())
            } else {
                Err(ApiError::BadRequest(
                    "label selector must be an object".to_string(),
                ))
            };
        };
        let mut requirements = Vec::new();
        if let Some(labels) = obj.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in labels {
                let v = v.as_str().unwrap_or_default();
                requirements.push(Requirement::new(k, Operator::Equals, vec![v.to_string()])?);
            }
        }
        if let Some(exprs) = obj.get("matchExpressions").and_then(Value::as_array) {
            for expr in exprs {
                let key = expr.get("key").and_then(Value::as_str).unwrap_or_default();
                let op_name = expr
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let op = match op_name {
                    "In" => Operator::In,
                    "NotIn" => Operator::NotIn,
                    "Exists" => Operator::Exists,
                    "DoesNotExist" => Operator::DoesNotExist,
                    other => {
                        return Err(ApiError::BadRequest(format!(
                            "{other:?} is not a valid label selector operator"
                        )));
                    }
                };
                let values = expr
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|vs| {
                        vs.iter()
                            .map(|v| v.as_str().unwrap_or_default().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                requirements.push(Requirement::new(key, op, values)?);
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// A selector requiring every `key=value` of a plain map (a Service's or
    /// ReplicationController's `spec.selector`). An empty or absent map selects everything.
    pub fn from_match_labels(map: &Value) -> Result<LabelSelector> {
        let mut requirements = Vec::new();
        if let Some(labels) = map.as_object() {
            for (k, v) in labels {
                let v = v.as_str().unwrap_or_default();
                requirements.push(Requirement::new(k, Operator::Equals, vec![v.to_string()])?);
            }
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            nothing: false,
        })
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True if the selector does not restrict anything (matches every object).
    pub fn is_everything(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// True for the selector that matches nothing.
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    /// Whether an object's `metadata.labels` (an object of strings, or `null`) match.
    pub fn matches(&self, labels: &Value) -> bool {
        if self.nothing {
            return false;
        }
        let map = labels.as_object();
        let lookup = |k: &str| map.and_then(|m| m.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|r| r.matches_lookup(lookup))
    }

    /// The canonical string form (`app=web,tier in (a,b)`), as upstream's `Selector.String()`;
    /// used for `Scale.status.selector` and table cells. Both "everything" and "nothing" give "".
    pub fn to_string_form(&self) -> String {
        self.requirements
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_form())
    }
}

// ---- label selector lexer and parser (same token rules as upstream) ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

fn keyword(s: &str) -> Option<Tok> {
    Some(match s {
        ")" => Tok::ClosedPar,
        "," => Tok::Comma,
        "!" => Tok::DoesNotExist,
        "==" => Tok::DoubleEquals,
        "=" => Tok::Equals,
        ">" => Tok::GreaterThan,
        "in" => Tok::In,
        "<" => Tok::LessThan,
        "!=" => Tok::NotEquals,
        "notin" => Tok::NotIn,
        "(" => Tok::OpenPar,
        _ => return None,
    })
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits a selector into tokens; the last one is always `Tok::End`.
fn lex(s: &str) -> Vec<(Tok, String)> {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let mut out = Vec::new();
    loop {
        while pos < bytes.len() && is_space(bytes[pos]) {
            pos += 1;
        }
        if pos >= bytes.len() {
            out.push((Tok::End, String::new()));
            return out;
        }
        let start = pos;
        if is_special(bytes[pos]) {
            // Longest run of special characters that is still a token ("!=" but "=(" is "=").
            let mut best = None;
            let mut end = pos;
            while end < bytes.len() && is_special(bytes[end]) {
                end += 1;
                match keyword(&s[start..end]) {
                    Some(t) => best = Some((t, end)),
                    None if best.is_some() => break,
                    None => {}
                }
            }
            // Every single special character is a token, so `best` is always set.
            let (tok, stop) = best.unwrap_or((Tok::Identifier, end));
            out.push((tok, s[start..stop].to_string()));
            pos = stop;
        } else {
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_space(bytes[pos]) {
                pos += 1;
            }
            let lit = &s[start..pos];
            out.push((keyword(lit).unwrap_or(Tok::Identifier), lit.to_string()));
        }
    }
}

/// Whether `in`/`notin` are read as identifiers (values and keys) or as operators.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ctx {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<(Tok, String)>,
    pos: usize,
}

type ParseResult<T> = std::result::Result<T, String>;

impl Parser {
    fn token(&self, i: usize, ctx: Ctx) -> (Tok, String) {
        let (tok, lit) = self
            .tokens
            .get(i)
            .cloned()
            .unwrap_or((Tok::End, String::new()));
        let tok = match tok {
            Tok::In | Tok::NotIn if ctx == Ctx::Values => Tok::Identifier,
            t => t,
        };
        (tok, lit)
    }

    fn lookahead(&self, ctx: Ctx) -> (Tok, String) {
        self.token(self.pos, ctx)
    }

    fn consume(&mut self, ctx: Ctx) -> (Tok, String) {
        let t = self.token(self.pos, ctx);
        self.pos += 1;
        t
    }

    fn parse(&mut self) -> ParseResult<Vec<Requirement>> {
        let mut reqs = Vec::new();
        loop {
            let (tok, lit) = self.lookahead(Ctx::Values);
            match tok {
                Tok::Identifier | Tok::DoesNotExist => {
                    let r = self
                        .requirement()
                        .map_err(|e| format!("unable to parse requirement: {e}"))?;
                    reqs.push(r);
                    let (t, l) = self.consume(Ctx::Values);
                    match t {
                        Tok::End => return Ok(reqs),
                        Tok::Comma => {
                            let (t2, l2) = self.lookahead(Ctx::Values);
                            if t2 != Tok::Identifier && t2 != Tok::DoesNotExist {
                                return Err(format!(
                                    "found '{l2}', expected: identifier after ','"
                                ));
                            }
                        }
                        _ => return Err(format!("found '{l}', expected: ',' or 'end of string'")),
                    }
                }
                Tok::End => return Ok(reqs),
                _ => {
                    return Err(format!(
                        "found '{lit}', expected: !, identifier, or 'end of string'"
                    ));
                }
            }
        }
    }

    fn requirement(&mut self) -> ParseResult<Requirement> {
        let (key, op) = self.key_and_inferred_operator()?;
        if let Some(op) = op {
            return Requirement::new(&key, op, Vec::new()).map_err(|e| e.to_string());
        }
        let op = self.operator()?;
        let values = match op {
            Operator::In | Operator::NotIn => self.values()?,
            _ => self.exact_value()?,
        };
        Requirement::new(&key, op, values).map_err(|e| e.to_string())
    }

    fn key_and_inferred_operator(&mut self) -> ParseResult<(String, Option<Operator>)> {
        let (mut tok, mut lit) = self.consume(Ctx::Values);
        let mut op = None;
        if tok == Tok::DoesNotExist {
            op = Some(Operator::DoesNotExist);
            (tok, lit) = self.consume(Ctx::Values);
        }
        if tok != Tok::Identifier {
            return Err(format!("found '{lit}', expected: identifier"));
        }
        if let Some(e) = label_key_error(&lit, "<nil>") {
            return Err(e);
        }
        let (next, _) = self.lookahead(Ctx::Values);
        if (next == Tok::End || next == Tok::Comma) && op.is_none() {
            op = Some(Operator::Exists);
        }
        Ok((lit, op))
    }

    fn operator(&mut self) -> ParseResult<Operator> {
        let (tok, lit) = self.consume(Ctx::KeyAndOperator);
        Ok(match tok {
            Tok::In => Operator::In,
            Tok::Equals => Operator::Equals,
            Tok::DoubleEquals => Operator::DoubleEquals,
            Tok::GreaterThan => Operator::GreaterThan,
            Tok::LessThan => Operator::LessThan,
            Tok::NotIn => Operator::NotIn,
            Tok::NotEquals => Operator::NotEquals,
            _ => {
                return Err(format!(
                    "found '{lit}', expected: in, notin, =, ==, !=, gt, lt"
                ));
            }
        })
    }

    /// `(a,b,c)`: a sorted, de-duplicated set; empty members are the empty string.
    fn values(&mut self) -> ParseResult<Vec<String>> {
        let (tok, lit) = self.consume(Ctx::Values);
        if tok != Tok::OpenPar {
            return Err(format!("found '{lit}' expected: '('"));
        }
        let (tok, lit) = self.lookahead(Ctx::Values);
        let mut set = match tok {
            Tok::Identifier | Tok::Comma => {
                let set = self.identifiers()?;
                if self.consume(Ctx::Values).0 != Tok::ClosedPar {
                    return Err(format!("found '{lit}', expected: ')'"));
                }
                set
            }
            Tok::ClosedPar => {
                self.consume(Ctx::Values);
                vec![String::new()]
            }
            _ => return Err(format!("found '{lit}', expected: ',', ')' or identifier")),
        };
        set.sort();
        set.dedup();
        Ok(set)
    }

    fn identifiers(&mut self) -> ParseResult<Vec<String>> {
        let mut set: Vec<String> = Vec::new();
        loop {
            let (tok, lit) = self.consume(Ctx::Values);
            match tok {
                Tok::Identifier => {
                    set.push(lit);
                    let (t2, l2) = self.lookahead(Ctx::Values);
                    match t2 {
                        Tok::Comma => continue,
                        Tok::ClosedPar => return Ok(set),
                        _ => return Err(format!("found '{l2}', expected: ',' or ')'")),
                    }
                }
                Tok::Comma => {
                    if set.is_empty() {
                        set.push(String::new());
                    }
                    let (t2, _) = self.lookahead(Ctx::Values);
                    if t2 == Tok::ClosedPar {
                        set.push(String::new());
                        return Ok(set);
                    }
                    if t2 == Tok::Comma {
                        set.push(String::new());
                    }
                }
                _ => return Err(format!("found '{lit}', expected: ',', or identifier")),
            }
        }
    }

    fn exact_value(&mut self) -> ParseResult<Vec<String>> {
        let (tok, _) = self.lookahead(Ctx::Values);
        if tok == Tok::End || tok == Tok::Comma {
            return Ok(vec![String::new()]);
        }
        let (tok, lit) = self.consume(Ctx::Values);
        if tok == Tok::Identifier {
            Ok(vec![lit])
        } else {
            Err(format!("found '{lit}', expected: identifier"))
        }
    }
}

// ---- validation (apimachinery/pkg/util/validation, 1.32 texts) ----

const NAME_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const DNS_SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const VALUE_FMT: &str = "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?";
const VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

fn regex_error(msg: &str, re: &str, examples: &[&str]) -> String {
    // Upstream appends "'x', " per example and joins with " or ", hence the double spaces.
    let examples = examples
        .iter()
        .map(|e| format!("'{e}', "))
        .collect::<Vec<_>>()
        .join(" or ");
    format!("{msg} (e.g. {examples}regex used for validation is '{re}')")
}

/// `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?` — a label name part or a non-empty label value.
fn is_label_name(s: &str) -> bool {
    let b = s.as_bytes();
    match (b.first(), b.last()) {
        (Some(f), Some(l)) => {
            f.is_ascii_alphanumeric()
                && l.is_ascii_alphanumeric()
                && b.iter()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            match (b.first(), b.last()) {
                (Some(f), Some(l)) => {
                    (f.is_ascii_lowercase() || f.is_ascii_digit())
                        && (l.is_ascii_lowercase() || l.is_ascii_digit())
                        && b.iter()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                }
                _ => false,
            }
        })
}

/// Upstream's `IsQualifiedName`: the problems with a label key, empty if it is valid.
fn label_key_problems(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    let parts: Vec<&str> = key.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                errs.push("prefix part must be non-empty".to_string());
            } else {
                if prefix.len() > 253 {
                    errs.push("prefix part must be no more than 253 characters".to_string());
                }
                if !is_dns_subdomain(prefix) {
                    errs.push(format!(
                        "prefix part {}",
                        regex_error(DNS_SUBDOMAIN_MSG, DNS_SUBDOMAIN_FMT, &["example.com"])
                    ));
                }
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                regex_error(NAME_MSG, NAME_FMT, &["MyName", "my.name", "123-abc"])
            )];
        }
    };
    if name.is_empty() {
        errs.push("name part must be non-empty".to_string());
    } else if name.len() > 63 {
        errs.push("name part must be no more than 63 characters".to_string());
    }
    if !is_label_name(name) {
        errs.push(format!(
            "name part {}",
            regex_error(NAME_MSG, NAME_FMT, &["MyName", "my.name", "123-abc"])
        ));
    }
    errs
}

/// Upstream's `IsValidLabelValue`: the problems with a label value, empty if it is valid.
fn label_value_problems(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push("must be no more than 63 characters".to_string());
    }
    if !value.is_empty() && !is_label_name(value) {
        errs.push(regex_error(
            VALUE_MSG,
            VALUE_FMT,
            &["MyValue", "my_value", "12345"],
        ));
    }
    errs
}

/// The `field.Invalid` text for a bad key at `path`, or `None` if the key is valid.
fn label_key_error(key: &str, path: &str) -> Option<String> {
    let problems = label_key_problems(key);
    (!problems.is_empty())
        .then(|| format!("{path}: Invalid value: {key:?}: {}", problems.join("; ")))
}

/// Checks a label key (e.g. of `metadata.labels`); the error lists the problems.
pub fn validate_label_key(key: &str) -> std::result::Result<(), String> {
    let problems = label_key_problems(key);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

/// Checks a label value; the error lists the problems.
pub fn validate_label_value(value: &str) -> std::result::Result<(), String> {
    let problems = label_value_problems(value);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("; "))
    }
}

fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).unwrap_or_default()
}

// ---- field selectors ----

/// The operator of one field selector term.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOp {
    /// `field=value` or `field==value`.
    Equals,
    /// `field!=value`.
    NotEquals,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    field: String,
    op: FieldOp,
    value: String,
}

/// A parsed field selector: the AND of its terms. Empty matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter (`a=b,c!=d`, values escaped with `\`).
    pub fn parse(s: &str) -> Result<FieldSelector> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.into_iter().filter(|p| !p.is_empty()) {
            let Some((field, op, rhs)) = split_term(part) else {
                return Err(ApiError::BadRequest(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape_value(rhs)?;
            terms.push(FieldTerm {
                field: field.to_string(),
                op,
                value,
            });
        }
        Ok(FieldSelector { terms })
    }

    /// The terms as `(field, operator, unescaped value)`, sorted as upstream sorts them.
    pub fn requirements(&self) -> Vec<(&str, FieldOp, &str)> {
        self.terms
            .iter()
            .map(|t| (t.field.as_str(), t.op, t.value.as_str()))
            .collect()
    }

    /// True if there are no terms.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether an object matches; `get` returns a field's value, `None` counting as "".
    pub fn matches(&self, get: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let have = get(&t.field).unwrap_or_default();
            match t.op {
                FieldOp::Equals => have == t.value,
                FieldOp::NotEquals => have != t.value,
            }
        })
    }

    /// 400 `field label not supported: X` for the first field that is neither in `allowed` nor
    /// `metadata.name`/`metadata.namespace` (which every resource supports).
    pub fn check_fields(&self, allowed: &[&str]) -> Result<()> {
        for t in &self.terms {
            let f = t.field.as_str();
            if f != "metadata.name" && f != "metadata.namespace" && !allowed.contains(&f) {
                return Err(ApiError::BadRequest(format!(
                    "field label not supported: {f}"
                )));
            }
        }
        Ok(())
    }

    /// The canonical string form, values escaped again (`a=b,c!=d\,e`).
    pub fn to_string_form(&self) -> String {
        self.terms
            .iter()
            .map(|t| {
                let op = if t.op == FieldOp::Equals { "=" } else { "!=" };
                let value = t
                    .value
                    .replace('\\', "\\\\")
                    .replace(',', "\\,")
                    .replace('=', "\\=");
                format!("{}{op}{value}", t.field)
            })
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Splits on commas that are not escaped by a backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits `lhs op rhs` at the first operator (`!=`, `==`, `=` tried in that order).
fn split_term(term: &str) -> Option<(&str, FieldOp, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for (op, kind) in [
            ("!=", FieldOp::NotEquals),
            ("==", FieldOp::Equals),
            ("=", FieldOp::Equals),
        ] {
            if let Some(rhs) = rest.strip_prefix(op) {
                return Some((&term[..i], kind, rhs));
            }
        }
    }
    None
}

fn unescape_value(s: &str) -> Result<String> {
    if !s.contains(['\\', ',', '=']) {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(ApiError::BadRequest(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(ApiError::BadRequest(format!(
                    "invalid field selector: unescaped character in value: {}",
                    u32::from(c)
                )));
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(ApiError::BadRequest(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

/// The value at a dotted path (`spec.nodeName`, `involvedObject.name`) as a field selector sees
/// it: strings as they are, booleans `true`/`false`, numbers in decimal. `None` if absent, null,
/// or not a scalar.
pub fn field_value(obj: &Value, path: &str) -> Option<String> {
    let v = path.split('.').try_fold(obj, |v, seg| v.get(seg))?;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Fields (beyond `metadata.name` and `metadata.namespace`) that upstream lets a field selector
/// use on a resource (`pkg/registry/*/strategy.go` `ToSelectableFields`, `pkg/apis/*/v1` label
/// conversions).
pub fn selectable_fields(group: &str, resource: &str) -> &'static [&'static str] {
    match (group, resource) {
        ("", "pods") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "events") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("", "namespaces") => &["status.phase"],
        ("", "secrets") => &["type"],
        ("", "nodes") => &["spec.unschedulable"],
        ("", "replicationcontrollers") => &["status.replicas"],
        ("batch", "jobs") => &["status.successful"],
        _ => &[],
    }
}

/// The value of a selectable field of an object of `group`/`resource`, with upstream's aliases
/// (`status.successful` is a Job's `status.succeeded`, an Event's `source` is
/// `source.component`) and the zero values the typed objects would have for absent fields.
pub fn selectable_value(group: &str, resource: &str, obj: &Value, field: &str) -> Option<String> {
    match (group, resource, field) {
        ("batch", "jobs", "status.successful") => {
            Some(field_value(obj, "status.succeeded").unwrap_or_else(|| "0".to_string()))
        }
        ("", "replicationcontrollers", "status.replicas") => {
            Some(field_value(obj, "status.replicas").unwrap_or_else(|| "0".to_string()))
        }
        ("", "nodes", "spec.unschedulable") | ("", "pods", "spec.hostNetwork") => {
            Some(field_value(obj, field).unwrap_or_else(|| "false".to_string()))
        }
        ("", "events", "source") => field_value(obj, "source.component"),
        ("", "pods", "status.podIP") => field_value(obj, "status.podIP").or_else(|| {
            obj.pointer("/status/podIPs/0/ip")
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
        _ => field_value(obj, field),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels() -> Value {
        json!({"app": "web", "tier": "front", "app.kubernetes.io/name": "shop", "n": "5"})
    }

    #[test]
    fn label_selector_matching() {
        // (selector, matches labels(), matches {} (no labels))
        let cases: &[(&str, bool, bool)] = &[
            ("", true, true),
            ("app=web", true, false),
            ("app==web", true, false),
            ("app = web", true, false),
            ("app=db", false, false),
            ("app!=db", true, true),
            ("app!=web", false, true),
            ("app in (web,db)", true, false),
            ("app in (db)", false, false),
            ("app notin (db)", true, true),
            ("app notin (web, db)", false, true),
            ("app", true, false),
            ("missing", false, false),
            ("!missing", true, true),
            ("!app", false, true),
            ("app=web,tier=front", true, false),
            ("app=web,tier=back", false, false),
            ("  app=web ,  tier in ( front , back )  ", true, false),
            ("app.kubernetes.io/name=shop", true, false),
            ("app.kubernetes.io/name in (shop)", true, false),
            ("n>4", true, false),
            ("n<4", false, false),
            ("n<6", true, false),
            ("app>4", false, false),
            ("app=", false, false),
            ("app!=", true, true),
            ("x in (,a)", false, false),
            ("x notin (a)", true, true),
            ("in=x", false, false),
            ("app in (in,web)", true, false),
        ];
        for (sel, with, without) in cases {
            let s = LabelSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(&labels()), *with, "{sel:?} on labels");
            assert_eq!(s.matches(&json!({})), *without, "{sel:?} on {{}}");
            assert_eq!(s.matches(&Value::Null), *without, "{sel:?} on null");
        }
    }

    #[test]
    fn label_selector_canonical_string() {
        let cases = [
            ("tier in (b,a),app=web", "app=web,tier in (a,b)"),
            ("b, !a", "!a,b"),
            ("a==x", "a==x"),
            ("a!=x", "a!=x"),
            ("a notin (z,y,y)", "a notin (y,z)"),
            ("a in ()", "a in ()"),
            ("a>3", "a>3"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(
                LabelSelector::parse(input).unwrap().to_string_form(),
                want,
                "{input:?}"
            );
        }
    }

    #[test]
    fn label_selector_errors() {
        let cases = [
            ("app=web,", "found '', expected: identifier after ','"),
            (
                "app=web tier=x",
                "found 'tier', expected: ',' or 'end of string'",
            ),
            (
                "=x",
                "found '=', expected: !, identifier, or 'end of string'",
            ),
            (
                "app in web",
                "unable to parse requirement: found 'web' expected: '('",
            ),
            (
                "app in (a b)",
                "unable to parse requirement: found 'b', expected: ',' or ')'",
            ),
            (
                "app (",
                "unable to parse requirement: found '(', expected: in, notin, =, ==, !=, gt, lt",
            ),
            (
                "app=(",
                "unable to parse requirement: found '(', expected: identifier",
            ),
            (
                "!",
                "unable to parse requirement: found '', expected: identifier",
            ),
            (
                "a>b",
                "unable to parse requirement: values[0]: Invalid value: \"b\": for 'Gt', 'Lt' operators, the value must be an integer",
            ),
            (
                "-app=x",
                "unable to parse requirement: <nil>: Invalid value: \"-app\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (
                "Example.com/a=x",
                "unable to parse requirement: <nil>: Invalid value: \"Example.com/a\": prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            ),
            (
                "a/b/c",
                "unable to parse requirement: <nil>: Invalid value: \"a/b/c\": a qualified name must consist of",
            ),
            (
                "/a",
                "unable to parse requirement: <nil>: Invalid value: \"/a\": prefix part must be non-empty",
            ),
            (
                "a=-x",
                "unable to parse requirement: values[0][a]: Invalid value: \"-x\": a valid label must be an empty string",
            ),
        ];
        for (input, want) in cases {
            match LabelSelector::parse(input) {
                Ok(s) => panic!("{input:?} parsed as {s:?}"),
                Err(e) => {
                    assert_eq!(e.code(), 400);
                    let msg = e.to_string();
                    assert!(
                        msg.starts_with(want),
                        "{input:?}: got {msg:?}, want prefix {want:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn label_length_limits() {
        let long63 = "a".repeat(63);
        let long64 = "a".repeat(64);
        assert!(LabelSelector::parse(&format!("{long63}={long63}")).is_ok());
        let e = LabelSelector::parse(&format!("{long64}=x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("name part must be no more than 63 characters"),
            "{e}"
        );
        let e = LabelSelector::parse(&format!("k={long64}"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("values[0][k]: Invalid value")
                && e.contains("must be no more than 63 characters"),
            "{e}"
        );
        let prefix = format!("{}.com", "a".repeat(250));
        let e = LabelSelector::parse(&format!("{prefix}/x"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("prefix part must be no more than 253 characters"),
            "{e}"
        );
    }

    #[test]
    fn from_metav1_label_selector() {
        let sel = json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["b", "a"]},
                {"key": "gone", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "app", "operator": "Exists"},
            ]
        });
        let s = LabelSelector::from_label_selector_json(&sel).unwrap();
        assert_eq!(
            s.to_string_form(),
            "app=web,app,env notin (prod),!gone,tier in (a,b)"
        );
        assert!(s.matches(&json!({"app": "web", "tier": "a"})));
        assert!(!s.matches(&json!({"app": "web", "tier": "a", "gone": "x"})));
        assert!(!s.matches(&json!({"app": "web", "tier": "a", "env": "prod"})));

        let everything = LabelSelector::from_label_selector_json(&json!({})).unwrap();
        assert!(everything.is_everything() && everything.matches(&json!({"x": "y"})));
        let nothing = LabelSelector::from_label_selector_json(&Value::Null).unwrap();
        assert!(nothing.is_nothing() && !nothing.matches(&json!({})));

        let bad_op = json!({"matchExpressions": [{"key": "a", "operator": "Foo"}]});
        assert_eq!(
            LabelSelector::from_label_selector_json(&bad_op)
                .unwrap_err()
                .to_string(),
            "\"Foo\" is not a valid label selector operator"
        );
        let empty_in = json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]});
        assert!(
            LabelSelector::from_label_selector_json(&empty_in)
                .unwrap_err()
                .to_string()
                .contains("can't be empty")
        );
        let exists_values =
            json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]});
        assert!(LabelSelector::from_label_selector_json(&exists_values).is_err());
        let bad_value = json!({"matchLabels": {"a": "b c"}});
        assert!(LabelSelector::from_label_selector_json(&bad_value).is_err());

        let svc = LabelSelector::from_match_labels(&json!({"b": "2", "a": "1"})).unwrap();
        assert_eq!(svc.to_string_form(), "a=1,b=2");
    }

    #[test]
    fn field_selector_parse_and_match() {
        let pod = json!({
            "metadata": {"name": "web-1", "namespace": "default"},
            "spec": {"nodeName": "n1", "unschedulable": true, "replicas": 3},
            "status": {"phase": "Running"}
        });
        let get = |f: &str| field_value(&pod, f);
        // (selector, matches)
        let cases = [
            ("", true),
            ("spec.nodeName=n1", true),
            ("spec.nodeName==n1", true),
            ("spec.nodeName!=n1", false),
            ("spec.nodeName=n2", false),
            ("spec.nodeName=n1,status.phase=Running", true),
            ("spec.nodeName=n1,status.phase!=Running", false),
            ("spec.nodeName=", false),
            ("spec.missing=", true),
            ("spec.missing!=x", true),
            ("spec.unschedulable=true", true),
            ("spec.replicas=3", true),
            ("metadata.name=web-1", true),
        ];
        for (sel, want) in cases {
            let s = FieldSelector::parse(sel).unwrap_or_else(|e| panic!("{sel}: {e}"));
            assert_eq!(s.matches(get), want, "{sel:?}");
        }
    }

    #[test]
    fn field_selector_escapes_and_errors() {
        let s = FieldSelector::parse(r"b=x\,y\=z\\w,a!=1").unwrap();
        assert_eq!(
            s.requirements(),
            vec![
                ("a", FieldOp::NotEquals, "1"),
                ("b", FieldOp::Equals, r"x,y=z\w")
            ]
        );
        assert_eq!(s.to_string_form(), r"a!=1,b=x\,y\=z\\w");
        assert!(s.matches(|f| (f == "b").then(|| r"x,y=z\w".to_string())));

        let cases = [
            ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
            ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
            (
                r"a=b\x",
                r"invalid field selector: invalid escape sequence: \x",
            ),
            (
                r"a=b\",
                r"invalid field selector: invalid escape sequence: \",
            ),
            (
                "a=b=c",
                "invalid field selector: unescaped character in value: 61",
            ),
        ];
        for (input, want) in cases {
            let e = FieldSelector::parse(input).unwrap_err();
            assert_eq!(e.code(), 400, "{input:?}");
            assert_eq!(e.to_string(), want, "{input:?}");
        }
    }

    #[test]
    fn field_selector_whitelist() {
        let s =
            FieldSelector::parse("spec.nodeName=a,metadata.name=x,metadata.namespace=y").unwrap();
        assert!(s.check_fields(selectable_fields("", "pods")).is_ok());
        let e = s
            .check_fields(selectable_fields("", "configmaps"))
            .unwrap_err();
        assert_eq!(e.to_string(), "field label not supported: spec.nodeName");
        assert_eq!(e.code(), 400);
    }

    #[test]
    fn field_values_and_aliases() {
        let job = json!({"status": {"succeeded": 2}});
        assert_eq!(
            selectable_value("batch", "jobs", &job, "status.successful").as_deref(),
            Some("2")
        );
        assert_eq!(
            selectable_value("batch", "jobs", &json!({}), "status.successful").as_deref(),
            Some("0")
        );
        assert_eq!(
            selectable_value("", "nodes", &json!({}), "spec.unschedulable").as_deref(),
            Some("false")
        );
        let ev = json!({"involvedObject": {"name": "p"}, "source": {"component": "kubelet"}});
        assert_eq!(
            selectable_value("", "events", &ev, "source").as_deref(),
            Some("kubelet")
        );
        assert_eq!(
            field_value(&ev, "involvedObject.name").as_deref(),
            Some("p")
        );
        assert_eq!(field_value(&ev, "involvedObject"), None);
        assert_eq!(
            field_value(&json!({"a": {"b": 1.5}}), "a.b").as_deref(),
            Some("1.5")
        );
        assert_eq!(field_value(&json!({"a": null}), "a"), None);
    }

    #[test]
    fn label_validation_helpers() {
        assert!(validate_label_key("app.kubernetes.io/name").is_ok());
        assert!(validate_label_key("a_b.c-d").is_ok());
        assert!(validate_label_key("a_").is_err());
        assert!(validate_label_value("").is_ok());
        assert!(validate_label_value("x y").is_err());
    }
}

/// The selection of a list or watch: a namespace (None: all) and label and field selectors.
#[derive(Debug, Clone, Default)]
pub struct ObjectFilter {
    /// Namespace, for namespaced requests.
    pub ns: Option<String>,
    /// `labelSelector`.
    pub label: Option<LabelSelector>,
    /// `fieldSelector`.
    pub field: Option<FieldSelector>,
}

impl ObjectFilter {
    /// Whether `obj` is selected.
    pub fn matches(&self, obj: &Value) -> bool {
        let meta = obj.get("metadata");
        if let Some(ns) = &self.ns
            && meta
                .and_then(|m| m.get("namespace"))
                .and_then(Value::as_str)
                .unwrap_or("")
                != ns
        {
            return false;
        }
        if let Some(l) = &self.label
            && !l.matches(meta.and_then(|m| m.get("labels")).unwrap_or(&Value::Null))
        {
            return false;
        }
        if let Some(f) = &self.field
            && !f.matches(|p| field_value(obj, p))
        {
            return false;
        }
        true
    }

    /// True when only the namespace selects (every object of it matches).
    pub fn is_trivial(&self) -> bool {
        self.label.is_none() && self.field.is_none()
    }
}
