//! Two per-namespace housekeeping controllers as pure plans:
//!
//! - the service account controller (`pkg/controller/serviceaccount/serviceaccounts_controller.go`):
//!   every active namespace has a `default` ServiceAccount ([`plan_namespace_service_accounts`]);
//! - the root CA publisher (`pkg/controller/certificates/rootcacertpublisher`): every
//!   namespace has a `kube-root-ca.crt` ConfigMap holding the cluster CA under `ca.crt`, with
//!   the `kubernetes.io/description` annotation ([`plan_root_ca`]).
//!
//! Both recreate their object when it is deleted and never delete anything. A namespace
//! counts as active unless it is being deleted or its phase is something other than
//! `Active` (an unset phase counts as active; the API server sets it on creation).
//!
//! What the plans assume of the runtime: informers for namespaces, ServiceAccounts and
//! ConfigMaps (only `kube-root-ca.crt` matters); a namespace is planned when it is added or
//! updated and when its `default` ServiceAccount or `kube-root-ca.crt` ConfigMap changes or
//! goes. Creates that fail with AlreadyExists, NotFound or the namespace terminating are
//! dropped, as upstream; the ConfigMap update carries the cached `resourceVersion`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The ServiceAccount every namespace gets.
pub const DEFAULT_SERVICE_ACCOUNT: &str = "default";
/// The ConfigMap with the cluster CA every namespace gets.
pub const ROOT_CA_CONFIG_MAP: &str = "kube-root-ca.crt";
/// The key of the CA bundle in [`ROOT_CA_CONFIG_MAP`].
pub const ROOT_CA_KEY: &str = "ca.crt";
/// The annotation describing [`ROOT_CA_CONFIG_MAP`].
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// Its value, as upstream words it.
pub const ROOT_CA_DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the \
    kube-apiserver when using internal endpoints such as the internal service IP or \
    kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes \
    clusters.";

fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns
            .status
            .as_ref()
            .and_then(|s| s.phase.as_deref())
            .is_none_or(|p| p.is_empty() || p == "Active")
}

/// The `default` ServiceAccount to create in `ns`, if it is active and `sas_in_ns` (its
/// ServiceAccounts; others are ignored) has none of that name.
pub fn plan_namespace_service_accounts(
    ns: &Namespace,
    sas_in_ns: &[ServiceAccount],
) -> Option<ServiceAccount> {
    if !is_active(ns) {
        return None;
    }
    let name = ns.metadata.name.clone()?;
    let exists = sas_in_ns.iter().any(|sa| {
        sa.metadata.name.as_deref() == Some(DEFAULT_SERVICE_ACCOUNT)
            && sa.metadata.namespace.as_deref() == Some(name.as_str())
    });
    if exists {
        return None;
    }
    Some(ServiceAccount {
        metadata: ObjectMeta {
            name: Some(DEFAULT_SERVICE_ACCOUNT.into()),
            namespace: Some(name),
            ..ObjectMeta::default()
        },
        ..ServiceAccount::default()
    })
}

