//! The table of built-in resources the API server serves, and the lookups over it.
//!
//! One [`Resource`] per (group, version, resource): its kind, scope, names, verbs,
//! subresources, selectable fields and storage prefix. Discovery, OpenAPI, routing, Table
//! printing and storage keys are all driven from this table; custom resources defined by
//! CRDs are turned into the same struct at run time (see `crd`).

/// How a subresource of a resource is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subresource {
    /// Name, e.g. `status`, `scale`, `log`.
    pub name: String,
    /// Group of the object the subresource takes and returns (differs for `scale`, `eviction`).
    pub group: String,
    /// Version of that object.
    pub version: String,
    /// Kind of that object.
    pub kind: String,
    /// Verbs.
    pub verbs: Vec<String>,
}

/// One resource in one group-version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// API group; empty for core.
    pub group: String,
    /// Version.
    pub version: String,
    /// Plural name used in URLs.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind.
    pub kind: String,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
    /// Short names (`po`, `deploy`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
    /// Subresources.
    pub subresources: Vec<Subresource>,
    /// Field selector labels beyond `metadata.name` and `metadata.namespace`.
    pub fields: Vec<String>,
    /// Storage key prefix (without trailing slash), e.g. `/registry/pods`.
    pub storage: String,
    /// True when the object has a `status` that the main endpoint must not change.
    pub has_status: bool,
    /// True for objects that are created and answered but never stored (reviews).
    pub virtual_only: bool,
    /// Path of the replica count for `/scale`, when there is one.
    pub scale_path: Option<(String, String)>,
    /// Whether this resource comes from a CRD.
    pub custom: bool,
    /// A CRD's `additionalPrinterColumns`, when it has them.
    pub printer_columns: Option<serde_json::Value>,
    /// A CRD version's `openAPIV3Schema`, for pruning.
    pub schema: Option<serde_json::Value>,
}

impl Resource {
    /// `group/version`, or `version` for core.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `Kind.group` as used in Invalid messages (`Deployment.apps`, `Pod`).
    pub fn qualified_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The subresource by name.
    pub fn subresource(&self, name: &str) -> Option<&Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }

    /// Whether a field selector label is allowed.
    pub fn field_allowed(&self, f: &str) -> bool {
        f == "metadata.name"
            || (self.namespaced && f == "metadata.namespace")
            || self.fields.iter().any(|x| x == f)
    }

    /// All allowed field selector labels.
    pub fn allowed_fields(&self) -> Vec<&str> {
        let mut v = vec!["metadata.name"];
        if self.namespaced {
            v.push("metadata.namespace");
        }
        v.extend(self.fields.iter().map(String::as_str));
        v
    }

    /// The storage key of an object; `ns` is ignored for cluster-scoped resources.
    pub fn key(&self, ns: &str, name: &str) -> String {
        if self.namespaced {
            format!("{}/{}/{}", self.storage, ns, name)
        } else {
            format!("{}/{}", self.storage, name)
        }
    }

    /// The key prefix of a collection: all namespaces when `ns` is `None`.
    pub fn prefix(&self, ns: Option<&str>) -> String {
        match ns {
            Some(ns) if self.namespaced => format!("{}/{}/", self.storage, ns),
            _ => format!("{}/", self.storage),
        }
    }
}

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

struct Def {
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    subs: &'static [&'static str],
    fields: &'static [&'static str],
    storage: &'static str,
}

const fn d(
    group: &'static str,
    versions: &'static [&'static str],
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
) -> Def {
    Def {
        group,
        versions,
        plural,
        kind,
        namespaced,
        short,
        all: false,
        subs: &[],
        fields: &[],
        storage: "",
    }
}

impl Def {
    const fn all(mut self) -> Self {
        self.all = true;
        self
    }
    const fn subs(mut self, s: &'static [&'static str]) -> Self {
        self.subs = s;
        self
    }
    const fn fields(mut self, f: &'static [&'static str]) -> Self {
        self.fields = f;
        self
    }
    const fn storage(mut self, s: &'static str) -> Self {
        self.storage = s;
        self
    }
}

const EVENT_FIELDS: &[&str] = &[
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
];

