//! NodeAffinity: `spec.nodeSelector` plus required and preferred node affinity, and the
//! node selector terms they (and PersistentVolume node affinity) are written in.
//!
//! Semantics follow component-helpers' `nodeaffinity` package: terms are ORed, the
//! requirements of a term ANDed; a term with neither `matchExpressions` nor `matchFields`
//! matches nothing; a term that does not validate (e.g. `Gt` with a non-integer, `In`
//! without values, `matchFields` on anything but `metadata.name`) is skipped; `matchFields`
//! is ignored when the node has no name (how PV affinity is checked).

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{
    Node, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, Pod,
};

/// Filter reason when the node does not match the pod's node selector or required affinity.
pub const REASON_NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
/// PreFilter message when every required term pins the pod to disjoint node names.
pub const REASON_AFFINITY_CONFLICT: &str = "pod affinity terms conflict";

#[derive(Clone, Debug)]
enum LabelReq {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
}

impl LabelReq {
    fn parse(r: &NodeSelectorRequirement) -> Option<LabelReq> {
        let values = r.values.as_deref().unwrap_or(&[]);
        let key = r.key.clone();
        Some(match r.operator.as_str() {
            "In" if !values.is_empty() => LabelReq::In(key, values.to_vec()),
            "NotIn" if !values.is_empty() => LabelReq::NotIn(key, values.to_vec()),
            "Exists" if values.is_empty() => LabelReq::Exists(key),
            "DoesNotExist" if values.is_empty() => LabelReq::DoesNotExist(key),
            "Gt" if values.len() == 1 => LabelReq::Gt(key, values[0].parse().ok()?),
            "Lt" if values.len() == 1 => LabelReq::Lt(key, values[0].parse().ok()?),
            _ => return None,
        })
    }

    fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k));
        match self {
            LabelReq::In(k, vs) => get(k).is_some_and(|v| vs.contains(v)),
            LabelReq::NotIn(k, vs) => get(k).is_none_or(|v| !vs.contains(v)),
            LabelReq::Exists(k) => get(k).is_some(),
            LabelReq::DoesNotExist(k) => get(k).is_none(),
            LabelReq::Gt(k, n) => get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v > *n),
            LabelReq::Lt(k, n) => get(k)
                .and_then(|v| v.parse::<i64>().ok())
                .is_some_and(|v| v < *n),
        }
    }
}

/// `metadata.name` requirement of a `matchFields` term: equal (`In`) or not (`NotIn`).
#[derive(Clone, Debug)]
struct FieldReq {
    equal: bool,
    name: String,
}

/// One parsed, valid node selector term.
#[derive(Clone, Debug)]
struct Term {
    labels: Option<Vec<LabelReq>>,
    fields: Option<Vec<FieldReq>>,
}

impl Term {
    /// `None` when the term does not validate.
    fn parse(t: &NodeSelectorTerm) -> Option<Term> {
        let labels = match t.match_expressions.as_deref() {
            Some(exprs) if !exprs.is_empty() => Some(
                exprs
                    .iter()
                    .map(LabelReq::parse)
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => None,
        };
        let fields = match t.match_fields.as_deref() {
            Some(fields) if !fields.is_empty() => Some(
                fields
                    .iter()
                    .map(|r| {
                        let values = r.values.as_deref().unwrap_or(&[]);
                        if r.key != "metadata.name" || values.len() != 1 {
                            return None;
                        }
                        match r.operator.as_str() {
                            "In" => Some(FieldReq {
                                equal: true,
                                name: values[0].clone(),
                            }),
                            "NotIn" => Some(FieldReq {
                                equal: false,
                                name: values[0].clone(),
                            }),
                            _ => None,
                        }
                    })
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => None,
        };
        Some(Term { labels, fields })
    }

    fn matches(&self, labels: Option<&BTreeMap<String, String>>, name: &str) -> bool {
        if self.labels.is_none() && self.fields.is_none() {
            return false;
        }
        if let Some(reqs) = &self.labels
            && !reqs.iter().all(|r| r.matches(labels))
        {
            return false;
        }
        if let Some(fields) = &self.fields
            && !name.is_empty()
            && !fields.iter().all(|f| (f.name == name) == f.equal)
        {
            return false;
        }
        true
    }
}

/// A parsed `NodeSelector`: terms ORed, invalid terms dropped.
#[derive(Clone, Debug)]
pub struct ParsedNodeSelector {
    terms: Vec<Term>,
}

impl ParsedNodeSelector {
    /// Parses the terms of a node selector.
    pub fn new(sel: &NodeSelector) -> ParsedNodeSelector {
        ParsedNodeSelector {
            terms: sel
                .node_selector_terms
                .iter()
                .filter_map(Term::parse)
                .collect(),
        }
    }

    /// Whether a node with these labels and name matches some term. An empty `name` skips
    /// `matchFields`.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>, name: &str) -> bool {
        self.terms.iter().any(|t| t.matches(labels, name))
    }
}

/// What a pod requires of its node: `spec.nodeSelector` and required node affinity.
#[derive(Clone, Debug, Default)]
pub struct RequiredNodeAffinity {
    node_selector: Option<BTreeMap<String, String>>,
    required: Option<ParsedNodeSelector>,
}

impl RequiredNodeAffinity {
    /// Reads the pod's node selector and required node affinity.
    pub fn of(pod: &Pod) -> RequiredNodeAffinity {
        let spec = pod.spec.as_ref();
        let node_selector = spec
            .and_then(|s| s.node_selector.clone())
            .filter(|m| !m.is_empty());
        let required = spec
            .and_then(|s| s.affinity.as_ref())
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|na| {
                na.required_during_scheduling_ignored_during_execution
                    .as_ref()
            })
            .map(ParsedNodeSelector::new);
        RequiredNodeAffinity {
            node_selector,
            required,
        }
    }

