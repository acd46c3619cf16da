//! Label selectors (`metav1.LabelSelector`) parsed once and matched against label maps, with
//! apimachinery's semantics: a missing selector selects nothing, an empty one (`{}`) selects
//! everything, and a selector that does not validate selects nothing.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// The label is present with one of the values.
    In(String, Vec<String>),
    /// The label is absent or has none of the values.
    NotIn(String, Vec<String>),
    /// The label is present.
    Exists(String),
    /// The label is absent.
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        match self {
            Requirement::In(k, vs) => get(k).is_some_and(|v| vs.iter().any(|x| x == v)),
            Requirement::NotIn(k, vs) => get(k).is_none_or(|v| !vs.iter().any(|x| x == v)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        }
    }
}

/// A parsed label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelSelector {
    /// Selects nothing (a missing or invalid selector).
    Nothing,
    /// Selects what matches every requirement; no requirement selects everything.
    All(Vec<Requirement>),
}

impl LabelSelector {
    /// The selector that selects everything.
    pub fn everything() -> LabelSelector {
        LabelSelector::All(Vec::new())
    }

    /// Parses an API selector like `metav1.LabelSelectorAsSelector`.
    pub fn from_api(sel: Option<&metav1::LabelSelector>) -> LabelSelector {
        let Some(sel) = sel else {
            return LabelSelector::Nothing;
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement::In(k.clone(), vec![v.clone()]));
        }
        for e in sel.match_expressions.iter().flatten() {
            let values = e.values.clone().unwrap_or_default();
            let req = match e.operator.as_str() {
                "In" if !values.is_empty() => Requirement::In(e.key.clone(), values),
                "NotIn" if !values.is_empty() => Requirement::NotIn(e.key.clone(), values),
                "Exists" if values.is_empty() => Requirement::Exists(e.key.clone()),
                "DoesNotExist" if values.is_empty() => Requirement::DoesNotExist(e.key.clone()),
                _ => return LabelSelector::Nothing,
            };
            reqs.push(req);
        }
        LabelSelector::All(reqs)
    }

    /// Whether the selector has no requirement (selects everything). `Nothing` is not empty.
    pub fn is_empty(&self) -> bool {
        matches!(self, LabelSelector::All(r) if r.is_empty())
    }

    /// Adds a requirement (no effect on `Nothing`).
    pub fn push(&mut self, req: Requirement) {
        if let LabelSelector::All(reqs) = self {
            reqs.push(req);
        }
    }

    /// Whether a label set is selected.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        match self {
            LabelSelector::Nothing => false,
            LabelSelector::All(reqs) => reqs.iter().all(|r| r.matches(labels)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(kv: &[(&str, &str)]) -> BTreeMap<String, String> {
        kv.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn expr(key: &str, op: &str, values: &[&str]) -> metav1::LabelSelectorRequirement {
        metav1::LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    #[test]
    fn nil_selects_nothing_empty_selects_everything() {
        let l = labels(&[("a", "1")]);
        assert!(!LabelSelector::from_api(None).matches(Some(&l)));
        let empty = LabelSelector::from_api(Some(&metav1::LabelSelector::default()));
        assert!(empty.is_empty());
        assert!(empty.matches(Some(&l)));
        assert!(empty.matches(None));
    }

    #[test]
    fn operators() {
        let sel = LabelSelector::from_api(Some(&metav1::LabelSelector {
            match_labels: Some(labels(&[("app", "web")])),
            match_expressions: Some(vec![
                expr("tier", "In", &["a", "b"]),
                expr("env", "NotIn", &["prod"]),
                expr("x", "Exists", &[]),
                expr("y", "DoesNotExist", &[]),
            ]),
        }));
        assert!(sel.matches(Some(&labels(&[("app", "web"), ("tier", "b"), ("x", "")]))));
        assert!(!sel.matches(Some(&labels(&[("app", "web"), ("tier", "c"), ("x", "")]))));
        assert!(!sel.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("x", ""),
            ("env", "prod")
        ]))));
        assert!(!sel.matches(Some(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("x", ""),
            ("y", "1")
        ]))));
        assert!(!sel.matches(Some(&labels(&[("app", "web"), ("tier", "a")]))));
    }

    #[test]
    fn invalid_selects_nothing() {
        for e in [
            expr("a", "In", &[]),
            expr("a", "Exists", &["x"]),
            expr("a", "Gt", &["1"]),
        ] {
            let sel = LabelSelector::from_api(Some(&metav1::LabelSelector {
                match_expressions: Some(vec![e]),
                ..Default::default()
            }));
            assert_eq!(sel, LabelSelector::Nothing);
            assert!(!sel.is_empty());
        }
    }
}