/// The built-in resources, in discovery order. The first version listed is preferred.
const DEFS: &[Def] = &[
    // core/v1
    d("", &["v1"], "namespaces", "Namespace", false, &["ns"])
        .subs(&["status", "finalize"])
        .fields(&["status.phase"]),
    d("", &["v1"], "pods", "Pod", true, &["po"])
        .all()
        .subs(&[
            "status",
            "binding",
            "eviction",
            "log",
            "exec",
            "attach",
            "portforward",
            "ephemeralcontainers",
            "proxy",
        ])
        .fields(&[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ]),
    d("", &["v1"], "nodes", "Node", false, &["no"])
        .subs(&["status", "proxy"])
        .fields(&["spec.unschedulable"])
        .storage("/registry/minions"),
    d("", &["v1"], "services", "Service", true, &["svc"])
        .all()
        .subs(&["status", "proxy"])
        .storage("/registry/services/specs"),
    d("", &["v1"], "endpoints", "Endpoints", true, &["ep"]).storage("/registry/services/endpoints"),
    d("", &["v1"], "configmaps", "ConfigMap", true, &["cm"]),
    d("", &["v1"], "secrets", "Secret", true, &[]).fields(&["type"]),
    d(
        "",
        &["v1"],
        "serviceaccounts",
        "ServiceAccount",
        true,
        &["sa"],
    )
    .subs(&["token"]),
    d("", &["v1"], "events", "Event", true, &["ev"]).fields(EVENT_FIELDS),
    d(
        "",
        &["v1"],
        "replicationcontrollers",
        "ReplicationController",
        true,
        &["rc"],
    )
    .all()
    .subs(&["scale", "status"])
    .fields(&["status.replicas"])
    .storage("/registry/controllers"),
    d(
        "",
        &["v1"],
        "persistentvolumes",
        "PersistentVolume",
        false,
        &["pv"],
    )
    .subs(&["status"]),
    d(
        "",
        &["v1"],
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        true,
        &["pvc"],
    )
    .subs(&["status"]),
    d("", &["v1"], "limitranges", "LimitRange", true, &["limits"]),
    d(
        "",
        &["v1"],
        "resourcequotas",
        "ResourceQuota",
        true,
        &["quota"],
    )
    .subs(&["status"]),
    d("", &["v1"], "podtemplates", "PodTemplate", true, &[]),
    // apps/v1
    d(
        "apps",
        &["v1"],
        "deployments",
        "Deployment",
        true,
        &["deploy"],
    )
    .all()
    .subs(&["scale", "status"]),
    d("apps", &["v1"], "replicasets", "ReplicaSet", true, &["rs"])
        .all()
        .subs(&["scale", "status"]),
    d(
        "apps",
        &["v1"],
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
    )
    .all()
    .subs(&["scale", "status"]),
    d("apps", &["v1"], "daemonsets", "DaemonSet", true, &["ds"])
        .all()
        .subs(&["status"]),
    d(
        "apps",
        &["v1"],
        "controllerrevisions",
        "ControllerRevision",
        true,
        &[],
    ),
    // batch/v1
    d("batch", &["v1"], "jobs", "Job", true, &[])
        .all()
        .subs(&["status"])
        .fields(&["status.successful"]),
    d("batch", &["v1"], "cronjobs", "CronJob", true, &["cj"])
        .all()
        .subs(&["status"]),
    // autoscaling
    d(
        "autoscaling",
        &["v2", "v1"],
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
    )
    .all()
    .subs(&["status"]),
    // coordination, discovery, events
    d("coordination.k8s.io", &["v1"], "leases", "Lease", true, &[]),
    d(
        "discovery.k8s.io",
        &["v1"],
        "endpointslices",
        "EndpointSlice",
        true,
        &[],
    ),
    d("events.k8s.io", &["v1"], "events", "Event", true, &["ev"]).fields(EVENT_FIELDS),
    // networking
    d(
        "networking.k8s.io",
        &["v1"],
        "ingresses",
        "Ingress",
        true,
        &["ing"],
    )
    .subs(&["status"])
    .storage("/registry/ingress"),
    d(
        "networking.k8s.io",
        &["v1"],
        "ingressclasses",
        "IngressClass",
        false,
        &[],
    ),
    d(
        "networking.k8s.io",
        &["v1"],
        "networkpolicies",
        "NetworkPolicy",
        true,
        &["netpol"],
    ),
    // policy
    d(
        "policy",
        &["v1"],
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
    )
    .subs(&["status"]),
    // rbac
    d(
        "rbac.authorization.k8s.io",
        &["v1"],
        "roles",
        "Role",
        true,
        &[],
    ),
    d(
        "rbac.authorization.k8s.io",
        &["v1"],
        "rolebindings",
        "RoleBinding",
        true,
        &[],
    ),
    d(
        "rbac.authorization.k8s.io",
        &["v1"],
        "clusterroles",
        "ClusterRole",
        false,
        &[],
    ),
    d(
        "rbac.authorization.k8s.io",
        &["v1"],
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
        &[],
    ),
    // apiextensions
    d(
        "apiextensions.k8s.io",
        &["v1"],
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
        &["crd", "crds"],
    )
    .subs(&["status"])
    .storage("/registry/apiextensions.k8s.io/customresourcedefinitions"),
    // authorization / authentication (create-only reviews)
    d(
        "authorization.k8s.io",
        &["v1"],
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        false,
        &[],
    ),
    d(
        "authorization.k8s.io",
        &["v1"],
        "selfsubjectrulesreviews",
        "SelfSubjectRulesReview",
        false,
        &[],
    ),
    d(
        "authentication.k8s.io",
        &["v1"],
        "selfsubjectreviews",
        "SelfSubjectReview",
        false,
        &[],
    ),
];

