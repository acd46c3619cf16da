//! The OpenAPI documents the API server publishes: `/openapi/v3`, `/openapi/v3/{api/v1,apis/g/v}`
//! and `/openapi/v2` (JSON, and gnostic protobuf for kubectl up to 1.28).
//!
//! kubectl needs them for more than `explain`: with the default `--validate=strict`, `apply -f`,
//! `create -f`, `replace` and `edit` look in the group-version's v3 document for a PATCH operation
//! whose `x-kubernetes-group-version-kind` names the object's kind and whose parameters include
//! `fieldValidation`; only then do they hand validation to the server
//! (cli-runtime `query_param_verifier_v3.go`; kubectl 1.27/1.28 do the same on the v2 protobuf).
//! Client-side `apply` computes its strategic merge patch from the `x-kubernetes-patch-merge-key` /
//! `x-kubernetes-patch-strategy` extensions of the same document, once it finds
//! `application/strategic-merge-patch+json` in that PATCH operation's request body (kubectl
//! `apply/patcher.go`). Custom resources list no strategic merge patch, so kubectl sends them a
//! JSON merge patch, as with kube-apiserver.
//!
//! Where to start: [`OpenApi::new`] builds every document once from the resource table
//! ([`crate::resources`]); serving is a lookup of shared bytes ([`OpenApi::v3_document`]). Custom
//! resources are in the same table, with their CRD's schema. The built-in part is built once per
//! process and shared, so the server can rebuild whenever a CRD changes: that costs only the
//! custom group-versions (the v2 document is built on first request).
//!
//! Serving notes: the `?hash=` of an index URL is opaque to kubectl (a cache key); an answer to a
//! URL whose hash matches may be cached for long (`Cache-Control: public, immutable`). `/openapi/v2`
//! in protobuf must be answered with [`V2_PROTOBUF_CONTENT_TYPE`].
//!
//! Schemas come from the `k8s-openapi` crate (its `schemars` impls carry upstream names and
//! descriptions). That crate drops the list and patch extensions, so they are put back from
//! `EXTENSIONS`, a table taken from the `+listType`, `+listMapKey`, `+mapType`, `+structType`
//! markers and `patchStrategy` / `patchMergeKey` struct tags of the Kubernetes 1.33 API types.
//!
//! **Invariant:** every PATCH operation of a kind carries the same parameters and request body,
//! because kubectl stops at the first PATCH operation (in map order) whose kind matches.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use k8s_openapi::Resource as K8sResource;
use k8s_openapi::api::{
    admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates,
    coordination, core, discovery, events, networking, node, policy, rbac, scheduling, storage,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta;
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use k8s_openapi::schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::resources::{Resource, Subresource};

/// The `Content-Type` of [`OpenApi::v2_protobuf`] responses. Clients ask for it with this media
/// type or the older `application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (kubectl sends
/// the latter); the `@` form does not parse as a Go media type, so the answer must use this one.
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// Where `$ref`s point in a v3 document.
const V3_REF: &str = "#/components/schemas/";
/// Where `$ref`s point in the v2 (swagger 2.0) document.
const V2_REF: &str = "#/definitions/";

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

/// The four PATCH content types a built-in resource accepts.
const BUILTIN_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
];
/// Custom resources take no strategic merge patch; kubectl then falls back to a JSON merge patch.
const CUSTOM_PATCH_TYPES: &[&str] = &[
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];
const BUILTIN_MEDIA: &[&str] = &[
    "application/json",
    "application/yaml",
    "application/vnd.kubernetes.protobuf",
];
const CUSTOM_MEDIA: &[&str] = &["application/json", "application/yaml"];

type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

fn sf<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

