//! The set of resources served right now: the built-in table plus the custom resources of
//! established CRDs, with the lookups routing and discovery need.

use std::sync::Arc;

use crate::resources::{Resource, builtin};

/// Served resources, in discovery order (preferred version of each group first).
#[derive(Debug, Clone)]
pub struct Registry {
    resources: Vec<Arc<Resource>>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            resources: builtin().into_iter().map(Arc::new).collect(),
        }
    }
}

impl Registry {
    /// The built-ins plus `custom`.
    pub fn with_custom(custom: Vec<Resource>) -> Self {
        let mut r = Registry::default();
        r.resources.extend(custom.into_iter().map(Arc::new));
        r
    }

    /// Every resource.
    pub fn all(&self) -> &[Arc<Resource>] {
        &self.resources
    }

    /// The resource at `group/version/plural`.
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<Arc<Resource>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
            .cloned()
    }

    /// The preferred resource of a kind in a group.
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<Arc<Resource>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.kind == kind)
            .cloned()
    }

    /// Whether `group/version` is served at all.
    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.group == group && r.version == version)
    }

    /// Groups in order, each with its versions in preference order.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            match out.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, vs)) => {
                    if !vs.contains(&r.version) {
                        vs.push(r.version.clone());
                    }
                }
                None => out.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        out
    }

    /// Resources of one group-version.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<Arc<Resource>> {
        self.resources
            .iter()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }

    /// Distinct storage prefixes (one watch cache each).
    pub fn storage_prefixes(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .resources
            .iter()
            .filter(|r| !r.virtual_only)
            .map(|r| format!("{}/", r.storage))
            .collect();
        v.sort();
        v.dedup();
        v
    }
}