    /// Whether the pod has nothing to require (the NodeAffinity filter is skipped).
    pub fn is_empty(&self) -> bool {
        self.node_selector.is_none() && self.required.is_none()
    }

    /// Whether the node satisfies the node selector and required affinity.
    pub fn matches(&self, node: &Node) -> bool {
        let labels = node.metadata.labels.as_ref();
        if let Some(sel) = &self.node_selector
            && !sel
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
        {
            return false;
        }
        match &self.required {
            Some(req) => req.matches(labels, node.metadata.name.as_deref().unwrap_or("")),
            None => true,
        }
    }
}

/// The NodeAffinity PreFilter result: the node names the pod is pinned to by
/// `matchFields: metadata.name In [...]` in every required term, if any.
/// `Err` carries the PreFilter failure message.
pub fn prefilter_node_names(pod: &Pod) -> Result<Option<HashSet<String>>, &'static str> {
    let Some(terms) = pod
        .spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .map(|r| &r.node_selector_terms)
        .filter(|t| !t.is_empty())
    else {
        return Ok(None);
    };
    let mut union: HashSet<String> = HashSet::new();
    for t in terms {
        let mut term_names: Option<HashSet<String>> = None;
        for r in t.match_fields.iter().flatten() {
            if r.key == "metadata.name" && r.operator == "In" {
                let s: HashSet<String> = r.values.iter().flatten().cloned().collect();
                term_names = Some(match term_names {
                    None => s,
                    Some(prev) => prev.intersection(&s).cloned().collect(),
                });
            }
        }
        match term_names {
            None => return Ok(None),
            Some(names) => union.extend(names),
        }
    }
    if union.is_empty() {
        Err(REASON_AFFINITY_CONFLICT)
    } else {
        Ok(Some(union))
    }
}

/// The pod's preferred node affinity terms with their weights (weight-0 and invalid terms
/// dropped).
#[derive(Clone, Debug, Default)]
pub struct PreferredNodeAffinity {
    terms: Vec<(i64, Term)>,
}

impl PreferredNodeAffinity {
    /// Reads `preferredDuringSchedulingIgnoredDuringExecution`; `None` when the pod has none.
    pub fn of(pod: &Pod) -> Option<PreferredNodeAffinity> {
        let terms = pod
            .spec
            .as_ref()?
            .affinity
            .as_ref()?
            .node_affinity
            .as_ref()?
            .preferred_during_scheduling_ignored_during_execution
            .as_ref()?;
        Some(PreferredNodeAffinity {
            terms: terms
                .iter()
                .filter(|t| t.weight != 0)
                .filter_map(|t| Term::parse(&t.preference).map(|p| (i64::from(t.weight), p)))
                .collect(),
        })
    }