/// A kind's group, version and name, and a `$ref` to its schema.
type KindFn = fn(&mut SchemaGenerator) -> (&'static str, &'static str, &'static str, Schema);

fn kind_of<T: JsonSchema + K8sResource>(
    generator: &mut SchemaGenerator,
) -> (&'static str, &'static str, &'static str, Schema) {
    (
        T::GROUP,
        T::VERSION,
        T::KIND,
        generator.subschema_for::<T>(),
    )
}

/// The kinds whose schemas `k8s-openapi` provides. A resource of a kind not listed here still
/// gets its paths, with a schema that accepts any object.
const KINDS: &[KindFn] = &[
    kind_of::<core::v1::Binding>,
    kind_of::<core::v1::ComponentStatus>,
    kind_of::<core::v1::ConfigMap>,
    kind_of::<core::v1::Endpoints>,
    kind_of::<core::v1::Event>,
    kind_of::<core::v1::LimitRange>,
    kind_of::<core::v1::Namespace>,
    kind_of::<core::v1::Node>,
    kind_of::<core::v1::PersistentVolume>,
    kind_of::<core::v1::PersistentVolumeClaim>,
    kind_of::<core::v1::Pod>,
    kind_of::<core::v1::PodTemplate>,
    kind_of::<core::v1::ReplicationController>,
    kind_of::<core::v1::ResourceQuota>,
    kind_of::<core::v1::Secret>,
    kind_of::<core::v1::Service>,
    kind_of::<core::v1::ServiceAccount>,
    kind_of::<admissionregistration::v1::MutatingWebhookConfiguration>,
    kind_of::<admissionregistration::v1::ValidatingAdmissionPolicy>,
    kind_of::<admissionregistration::v1::ValidatingAdmissionPolicyBinding>,
    kind_of::<admissionregistration::v1::ValidatingWebhookConfiguration>,
    kind_of::<apiextensions::v1::CustomResourceDefinition>,
    kind_of::<apps::v1::ControllerRevision>,
    kind_of::<apps::v1::DaemonSet>,
    kind_of::<apps::v1::Deployment>,
    kind_of::<apps::v1::ReplicaSet>,
    kind_of::<apps::v1::StatefulSet>,
    kind_of::<authentication::v1::SelfSubjectReview>,
    kind_of::<authentication::v1::TokenRequest>,
    kind_of::<authentication::v1::TokenReview>,
    kind_of::<authorization::v1::LocalSubjectAccessReview>,
    kind_of::<authorization::v1::SelfSubjectAccessReview>,
    kind_of::<authorization::v1::SelfSubjectRulesReview>,
    kind_of::<authorization::v1::SubjectAccessReview>,
    kind_of::<autoscaling::v1::HorizontalPodAutoscaler>,
    kind_of::<autoscaling::v1::Scale>,
    kind_of::<autoscaling::v2::HorizontalPodAutoscaler>,
    kind_of::<batch::v1::CronJob>,
    kind_of::<batch::v1::Job>,
    kind_of::<certificates::v1::CertificateSigningRequest>,
    kind_of::<coordination::v1::Lease>,
    kind_of::<discovery::v1::EndpointSlice>,
    kind_of::<events::v1::Event>,
    kind_of::<networking::v1::Ingress>,
    kind_of::<networking::v1::IngressClass>,
    kind_of::<networking::v1::NetworkPolicy>,
    kind_of::<node::v1::RuntimeClass>,
    kind_of::<policy::v1::Eviction>,
    kind_of::<policy::v1::PodDisruptionBudget>,
    kind_of::<rbac::v1::ClusterRole>,
    kind_of::<rbac::v1::ClusterRoleBinding>,
    kind_of::<rbac::v1::Role>,
    kind_of::<rbac::v1::RoleBinding>,
    kind_of::<scheduling::v1::PriorityClass>,
    kind_of::<storage::v1::CSIDriver>,
    kind_of::<storage::v1::CSINode>,
    kind_of::<storage::v1::StorageClass>,
    kind_of::<storage::v1::VolumeAttachment>,
];

/// Schemas every document may need whatever it serves.
const META: &[SchemaFn] = &[
    sf::<meta::v1::ObjectMeta>,
    sf::<meta::v1::ListMeta>,
    sf::<meta::v1::DeleteOptions>,
    sf::<meta::v1::Status>,
    sf::<meta::v1::Patch>,
];

/// List and patch extensions of the upstream API types, which `k8s-openapi` leaves out.
///
/// One line per property: `<schema> <property> key=value...`, or `<schema> . map=...` for the
/// schema itself. A schema name without the `io.` prefix is under `io.k8s.api.`. Keys:
/// `patch` → `x-kubernetes-patch-strategy`, `key` → `x-kubernetes-patch-merge-key`,
/// `list` → `x-kubernetes-list-type`, `keys` → `x-kubernetes-list-map-keys` (comma-separated),
/// `map` → `x-kubernetes-map-type`. Generated from the Go sources of `k8s.io/api`,
/// `k8s.io/apimachinery` and `k8s.io/apiextensions-apiserver` at v0.33.
const EXTENSIONS: &str = "\
core.v1.PersistentVolumeSpec accessModes list=atomic
core.v1.PersistentVolumeSpec claimRef map=granular
core.v1.PersistentVolumeSpec mountOptions list=atomic
core.v1.PersistentVolumeClaimSpec accessModes list=atomic
core.v1.PersistentVolumeClaimStatus accessModes list=atomic
core.v1.PersistentVolumeClaimStatus conditions patch=merge key=type list=map keys=type
core.v1.PersistentVolumeClaimStatus allocatedResourceStatuses map=granular
core.v1.RBDVolumeSource monitors list=atomic
core.v1.RBDPersistentVolumeSource monitors list=atomic
core.v1.CephFSVolumeSource monitors list=atomic
core.v1.SecretReference . map=atomic
core.v1.CephFSPersistentVolumeSource monitors list=atomic
core.v1.SecretVolumeSource items list=atomic
core.v1.SecretProjection items list=atomic
core.v1.ISCSIVolumeSource portals list=atomic
core.v1.ISCSIPersistentVolumeSource portals list=atomic
core.v1.FCVolumeSource targetWWNs list=atomic
core.v1.FCVolumeSource wwids list=atomic
core.v1.ConfigMapVolumeSource items list=atomic
core.v1.ConfigMapProjection items list=atomic
core.v1.ProjectedVolumeSource sources list=atomic
core.v1.ObjectFieldSelector . map=atomic
core.v1.ResourceFieldSelector . map=atomic
core.v1.ConfigMapKeySelector . map=atomic
core.v1.SecretKeySelector . map=atomic
core.v1.HTTPGetAction httpHeaders list=atomic
core.v1.ExecAction command list=atomic
core.v1.Capabilities add list=atomic
core.v1.Capabilities drop list=atomic
core.v1.ResourceRequirements claims list=map keys=name
core.v1.Container command list=atomic
core.v1.Container args list=atomic
core.v1.Container ports patch=merge key=containerPort list=map keys=containerPort,protocol
core.v1.Container envFrom list=atomic
core.v1.Container env patch=merge key=name list=map keys=name
core.v1.Container resizePolicy list=atomic
core.v1.Container volumeMounts patch=merge key=mountPath list=map keys=mountPath
core.v1.Container volumeDevices patch=merge key=devicePath list=map keys=devicePath
core.v1.ContainerStatus volumeMounts patch=merge key=mountPath list=map keys=mountPath
core.v1.ContainerStatus allocatedResourcesStatus patch=merge key=name list=map keys=name
core.v1.ResourceStatus resources list=map keys=resourceID
core.v1.LinuxContainerUser supplementalGroups list=atomic
core.v1.NodeSelector . map=atomic
core.v1.NodeSelector nodeSelectorTerms list=atomic
core.v1.NodeSelectorTerm . map=atomic
core.v1.NodeSelectorTerm matchExpressions list=atomic
core.v1.NodeSelectorTerm matchFields list=atomic
core.v1.NodeSelectorRequirement values list=atomic
core.v1.TopologySelectorTerm . map=atomic
core.v1.TopologySelectorTerm matchLabelExpressions list=atomic
core.v1.TopologySelectorLabelRequirement values list=atomic
core.v1.PodAffinity requiredDuringSchedulingIgnoredDuringExecution list=atomic
core.v1.PodAffinity preferredDuringSchedulingIgnoredDuringExecution list=atomic
core.v1.PodAntiAffinity requiredDuringSchedulingIgnoredDuringExecution list=atomic
core.v1.PodAntiAffinity preferredDuringSchedulingIgnoredDuringExecution list=atomic
core.v1.PodAffinityTerm namespaces list=atomic
core.v1.PodAffinityTerm matchLabelKeys list=atomic
core.v1.PodAffinityTerm mismatchLabelKeys list=atomic
core.v1.NodeAffinity preferredDuringSchedulingIgnoredDuringExecution list=atomic
core.v1.PodSpec volumes patch=merge,retainKeys key=name list=map keys=name
core.v1.PodSpec initContainers patch=merge key=name list=map keys=name
core.v1.PodSpec containers patch=merge key=name list=map keys=name
core.v1.PodSpec ephemeralContainers patch=merge key=name list=map keys=name
core.v1.PodSpec nodeSelector map=atomic
core.v1.PodSpec imagePullSecrets patch=merge key=name list=map keys=name
core.v1.PodSpec tolerations list=atomic
core.v1.PodSpec hostAliases patch=merge key=ip list=map keys=ip
core.v1.PodSpec readinessGates list=atomic
core.v1.PodSpec topologySpreadConstraints patch=merge key=topologyKey list=map keys=topologyKey,whenUnsatisfiable
core.v1.PodSpec schedulingGates patch=merge key=name list=map keys=name
core.v1.PodSpec resourceClaims patch=merge,retainKeys key=name list=map keys=name
core.v1.TopologySpreadConstraint matchLabelKeys list=atomic
core.v1.HostAlias hostnames list=atomic
core.v1.PodSecurityContext supplementalGroups list=atomic
core.v1.PodSecurityContext sysctls list=atomic
core.v1.PodDNSConfig nameservers list=atomic
core.v1.PodDNSConfig searches list=atomic
core.v1.PodDNSConfig options list=atomic
core.v1.PodStatus conditions patch=merge key=type list=map keys=type
core.v1.PodStatus hostIPs patch=merge key=ip list=atomic
core.v1.PodStatus podIPs patch=merge key=ip list=map keys=ip
core.v1.PodStatus initContainerStatuses list=atomic
core.v1.PodStatus containerStatuses list=atomic
core.v1.PodStatus ephemeralContainerStatuses list=atomic
core.v1.PodStatus resourceClaimStatuses patch=merge,retainKeys key=name list=map keys=name
core.v1.ReplicationControllerSpec selector map=atomic
core.v1.ReplicationControllerStatus conditions patch=merge key=type list=map keys=type
core.v1.ServiceStatus conditions patch=merge key=type list=map keys=type
core.v1.LoadBalancerStatus ingress list=atomic
core.v1.LoadBalancerIngress ports list=atomic
core.v1.ServiceSpec ports patch=merge key=port list=map keys=port,protocol
core.v1.ServiceSpec selector map=atomic
core.v1.ServiceSpec clusterIPs list=atomic
core.v1.ServiceSpec externalIPs list=atomic
core.v1.ServiceSpec loadBalancerSourceRanges list=atomic
core.v1.ServiceSpec ipFamilies list=atomic
core.v1.ServiceAccount secrets patch=merge key=name list=map keys=name
core.v1.ServiceAccount imagePullSecrets list=atomic
core.v1.Endpoints subsets list=atomic
core.v1.EndpointSubset addresses list=atomic
core.v1.EndpointSubset notReadyAddresses list=atomic
core.v1.EndpointSubset ports list=atomic
core.v1.EndpointAddress . map=atomic
core.v1.EndpointPort . map=atomic
core.v1.NodeSpec podCIDRs patch=merge list=set
core.v1.NodeSpec taints list=atomic
core.v1.NodeStatus conditions patch=merge key=type list=map keys=type
core.v1.NodeStatus addresses patch=merge key=type list=map keys=type
core.v1.NodeStatus images list=atomic
core.v1.NodeStatus volumesInUse list=atomic
core.v1.NodeStatus volumesAttached list=atomic
core.v1.NodeStatus runtimeHandlers list=atomic
core.v1.ContainerImage names list=atomic
core.v1.NamespaceSpec finalizers list=atomic
core.v1.NamespaceStatus conditions patch=merge key=type list=map keys=type
core.v1.ObjectReference . map=atomic
core.v1.LocalObjectReference . map=atomic
core.v1.TypedLocalObjectReference . map=atomic
core.v1.LimitRangeSpec limits list=atomic
core.v1.ResourceQuotaSpec scopes list=atomic
core.v1.ScopeSelector . map=atomic
core.v1.ScopeSelector matchExpressions list=atomic
core.v1.ScopedResourceSelectorRequirement values list=atomic
core.v1.ComponentStatus conditions patch=merge key=type list=map keys=type
core.v1.DownwardAPIVolumeSource items list=atomic
core.v1.DownwardAPIProjection items list=atomic
apps.v1.StatefulSetSpec volumeClaimTemplates list=atomic
apps.v1.StatefulSetStatus conditions patch=merge key=type list=map keys=type
apps.v1.DeploymentSpec strategy patch=retainKeys
apps.v1.DeploymentStatus conditions patch=merge key=type list=map keys=type
apps.v1.DaemonSetStatus conditions patch=merge key=type list=map keys=type
apps.v1.ReplicaSetStatus conditions patch=merge key=type list=map keys=type
batch.v1.PodFailurePolicyOnExitCodesRequirement values list=set
batch.v1.PodFailurePolicyRule onPodConditions list=atomic
batch.v1.PodFailurePolicy rules list=atomic
batch.v1.SuccessPolicy rules list=atomic
batch.v1.JobStatus conditions patch=merge key=type list=atomic
batch.v1.UncountedTerminatedPods succeeded list=set
batch.v1.UncountedTerminatedPods failed list=set
batch.v1.CronJobStatus active list=atomic
autoscaling.v1.CrossVersionObjectReference . map=atomic
autoscaling.v2.HorizontalPodAutoscalerSpec metrics list=atomic
autoscaling.v2.HPAScalingRules policies list=atomic
autoscaling.v2.HorizontalPodAutoscalerStatus currentMetrics list=atomic
autoscaling.v2.HorizontalPodAutoscalerStatus conditions patch=merge key=type list=map keys=type
discovery.v1.EndpointSlice endpoints list=atomic
discovery.v1.EndpointSlice ports list=atomic
discovery.v1.Endpoint addresses list=set
discovery.v1.EndpointHints forZones list=atomic
discovery.v1.EndpointHints forNodes list=atomic
discovery.v1.EndpointPort . map=atomic
networking.v1.NetworkPolicySpec ingress list=atomic
networking.v1.NetworkPolicySpec egress list=atomic
networking.v1.NetworkPolicySpec policyTypes list=atomic
networking.v1.NetworkPolicyIngressRule ports list=atomic
networking.v1.NetworkPolicyIngressRule from list=atomic
networking.v1.NetworkPolicyEgressRule ports list=atomic
networking.v1.NetworkPolicyEgressRule to list=atomic
networking.v1.IPBlock except list=atomic
networking.v1.IngressSpec tls list=atomic
networking.v1.IngressSpec rules list=atomic
networking.v1.IngressTLS hosts list=atomic
networking.v1.IngressLoadBalancerStatus ingress list=atomic
networking.v1.IngressLoadBalancerIngress ports list=atomic
networking.v1.HTTPIngressRuleValue paths list=atomic
networking.v1.ServiceBackendPort . map=atomic
policy.v1.PodDisruptionBudgetSpec selector patch=replace
policy.v1.PodDisruptionBudgetStatus conditions patch=merge key=type list=map keys=type
rbac.v1.PolicyRule verbs list=atomic
rbac.v1.PolicyRule apiGroups list=atomic
rbac.v1.PolicyRule resources list=atomic
rbac.v1.PolicyRule resourceNames list=atomic
rbac.v1.PolicyRule nonResourceURLs list=atomic
rbac.v1.Subject . map=atomic
rbac.v1.RoleRef . map=atomic
rbac.v1.Role rules list=atomic
rbac.v1.RoleBinding subjects list=atomic
rbac.v1.ClusterRole rules list=atomic
rbac.v1.AggregationRule clusterRoleSelectors list=atomic
rbac.v1.ClusterRoleBinding subjects list=atomic
authorization.v1.LabelSelectorAttributes requirements list=atomic
authorization.v1.FieldSelectorAttributes requirements list=atomic
authorization.v1.SubjectAccessReviewSpec groups list=atomic
authorization.v1.SubjectRulesReviewStatus resourceRules list=atomic
authorization.v1.SubjectRulesReviewStatus nonResourceRules list=atomic
authorization.v1.ResourceRule verbs list=atomic
authorization.v1.ResourceRule apiGroups list=atomic
authorization.v1.ResourceRule resources list=atomic
authorization.v1.ResourceRule resourceNames list=atomic
authorization.v1.NonResourceRule verbs list=atomic
authorization.v1.NonResourceRule nonResourceURLs list=atomic
authentication.v1.TokenReviewSpec audiences list=atomic
authentication.v1.TokenReviewStatus audiences list=atomic
authentication.v1.UserInfo groups list=atomic
authentication.v1.TokenRequestSpec audiences list=atomic
storage.v1.StorageClass mountOptions list=atomic
storage.v1.StorageClass allowedTopologies list=atomic
storage.v1.CSIDriverSpec volumeLifecycleModes list=set
storage.v1.CSIDriverSpec tokenRequests list=atomic
storage.v1.CSINodeSpec drivers patch=merge key=name list=map keys=name
storage.v1.CSINodeDriver topologyKeys list=atomic
node.v1.Scheduling nodeSelector map=atomic
node.v1.Scheduling tolerations list=atomic
admissionregistration.v1.ValidatingAdmissionPolicyStatus conditions list=map keys=type
admissionregistration.v1.TypeChecking expressionWarnings list=atomic
admissionregistration.v1.ValidatingAdmissionPolicySpec validations list=atomic
admissionregistration.v1.ValidatingAdmissionPolicySpec auditAnnotations list=atomic
admissionregistration.v1.ValidatingAdmissionPolicySpec matchConditions patch=merge key=name list=map keys=name
admissionregistration.v1.ValidatingAdmissionPolicySpec variables patch=merge key=name list=map keys=name
admissionregistration.v1.ParamKind . map=atomic
admissionregistration.v1.Variable . map=atomic
admissionregistration.v1.ValidatingAdmissionPolicyBindingSpec validationActions list=set
admissionregistration.v1.ParamRef . map=atomic
admissionregistration.v1.MatchResources . map=atomic
admissionregistration.v1.MatchResources resourceRules list=atomic
admissionregistration.v1.MatchResources excludeResourceRules list=atomic
admissionregistration.v1.NamedRuleWithOperations . map=atomic
admissionregistration.v1.NamedRuleWithOperations resourceNames list=atomic
admissionregistration.v1.ValidatingWebhookConfiguration webhooks patch=merge key=name list=map keys=name
admissionregistration.v1.MutatingWebhookConfiguration webhooks patch=merge key=name list=map keys=name
admissionregistration.v1.ValidatingWebhook rules list=atomic
admissionregistration.v1.ValidatingWebhook admissionReviewVersions list=atomic
admissionregistration.v1.ValidatingWebhook matchConditions patch=merge key=name list=map keys=name
admissionregistration.v1.MutatingWebhook rules list=atomic
admissionregistration.v1.MutatingWebhook admissionReviewVersions list=atomic
admissionregistration.v1.MutatingWebhook matchConditions patch=merge key=name list=map keys=name
admissionregistration.v1.RuleWithOperations operations list=atomic
certificates.v1.CertificateSigningRequestSpec request list=atomic
certificates.v1.CertificateSigningRequestSpec usages list=atomic
certificates.v1.CertificateSigningRequestSpec groups list=atomic
certificates.v1.CertificateSigningRequestStatus conditions list=map keys=type
certificates.v1.CertificateSigningRequestStatus certificate list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta ownerReferences patch=merge key=uid list=map keys=uid
io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta finalizers patch=merge list=set
io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta managedFields list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference . map=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions dryRun list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.Status details list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.StatusDetails causes list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector . map=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector matchExpressions list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelectorRequirement values list=atomic
io.k8s.apimachinery.pkg.apis.meta.v1.FieldSelectorRequirement values list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionSpec versions list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.WebhookConversion conversionReviewVersions list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion additionalPrinterColumns list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionVersion selectableFields list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames shortNames list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionNames categories list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus conditions list=map keys=type
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinitionStatus storedVersions list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps enum list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps required list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps allOf list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps oneOf list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps anyOf list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps x-kubernetes-list-map-keys list=atomic
io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps x-kubernetes-validations patch=merge key=rule list=map keys=rule
core.v1.EphemeralContainer command list=atomic
core.v1.EphemeralContainer args list=atomic
core.v1.EphemeralContainer ports patch=merge key=containerPort list=map keys=containerPort,protocol
core.v1.EphemeralContainer envFrom list=atomic
core.v1.EphemeralContainer env patch=merge key=name list=map keys=name
core.v1.EphemeralContainer resizePolicy list=atomic
core.v1.EphemeralContainer volumeMounts patch=merge key=mountPath list=map keys=mountPath
core.v1.EphemeralContainer volumeDevices patch=merge key=devicePath list=map keys=devicePath
admissionregistration.v1.NamedRuleWithOperations operations list=atomic
admissionregistration.v1.RuleWithOperations apiGroups list=atomic
admissionregistration.v1.RuleWithOperations apiVersions list=atomic
admissionregistration.v1.RuleWithOperations resources list=atomic
admissionregistration.v1.NamedRuleWithOperations apiGroups list=atomic
admissionregistration.v1.NamedRuleWithOperations apiVersions list=atomic
admissionregistration.v1.NamedRuleWithOperations resources list=atomic";

/// A served OpenAPI document: its JSON bytes and the hash in its index URL.
#[derive(Debug, Clone)]
struct Doc {
    bytes: Bytes,
    hash: String,
}

impl Doc {
    fn new(value: &Value) -> Doc {
        let bytes = Bytes::from(value.to_string());
        let hash = Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect();
        Doc { bytes, hash }
    }
}

/// The part built from the built-in resources alone, shared by every [`OpenApi`] built for the
/// same built-in resources.
#[derive(Debug)]
struct Builtin {
    /// The built-in resources it was built from.
    resources: Vec<Resource>,
    /// Those resources with their schema names.
    resolved: Vec<Resolved>,
    /// Every generated schema, post-processed, by upstream name.
    schemas: Map<String, Value>,
    /// v3 documents by group-version path (`api/v1`, `apis/apps/v1`).
    docs: BTreeMap<String, Doc>,
}

/// The part built from the custom resources.
#[derive(Debug, Default)]
struct Custom {
    resolved: Vec<Resolved>,
    /// Their kind and list schemas.
    schemas: Map<String, Value>,
    /// v3 documents of their group-versions.
    docs: BTreeMap<String, Doc>,
}

/// The swagger 2.0 document in both encodings.
#[derive(Debug)]
struct V2 {
    json: Bytes,
    protobuf: Bytes,
}

/// The OpenAPI documents for one set of resources, built once and served many times.
///
/// The v3 documents are built by [`OpenApi::new`]; the v2 document, which only kubectl 1.27/1.28
/// (and client-side apply of custom resources) asks for, on first use.
#[derive(Debug, Clone)]
pub struct OpenApi {
    builtin: Arc<Builtin>,
    custom: Arc<Custom>,
    /// The v3 index (`GET /openapi/v3`).
    index: Value,
    v2: Arc<OnceLock<V2>>,
}

impl OpenApi {
    /// Builds the documents for `resources`: the built-in ones (usually
    /// [`crate::resources::builtin`]) and the custom ones, each of which is published with its
    /// `schema` (the CRD version's `openAPIV3Schema`), or with a schema that accepts any object.
    ///
    /// The built-in part is built once per process and reused while the built-in resources stay
    /// the same, so calling this again whenever a CRD changes only costs the custom
    /// group-versions. A custom resource in a built-in group-version is left out.
    pub fn new<R: Borrow<Resource>>(resources: &[R]) -> OpenApi {
        let builtin_resources: Vec<Resource> = resources
            .iter()
            .map(Borrow::borrow)
            .filter(|r| !r.custom)
            .cloned()
            .collect();
        let builtin = builtin_for(builtin_resources);
        let custom: Vec<&Resource> = resources
            .iter()
            .map(Borrow::borrow)
            .filter(|r| r.custom)
            .collect();
        let custom = Arc::new(Custom::build(&builtin, &custom));
        let mut paths = Map::new();
        for (path, doc) in builtin.docs.iter().chain(custom.docs.iter()) {
            let url = format!("/openapi/v3/{path}?hash={}", doc.hash);
            paths.insert(path.clone(), json!({ "serverRelativeURL": url }));
        }
        let index = json!({ "paths": paths });
        OpenApi {
            builtin,
            custom,
            index,
            v2: Arc::default(),
        }
    }

    /// The body of `GET /openapi/v3`: one entry per group-version, each with its hashed URL.
    pub fn v3_index(&self) -> Value {
        self.index.clone()
    }

    /// The JSON document of one group-version (`api/v1`, `apis/apps/v1`) and its hash, or `None`
    /// when that group-version is not served. The bytes are shared, so this is cheap.
    pub fn v3_document(&self, path: &str) -> Option<(Bytes, String)> {
        let path = path.trim_matches('/');
        let doc = self
            .builtin
            .docs
            .get(path)
            .or_else(|| self.custom.docs.get(path))?;
        Some((doc.bytes.clone(), doc.hash.clone()))
    }

    /// The group-version paths served (`api/v1`, `apis/apps/v1`, ...).
    pub fn v3_paths(&self) -> Vec<String> {
        self.builtin
            .docs
            .keys()
            .chain(self.custom.docs.keys())
            .cloned()
            .collect()
    }

    fn v2(&self) -> &V2 {
        self.v2.get_or_init(|| {
            let resolved: Vec<&Resolved> = self
                .builtin
                .resolved
                .iter()
                .chain(&self.custom.resolved)
                .collect();
            let doc = v2_document(&resolved, &self.builtin.schemas, &self.custom.schemas);
            V2 {
                json: Bytes::from(doc.to_string()),
                protobuf: Bytes::from(pb_document(&doc)),
            }
        })
    }

    /// The swagger 2.0 document for `GET /openapi/v2` with a JSON `Accept`, as JSON bytes.
    pub fn v2_json_bytes(&self) -> Bytes {
        self.v2().json.clone()
    }

    /// The swagger 2.0 document as a value (parsed from [`OpenApi::v2_json_bytes`] on each call;
    /// no kubectl asks for v2 in JSON, so prefer serving the bytes).
    pub fn v2_json(&self) -> Value {
        serde_json::from_slice(&self.v2().json).unwrap_or(Value::Null)
    }

    /// The same document as gnostic protobuf (`openapi.v2.Document`), for `GET /openapi/v2` with
    /// `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (and the legacy
    /// `GET /swagger-2.0.0.pb-v1`), which is what kubectl up to 1.28 asks for; without it those
    /// versions cannot `apply`/`create -f` with validation on. Answer it with
    /// [`V2_PROTOBUF_CONTENT_TYPE`].
    pub fn v2_protobuf(&self) -> Bytes {
        self.v2().protobuf.clone()
    }
}

/// The built-in part for these resources: the one built last when they are the same (the normal
/// case: only CRDs change while a server runs), otherwise a new one.
fn builtin_for(resources: Vec<Resource>) -> Arc<Builtin> {
    static LAST: Mutex<Option<Arc<Builtin>>> = Mutex::new(None);
    if let Ok(last) = LAST.lock()
        && let Some(b) = last.as_ref()
        && b.resources == resources
    {
        return Arc::clone(b);
    }
    let built = Arc::new(Builtin::build(resources));
    if let Ok(mut last) = LAST.lock() {
        *last = Some(Arc::clone(&built));
    }
    built
}

impl Builtin {
    fn build(resources: Vec<Resource>) -> Builtin {
        let mut generator = SchemaSettings::openapi3()
            .with(|s| {
                s.transforms.clear();
                s.meta_schema = None;
            })
            .into_generator();
        for f in META {
            f(&mut generator);
        }
        let mut kind_schema: BTreeMap<(String, String, String), String> = BTreeMap::new();
        for f in KINDS {
            let (group, version, kind, schema) = f(&mut generator);
            if let Some(name) = ref_name(schema.as_value()) {
                kind_schema.insert(
                    (group.to_string(), version.to_string(), kind.to_string()),
                    name,
                );
            }
        }
        let mut schemas = generator.take_definitions(false);
        apply_extensions(&mut schemas);
        for schema in schemas.values_mut() {
            drop_required_metadata(schema);
        }

        // Kind and list schemas of every resource; unknown kinds get an open object schema.
        let mut gvks: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut resolved: Vec<Resolved> = Vec::new();
        for r in &resources {
            let key = (r.group.clone(), r.version.clone(), r.kind.clone());
            let kind = match kind_schema.get(&key) {
                Some(name) => name.clone(),
                None => {
                    let name = schema_name(r, &r.kind);
                    schemas
                        .entry(name.clone())
                        .or_insert_with(|| open_schema(&r.kind));
                    name
                }
            };
            push_gvk(&mut gvks, &kind, &r.group, &r.version, &r.kind);
            let list = lists_of(r).then(|| {
                let name = format!("{kind}List");
                let list_kind = format!("{}List", r.kind);
                schemas
                    .entry(name.clone())
                    .or_insert_with(|| list_schema(&r.kind, &kind));
                push_gvk(&mut gvks, &name, &r.group, &r.version, &list_kind);
                name
            });
            let subresources = r
                .subresources
                .iter()
                .map(|s| {
                    let key = (s.group.clone(), s.version.clone(), s.kind.clone());
                    let body = kind_schema.get(&key).cloned();
                    if let Some(body) = &body {
                        push_gvk(&mut gvks, body, &s.group, &s.version, &s.kind);
                    }
                    body
                })
                .collect();
            resolved.push(Resolved {
                resource: r.clone(),
                kind,
                list,
                subresources,
                custom: false,
            });
        }
        // Group-version-wide kinds, as upstream lists them.
        let gvs: BTreeSet<(String, String)> = resolved
            .iter()
            .map(|r| (r.resource.group.clone(), r.resource.version.clone()))
            .collect();
        for (group, version) in &gvs {
            push_gvk(&mut gvks, DELETE_OPTIONS, group, version, "DeleteOptions");
        }
        push_gvk(&mut gvks, STATUS, "", "v1", "Status");
        for (name, list) in gvks {
            if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
                schema.insert("x-kubernetes-group-version-kind".into(), Value::Array(list));
            }
        }

        let mut docs = BTreeMap::new();
        for (path, members) in by_group_version(&resolved) {
            docs.insert(
                path,
                Doc::new(&v3_document(&members, &schemas, &Map::new())),
            );
        }
        Builtin {
            resources,
            resolved,
            schemas,
            docs,
        }
    }
}