/// The `kube-root-ca.crt` ConfigMap to write in `ns`, given the current one (`existing`) and
/// the CA bundle: a new one (none yet, namespace active); the current one with its data
/// replaced by exactly `ca.crt: ca_pem` and the description annotation set (data differs or
/// annotation empty); None when it is as it should be.
pub fn plan_root_ca(
    ns: &Namespace,
    existing: Option<&ConfigMap>,
    ca_pem: &str,
) -> Option<ConfigMap> {
    let data: BTreeMap<String, String> = [(ROOT_CA_KEY.to_string(), ca_pem.to_string())].into();
    let Some(cm) = existing else {
        if !is_active(ns) {
            return None;
        }
        return Some(ConfigMap {
            metadata: ObjectMeta {
                name: Some(ROOT_CA_CONFIG_MAP.into()),
                namespace: ns.metadata.name.clone(),
                annotations: Some(
                    [(
                        DESCRIPTION_ANNOTATION.to_string(),
                        ROOT_CA_DESCRIPTION.to_string(),
                    )]
                    .into(),
                ),
                ..ObjectMeta::default()
            },
            data: Some(data),
            ..ConfigMap::default()
        });
    };
    let described = cm
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
        .is_some_and(|d| !d.is_empty());
    if cm.data.as_ref() == Some(&data) && described {
        return None;
    }
    let mut cm = cm.clone();
    cm.data = Some(data);
    cm.metadata
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(DESCRIPTION_ANNOTATION.into(), ROOT_CA_DESCRIPTION.into());
    Some(cm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::NamespaceStatus;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn ns(name: &str, phase: Option<&str>) -> Namespace {
        Namespace {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(NamespaceStatus {
                phase: phase.map(Into::into),
                ..NamespaceStatus::default()
            }),
        }
    }

    #[test]
    fn default_service_account() {
        let n = ns("team", Some("Active"));
        let sa = plan_namespace_service_accounts(&n, &[]).expect("create");
        assert_eq!(sa.metadata.name.as_deref(), Some("default"));
        assert_eq!(sa.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(
            plan_namespace_service_accounts(&n, std::slice::from_ref(&sa)),
            None
        );
        // Another namespace's default does not count; other names do not either.
        let mut other = sa.clone();
        other.metadata.namespace = Some("x".into());
        let mut builder = sa.clone();
        builder.metadata.name = Some("builder".into());
        assert!(plan_namespace_service_accounts(&n, &[other, builder]).is_some());
        assert!(plan_namespace_service_accounts(&ns("team", None), &[]).is_some());
        assert_eq!(
            plan_namespace_service_accounts(&ns("t", Some("Terminating")), &[]),
            None
        );
        let mut deleting = ns("t", Some("Active"));
        deleting.metadata.deletion_timestamp = Some(Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH));
        assert_eq!(plan_namespace_service_accounts(&deleting, &[]), None);
    }

    #[test]
    fn root_ca_config_map() {
        let n = ns("team", Some("Active"));
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let cm = plan_root_ca(&n, None, pem).expect("create");
        assert_eq!(cm.metadata.name.as_deref(), Some(ROOT_CA_CONFIG_MAP));
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team"));
        assert_eq!(cm.data.as_ref().unwrap()[ROOT_CA_KEY], pem);
        assert_eq!(
            cm.metadata.annotations.as_ref().unwrap()[DESCRIPTION_ANNOTATION],
            ROOT_CA_DESCRIPTION
        );
        assert_eq!(
            ROOT_CA_DESCRIPTION,
            "Contains a CA bundle that can be used to verify the kube-apiserver when using \
             internal endpoints such as the internal service IP or kubernetes.default.svc. No \
             other usage is guaranteed across distributions of Kubernetes clusters."
        );
        assert!(!ROOT_CA_DESCRIPTION.contains("  "));
        assert_eq!(plan_root_ca(&n, Some(&cm), pem), None);

        // Rotated CA, extra keys, missing annotation: rewritten, other metadata kept.
        let mut stale = cm.clone();
        stale.metadata.resource_version = Some("9".into());
        stale.metadata.annotations = Some([("x".to_string(), "y".to_string())].into());
        stale
            .data
            .as_mut()
            .unwrap()
            .insert("extra".into(), "1".into());
        let fixed = plan_root_ca(&n, Some(&stale), "NEW").expect("update");
        assert_eq!(fixed.metadata.resource_version.as_deref(), Some("9"));
        assert_eq!(
            fixed.data,
            Some([(ROOT_CA_KEY.to_string(), "NEW".to_string())].into())
        );
        let a = fixed.metadata.annotations.unwrap();
        assert_eq!(a["x"], "y");
        assert_eq!(a[DESCRIPTION_ANNOTATION], ROOT_CA_DESCRIPTION);
        // Not created in a terminating namespace.
        assert_eq!(plan_root_ca(&ns("t", Some("Terminating")), None, pem), None);
    }
}