    /// The raw score: the sum of the weights of the matching terms.
    pub fn score(&self, node: &Node) -> i64 {
        let labels = node.metadata.labels.as_ref();
        let name = node.metadata.name.as_deref().unwrap_or("");
        self.terms
            .iter()
            .filter(|(_, t)| t.matches(labels, name))
            .map(|(w, _)| *w)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::testutil::*;
    use k8s_openapi::api::core::v1::{Affinity, NodeAffinity, PodSpec, PreferredSchedulingTerm};

    fn req(key: &str, op: &str, values: &[&str]) -> NodeSelectorRequirement {
        NodeSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn term(
        exprs: Vec<NodeSelectorRequirement>,
        fields: Vec<NodeSelectorRequirement>,
    ) -> NodeSelectorTerm {
        NodeSelectorTerm {
            match_expressions: (!exprs.is_empty()).then_some(exprs),
            match_fields: (!fields.is_empty()).then_some(fields),
        }
    }

    fn pod_with(terms: Vec<NodeSelectorTerm>, selector: &[(&str, &str)]) -> Pod {
        Pod {
            spec: Some(PodSpec {
                node_selector: (!selector.is_empty()).then(|| {
                    selector
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect()
                }),
                affinity: (!terms.is_empty()).then(|| Affinity {
                    node_affinity: Some(NodeAffinity {
                        required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                            node_selector_terms: terms,
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn node_selector_must_match_exactly() {
        let n = node("n1").label("disk", "ssd").build();
        assert!(RequiredNodeAffinity::of(&pod_with(vec![], &[("disk", "ssd")])).matches(&n));
        assert!(!RequiredNodeAffinity::of(&pod_with(vec![], &[("disk", "hdd")])).matches(&n));
        assert!(!RequiredNodeAffinity::of(&pod_with(vec![], &[("zone", "a")])).matches(&n));
        assert!(RequiredNodeAffinity::of(&pod_with(vec![], &[])).is_empty());
    }

    #[test]
    fn operators_and_terms() {
        let n = node("n1").label("zone", "a").label("cores", "8").build();
        let cases: Vec<(Vec<NodeSelectorTerm>, bool)> = vec![
            (
                vec![term(vec![req("zone", "In", &["a", "b"])], vec![])],
                true,
            ),
            (
                vec![term(vec![req("zone", "NotIn", &["a"])], vec![])],
                false,
            ),
            (vec![term(vec![req("gpu", "NotIn", &["x"])], vec![])], true),
            (vec![term(vec![req("zone", "Exists", &[])], vec![])], true),
            (
                vec![term(vec![req("zone", "DoesNotExist", &[])], vec![])],
                false,
            ),
            (vec![term(vec![req("cores", "Gt", &["4"])], vec![])], true),
            (vec![term(vec![req("cores", "Lt", &["4"])], vec![])], false),
            (vec![term(vec![req("zone", "Gt", &["4"])], vec![])], false),
            // ANDed within a term
            (
                vec![term(
                    vec![req("zone", "In", &["a"]), req("cores", "Lt", &["4"])],
                    vec![],
                )],
                false,
            ),
            // ORed across terms
            (
                vec![
                    term(vec![req("zone", "In", &["b"])], vec![]),
                    term(vec![req("cores", "Gt", &["7"])], vec![]),
                ],
                true,
            ),
            // invalid term skipped, the other still counts
            (
                vec![
                    term(vec![req("cores", "Gt", &["x"])], vec![]),
                    term(vec![req("zone", "In", &["a"])], vec![]),
                ],
                true,
            ),
            (vec![term(vec![req("cores", "Gt", &["x"])], vec![])], false),
            // empty term matches nothing
            (vec![term(vec![], vec![])], false),
            (
                vec![term(vec![], vec![req("metadata.name", "In", &["n1"])])],
                true,
            ),
            (
                vec![term(vec![], vec![req("metadata.name", "In", &["n2"])])],
                false,
            ),
            (
                vec![term(vec![], vec![req("metadata.name", "NotIn", &["n2"])])],
                true,
            ),
            (
                vec![term(vec![], vec![req("metadata.uid", "In", &["n1"])])],
                false,
            ),
            (
                vec![term(
                    vec![req("zone", "In", &["a"])],
                    vec![req("metadata.name", "In", &["n1"])],
                )],
                true,
            ),
        ];
        for (i, (terms, want)) in cases.into_iter().enumerate() {
            let p = pod_with(terms, &[]);
            assert_eq!(RequiredNodeAffinity::of(&p).matches(&n), want, "case {i}");
        }
    }

    #[test]
    fn prefilter_names() {
        let p = pod_with(
            vec![term(vec![], vec![req("metadata.name", "In", &["n1"])])],
            &[],
        );
        assert_eq!(
            prefilter_node_names(&p),
            Ok(Some(["n1".to_string()].into()))
        );
        let p = pod_with(
            vec![
                term(vec![], vec![req("metadata.name", "In", &["n1"])]),
                term(vec![req("zone", "In", &["a"])], vec![]),
            ],
            &[],
        );
        assert_eq!(prefilter_node_names(&p), Ok(None));
        let p = pod_with(
            vec![term(
                vec![],
                vec![
                    req("metadata.name", "In", &["n1"]),
                    req("metadata.name", "In", &["n2"]),
                ],
            )],
            &[],
        );
        assert_eq!(prefilter_node_names(&p), Err(REASON_AFFINITY_CONFLICT));
    }

    #[test]
    fn preferred_score_sums_weights() {
        let mut p = pod_with(vec![], &[]);
        if let Some(spec) = p.spec.as_mut() {
            spec.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    preferred_during_scheduling_ignored_during_execution: Some(vec![
                        PreferredSchedulingTerm {
                            weight: 5,
                            preference: term(vec![req("zone", "In", &["a"])], vec![]),
                        },
                        PreferredSchedulingTerm {
                            weight: 3,
                            preference: term(vec![req("disk", "Exists", &[])], vec![]),
                        },
                        PreferredSchedulingTerm {
                            weight: 0,
                            preference: term(vec![req("zone", "Exists", &[])], vec![]),
                        },
                    ]),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        let pref = PreferredNodeAffinity::of(&p).expect("has preferred terms");
        assert_eq!(
            pref.score(&node("a").label("zone", "a").label("disk", "").build()),
            8
        );
        assert_eq!(pref.score(&node("b").label("zone", "b").build()), 0);
        assert!(PreferredNodeAffinity::of(&pod_with(vec![], &[])).is_none());
    }
}