impl Custom {
    fn build(builtin: &Builtin, custom: &[&Resource]) -> Custom {
        let mut schemas = Map::new();
        let mut resolved = Vec::new();
        for r in custom {
            if builtin.docs.contains_key(&gv_path(&r.group, &r.version)) {
                continue;
            }
            let kind = schema_name(r, &r.kind);
            schemas.insert(kind.clone(), custom_schema(r, r.schema.as_ref()));
            let list = lists_of(r).then(|| {
                let name = format!("{kind}List");
                let mut list = list_schema(&r.kind, &kind);
                set_gvk(&mut list, &r.group, &r.version, &format!("{}List", r.kind));
                schemas.insert(name.clone(), list);
                name
            });
            let subresources = r
                .subresources
                .iter()
                .map(|s| match s.name.as_str() {
                    "status" => Some(kind.clone()),
                    "scale" => Some(SCALE.to_string()),
                    _ => None,
                })
                .collect();
            resolved.push(Resolved {
                resource: (*r).clone(),
                kind,
                list,
                subresources,
                custom: true,
            });
        }
        let mut docs = BTreeMap::new();
        for (path, members) in by_group_version(&resolved) {
            docs.insert(
                path,
                Doc::new(&v3_document(&members, &builtin.schemas, &schemas)),
            );
        }
        Custom {
            resolved,
            schemas,
            docs,
        }
    }
}