fn singular_of(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

fn sub(owner_group: &str, version: &str, owner_kind: &str, name: &str) -> Subresource {
    let (group, version, kind, verbs): (&str, &str, &str, &[&str]) = match name {
        "status" => (
            owner_group,
            version,
            owner_kind,
            &["get", "patch", "update"],
        ),
        "scale" => ("autoscaling", "v1", "Scale", &["get", "patch", "update"]),
        "binding" => ("", "v1", "Binding", &["create"]),
        "eviction" => ("policy", "v1", "Eviction", &["create"]),
        "token" => ("authentication.k8s.io", "v1", "TokenRequest", &["create"]),
        "log" => (owner_group, version, owner_kind, &["get"]),
        "exec" | "attach" | "portforward" => ("", "v1", "PodExecOptions", &["create", "get"]),
        "proxy" => (
            "",
            "v1",
            "PodProxyOptions",
            &["create", "delete", "get", "patch", "update"],
        ),
        "finalize" => (owner_group, version, owner_kind, &["update"]),
        "ephemeralcontainers" => (
            owner_group,
            version,
            owner_kind,
            &["get", "patch", "update"],
        ),
        _ => (owner_group, version, owner_kind, &["get"]),
    };
    let kind = match (name, owner_kind) {
        ("exec", _) => "PodExecOptions",
        ("attach", _) => "PodAttachOptions",
        ("portforward", _) => "PodPortForwardOptions",
        ("proxy", "Node") => "NodeProxyOptions",
        ("proxy", "Service") => "ServiceProxyOptions",
        _ => kind,
    };
    Subresource {
        name: name.to_string(),
        group: group.to_string(),
        version: version.to_string(),
        kind: kind.to_string(),
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
    }
}

/// Every built-in resource in every served version, preferred versions first.
pub fn builtin() -> Vec<Resource> {
    let mut out = Vec::new();
    for def in DEFS {
        for version in def.versions {
            let review = def.plural.starts_with("selfsubject");
            let verbs: Vec<String> = if review {
                vec!["create".to_string()]
            } else {
                RW.iter().map(|s| s.to_string()).collect()
            };
            let storage = if !def.storage.is_empty() {
                def.storage.to_string()
            } else if def.group.is_empty()
                || def.group == "apps"
                || def.group == "batch"
                || def.group == "autoscaling"
            {
                format!("/registry/{}", def.plural)
            } else if def.group == "events.k8s.io" {
                "/registry/events".to_string()
            } else {
                format!("/registry/{}", def.plural)
            };
            let scale_path = def
                .subs
                .contains(&"scale")
                .then(|| ("spec.replicas".to_string(), "status.replicas".to_string()));
            out.push(Resource {
                group: def.group.to_string(),
                version: version.to_string(),
                plural: def.plural.to_string(),
                singular: singular_of(def.kind),
                kind: def.kind.to_string(),
                namespaced: def.namespaced,
                short_names: def.short.iter().map(|s| s.to_string()).collect(),
                categories: if def.all {
                    vec!["all".to_string()]
                } else {
                    vec![]
                },
                verbs,
                subresources: def
                    .subs
                    .iter()
                    .map(|s| sub(def.group, version, def.kind, s))
                    .collect(),
                fields: def.fields.iter().map(|s| s.to_string()).collect(),
                storage,
                has_status: def.subs.contains(&"status"),
                virtual_only: review,
                scale_path,
                custom: false,
                printer_columns: None,
                schema: None,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_kube_apiserver_layout() {
        let all = builtin();
        let find = |g: &str, p: &str| all.iter().find(|r| r.group == g && r.plural == p).cloned();
        let pods = find("", "pods").unwrap_or_else(|| panic!("pods"));
        assert_eq!(pods.key("default", "web"), "/registry/pods/default/web");
        assert_eq!(pods.prefix(None), "/registry/pods/");
        let nodes = find("", "nodes").unwrap_or_else(|| panic!("nodes"));
        assert_eq!(nodes.key("ignored", "n1"), "/registry/minions/n1");
        let svc = find("", "services").unwrap_or_else(|| panic!("svc"));
        assert_eq!(
            svc.key("default", "s"),
            "/registry/services/specs/default/s"
        );
        let hpa: Vec<_> = all
            .iter()
            .filter(|r| r.plural == "horizontalpodautoscalers")
            .collect();
        assert_eq!(
            hpa[0].version, "v2",
            "v2 is preferred, so `get all` lists it"
        );
        assert!(pods.field_allowed("spec.nodeName"));
        assert!(!pods.field_allowed("spec.foo"));
        let dep = find("apps", "deployments").unwrap_or_else(|| panic!("deploy"));
        assert_eq!(
            dep.subresource("scale").map(|s| s.kind.as_str()),
            Some("Scale")
        );
        assert_eq!(dep.qualified_kind(), "Deployment.apps");
    }
}