/// A resource with the schema names its paths refer to.
#[derive(Debug, Clone)]
struct Resolved {
    resource: Resource,
    /// Schema of the kind.
    kind: String,
    /// Schema of its list kind, when the resource can be listed.
    list: Option<String>,
    /// Body schema of each subresource (same order as `resource.subresources`), when known.
    subresources: Vec<Option<String>>,
    custom: bool,
}

fn lists_of(r: &Resource) -> bool {
    r.verbs.iter().any(|v| v == "list")
}

/// `api/v1` or `apis/{group}/{version}`.
fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Resources grouped by their group-version path, in first-seen order within each.
fn by_group_version(resolved: &[Resolved]) -> BTreeMap<String, Vec<&Resolved>> {
    let mut out: BTreeMap<String, Vec<&Resolved>> = BTreeMap::new();
    for r in resolved {
        out.entry(gv_path(&r.resource.group, &r.resource.version))
            .or_default()
            .push(r);
    }
    out
}

/// The schema name after `#/components/schemas/` in a `{"$ref": ...}`.
fn ref_name(schema: &Value) -> Option<String> {
    schema
        .get("$ref")?
        .as_str()?
        .strip_prefix(V3_REF)
        .map(str::to_string)
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("{V3_REF}{name}") })
}

/// The upstream schema name of a kind: `io.k8s.api.{group}.{version}.{Kind}` for built-in groups,
/// the reversed group for custom ones (`stable.example.com` → `com.example.stable.v1.CronTab`).
fn schema_name(r: &Resource, kind: &str) -> String {
    if r.custom {
        let reversed: Vec<&str> = r.group.split('.').rev().collect();
        format!("{}.{}.{kind}", reversed.join("."), r.version)
    } else {
        let group = if r.group.is_empty() {
            "core"
        } else {
            r.group.trim_end_matches(".k8s.io")
        };
        format!("io.k8s.api.{group}.{}.{kind}", r.version)
    }
}

fn push_gvk(
    gvks: &mut BTreeMap<String, Vec<Value>>,
    schema: &str,
    group: &str,
    version: &str,
    kind: &str,
) {
    let gvk = json!({ "group": group, "kind": kind, "version": version });
    let list = gvks.entry(schema.to_string()).or_default();
    if !list.contains(&gvk) {
        list.push(gvk);
    }
}

fn set_gvk(schema: &mut Value, group: &str, version: &str, kind: &str) {
    if let Value::Object(schema) = schema {
        schema.insert(
            "x-kubernetes-group-version-kind".into(),
            json!([{ "group": group, "kind": kind, "version": version }]),
        );
    }
}

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object. \
Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values.";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents. \
Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase.";

/// `apiVersion`, `kind` and `metadata` properties of a top-level object.
fn type_properties(meta: &str, meta_description: &str) -> Map<String, Value> {
    let mut props = Map::new();
    props.insert(
        "apiVersion".into(),
        json!({ "description": API_VERSION_DESCRIPTION, "type": "string" }),
    );
    props.insert(
        "kind".into(),
        json!({ "description": KIND_DESCRIPTION, "type": "string" }),
    );
    let mut metadata = schema_ref(meta);
    metadata["description"] = json!(meta_description);
    props.insert("metadata".into(), metadata);
    props
}

/// A schema that accepts any object of a kind whose real schema is not known.
fn open_schema(kind: &str) -> Value {
    json!({
        "description": format!("{kind} (no published schema: any fields are accepted)."),
        "type": "object",
        "properties": type_properties(OBJECT_META, "Standard object's metadata."),
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// The `{Kind}List` schema (k8s-openapi has one generic `List<T>` without a schema).
fn list_schema(kind: &str, item_schema: &str) -> Value {
    let mut props = type_properties(LIST_META, "Standard list metadata.");
    props.insert(
        "items".into(),
        json!({ "description": format!("List of {kind} objects."), "type": "array", "items": schema_ref(item_schema) }),
    );
    json!({
        "description": format!("{kind}List is a list of {kind} objects."),
        "type": "object",
        "properties": props,
        "required": ["items"],
    })
}

/// The schema of a custom resource: its CRD's `openAPIV3Schema` with the standard `apiVersion`,
/// `kind` and `metadata` properties, as the apiextensions server publishes it.
fn custom_schema(r: &Resource, schema: Option<&Value>) -> Value {
    let mut schema = match schema {
        Some(Value::Object(m)) => Value::Object(m.clone()),
        _ => json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
    };
    if let Value::Object(m) = &mut schema {
        m.entry("type").or_insert_with(|| json!("object"));
        let props = m.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(props) = props {
            for (k, v) in type_properties(OBJECT_META, "Standard object's metadata.") {
                props.insert(k, v);
            }
        }
    }
    set_gvk(&mut schema, &r.group, &r.version, &r.kind);
    schema
}

/// k8s-openapi marks `metadata` required because its Rust field is not optional; upstream does not.
fn drop_required_metadata(schema: &mut Value) {
    let Some(Value::Array(required)) = schema.get_mut("required") else {
        return;
    };
    required.retain(|r| r != "metadata");
    if required.is_empty()
        && let Value::Object(m) = schema
    {
        m.remove("required");
    }
}

/// Puts the [`EXTENSIONS`] table onto the generated schemas. Entries for schemas or properties
/// that do not exist are skipped.
fn apply_extensions(schemas: &mut Map<String, Value>) {
    for line in EXTENSIONS.lines() {
        let mut words = line.split_whitespace();
        let (Some(schema), Some(property)) = (words.next(), words.next()) else {
            continue;
        };
        let name = if schema.starts_with("io.") {
            schema.to_string()
        } else {
            format!("io.k8s.api.{schema}")
        };
        let Some(target) = schemas.get_mut(&name) else {
            continue;
        };
        let target = if property == "." {
            Some(target)
        } else {
            target.pointer_mut(&format!("/properties/{property}"))
        };
        let Some(Value::Object(target)) = target else {
            continue;
        };
        for word in words {
            let Some((key, value)) = word.split_once('=') else {
                continue;
            };
            let (ext, value) = match key {
                "patch" => ("x-kubernetes-patch-strategy", json!(value)),
                "key" => ("x-kubernetes-patch-merge-key", json!(value)),
                "list" => ("x-kubernetes-list-type", json!(value)),
                "keys" => (
                    "x-kubernetes-list-map-keys",
                    json!(value.split(',').collect::<Vec<_>>()),
                ),
                "map" => ("x-kubernetes-map-type", json!(value)),
                _ => continue,
            };
            target.insert(ext.into(), value);
        }
    }
}

/// Every schema name a value refers to with `$ref`.
fn collect_refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => {
                        if let Some(name) = r.strip_prefix(V3_REF) {
                            out.push(name.to_string());
                        }
                    }
                    _ => collect_refs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// The schemas reachable from `roots`, looked up in `local` first, then `global`.
fn closure(
    roots: Vec<String>,
    global: &Map<String, Value>,
    local: &Map<String, Value>,
) -> Map<String, Value> {
    let mut out = BTreeMap::new();
    let mut todo = roots;
    while let Some(name) = todo.pop() {
        if out.contains_key(&name) {
            continue;
        }
        let Some(schema) = local.get(&name).or_else(|| global.get(&name)) else {
            continue;
        };
        collect_refs(schema, &mut todo);
        out.insert(name, schema.clone());
    }
    out.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// Paths and operations

/// A query or path parameter.
fn param(name: &str, location: &str, ty: &str, description: &str) -> Value {
    let mut p = json!({ "name": name, "in": location, "description": description, "schema": { "type": ty, "uniqueItems": true } });
    if location == "path" {
        p["required"] = json!(true);
    }
    p
}

fn params(names: &[&str]) -> Vec<Value> {
    names.iter().filter_map(|n| query_param(n)).collect()
}

fn query_param(name: &str) -> Option<Value> {
    let (ty, description) = match name {
        "allowWatchBookmarks" => (
            "boolean",
            "Ask for BOOKMARK watch events. Servers may ignore it; ignored when not watching.",
        ),
        "continue" => (
            "string",
            "Continue a chunked list from the token a previous page returned.",
        ),
        "fieldSelector" => (
            "string",
            "A selector to restrict the returned objects by their fields. Defaults to everything.",
        ),
        "labelSelector" => (
            "string",
            "A selector to restrict the returned objects by their labels. Defaults to everything.",
        ),
        "limit" => (
            "integer",
            "The maximum number of objects to return; the list metadata then carries a `continue` token when more exist.",
        ),
        "resourceVersion" => (
            "string",
            "Constrains which resource versions the request may be served from. Defaults to unset.",
        ),
        "resourceVersionMatch" => (
            "string",
            "How resourceVersion applies to a list call. Defaults to unset.",
        ),
        "sendInitialEvents" => (
            "boolean",
            "With watch=true, start the watch with synthetic ADDED events for the current state, then a bookmark.",
        ),
        "timeoutSeconds" => (
            "integer",
            "Timeout for the list/watch call, whatever the activity.",
        ),
        "watch" => (
            "boolean",
            "Watch for changes to the described resources and return them as a stream of notifications.",
        ),
        "dryRun" => (
            "string",
            "When present, modifications are not persisted. Valid values: All (process all dry-run stages).",
        ),
        "fieldManager" => (
            "string",
            "The name of the actor making these changes; at most 128 printable characters. Required for apply patches.",
        ),
        "fieldValidation" => (
            "string",
            "How the server treats unknown or duplicate fields in the request object: Ignore (drop them), Warn (accept with a warning per field) or Strict (fail the request).",
        ),
        "force" => (
            "boolean",
            "For apply patches only: take over fields owned by other managers instead of failing with a conflict.",
        ),
        "gracePeriodSeconds" => (
            "integer",
            "Seconds before the object is deleted; zero deletes immediately. Defaults to the per-type default.",
        ),
        "orphanDependents" => (
            "boolean",
            "Deprecated: use propagationPolicy. Whether dependents are orphaned.",
        ),
        "propagationPolicy" => (
            "string",
            "Garbage collection of dependents: Orphan, Background or Foreground.",
        ),
        "pretty" => ("string", "If 'true', the output is pretty printed."),
        "container" => (
            "string",
            "The container for which to stream logs; may be omitted when the pod has one container.",
        ),
        "follow" => ("boolean", "Follow the log stream of the pod."),
        "limitBytes" => (
            "integer",
            "The number of bytes to read from the server before terminating the log output.",
        ),
        "previous" => (
            "boolean",
            "Return the logs of the previous, terminated container.",
        ),
        "sinceSeconds" => ("integer", "Only return logs newer than this many seconds."),
        "tailLines" => (
            "integer",
            "The number of lines from the end of the log to show.",
        ),
        "timestamps" => (
            "boolean",
            "Prefix every line of log output with an RFC3339 timestamp.",
        ),
        "command" => (
            "string",
            "The command to execute; repeat the parameter for each argument.",
        ),
        "stdin" => (
            "boolean",
            "Redirect the standard input stream of the container.",
        ),
        "stdout" => (
            "boolean",
            "Redirect the standard output stream of the container.",
        ),
        "stderr" => (
            "boolean",
            "Redirect the standard error stream of the container.",
        ),
        "tty" => ("boolean", "Allocate a terminal for the session."),
        "ports" => ("integer", "The ports to forward."),
        "path" => ("string", "The URL path to use for the proxied request."),
        _ => return None,
    };
    Some(param(name, "query", ty, description))
}

const LIST_PARAMS: &[&str] = &[
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
];
const WRITE_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH_PARAMS: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];
const DELETE_PARAMS: &[&str] = &[
    "dryRun",
    "gracePeriodSeconds",
    "orphanDependents",
    "propagationPolicy",
];
const DELETECOLLECTION_PARAMS: &[&str] = &[
    "continue",
    "dryRun",
    "fieldSelector",
    "gracePeriodSeconds",
    "labelSelector",
    "limit",
    "orphanDependents",
    "propagationPolicy",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
];
const LOG_PARAMS: &[&str] = &[
    "container",
    "follow",
    "limitBytes",
    "previous",
    "sinceSeconds",
    "tailLines",
    "timestamps",
];

/// How one group-version's operations are written.
struct Style {
    media: &'static [&'static str],
    patch_types: &'static [&'static str],
    tag: String,
    id_group: String,
    id_version: String,
}

impl Style {
    fn new(r: &Resolved) -> Style {
        let group = &r.resource.group;
        let id_group = if group.is_empty() {
            "Core".to_string()
        } else {
            group
                .trim_end_matches(".k8s.io")
                .split(['.', '-'])
                .map(capitalise)
                .collect()
        };
        let tag_group = if group.is_empty() {
            "core".to_string()
        } else {
            group.trim_end_matches(".k8s.io").replace('.', "_")
        };
        Style {
            media: if r.custom {
                CUSTOM_MEDIA
            } else {
                BUILTIN_MEDIA
            },
            patch_types: if r.custom {
                CUSTOM_PATCH_TYPES
            } else {
                BUILTIN_PATCH_TYPES
            },
            tag: format!("{tag_group}_{}", r.resource.version),
            id_group,
            id_version: capitalise(&r.resource.version),
        }
    }

    fn content(&self, schema: &Value, media: &[&str]) -> Value {
        let mut content = Map::new();
        for m in media {
            content.insert(m.to_string(), json!({ "schema": schema }));
        }
        Value::Object(content)
    }

    fn responses(&self, codes: &[(&str, &str)], schema: &Value, media: &[&str]) -> Value {
        let mut out = Map::new();
        for (code, description) in codes {
            out.insert(
                code.to_string(),
                json!({ "description": description, "content": self.content(schema, media) }),
            );
        }
        out.insert("401".into(), json!({ "description": "Unauthorized" }));
        Value::Object(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn operation(
        &self,
        action: &str,
        id: String,
        description: String,
        gvk: (&str, &str, &str),
        parameters: Vec<Value>,
        request: Option<Value>,
        responses: Value,
    ) -> Value {
        let mut op = json!({
            "description": description,
            "operationId": id,
            "tags": [self.tag],
            "parameters": parameters,
            "responses": responses,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": { "group": gvk.0, "kind": gvk.1, "version": gvk.2 },
        });
        if let Some(request) = request {
            op["requestBody"] = request;
        }
        op
    }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Writes one resource's paths into `paths`.
fn resource_paths(r: &Resolved, paths: &mut Map<String, Value>) {
    let res = &r.resource;
    let style = Style::new(r);
    let has = |verb: &str| res.verbs.iter().any(|v| v == verb);
    let prefix = format!("/{}", gv_path(&res.group, &res.version));
    let scope = if res.namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let collection = format!("{prefix}{scope}/{}", res.plural);
    let item = format!("{collection}/{{name}}");
    let namespaced = if res.namespaced { "Namespaced" } else { "" };
    let id = |verb: &str, suffix: &str| {
        format!(
            "{verb}{}{}{namespaced}{}{suffix}",
            style.id_group, style.id_version, res.kind
        )
    };
    let gvk = (res.group.as_str(), res.kind.as_str(), res.version.as_str());
    let kind_ref = schema_ref(&r.kind);
    let mut path_params = Vec::new();
    if res.namespaced {
        path_params.push(param(
            "namespace",
            "path",
            "string",
            "object name and auth scope, such as for teams and projects",
        ));
    }
    path_params.extend(params(&["pretty"]));
    let body = |schema: &Value| json!({ "required": true, "content": style.content(schema, &["application/json"]) });
    let written = [("200", "OK"), ("201", "Created")];
    let status_ref = schema_ref(STATUS);

    // Collection: list, create, deletecollection.
    let mut ops = Map::new();
    if let (true, Some(list)) = (has("list"), &r.list) {
        let list_ref = schema_ref(list);
        let mut media: Vec<&str> = style.media.to_vec();
        media.extend([
            "application/json;stream=watch",
            "application/vnd.kubernetes.protobuf;stream=watch",
        ]);
        let media = if r.custom {
            vec![
                "application/json",
                "application/yaml",
                "application/json;stream=watch",
            ]
        } else {
            media
        };
        let list_op = |id: String| {
            style.operation(
                "list",
                id,
                format!("list or watch objects of kind {}", res.kind),
                gvk,
                params(LIST_PARAMS),
                None,
                style.responses(&[("200", "OK")], &list_ref, &media),
            )
        };
        ops.insert("get".into(), list_op(id("list", "")));
        if res.namespaced {
            let all = format!("{prefix}/{}", res.plural);
            let op = list_op(format!(
                "list{}{}{}ForAllNamespaces",
                style.id_group, style.id_version, res.kind
            ));
            paths.insert(all, json!({ "get": op, "parameters": params(&["pretty"]) }));
        }
    }
    if has("create") {
        let codes = [("200", "OK"), ("201", "Created"), ("202", "Accepted")];
        ops.insert(
            "post".into(),
            style.operation(
                "post",
                id("create", ""),
                format!("create a {}", res.kind),
                gvk,
                params(WRITE_PARAMS),
                Some(body(&kind_ref)),
                style.responses(&codes, &kind_ref, style.media),
            ),
        );
    }
    if has("deletecollection") {
        ops.insert(
            "delete".into(),
            style.operation(
                "deletecollection",
                id("deleteCollection", ""),
                format!("delete collection of {}", res.kind),
                gvk,
                params(DELETECOLLECTION_PARAMS),
                Some(json!({ "content": style.content(&schema_ref(DELETE_OPTIONS), &["application/json"]) })),
                style.responses(&[("200", "OK")], &status_ref, style.media),
            ),
        );
    }
    if !ops.is_empty() {
        ops.insert("parameters".into(), Value::Array(path_params.clone()));
        paths.insert(collection, Value::Object(ops));
    }

    // Item: read, replace, patch, delete.
    let mut item_params = vec![param(
        "name",
        "path",
        "string",
        &format!("name of the {}", res.kind),
    )];
    item_params.extend(path_params.iter().cloned());
    let mut ops = Map::new();
    if has("get") {
        ops.insert(
            "get".into(),
            style.operation(
                "get",
                id("read", ""),
                format!("read the specified {}", res.kind),
                gvk,
                vec![],
                None,
                style.responses(&[("200", "OK")], &kind_ref, style.media),
            ),
        );
    }
    if has("update") {
        ops.insert(
            "put".into(),
            replace_op(&style, id("replace", ""), res, gvk, &kind_ref, &written, ""),
        );
    }
    if has("patch") {
        ops.insert(
            "patch".into(),
            patch_op(&style, id("patch", ""), res, gvk, &kind_ref, ""),
        );
    }
    if has("delete") {
        ops.insert(
            "delete".into(),
            style.operation(
                "delete",
                id("delete", ""),
                format!("delete a {}", res.kind),
                gvk,
                params(DELETE_PARAMS),
                Some(json!({ "content": style.content(&schema_ref(DELETE_OPTIONS), &["application/json"]) })),
                style.responses(&[("200", "OK"), ("202", "Accepted")], &status_ref, style.media),
            ),
        );
    }
    if !ops.is_empty() {
        ops.insert("parameters".into(), Value::Array(item_params.clone()));
        paths.insert(item.clone(), Value::Object(ops));
    }

    // Subresources.
    for (sub, body_schema) in res.subresources.iter().zip(&r.subresources) {
        let ops = subresource_ops(&style, r, sub, body_schema.as_deref(), &id);
        if let Value::Object(mut ops) = ops {
            if ops.is_empty() {
                continue;
            }
            ops.insert("parameters".into(), Value::Array(item_params.clone()));
            paths.insert(format!("{item}/{}", sub.name), Value::Object(ops));
        }
    }
}

fn replace_op(
    style: &Style,
    id: String,
    res: &Resource,
    gvk: (&str, &str, &str),
    schema: &Value,
    codes: &[(&str, &str)],
    what: &str,
) -> Value {
    style.operation(
        "put",
        id,
        format!("replace {what}the specified {}", res.kind),
        gvk,
        params(WRITE_PARAMS),
        Some(json!({ "required": true, "content": style.content(schema, &["application/json"]) })),
        style.responses(codes, schema, style.media),
    )
}

fn patch_op(
    style: &Style,
    id: String,
    res: &Resource,
    gvk: (&str, &str, &str),
    schema: &Value,
    what: &str,
) -> Value {
    let patch_ref = schema_ref(PATCH);
    style.operation(
        "patch",
        id,
        format!("partially update {what}the specified {}", res.kind),
        gvk,
        params(PATCH_PARAMS),
        Some(json!({ "required": true, "content": style.content(&patch_ref, style.patch_types) })),
        style.responses(&[("200", "OK"), ("201", "Created")], schema, style.media),
    )
}

fn subresource_ops(
    style: &Style,
    r: &Resolved,
    sub: &Subresource,
    body_schema: Option<&str>,
    id: &dyn Fn(&str, &str) -> String,
) -> Value {
    let res = &r.resource;
    let has = |verb: &str| sub.verbs.iter().any(|v| v == verb);
    let suffix = capitalise(&sub.name);
    let gvk = (sub.group.as_str(), sub.kind.as_str(), sub.version.as_str());
    let string = json!({ "type": "string" });
    let mut ops = Map::new();
    match sub.name.as_str() {
        "exec" | "attach" | "portforward" | "proxy" => {
            let query: &[&str] = match sub.name.as_str() {
                "exec" => &["command", "container", "stderr", "stdin", "stdout", "tty"],
                "attach" => &["container", "stderr", "stdin", "stdout", "tty"],
                "portforward" => &["ports"],
                _ => &["path"],
            };
            for (verb, method, id_verb) in [
                ("get", "get", "connectGet"),
                ("create", "post", "connectPost"),
                ("update", "put", "connectPut"),
                ("patch", "patch", "connectPatch"),
                ("delete", "delete", "connectDelete"),
            ] {
                if has(verb) {
                    let op = style.operation(
                        "connect",
                        id(id_verb, &suffix),
                        format!(
                            "connect {} requests to {} of {}",
                            method.to_uppercase(),
                            sub.name,
                            res.kind
                        ),
                        gvk,
                        params(query),
                        None,
                        style.responses(&[("200", "OK")], &string, &["*/*"]),
                    );
                    ops.insert(method.into(), op);
                }
            }
        }
        "log" => {
            let op = style.operation(
                "get",
                id("read", "Log"),
                format!("read log of the specified {}", res.kind),
                gvk,
                params(LOG_PARAMS),
                None,
                style.responses(
                    &[("200", "OK")],
                    &string,
                    &["text/plain", "application/json", "application/yaml"],
                ),
            );
            ops.insert("get".into(), op);
        }
        _ => {
            let schema = body_schema
                .map(schema_ref)
                .unwrap_or_else(|| json!({ "type": "object" }));
            let what = format!("{} of ", sub.name);
            if has("get") {
                let op = style.operation(
                    "get",
                    id("read", &suffix),
                    format!("read {what}the specified {}", res.kind),
                    gvk,
                    vec![],
                    None,
                    style.responses(&[("200", "OK")], &schema, style.media),
                );
                ops.insert("get".into(), op);
            }
            if has("update") {
                let codes = [("200", "OK"), ("201", "Created")];
                ops.insert(
                    "put".into(),
                    replace_op(
                        style,
                        id("replace", &suffix),
                        res,
                        gvk,
                        &schema,
                        &codes,
                        &what,
                    ),
                );
            }
            if has("patch") {
                ops.insert(
                    "patch".into(),
                    patch_op(style, id("patch", &suffix), res, gvk, &schema, &what),
                );
            }
            if has("create") {
                let codes = [("200", "OK"), ("201", "Created"), ("202", "Accepted")];
                let op = style.operation(
                    "post",
                    id("create", &suffix),
                    format!("create {what}a {}", res.kind),
                    gvk,
                    params(WRITE_PARAMS),
                    Some(json!({ "required": true, "content": style.content(&schema, &["application/json"]) })),
                    style.responses(&codes, &schema, style.media),
                );
                ops.insert("post".into(), op);
            }
        }
    }
    Value::Object(ops)
}

/// The v3 document of one group-version.
fn v3_document(
    members: &[&Resolved],
    global: &Map<String, Value>,
    local: &Map<String, Value>,
) -> Value {
    let mut paths = Map::new();
    let mut roots = vec![
        DELETE_OPTIONS.to_string(),
        STATUS.to_string(),
        PATCH.to_string(),
    ];
    for r in members {
        resource_paths(r, &mut paths);
    }
    collect_refs(&Value::Object(paths.clone()), &mut roots);
    let schemas = closure(roots, global, local);
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

// ---------------------------------------------------------------------------------------------
// Swagger 2.0

/// Rewrites `#/components/schemas/` references to `#/definitions/`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(m) => {
            for (k, v) in m.iter_mut() {
                if let ("$ref", Value::String(r)) = (k.as_str(), &mut *v) {
                    if let Some(name) = r.strip_prefix(V3_REF) {
                        *r = format!("{V2_REF}{name}");
                    }
                } else {
                    rewrite_refs(v);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

/// Turns a v3 operation into its swagger 2.0 form: parameters with `type` instead of `schema`, the
/// request body as a `body` parameter, one `schema` per response.
fn v2_operation(op: &Value) -> Value {
    let mut out = op.clone();
    let Value::Object(m) = &mut out else {
        return out;
    };
    let mut parameters: Vec<Value> = Vec::new();
    if let Some(Value::Array(ps)) = m.remove("parameters") {
        parameters.extend(ps.into_iter().map(v2_parameter));
    }
    let mut consumes: Vec<String> = Vec::new();
    if let Some(body) = m.remove("requestBody")
        && let Some(Value::Object(content)) = body.get("content")
    {
        consumes = content.keys().cloned().collect();
        if let Some(schema) = content.values().next().and_then(|c| c.get("schema")) {
            parameters
                .push(json!({ "name": "body", "in": "body", "required": true, "schema": schema }));
        }
    }
    m.insert("parameters".into(), Value::Array(parameters));
    if !consumes.is_empty() {
        m.insert("consumes".into(), json!(consumes));
    }
    let mut produces = BTreeSet::new();
    if let Some(Value::Object(responses)) = m.get_mut("responses") {
        for response in responses.values_mut() {
            let Value::Object(response) = response else {
                continue;
            };
            if let Some(Value::Object(content)) = response.remove("content") {
                produces.extend(content.keys().cloned());
                if let Some(schema) = content.values().next().and_then(|c| c.get("schema")) {
                    response.insert("schema".into(), schema.clone());
                }
            }
        }
    }
    m.insert("produces".into(), json!(produces));
    m.insert("schemes".into(), json!(["https"]));
    out
}

fn v2_parameter(mut p: Value) -> Value {
    if let Value::Object(m) = &mut p
        && let Some(Value::Object(schema)) = m.remove("schema")
    {
        m.extend(schema);
    }
    p
}

/// The swagger 2.0 document of all served resources.
fn v2_document(
    resolved: &[&Resolved],
    global: &Map<String, Value>,
    local: &Map<String, Value>,
) -> Value {
    let mut v3_paths = Map::new();
    for r in resolved {
        resource_paths(r, &mut v3_paths);
    }
    let mut paths = Map::new();
    for (path, item) in v3_paths {
        let Value::Object(item) = item else { continue };
        let mut out = Map::new();
        for (k, v) in item {
            if k == "parameters" {
                let ps = v
                    .as_array()
                    .map(|ps| ps.iter().cloned().map(v2_parameter).collect())
                    .unwrap_or_default();
                out.insert(k, Value::Array(ps));
            } else {
                out.insert(k, v2_operation(&v));
            }
        }
        paths.insert(path, Value::Object(out));
    }
    let mut definitions = global.clone();
    definitions.extend(local.iter().map(|(k, v)| (k.clone(), v.clone())));
    for schema in definitions.values_mut() {
        rewrite_refs(schema);
    }
    let mut doc = json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "definitions": definitions,
    });
    rewrite_refs(&mut doc["paths"]);
    doc
}

// ---------------------------------------------------------------------------------------------
// Swagger 2.0 as gnostic protobuf (`openapi.v2.Document`)
//
// kubectl up to 1.28 reads `/openapi/v2` only in this encoding. The message and field numbers
// are those of gnostic's `openapiv2/OpenAPIv2.proto`; only the fields kubectl reads are written
// (kube-openapi `pkg/util/proto` for schemas, cli-runtime `query_param_verifier.go` for PATCH
// parameters). Vendor extensions travel as YAML text, and JSON is YAML.

/// A protobuf message being written.
#[derive(Default)]
struct Pb(Vec<u8>);

impl Pb {
    fn varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.0.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.0.push(v as u8);
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.varint(u64::from(field) << 3 | 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    /// A string field; empty strings are the default and not written.
    fn string(&mut self, field: u32, s: &str) {
        if !s.is_empty() {
            self.bytes(field, s.as_bytes());
        }
    }

    fn strings(&mut self, field: u32, v: Option<&Value>) {
        match v {
            Some(Value::String(s)) => self.string(field, s),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .for_each(|s| self.bytes(field, s.as_bytes())),
            _ => {}
        }
    }

    fn boolean(&mut self, field: u32, v: Option<&Value>) {
        if v == Some(&Value::Bool(true)) {
            self.varint(u64::from(field) << 3);
            self.varint(1);
        }
    }

    /// A nested message, always written (oneof and message fields have presence).
    fn message(&mut self, field: u32, write: impl FnOnce(&mut Pb)) {
        let mut inner = Pb::default();
        write(&mut inner);
        self.bytes(field, &inner.0);
    }

    /// An `Any` holding the value as YAML text.
    fn any(&mut self, field: u32, value: &Value) {
        self.message(field, |a| a.string(2, &value.to_string()));
    }

    /// `NamedAny` vendor extensions for every `x-` key of an object.
    fn extensions(&mut self, field: u32, object: &Map<String, Value>) {
        for (k, v) in object.iter().filter(|(k, _)| k.starts_with("x-")) {
            self.message(field, |n| {
                n.string(1, k);
                n.any(2, v);
            });
        }
    }
}

fn str_of<'a>(object: &'a Map<String, Value>, key: &str) -> &'a str {
    object.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// `Document`.
fn pb_document(doc: &Value) -> Vec<u8> {
    let mut pb = Pb::default();
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    pb.string(1, str_of(doc, "swagger"));
    if let Some(Value::Object(info)) = doc.get("info") {
        pb.message(2, |i| {
            i.string(1, str_of(info, "title"));
            i.string(2, str_of(info, "version"));
        });
    }
    if let Some(Value::Object(paths)) = doc.get("paths") {
        pb.message(8, |p| {
            for (name, item) in paths {
                p.message(2, |n| {
                    n.string(1, name);
                    n.message(2, |i| pb_path_item(i, item));
                });
            }
        });
    }
    if let Some(Value::Object(definitions)) = doc.get("definitions") {
        pb.message(9, |d| {
            for (name, schema) in definitions {
                d.message(1, |n| {
                    n.string(1, name);
                    n.message(2, |s| pb_schema(s, schema));
                });
            }
        });
    }
    pb.0
}

/// `PathItem`.
fn pb_path_item(pb: &mut Pb, item: &Value) {
    for (method, field) in [
        ("get", 2),
        ("put", 3),
        ("post", 4),
        ("delete", 5),
        ("patch", 8),
    ] {
        if let Some(Value::Object(op)) = item.get(method) {
            pb.message(field, |o| pb_operation(o, op));
        }
    }
    for p in item
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb.message(9, |i| pb_parameter(i, p));
    }
}

/// `Operation`.
fn pb_operation(pb: &mut Pb, op: &Map<String, Value>) {
    pb.strings(1, op.get("tags"));
    pb.string(3, str_of(op, "description"));
    pb.string(5, str_of(op, "operationId"));
    pb.strings(6, op.get("produces"));
    pb.strings(7, op.get("consumes"));
    for p in op
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb.message(8, |i| pb_parameter(i, p));
    }
    if let Some(Value::Object(responses)) = op.get("responses") {
        pb.message(9, |rs| {
            for (code, response) in responses {
                rs.message(1, |n| {
                    n.string(1, code);
                    // ResponseValue.response
                    n.message(2, |v| {
                        v.message(1, |r| {
                            r.string(
                                1,
                                response
                                    .get("description")
                                    .and_then(Value::as_str)
                                    .unwrap_or_default(),
                            );
                            if let Some(schema) = response.get("schema") {
                                r.message(2, |item| item.message(1, |s| pb_schema(s, schema)));
                            }
                        })
                    });
                });
            }
        });
    }
    pb.strings(10, op.get("schemes"));
    pb.extensions(13, op);
}

/// `ParametersItem` holding a `Parameter`: a body parameter or a query, path or header one.
fn pb_parameter(pb: &mut Pb, p: &Value) {
    let empty = Map::new();
    let p = p.as_object().unwrap_or(&empty);
    pb.message(1, |param| match str_of(p, "in") {
        "body" => param.message(1, |b| {
            b.string(1, str_of(p, "description"));
            b.string(2, str_of(p, "name"));
            b.string(3, "body");
            b.boolean(4, p.get("required"));
            if let Some(schema) = p.get("schema") {
                b.message(5, |s| pb_schema(s, schema));
            }
        }),
        location => param.message(2, |nb| {
            // NonBodyParameter oneof: header 1, query 3, path 4. Query has an extra field
            // (allow_empty_value) before `type`, which shifts its later numbers by one.
            let (field, query) = match location {
                "header" => (1, false),
                "path" => (4, false),
                _ => (3, true),
            };
            nb.message(field, |s| {
                s.boolean(1, p.get("required"));
                s.string(2, location);
                s.string(3, str_of(p, "description"));
                s.string(4, str_of(p, "name"));
                let shift = u32::from(query);
                s.string(5 + shift, str_of(p, "type"));
                s.boolean(19 + shift, p.get("uniqueItems"));
            });
        }),
    });
}

/// `Schema`.
fn pb_schema(pb: &mut Pb, schema: &Value) {
    let Value::Object(s) = schema else { return };
    pb.string(1, str_of(s, "$ref"));
    pb.string(2, str_of(s, "format"));
    pb.string(3, str_of(s, "title"));
    pb.string(4, str_of(s, "description"));
    if let Some(default) = s.get("default") {
        pb.any(5, default);
    }
    pb.strings(19, s.get("required"));
    for e in s
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb.any(20, e);
    }
    match s.get("additionalProperties") {
        Some(Value::Bool(b)) => pb.message(21, |a| a.boolean(2, Some(&Value::Bool(*b)))),
        Some(additional @ Value::Object(_)) => {
            pb.message(21, |a| a.message(1, |x| pb_schema(x, additional)))
        }
        _ => {}
    }
    if let Some(ty) = s.get("type") {
        pb.message(22, |t| t.strings(1, Some(ty)));
    }
    match s.get("items") {
        Some(Value::Array(items)) => pb.message(23, |i| {
            items.iter().for_each(|x| i.message(1, |y| pb_schema(y, x)))
        }),
        Some(items @ Value::Object(_)) => pb.message(23, |i| i.message(1, |y| pb_schema(y, items))),
        _ => {}
    }
    for x in s
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        pb.message(24, |y| pb_schema(y, x));
    }
    if let Some(Value::Object(properties)) = s.get("properties") {
        pb.message(25, |p| {
            for (name, x) in properties {
                p.message(1, |n| {
                    n.string(1, name);
                    n.message(2, |y| pb_schema(y, x));
                });
            }
        });
    }
    pb.boolean(27, s.get("readOnly"));
    pb.extensions(31, s);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::builtin;

    fn api() -> OpenApi {
        OpenApi::new(&builtin())
    }

    fn doc(api: &OpenApi, path: &str) -> Value {
        let (bytes, _) = api
            .v3_document(path)
            .unwrap_or_else(|| panic!("no document {path}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn gvk_matches(ext: &Value, r: &Resource) -> bool {
        ext["group"] == r.group.as_str()
            && ext["version"] == r.version.as_str()
            && ext["kind"] == r.kind.as_str()
    }

    #[test]
    fn index_lists_every_group_version_with_its_hash() {
        let api = api();
        let index = api.v3_index();
        let gvs: BTreeSet<String> = builtin()
            .iter()
            .map(|r| gv_path(&r.group, &r.version))
            .collect();
        let paths = index["paths"]
            .as_object()
            .unwrap_or_else(|| panic!("paths"));
        assert_eq!(paths.keys().cloned().collect::<BTreeSet<_>>(), gvs);
        for (gv, entry) in paths {
            let (bytes, hash) = api.v3_document(gv).unwrap_or_else(|| panic!("{gv}"));
            assert_eq!(
                entry["serverRelativeURL"],
                format!("/openapi/v3/{gv}?hash={hash}")
            );
            assert_eq!(
                hash,
                Doc::new(&serde_json::from_slice(&bytes).unwrap_or(Value::Null)).hash
            );
        }
        assert!(api.v3_document("apis/nope/v1").is_none());
        assert!(
            api.v3_document("/api/v1").is_some(),
            "a leading slash is tolerated"
        );
    }

    #[test]
    fn documents_and_hashes_are_stable() {
        let (a, b) = (api(), api());
        assert_eq!(a.v3_index(), b.v3_index());
        for gv in a.v3_paths() {
            assert_eq!(a.v3_document(&gv), b.v3_document(&gv), "{gv}");
        }
        assert_eq!(a.v2_json_bytes(), b.v2_json_bytes());
        assert_eq!(a.v2_protobuf(), b.v2_protobuf());
    }

    /// What kubectl's validation (query_param_verifier_v3) and client-side apply (patcher.go) need.
    #[test]
    fn every_kind_has_a_patch_operation_kubectl_accepts() {
        let api = api();
        for r in builtin()
            .iter()
            .filter(|r| r.verbs.iter().any(|v| v == "patch"))
        {
            let doc = doc(&api, &gv_path(&r.group, &r.version));
            assert_eq!(doc["openapi"], "3.0.0");
            let patches: Vec<&Value> = doc["paths"]
                .as_object()
                .unwrap_or_else(|| panic!("paths"))
                .values()
                .filter_map(|item| item.get("patch"))
                .filter(|op| gvk_matches(&op["x-kubernetes-group-version-kind"], r))
                .collect();
            assert!(
                !patches.is_empty(),
                "{}: no PATCH operation",
                r.qualified_kind()
            );
            for op in patches {
                assert_eq!(op["x-kubernetes-action"], "patch");
                let names: Vec<&str> = op["parameters"]
                    .as_array()
                    .unwrap_or_else(|| panic!("parameters"))
                    .iter()
                    .filter(|p| p["in"] == "query")
                    .filter_map(|p| p["name"].as_str())
                    .collect();
                for want in ["fieldValidation", "fieldManager", "dryRun", "force"] {
                    assert!(
                        names.contains(&want),
                        "{}: PATCH lacks {want}",
                        r.qualified_kind()
                    );
                }
                let content = &op["requestBody"]["content"];
                for t in BUILTIN_PATCH_TYPES {
                    assert_eq!(
                        content[*t]["schema"]["$ref"],
                        format!("{V3_REF}{PATCH}"),
                        "{}: {t}",
                        r.qualified_kind()
                    );
                }
            }
            // And the kind's schema carries its GVK, for explain and the apply patcher.
            let schemas = doc["components"]["schemas"]
                .as_object()
                .unwrap_or_else(|| panic!("schemas"));
            let found = schemas.values().any(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|g| gvk_matches(g, r)))
            });
            assert!(found, "{}: no schema with its GVK", r.qualified_kind());
        }
    }

    #[test]
    fn every_operation_names_its_kind_and_writes_take_field_validation() {
        let api = api();
        for gv in api.v3_paths() {
            let doc = doc(&api, &gv);
            for (path, item) in doc["paths"].as_object().unwrap_or_else(|| panic!("paths")) {
                for (method, op) in item.as_object().unwrap_or_else(|| panic!("item")) {
                    if method == "parameters" {
                        continue;
                    }
                    assert!(
                        op["x-kubernetes-group-version-kind"]["kind"].is_string(),
                        "{path} {method}"
                    );
                    assert!(op["x-kubernetes-action"].is_string(), "{path} {method}");
                    let action = op["x-kubernetes-action"].as_str().unwrap_or_default();
                    if matches!(action, "post" | "put" | "patch") {
                        let has = op["parameters"].as_array().is_some_and(|ps| {
                            ps.iter()
                                .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
                        });
                        assert!(has, "{path} {method}: no fieldValidation");
                    }
                }
            }
        }
    }

    #[test]
    fn every_reference_resolves_within_its_document() {
        let api = api();
        for gv in api.v3_paths() {
            let doc = doc(&api, &gv);
            let mut refs = Vec::new();
            collect_refs(&doc, &mut refs);
            let schemas = doc["components"]["schemas"]
                .as_object()
                .unwrap_or_else(|| panic!("schemas"));
            for name in refs {
                assert!(schemas.contains_key(&name), "{gv}: dangling $ref {name}");
            }
            let mut raw = Vec::new();
            raw_refs(&doc, &mut raw);
            assert!(
                raw.iter().all(|r| r.starts_with(V3_REF)),
                "{gv}: foreign $ref"
            );
        }
        let v2 = api.v2_json();
        let mut raw = Vec::new();
        raw_refs(&v2, &mut raw);
        for r in raw {
            let name = r
                .strip_prefix(V2_REF)
                .unwrap_or_else(|| panic!("v2 $ref {r}"));
            assert!(
                v2["definitions"].get(name).is_some(),
                "v2: dangling $ref {name}"
            );
        }
    }

    fn raw_refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(m) => {
                for (k, v) in m {
                    if let ("$ref", Value::String(r)) = (k.as_str(), v) {
                        out.push(r.clone());
                    } else {
                        raw_refs(v, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| raw_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn paths_follow_the_resource_table() {
        let api = api();
        let core = doc(&api, "api/v1");
        let pods = &core["paths"]["/api/v1/namespaces/{namespace}/pods"];
        assert_eq!(pods["get"]["x-kubernetes-action"], "list");
        assert_eq!(pods["post"]["x-kubernetes-action"], "post");
        assert_eq!(pods["delete"]["x-kubernetes-action"], "deletecollection");
        let pod = &core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
        for m in ["get", "put", "patch", "delete"] {
            assert_eq!(
                pod[m]["x-kubernetes-group-version-kind"]["kind"], "Pod",
                "{m}"
            );
        }
        assert_eq!(
            core["paths"]["/api/v1/pods"]["get"]["x-kubernetes-action"],
            "list"
        );
        assert!(
            core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]["patch"].is_object()
        );
        assert_eq!(
            core["paths"]["/api/v1/namespaces/{name}"]["get"]["x-kubernetes-group-version-kind"]["kind"],
            "Namespace"
        );
        assert_eq!(
            core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]["requestBody"]
                ["content"]["application/json"]["schema"]["$ref"],
            format!("{V3_REF}io.k8s.api.policy.v1.Eviction")
        );

        let apps = doc(&api, "apis/apps/v1");
        let scale = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
            ["patch"];
        assert_eq!(
            scale["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
        );
        assert!(apps["components"]["schemas"]["io.k8s.api.autoscaling.v1.Scale"].is_object());
        let list = &apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            "DeploymentList"
        );

        let authz = doc(&api, "apis/authorization.k8s.io/v1");
        let ssar = &authz["paths"]["/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"];
        assert!(ssar["post"].is_object() && ssar.get("get").is_none());
        assert!(
            authz["paths"]
                .get("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews/{name}")
                .is_none()
        );
    }

    #[test]
    fn schemas_carry_upstream_names_descriptions_and_patch_extensions() {
        let api = api();
        let core = doc(&api, "api/v1");
        let s = &core["components"]["schemas"];
        let containers = &s["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-list-type"], "map");
        assert_eq!(containers["x-kubernetes-list-map-keys"], json!(["name"]));
        assert_eq!(
            containers["items"]["$ref"],
            format!("{V3_REF}io.k8s.api.core.v1.Container")
        );
        let ports = &s["io.k8s.api.core.v1.Container"]["properties"]["ports"];
        assert_eq!(
            ports["x-kubernetes-list-map-keys"],
            json!(["containerPort", "protocol"])
        );
        let owners = &s[OBJECT_META]["properties"]["ownerReferences"];
        assert_eq!(owners["x-kubernetes-patch-merge-key"], "uid");
        assert!(
            s["io.k8s.api.core.v1.Pod"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("Pod"))
        );
        assert_eq!(
            s["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        assert!(
            s["io.k8s.api.core.v1.Pod"].get("required").is_none(),
            "metadata is not required upstream"
        );
        assert_eq!(
            s["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]["$ref"],
            format!("{V3_REF}{OBJECT_META}")
        );

        let apps = doc(&api, "apis/apps/v1");
        let strategy = &apps["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]
            ["strategy"];
        assert_eq!(strategy["x-kubernetes-patch-strategy"], "retainKeys");
        let selector =
            &apps["components"]["schemas"]["io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector"];
        assert_eq!(selector["x-kubernetes-map-type"], "atomic");
    }

    /// Every table line names a schema and property that exist, so none is silently lost.
    #[test]
    fn extension_table_matches_the_schemas() {
        let api = api();
        let schemas = &api.builtin.schemas;
        let mut missing = Vec::new();
        for line in EXTENSIONS.lines() {
            let mut words = line.split_whitespace();
            let (Some(schema), Some(property)) = (words.next(), words.next()) else {
                panic!("bad line {line:?}")
            };
            let name = if schema.starts_with("io.") {
                schema.to_string()
            } else {
                format!("io.k8s.api.{schema}")
            };
            let found = schemas
                .get(&name)
                .is_some_and(|s| property == "." || s["properties"].get(property).is_some());
            if !found {
                missing.push(format!("{name} {property}"));
            }
        }
        assert!(
            missing.is_empty(),
            "not in the schemas:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn custom_resources_get_their_own_group_version() {
        let mut r = builtin()
            .into_iter()
            .find(|r| r.kind == "Deployment")
            .unwrap_or_else(|| panic!("deploy"));
        r.group = "stable.example.com".into();
        r.version = "v1".into();
        r.kind = "CronTab".into();
        r.plural = "crontabs".into();
        r.custom = true;
        r.schema = Some(json!({
            "type": "object",
            "properties": { "spec": { "type": "object", "properties": { "cronSpec": { "type": "string" } } } },
        }));
        let base = api();
        let mut all: Vec<Arc<Resource>> = builtin().into_iter().map(Arc::new).collect();
        all.push(Arc::new(r));
        let api = OpenApi::new(&all);
        assert!(
            Arc::ptr_eq(&api.builtin, &base.builtin),
            "built-ins are built once"
        );
        assert_eq!(api.v3_document("api/v1"), base.v3_document("api/v1"));
        let doc = doc(&api, "apis/stable.example.com/v1");
        let s = &doc["components"]["schemas"]["com.example.stable.v1.CronTab"];
        assert_eq!(
            s["properties"]["spec"]["properties"]["cronSpec"]["type"],
            "string"
        );
        assert_eq!(
            s["properties"]["metadata"]["$ref"],
            format!("{V3_REF}{OBJECT_META}")
        );
        assert_eq!(s["x-kubernetes-group-version-kind"][0]["kind"], "CronTab");
        let patch = &doc["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]
            ["patch"];
        assert!(
            patch["requestBody"]["content"]
                .get("application/strategic-merge-patch+json")
                .is_none()
        );
        assert!(
            patch["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "fieldValidation"))
        );
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        for name in refs {
            assert!(
                doc["components"]["schemas"].get(&name).is_some(),
                "dangling {name}"
            );
        }
        assert!(
            api.v3_index()["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"].is_string()
        );
        let v2 = api.v2_json();
        assert!(v2["definitions"]["com.example.stable.v1.CronTab"].is_object());
        assert!(v2["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"].is_object());
    }

    /// Reads the fields of one protobuf message: (field number, varint or bytes).
    fn pb_fields(mut b: &[u8]) -> Vec<(u32, Result<u64, &[u8]>)> {
        fn varint(b: &mut &[u8]) -> u64 {
            let mut v = 0u64;
            for shift in (0..64).step_by(7) {
                let (byte, rest) = b
                    .split_first()
                    .unwrap_or_else(|| panic!("truncated varint"));
                *b = rest;
                v |= u64::from(byte & 0x7f) << shift;
                if byte & 0x80 == 0 {
                    break;
                }
            }
            v
        }
        let mut out = Vec::new();
        while !b.is_empty() {
            let key = varint(&mut b);
            let field = u32::try_from(key >> 3).unwrap_or_else(|e| panic!("{e}"));
            match key & 7 {
                0 => out.push((field, Ok(varint(&mut b)))),
                2 => {
                    let len = usize::try_from(varint(&mut b)).unwrap_or_else(|e| panic!("{e}"));
                    let (value, rest) = b.split_at(len);
                    out.push((field, Err(value)));
                    b = rest;
                }
                w => panic!("unexpected wire type {w}"),
            }
        }
        out
    }

    fn pb_get(b: &[u8], field: u32) -> Vec<&[u8]> {
        pb_fields(b)
            .into_iter()
            .filter(|(f, _)| *f == field)
            .filter_map(|(_, v)| v.err())
            .collect()
    }

    fn pb_str(b: &[u8], field: u32) -> String {
        pb_get(b, field)
            .first()
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .unwrap_or_default()
    }

    /// kubectl 1.27/1.28 look for the PATCH operation of a kind in the protobuf v2 document.
    #[test]
    fn v2_protobuf_has_patch_operations_with_field_validation() {
        let api = api();
        let doc = api.v2_protobuf();
        assert_eq!(pb_str(&doc, 1), "2.0");
        let paths = pb_get(&doc, 8);
        let item = pb_get(paths[0], 2)
            .into_iter()
            .find(|n| pb_str(n, 1) == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
            .unwrap_or_else(|| panic!("no deployment path"));
        let patch = pb_get(pb_get(item, 2)[0], 8)[0];
        let gvk = pb_get(patch, 13)
            .into_iter()
            .find(|e| pb_str(e, 1) == "x-kubernetes-group-version-kind")
            .map(|e| pb_str(pb_get(e, 2)[0], 2))
            .unwrap_or_else(|| panic!("no gvk extension"));
        assert_eq!(
            serde_json::from_str::<Value>(&gvk).ok(),
            Some(json!({"group": "apps", "kind": "Deployment", "version": "v1"}))
        );
        let query: Vec<String> = pb_get(patch, 8)
            .into_iter()
            .flat_map(|item| pb_get(item, 1))
            .flat_map(|param| pb_get(param, 2))
            .flat_map(|non_body| pb_get(non_body, 3))
            .map(|q| pb_str(q, 4))
            .collect();
        assert!(query.iter().any(|q| q == "fieldValidation"), "{query:?}");

        let definitions = pb_get(&doc, 9);
        let spec = pb_get(definitions[0], 1)
            .into_iter()
            .find(|n| pb_str(n, 1) == "io.k8s.api.core.v1.PodSpec")
            .map(|n| pb_get(n, 2)[0])
            .unwrap_or_else(|| panic!("no PodSpec"));
        let containers = pb_get(pb_get(spec, 25)[0], 1)
            .into_iter()
            .find(|n| pb_str(n, 1) == "containers")
            .map(|n| pb_get(n, 2)[0])
            .unwrap_or_else(|| panic!("no containers"));
        let items = pb_get(pb_get(containers, 23)[0], 1)[0];
        assert_eq!(
            pb_str(items, 1),
            "#/definitions/io.k8s.api.core.v1.Container"
        );
        let merge_key = pb_get(containers, 31)
            .into_iter()
            .find(|e| pb_str(e, 1) == "x-kubernetes-patch-merge-key")
            .map(|e| pb_str(pb_get(e, 2)[0], 2));
        assert_eq!(merge_key.as_deref(), Some("\"name\""));
    }
}
