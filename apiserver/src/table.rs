//! Server-side printing: the `meta.k8s.io/v1 Table` that `kubectl get` asks for.
//!
//! kubectl sends `Accept: application/json;as=Table;v=v1;g=meta.k8s.io` for human output and
//! prints whatever columns the server returns, so the columns, their order, priorities and the
//! cell texts here follow kube-apiserver's printers (`pkg/printers/internalversion/printers.go`,
//! Kubernetes 1.32). As upstream's server does, rows always carry every column, the priority-1
//! (`-o wide`) ones included; kubectl drops those unless asked for them.
//!
//! - [`table`] builds the whole Table for built-in resources ([`columns`] + one [`row`] per
//!   object); resources without a printer get upstream's default `Name` + `Created At`.
//! - [`crd_table`], [`crd_columns`] and [`crd_row`] do the same for custom resources from a CRD
//!   version's `additionalPrinterColumns` (simple JSONPath), defaulting to `Age`.
//! - [`human_duration`] is apimachinery's `duration.HumanDuration` (`5m3s`, `3h5m`, `2d3h`).
//!
//! Everything works on `serde_json::Value` objects in their served (v1) shape; absent fields
//! read as Go's zero values, as the typed printers see them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};

use crate::selector::LabelSelector;

const NAME_DESC: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const CREATED_DESC: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESC: &str = "Names of each container in the template.";
const IMAGES_DESC: &str = "Images referenced by each container in the template.";

/// Resources that have a dedicated printer upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Printer {
    Pod,
    PodTemplate,
    PodDisruptionBudget,
    ReplicationController,
    ReplicaSet,
    DaemonSet,
    Job,
    CronJob,
    Service,
    Ingress,
    IngressClass,
    StatefulSet,
    Endpoints,
    Node,
    Event,
    EventV1,
    Namespace,
    Secret,
    ServiceAccount,
    PersistentVolume,
    PersistentVolumeClaim,
    Deployment,
    HorizontalPodAutoscaler,
    ConfigMap,
    NetworkPolicy,
    RoleBinding,
    ClusterRoleBinding,
    Lease,
    StorageClass,
    ControllerRevision,
    ResourceQuota,
    PriorityClass,
    EndpointSlice,
    Webhook,
    RuntimeClass,
}

fn printer(group: &str, resource: &str) -> Option<Printer> {
    use Printer::*;
    Some(match (group, resource) {
        ("", "pods") => Pod,
        ("", "podtemplates") => PodTemplate,
        ("policy", "poddisruptionbudgets") => PodDisruptionBudget,
        ("", "replicationcontrollers") => ReplicationController,
        ("apps", "replicasets") => ReplicaSet,
        ("apps", "daemonsets") => DaemonSet,
        ("batch", "jobs") => Job,
        ("batch", "cronjobs") => CronJob,
        ("", "services") => Service,
        ("networking.k8s.io", "ingresses") => Ingress,
        ("networking.k8s.io", "ingressclasses") => IngressClass,
        ("apps", "statefulsets") => StatefulSet,
        ("", "endpoints") => Endpoints,
        ("", "nodes") => Node,
        ("", "events") => Event,
        ("events.k8s.io", "events") => EventV1,
        ("", "namespaces") => Namespace,
        ("", "secrets") => Secret,
        ("", "serviceaccounts") => ServiceAccount,
        ("", "persistentvolumes") => PersistentVolume,
        ("", "persistentvolumeclaims") => PersistentVolumeClaim,
        ("apps", "deployments") => Deployment,
        ("autoscaling", "horizontalpodautoscalers") => HorizontalPodAutoscaler,
        ("", "configmaps") => ConfigMap,
        ("networking.k8s.io", "networkpolicies") => NetworkPolicy,
        ("rbac.authorization.k8s.io", "rolebindings") => RoleBinding,
        ("rbac.authorization.k8s.io", "clusterrolebindings") => ClusterRoleBinding,
        ("coordination.k8s.io", "leases") => Lease,
        ("storage.k8s.io", "storageclasses") => StorageClass,
        ("apps", "controllerrevisions") => ControllerRevision,
        ("", "resourcequotas") => ResourceQuota,
        ("scheduling.k8s.io", "priorityclasses") => PriorityClass,
        ("discovery.k8s.io", "endpointslices") => EndpointSlice,
        (
            "admissionregistration.k8s.io",
            "mutatingwebhookconfigurations" | "validatingwebhookconfigurations",
        ) => Webhook,
        ("node.k8s.io", "runtimeclasses") => RuntimeClass,
        _ => return None,
    })
}

/// Each printer's columns, one `name|type|priority|description` line per column. An empty
/// description stands for the shared one of `Name`, `Age`, `Containers` or `Images`.
fn printer_columns(p: Printer) -> &'static str {
    use Printer::*;
    match p {
        Pod => "
            Name|string|0|
            Ready|string|0|The aggregate readiness state of this pod for accepting traffic.
            Status|string|0|The aggregate status of the containers in this pod.
            Restarts|string|0|The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.
            Age|string|0|
            IP|string|1|podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.
            Node|string|1|NodeName indicates in which node this pod is scheduled.
            Nominated Node|string|1|nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.
            Readiness Gates|string|1|If specified, all readiness gates will be evaluated for pod readiness.
        ",
        PodTemplate => "
            Name|string|0|
            Containers|string|0|
            Images|string|0|
            Pod Labels|string|0|The labels for the pod template.
        ",
        PodDisruptionBudget => "
            Name|string|0|
            Min Available|string|0|The minimum number of pods that must be available.
            Max Unavailable|string|0|The maximum number of pods that may be unavailable.
            Allowed Disruptions|integer|0|Calculated number of pods that may be disrupted at this time.
            Age|string|0|
        ",
        ReplicationController | ReplicaSet => "
            Name|string|0|
            Desired|integer|0|Replicas is the number of desired replicas.
            Current|integer|0|Replicas is the most recently observed number of replicas.
            Ready|integer|0|The number of ready replicas for this replication controller.
            Age|string|0|
            Containers|string|1|
            Images|string|1|
            Selector|string|1|Selector is a label query over pods that should match the Replicas count.
        ",
        DaemonSet => "
            Name|string|0|
            Desired|integer|0|The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod).
            Current|integer|0|The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.
            Ready|integer|0|The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.
            Up-to-date|integer|0|The total number of nodes that are running updated daemon pod
            Available|integer|0|The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)
            Node Selector|string|0|NodeSelector is a selector which must be true for the pod to fit on a node.
            Age|string|0|
            Containers|string|1|
            Images|string|1|
            Selector|string|1|A label query over pods that are managed by the daemon set.
        ",
        Job => "
            Name|string|0|
            Status|string|0|Status of the job.
            Completions|string|0|The number of pods which reached phase Succeeded.
            Duration|string|0|Time required to complete the job.
            Age|string|0|
            Containers|string|1|
            Images|string|1|
            Selector|string|1|A label query over pods that should match the pod count.
        ",
        CronJob => "
            Name|string|0|
            Schedule|string|0|The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.
            Timezone|string|0|The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.
            Suspend|boolean|0|This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.
            Active|integer|0|A list of pointers to currently running jobs.
            Last Schedule|string|0|Information when was the last time the job was successfully scheduled.
            Age|string|0|
            Containers|string|1|
            Images|string|1|
            Selector|string|1|A label query over pods that should match the pod count.
        ",
        Service => "
            Name|string|0|
            Type|string|0|type determines how the Service is exposed.
            Cluster-IP|string|0|clusterIP is the IP address of the service and is usually assigned randomly.
            External-IP|string|0|externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.
            Port(s)|string|0|The list of ports that are exposed by this service.
            Age|string|0|
            Selector|string|1|Route service traffic to pods with label keys and values matching this selector.
        ",
        Ingress => "
            Name|string|0|
            Class|string|0|The name of the IngressClass resource that should be used for additional configuration
            Hosts|string|0|Hosts that incoming requests are matched against before the ingress rule
            Address|string|0|Address is a list containing ingress points for the load-balancer
            Ports|string|0|Ports of TLS configurations that open
            Age|string|0|
        ",
        IngressClass => "
            Name|string|0|
            Controller|string|0|Controller that is responsible for handling this class
            Parameters|string|0|A reference to a resource with additional parameters
            Age|string|0|
        ",
        StatefulSet => "
            Name|string|0|
            Ready|string|0|Number of the pod with ready state
            Age|string|0|
            Containers|string|1|
            Images|string|1|
        ",
        Endpoints => "
            Name|string|0|
            Endpoints|string|0|The set of all endpoints is the union of all subsets.
            Age|string|0|
        ",
        Node => "
            Name|string|0|
            Status|string|0|The status of the node
            Roles|string|0|The roles of the node
            Age|string|0|
            Version|string|0|Kubelet Version reported by the node.
            Internal-IP|string|1|List of addresses reachable to the node.
            External-IP|string|1|List of addresses reachable to the node.
            OS-Image|string|1|OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).
            Kernel-Version|string|1|Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).
            Container-Runtime|string|1|ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).
        ",
        Event | EventV1 => "
            Last Seen|string|0|The time at which the most recent occurrence of this event was recorded.
            Type|string|0|Type of this event (Normal, Warning), new types could be added in the future
            Reason|string|0|This should be a short, machine understandable string that gives the reason for the transition into the object's current status.
            Object|string|0|The object that this event is about.
            Subobject|string|1|If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].
            Source|string|1|The component reporting this event. Should be a short machine understandable string.
            Message|string|0|A human-readable description of the status of this operation.
            First Seen|string|1|The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)
            Count|string|1|The number of times this event has occurred.
            Name|string|1|
        ",
        Namespace => "
            Name|string|0|
            Status|string|0|The status of the namespace
            Age|string|0|
        ",
        Secret => "
            Name|string|0|
            Type|string|0|Used to facilitate programmatic handling of secret data.
            Data|string|0|Data contains the secret data.
            Age|string|0|
        ",
        ServiceAccount => "
            Name|string|0|
            Secrets|string|0|Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.
            Age|string|0|
        ",
        PersistentVolume => "
            Name|string|0|
            Capacity|string|0|capacity is the description of the persistent volume's resources and capacity.
            Access Modes|string|0|accessModes contains all ways the volume can be mounted.
            Reclaim Policy|string|0|persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim.
            Status|string|0|phase indicates if a volume is available, bound to a claim, or released by a claim.
            Claim|string|0|claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim.
            StorageClass|string|0|StorageClass of the pv
            VolumeAttributesClass|string|0|VolumeAttributesClass of the pv
            Reason|string|0|reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.
            Age|string|0|
            VolumeMode|string|1|volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state.
        ",
        PersistentVolumeClaim => "
            Name|string|0|
            Status|string|0|phase represents the current phase of PersistentVolumeClaim.
            Volume|string|0|volumeName is the binding reference to the PersistentVolume backing this claim.
            Capacity|string|0|capacity represents the actual resources of the underlying volume.
            Access Modes|string|0|accessModes contains the actual access modes the volume backing the PVC has.
            StorageClass|string|0|StorageClass of the pvc
            VolumeAttributesClass|string|0|VolumeAttributesClass of the pvc
            Age|string|0|
            VolumeMode|string|1|volumeMode defines what type of volume is required by the claim.
        ",
        Deployment => "
            Name|string|0|
            Ready|string|0|Number of the pod with ready state
            Up-to-date|string|0|Total number of non-terminated pods targeted by this deployment that have the desired template spec.
            Available|string|0|Total number of available pods (ready for at least minReadySeconds) targeted by this deployment.
            Age|string|0|
            Containers|string|1|
            Images|string|1|
            Selector|string|1|Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.
        ",
        HorizontalPodAutoscaler => "
            Name|string|0|
            Reference|string|0|reference to scaled resource; horizontal pod autoscaler will learn the current resource consumption and will set the desired number of pods by using its Scale subresource.
            Targets|string|0|metrics contains the specifications for which to use to calculate the desired replica count.
            MinPods|string|0|minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.
            MaxPods|string|0|maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.
            Replicas|string|0|currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.
            Age|string|0|
        ",
        ConfigMap => "
            Name|string|0|
            Data|string|0|Data contains the configuration data.
            Age|string|0|
        ",
        NetworkPolicy => "
            Name|string|0|
            Pod-Selector|string|0|Selects the pods to which this NetworkPolicy object applies.
            Age|string|0|
        ",
        RoleBinding => "
            Name|string|0|
            Role|string|0|RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace.
            Age|string|0|
            Users|string|1|Users in the roleBinding
            Groups|string|1|Groups in the roleBinding
            ServiceAccounts|string|1|ServiceAccounts in the roleBinding
        ",
        ClusterRoleBinding => "
            Name|string|0|
            Role|string|0|RoleRef can only reference a ClusterRole in the global namespace.
            Age|string|0|
            Users|string|1|Users in the clusterRoleBinding
            Groups|string|1|Groups in the clusterRoleBinding
            ServiceAccounts|string|1|ServiceAccounts in the clusterRoleBinding
        ",
        Lease => "
            Name|string|0|
            Holder|string|0|holderIdentity contains the identity of the holder of a current lease.
            Age|string|0|
        ",
        StorageClass => "
            Name|string|0|
            Provisioner|string|0|provisioner indicates the type of the provisioner.
            ReclaimPolicy|string|0|reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class.
            VolumeBindingMode|string|0|volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.
            AllowVolumeExpansion|string|0|allowVolumeExpansion shows whether the storage class allow volume expand.
            Age|string|0|
        ",
        ControllerRevision => "
            Name|string|0|
            Controller|string|0|Controller of the object
            Revision|string|0|Revision indicates the revision of the state represented by Data.
            Age|string|0|
        ",
        ResourceQuota => "
            Name|string|0|
            Request|string|0|Request represents a minimum amount of cpu/memory that a container may consume.
            Limit|string|0|Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.
            Age|string|0|
        ",
        PriorityClass => "
            Name|string|0|
            Value|integer|0|value represents the integer value of this priority class.
            Global-Default|boolean|0|globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.
            Age|string|0|
            PreemptionPolicy|string|0|preemptionPolicy is the Policy for preempting pods with lower priority.
        ",
        EndpointSlice => "
            Name|string|0|
            AddressType|string|0|addressType specifies the type of address carried by this EndpointSlice.
            Ports|string|0|ports specifies the list of network ports exposed by each endpoint in this slice.
            Endpoints|string|0|endpoints is a list of unique endpoints in this slice.
            Age|string|0|
        ",
        Webhook => "
            Name|string|0|
            Webhooks|integer|0|Webhooks indicates the number of webhooks registered in this configuration
            Age|string|0|
        ",
        RuntimeClass => "
            Name|string|0|
            Handler|string|0|handler specifies the underlying runtime and configuration that the CRI implementation will use to handle pods of this class.
            Age|string|0|
        ",
    }
}

fn default_description(column: &str) -> &'static str {
    match column {
        "Name" => NAME_DESC,
        "Containers" => CONTAINERS_DESC,
        "Images" => IMAGES_DESC,
        _ => CREATED_DESC,
    }
}

/// Parses a [`printer_columns`] table into `columnDefinitions`.
fn column_defs(spec: &str) -> Vec<Value> {
    spec.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| {
            let mut fields = line.splitn(4, '|');
            let name = fields.next().unwrap_or_default();
            let ty = fields.next().unwrap_or("string");
            let priority: u8 = fields.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            let description = match fields.next().unwrap_or_default() {
                "" => default_description(name),
                d => d,
            };
            column_json(name, ty, priority, description)
        })
        .collect()
}

fn column_json(name: &str, ty: &str, priority: u8, description: &str) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": description, "priority": priority})
}

/// The `columnDefinitions` kube-apiserver serves for a built-in resource (`group` "" for core).
/// Resources without a printer get upstream's default: `Name` and `Created At` (type `date`).
pub fn columns(group: &str, resource: &str) -> Vec<Value> {
    match printer(group, resource) {
        Some(p) => column_defs(printer_columns(p)),
        None => vec![
            column_json("Name", "string", 0, NAME_DESC),
            column_json("Created At", "date", 0, CREATED_DESC),
        ],
    }
}

/// The cells of one object's row, matching [`columns`] (wide columns included).
pub fn row(group: &str, resource: &str, obj: &Value, now: SystemTime) -> Vec<Value> {
    let now = unix_nanos(now);
    let Some(p) = printer(group, resource) else {
        let created = parse_time(text(obj, "/metadata/creationTimestamp")).unwrap_or(GO_ZERO_TIME);
        return vec![
            json!(text(obj, "/metadata/name")),
            json!(format_time(created)),
        ];
    };
    use Printer::*;
    match p {
        Pod => pod_row(obj, now),
        PodTemplate => {
            let (names, images) = containers(obj, "/template/spec/containers");
            vec![
                name(obj),
                json!(names),
                json!(images),
                json!(format_labels(at(obj, "/template/metadata/labels"))),
            ]
        }
        PodDisruptionBudget => vec![
            name(obj),
            json!(int_or_string(at(obj, "/spec/minAvailable"))),
            json!(int_or_string(at(obj, "/spec/maxUnavailable"))),
            json!(int(obj, "/status/disruptionsAllowed")),
            age(obj, now),
        ],
        ReplicationController | ReplicaSet => {
            let (names, images) = containers(obj, "/spec/template/spec/containers");
            let selector = if p == ReplicationController {
                format_labels(at(obj, "/spec/selector"))
            } else {
                format_label_selector(at(obj, "/spec/selector"))
            };
            vec![
                name(obj),
                json!(replicas(obj)),
                json!(int(obj, "/status/replicas")),
                json!(int(obj, "/status/readyReplicas")),
                age(obj, now),
                json!(names),
                json!(images),
                json!(selector),
            ]
        }
        DaemonSet => {
            let (names, images) = containers(obj, "/spec/template/spec/containers");
            vec![
                name(obj),
                json!(int(obj, "/status/desiredNumberScheduled")),
                json!(int(obj, "/status/currentNumberScheduled")),
                json!(int(obj, "/status/numberReady")),
                json!(int(obj, "/status/updatedNumberScheduled")),
                json!(int(obj, "/status/numberAvailable")),
                json!(format_labels(at(obj, "/spec/template/spec/nodeSelector"))),
                age(obj, now),
                json!(names),
                json!(images),
                json!(format_label_selector(at(obj, "/spec/selector"))),
            ]
        }
        Job => job_row(obj, now),
        CronJob => {
            let (names, images) =
                containers(obj, "/spec/jobTemplate/spec/template/spec/containers");
            let last = match parse_time(text(obj, "/status/lastScheduleTime")) {
                Some(t) => since(t, now),
                None => "<none>".to_string(),
            };
            let tz = at(obj, "/spec/timeZone").as_str().unwrap_or("<none>");
            vec![
                name(obj),
                json!(text(obj, "/spec/schedule")),
                json!(tz),
                json!(bool_ptr(at(obj, "/spec/suspend"))),
                json!(list(obj, "/status/active").len()),
                json!(last),
                age(obj, now),
                json!(names),
                json!(images),
                json!(format_label_selector(at(
                    obj,
                    "/spec/jobTemplate/spec/selector"
                ))),
            ]
        }
        Service => service_row(obj, now),
        Ingress => {
            let class = at(obj, "/spec/ingressClassName")
                .as_str()
                .unwrap_or("<none>");
            let ports = if list(obj, "/spec/tls").is_empty() {
                "80"
            } else {
                "80, 443"
            };
            vec![
                name(obj),
                json!(class),
                json!(ingress_hosts(list(obj, "/spec/rules"))),
                json!(load_balancer_ingress(list(
                    obj,
                    "/status/loadBalancer/ingress"
                ))),
                json!(ports),
                age(obj, now),
            ]
        }
        IngressClass => {
            let params = at(obj, "/spec/parameters");
            let params = if params.is_object() {
                let mut s = text(params, "/kind").to_string();
                if let Some(g) = at(params, "/apiGroup").as_str() {
                    s = format!("{s}.{g}");
                }
                format!("{s}/{}", text(params, "/name"))
            } else {
                "<none>".to_string()
            };
            vec![
                name(obj),
                json!(text(obj, "/spec/controller")),
                json!(params),
                age(obj, now),
            ]
        }
        StatefulSet => {
            let (names, images) = containers(obj, "/spec/template/spec/containers");
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    int(obj, "/status/readyReplicas"),
                    replicas(obj)
                )),
                age(obj, now),
                json!(names),
                json!(images),
            ]
        }
        Endpoints => vec![name(obj), json!(format_endpoints(obj)), age(obj, now)],
        Node => node_row(obj, now),
        Event => event_row(&EventFields::core(obj), now),
        EventV1 => event_row(&EventFields::events_v1(obj), now),
        Namespace => vec![name(obj), json!(text(obj, "/status/phase")), age(obj, now)],
        Secret => vec![
            name(obj),
            json!(text(obj, "/type")),
            json!(map_len(obj, "/data")),
            age(obj, now),
        ],
        ServiceAccount => vec![name(obj), json!(list(obj, "/secrets").len()), age(obj, now)],
        PersistentVolume => pv_row(obj, now),
        PersistentVolumeClaim => pvc_row(obj, now),
        Deployment => {
            let (names, images) = containers(obj, "/spec/template/spec/containers");
            let selector = match LabelSelector::from_label_selector_json(at(obj, "/spec/selector"))
            {
                Ok(s) => s.to_string_form(),
                Err(_) => "<invalid>".to_string(),
            };
            vec![
                name(obj),
                json!(format!(
                    "{}/{}",
                    int(obj, "/status/readyReplicas"),
                    replicas(obj)
                )),
                json!(int(obj, "/status/updatedReplicas")),
                json!(int(obj, "/status/availableReplicas")),
                age(obj, now),
                json!(names),
                json!(images),
                json!(selector),
            ]
        }
        HorizontalPodAutoscaler => {
            let reference = format!(
                "{}/{}",
                text(obj, "/spec/scaleTargetRef/kind"),
                text(obj, "/spec/scaleTargetRef/name")
            );
            let min = match at(obj, "/spec/minReplicas").as_i64() {
                Some(n) => n.to_string(),
                None => "<unset>".to_string(),
            };
            vec![
                name(obj),
                json!(reference),
                json!(hpa_metrics(obj)),
                json!(min),
                json!(int(obj, "/spec/maxReplicas")),
                json!(int(obj, "/status/currentReplicas")),
                age(obj, now),
            ]
        }
        ConfigMap => vec![
            name(obj),
            json!(map_len(obj, "/data") + map_len(obj, "/binaryData")),
            age(obj, now),
        ],
        NetworkPolicy => vec![
            name(obj),
            json!(format_label_selector(at(obj, "/spec/podSelector"))),
            age(obj, now),
        ],
        RoleBinding | ClusterRoleBinding => {
            let role = format!(
                "{}/{}",
                text(obj, "/roleRef/kind"),
                text(obj, "/roleRef/name")
            );
            let (users, groups, sas) = subjects(list(obj, "/subjects"));
            vec![
                name(obj),
                json!(role),
                age(obj, now),
                json!(users),
                json!(groups),
                json!(sas),
            ]
        }
        Lease => vec![
            name(obj),
            json!(text(obj, "/spec/holderIdentity")),
            age(obj, now),
        ],
        StorageClass => {
            let annotations = at(obj, "/metadata/annotations");
            let is_default = [
                "storageclass.kubernetes.io/is-default-class",
                "storageclass.beta.kubernetes.io/is-default-class",
            ]
            .iter()
            .any(|k| annotations.get(k).and_then(Value::as_str) == Some("true"));
            let mut n = text(obj, "/metadata/name").to_string();
            if is_default {
                n.push_str(" (default)");
            }
            vec![
                json!(n),
                json!(text(obj, "/provisioner")),
                json!(at(obj, "/reclaimPolicy").as_str().unwrap_or("Delete")),
                json!(
                    at(obj, "/volumeBindingMode")
                        .as_str()
                        .unwrap_or("Immediate")
                ),
                json!(at(obj, "/allowVolumeExpansion").as_bool().unwrap_or(false)),
                age(obj, now),
            ]
        }
        ControllerRevision => vec![
            name(obj),
            json!(controller_of(obj)),
            json!(int(obj, "/revision")),
            age(obj, now),
        ],
        ResourceQuota => {
            let (request, limit) = quota_columns(obj);
            vec![name(obj), json!(request), json!(limit), age(obj, now)]
        }
        PriorityClass => vec![
            name(obj),
            json!(int(obj, "/value")),
            json!(at(obj, "/globalDefault").as_bool().unwrap_or(false)),
            age(obj, now),
            json!(text(obj, "/preemptionPolicy")),
        ],
        EndpointSlice => vec![
            name(obj),
            json!(text(obj, "/addressType")),
            json!(slice_ports(list(obj, "/ports"))),
            json!(slice_endpoints(list(obj, "/endpoints"))),
            age(obj, now),
        ],
        Webhook => vec![
            name(obj),
            json!(list(obj, "/webhooks").len()),
            age(obj, now),
        ],
        RuntimeClass => vec![name(obj), json!(text(obj, "/handler")), age(obj, now)],
    }
}

/// The whole `meta.k8s.io/v1 Table` for `objects` of a built-in resource.
///
/// `list_metadata` becomes the Table's `metadata` (`resourceVersion`, `continue`, ...).
/// `include_object` is the `includeObject` parameter: `Object` embeds each object, `None` omits
/// it, anything else (the default `PartialObjectMetadata`) embeds only its metadata.
pub fn table(
    group: &str,
    resource: &str,
    objects: &[Value],
    list_metadata: Value,
    include_object: &str,
    now: SystemTime,
) -> Value {
    let is_pod = printer(group, resource) == Some(Printer::Pod);
    let rows = objects
        .iter()
        .map(|obj| {
            let mut r = table_row(row(group, resource, obj, now), obj, include_object);
            if is_pod && let Some(conditions) = pod_row_conditions(obj) {
                r.insert("conditions".into(), conditions);
            }
            Value::Object(r)
        })
        .collect();
    assemble(columns(group, resource), rows, list_metadata)
}

/// The Table for custom resources, with columns from the CRD version's
/// `additionalPrinterColumns` (see [`crd_columns`]).
pub fn crd_table(
    additional_printer_columns: &Value,
    objects: &[Value],
    list_metadata: Value,
    include_object: &str,
    now: SystemTime,
) -> Value {
    let rows = objects
        .iter()
        .map(|obj| {
            Value::Object(table_row(
                crd_row(additional_printer_columns, obj, now),
                obj,
                include_object,
            ))
        })
        .collect();
    assemble(crd_columns(additional_printer_columns), rows, list_metadata)
}

fn table_row(cells: Vec<Value>, obj: &Value, include_object: &str) -> Map<String, Value> {
    let mut r = Map::new();
    r.insert("cells".into(), Value::Array(cells));
    match include_object {
        "None" => {}
        "Object" => {
            r.insert("object".into(), obj.clone());
        }
        _ => {
            let metadata = obj.get("metadata").cloned().unwrap_or_else(|| json!({}));
            r.insert(
                "object".into(),
                json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}),
            );
        }
    }
    r
}

fn assemble(columns: Vec<Value>, rows: Vec<Value>, list_metadata: Value) -> Value {
    let metadata = if list_metadata.is_object() {
        list_metadata
    } else {
        json!({})
    };
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": columns,
        "rows": rows,
    })
}

// ---------------------------------------------------------------------------------------------
// Custom resources

/// The printer columns a CRD version declares, or upstream's default (`Age`) when it has none.
fn crd_column_list(apc: &Value) -> Vec<Value> {
    match apc.as_array() {
        Some(cols) if !cols.is_empty() => cols.clone(),
        _ => vec![json!({
            "name": "Age",
            "type": "date",
            "description": CREATED_DESC,
            "jsonPath": ".metadata.creationTimestamp",
        })],
    }
}

/// `columnDefinitions` for a custom resource: `Name`, then each of the version's
/// `additionalPrinterColumns` (or `Age` when there are none).
pub fn crd_columns(additional_printer_columns: &Value) -> Vec<Value> {
    let mut out = vec![column_json("Name", "string", 0, NAME_DESC)];
    for col in crd_column_list(additional_printer_columns) {
        let path = text(&col, "/jsonPath");
        let description = match text(&col, "/description") {
            "" => format!("Custom resource definition column (in JSONPath format): {path}"),
            d => d.to_string(),
        };
        out.push(json!({
            "name": text(&col, "/name"),
            "type": text(&col, "/type"),
            "format": text(&col, "/format"),
            "description": description,
            "priority": int(&col, "/priority"),
        }));
    }
    out
}

/// The cells of a custom resource's row for [`crd_columns`]: the name, then each column's
/// JSONPath value converted to the column's type (`date` shown as an age). Missing values and
/// type mismatches are `null`, as upstream.
pub fn crd_row(additional_printer_columns: &Value, obj: &Value, now: SystemTime) -> Vec<Value> {
    let now = unix_nanos(now);
    let mut cells = vec![name(obj)];
    for col in crd_column_list(additional_printer_columns) {
        let value = JsonPath::parse(text(&col, "/jsonPath")).and_then(|p| p.first(obj));
        cells.push(match value {
            None | Some(Value::Null) => Value::Null,
            Some(v) => crd_cell(text(&col, "/type"), v, now),
        });
    }
    cells
}

fn crd_cell(ty: &str, v: &Value, now: i128) -> Value {
    match (ty, v) {
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Array(_) | Value::Object(_)) => json!(v.to_string()),
        ("string", Value::Bool(b)) => json!(b.to_string()),
        ("string", Value::Number(n)) => json!(n.to_string()),
        ("integer", Value::Number(n)) => match n.as_i64() {
            Some(i) => json!(i),
            // Go converts float64 to int64 by truncation.
            None => n.as_f64().map(|f| json!(f as i64)).unwrap_or(Value::Null),
        },
        ("number", Value::Number(n)) => n.as_f64().map(|f| json!(f)).unwrap_or(Value::Null),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) => match parse_time(s) {
            Some(t) => json!(since(t, now)),
            None => json!("<invalid>"),
        },
        _ => Value::Null,
    }
}

/// The subset of kubectl's JSONPath used by printer columns: `.a.b`, `[0]`, `[*]`, `['key']`,
/// and filters `[?(@.type=="Ready")]` / `!=`.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    Filter {
        path: Vec<String>,
        equal: bool,
        value: Value,
    },
}

#[derive(Debug, Clone, PartialEq)]
struct JsonPath(Vec<Step>);

impl JsonPath {
    fn parse(path: &str) -> Option<JsonPath> {
        let path = path.trim();
        let path = path
            .strip_prefix('{')
            .and_then(|p| p.strip_suffix('}'))
            .unwrap_or(path);
        let path = path.strip_prefix('$').unwrap_or(path);
        let mut steps = Vec::new();
        let mut rest = path;
        while !rest.is_empty() {
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                if end > 0 {
                    steps.push(Step::Field(r[..end].to_string()));
                }
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let close = bracket_end(r)?;
                steps.push(Self::bracket(r[..close].trim())?);
                rest = &r[close + 1..];
            } else {
                // A leading field without a dot (`spec.replicas`).
                let end = rest.find(['.', '[']).unwrap_or(rest.len());
                steps.push(Step::Field(rest[..end].to_string()));
                rest = &rest[end..];
            }
        }
        Some(JsonPath(steps))
    }

    fn bracket(inner: &str) -> Option<Step> {
        if inner == "*" {
            return Some(Step::All);
        }
        if let Some(q) = unquote(inner) {
            return Some(Step::Field(q));
        }
        if let Some(f) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
            let (lhs, equal, rhs) = if let Some((l, r)) = f.split_once("==") {
                (l, true, r)
            } else {
                let (l, r) = f.split_once("!=")?;
                (l, false, r)
            };
            let path = lhs
                .trim()
                .strip_prefix("@.")?
                .split('.')
                .map(str::to_string)
                .collect();
            let rhs = rhs.trim();
            let value = match unquote(rhs) {
                Some(s) => Value::String(s),
                None => serde_json::from_str(rhs).ok()?,
            };
            return Some(Step::Filter { path, equal, value });
        }
        inner.parse().ok().map(Step::Index)
    }

    /// The first value the path selects, if any.
    fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        let mut current = vec![root];
        for step in &self.0 {
            let mut next = Vec::new();
            for v in current {
                match step {
                    Step::Field(f) => next.extend(v.get(f.as_str())),
                    Step::Index(i) => {
                        let arr = v.as_array().map(Vec::as_slice).unwrap_or_default();
                        let idx = if *i < 0 {
                            i64::try_from(arr.len()).ok()? + i
                        } else {
                            *i
                        };
                        next.extend(usize::try_from(idx).ok().and_then(|i| arr.get(i)));
                    }
                    Step::All => match v {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(m) => next.extend(m.values()),
                        _ => {}
                    },
                    Step::Filter { path, equal, value } => {
                        for item in v.as_array().map(Vec::as_slice).unwrap_or_default() {
                            let got = path.iter().try_fold(item, |x, seg| x.get(seg.as_str()));
                            if got.is_some() && (got == Some(value)) == *equal {
                                next.push(item);
                            }
                        }
                    }
                }
            }
            current = next;
        }
        current.into_iter().next()
    }
}

fn bracket_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn unquote(s: &str) -> Option<String> {
    for q in ['\'', '"'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return Some(inner.to_string());
        }
    }
    None
}

// ---------------------------------------------------------------------------------------------
// Per-resource cells

fn pod_row(pod: &Value, now: i128) -> Vec<Value> {
    let containers = list(pod, "/spec/containers");
    let init_specs = list(pod, "/spec/initContainers");
    let phase = text(pod, "/status/phase");
    let conditions = list(pod, "/status/conditions");

    let mut reason = match text(pod, "/status/reason") {
        "" => phase.to_string(),
        r => r.to_string(),
    };
    if conditions
        .iter()
        .any(|c| text(c, "/type") == "PodScheduled" && text(c, "/reason") == "SchedulingGated")
    {
        reason = "SchedulingGated".to_string();
    }

    // Init containers with restartPolicy Always are sidecars: they count as containers.
    let is_sidecar = |name: &str| {
        init_specs
            .iter()
            .any(|c| text(c, "/name") == name && text(c, "/restartPolicy") == "Always")
    };
    let total = containers.len()
        + init_specs
            .iter()
            .filter(|c| text(c, "/restartPolicy") == "Always")
            .count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<i128> = None;
    let mut last_sidecar_restart: Option<i128> = None;
    let later = |a: Option<i128>, b: Option<i128>| a.max(b);

    let mut initializing = false;
    for (i, cs) in list(pod, "/status/initContainerStatuses")
        .iter()
        .enumerate()
    {
        let count = int(cs, "/restartCount");
        let finished = parse_time(text(cs, "/lastState/terminated/finishedAt"));
        restarts += count;
        last_restart = later(last_restart, finished);
        let sidecar = is_sidecar(text(cs, "/name"));
        if sidecar {
            sidecar_restarts += count;
            last_sidecar_restart = later(last_sidecar_restart, finished);
        }
        let terminated = at(cs, "/state/terminated");
        let waiting_reason = text(cs, "/state/waiting/reason");
        if terminated.is_object() && int(terminated, "/exitCode") == 0 {
            continue;
        } else if sidecar && at(cs, "/started").as_bool() == Some(true) {
            if at(cs, "/ready").as_bool() == Some(true) {
                ready += 1;
            }
            continue;
        } else if terminated.is_object() {
            reason = match text(terminated, "/reason") {
                "" if int(terminated, "/signal") != 0 => {
                    format!("Init:Signal:{}", int(terminated, "/signal"))
                }
                "" => format!("Init:ExitCode:{}", int(terminated, "/exitCode")),
                r => format!("Init:{r}"),
            };
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", init_specs.len());
        }
        initializing = true;
        break;
    }

    let initialized = conditions
        .iter()
        .any(|c| text(c, "/type") == "Initialized" && text(c, "/status") == "True");
    if !initializing || initialized {
        restarts = sidecar_restarts;
        last_restart = last_sidecar_restart;
        let mut has_running = false;
        for cs in list(pod, "/status/containerStatuses").iter().rev() {
            restarts += int(cs, "/restartCount");
            last_restart = later(
                last_restart,
                parse_time(text(cs, "/lastState/terminated/finishedAt")),
            );
            let waiting_reason = text(cs, "/state/waiting/reason");
            let terminated = at(cs, "/state/terminated");
            if !waiting_reason.is_empty() {
                reason = waiting_reason.to_string();
            } else if terminated.is_object() {
                reason = match text(terminated, "/reason") {
                    "" if int(terminated, "/signal") != 0 => {
                        format!("Signal:{}", int(terminated, "/signal"))
                    }
                    "" => format!("ExitCode:{}", int(terminated, "/exitCode")),
                    r => r.to_string(),
                };
            } else if at(cs, "/ready").as_bool() == Some(true)
                && at(cs, "/state/running").is_object()
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            let pod_ready = conditions
                .iter()
                .any(|c| text(c, "/type") == "Ready" && text(c, "/status") == "True");
            reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }

    let deleting = !at(pod, "/metadata/deletionTimestamp").is_null();
    if deleting && text(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".to_string();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".to_string();
    }

    let restarts = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", since(t, now)),
        _ => restarts.to_string(),
    };

    let ip = match at(pod, "/status/podIPs/0/ip")
        .as_str()
        .unwrap_or(text(pod, "/status/podIP"))
    {
        "" => "<none>",
        ip => ip,
    };
    let gates = list(pod, "/spec/readinessGates");
    let gates = if gates.is_empty() {
        "<none>".to_string()
    } else {
        let passed = gates
            .iter()
            .filter(|g| {
                let ty = text(g, "/conditionType");
                conditions
                    .iter()
                    .find(|c| text(c, "/type") == ty)
                    .is_some_and(|c| text(c, "/status") == "True")
            })
            .count();
        format!("{passed}/{}", gates.len())
    };
    vec![
        name(pod),
        json!(format!("{ready}/{total}")),
        json!(reason),
        json!(restarts),
        age(pod, now),
        json!(ip),
        json!(or_none(text(pod, "/spec/nodeName"))),
        json!(or_none(text(pod, "/status/nominatedNodeName"))),
        json!(gates),
    ]
}

/// Upstream marks rows of finished pods with a `Completed` row condition.
fn pod_row_conditions(pod: &Value) -> Option<Value> {
    let (reason, message) = match text(pod, "/status/phase") {
        "Succeeded" => ("Succeeded", "The pod has completed successfully."),
        "Failed" => ("Failed", "The pod failed."),
        _ => return None,
    };
    Some(json!([{"type": "Completed", "status": "True", "reason": reason, "message": message}]))
}

fn job_row(job: &Value, now: i128) -> Vec<Value> {
    let succeeded = int(job, "/status/succeeded");
    let completions = match at(job, "/spec/completions").as_i64() {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int(job, "/spec/parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        parse_time(text(job, "/status/startTime")),
        parse_time(text(job, "/status/completionTime")),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => since(start, now),
        (Some(start), Some(end)) => human_duration_nanos(end - start),
    };
    // The first condition of a type decides, as upstream's hasJobCondition.
    let has = |ty: &str| {
        list(job, "/status/conditions")
            .iter()
            .find(|c| text(c, "/type") == ty)
            .is_some_and(|c| text(c, "/status") == "True")
    };
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if !at(job, "/metadata/deletionTimestamp").is_null() {
        "Terminating"
    } else if has("Suspended") {
        "Suspended"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    let (names, images) = containers(job, "/spec/template/spec/containers");
    vec![
        name(job),
        json!(status),
        json!(completions),
        json!(duration),
        age(job, now),
        json!(names),
        json!(images),
        json!(format_label_selector(at(job, "/spec/selector"))),
    ]
}

fn service_row(svc: &Value, now: i128) -> Vec<Value> {
    let ty = match text(svc, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match at(svc, "/spec/clusterIPs/0")
        .as_str()
        .unwrap_or(text(svc, "/spec/clusterIP"))
    {
        "" => "<none>",
        ip => ip,
    };
    let external_ips: Vec<&str> = list(svc, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let external = match ty {
        "ClusterIP" | "NodePort" if !external_ips.is_empty() => external_ips.join(","),
        "ClusterIP" | "NodePort" => "<none>".to_string(),
        "LoadBalancer" => {
            let lb = load_balancer_ingress(list(svc, "/status/loadBalancer/ingress"));
            let mut all: Vec<&str> = if lb.is_empty() {
                Vec::new()
            } else {
                lb.split(',').collect()
            };
            all.extend(&external_ips);
            if all.is_empty() {
                "<pending>".to_string()
            } else {
                all.join(",")
            }
        }
        "ExternalName" => text(svc, "/spec/externalName").to_string(),
        _ => "<unknown>".to_string(),
    };
    vec![
        name(svc),
        json!(ty),
        json!(cluster_ip),
        json!(external),
        json!(service_ports(list(svc, "/spec/ports"))),
        age(svc, now),
        json!(format_labels(at(svc, "/spec/selector"))),
    ]
}

/// `80/TCP`, `80:30080/TCP` (with a node port), comma separated; `<none>` without ports.
fn service_ports(ports: &[Value]) -> String {
    let pieces: Vec<String> = ports
        .iter()
        .map(|p| {
            let proto = match text(p, "/protocol") {
                "" => "TCP",
                pr => pr,
            };
            match int(p, "/nodePort") {
                n if n > 0 => format!("{}:{n}/{proto}", int(p, "/port")),
                _ => format!("{}/{proto}", int(p, "/port")),
            }
        })
        .collect();
    if pieces.is_empty() {
        "<none>".to_string()
    } else {
        pieces.join(",")
    }
}

/// The sorted, de-duplicated IPs (or hostnames) of a load balancer status.
fn load_balancer_ingress(ingress: &[Value]) -> String {
    let mut out: Vec<&str> = ingress
        .iter()
        .filter_map(|i| match (text(i, "/ip"), text(i, "/hostname")) {
            ("", "") => None,
            ("", h) => Some(h),
            (ip, _) => Some(ip),
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out.join(",")
}

fn ingress_hosts(rules: &[Value]) -> String {
    const MAX: usize = 3;
    let mut hosts = Vec::new();
    let mut more = false;
    for rule in rules {
        if hosts.len() == MAX {
            more = true;
        }
        let host = text(rule, "/host");
        if !more && !host.is_empty() {
            hosts.push(host);
        }
    }
    if hosts.is_empty() {
        return "*".to_string();
    }
    let joined = hosts.join(",");
    if more {
        format!("{joined} + {} more...", rules.len() - MAX)
    } else {
        joined
    }
}

fn node_row(node: &Value, now: i128) -> Vec<Value> {
    let ready = list(node, "/status/conditions")
        .iter()
        .rev()
        .find(|c| text(c, "/type") == "Ready");
    let mut status = vec![match ready {
        Some(c) if text(c, "/status") == "True" => "Ready",
        Some(_) => "NotReady",
        None => "Unknown",
    }];
    if at(node, "/spec/unschedulable").as_bool() == Some(true) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = Vec::new();
    if let Some(labels) = at(node, "/metadata/labels").as_object() {
        for (k, v) in labels {
            match k.strip_prefix("node-role.kubernetes.io/") {
                Some(role) if !role.is_empty() => roles.push(role),
                Some(_) => {}
                None if k == "kubernetes.io/role" => {
                    roles.extend(v.as_str().filter(|v| !v.is_empty()))
                }
                None => {}
            }
        }
    }
    roles.sort_unstable();
    roles.dedup();
    let roles = if roles.is_empty() {
        "<none>".to_string()
    } else {
        roles.join(",")
    };
    let address = |ty: &str| {
        list(node, "/status/addresses")
            .iter()
            .find(|a| text(a, "/type") == ty)
            .map(|a| text(a, "/address"))
            .unwrap_or("<none>")
    };
    let info = |field: &str| match text(node, &format!("/status/nodeInfo/{field}")) {
        "" => "<unknown>".to_string(),
        v => v.to_string(),
    };
    vec![
        name(node),
        json!(status.join(",")),
        json!(roles),
        age(node, now),
        json!(text(node, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

/// The fields the event printer reads, from either `v1` or `events.k8s.io/v1` events.
struct EventFields<'a> {
    first: Option<i128>,
    last: Option<i128>,
    event_time: Option<i128>,
    count: i64,
    series: Option<(i64, Option<i128>)>,
    kind: &'a str,
    object_name: &'a str,
    field_path: &'a str,
    ty: &'a str,
    reason: &'a str,
    message: &'a str,
    component: &'a str,
    host: &'a str,
    reporting_controller: &'a str,
    reporting_instance: &'a str,
    name: &'a str,
}

impl<'a> EventFields<'a> {
    fn core(ev: &'a Value) -> Self {
        EventFields {
            first: parse_time(text(ev, "/firstTimestamp")),
            last: parse_time(text(ev, "/lastTimestamp")),
            event_time: parse_time(text(ev, "/eventTime")),
            count: int(ev, "/count"),
            series: series(ev),
            kind: text(ev, "/involvedObject/kind"),
            object_name: text(ev, "/involvedObject/name"),
            field_path: text(ev, "/involvedObject/fieldPath"),
            ty: text(ev, "/type"),
            reason: text(ev, "/reason"),
            message: text(ev, "/message"),
            component: text(ev, "/source/component"),
            host: text(ev, "/source/host"),
            reporting_controller: text(ev, "/reportingComponent"),
            reporting_instance: text(ev, "/reportingInstance"),
            name: text(ev, "/metadata/name"),
        }
    }

    fn events_v1(ev: &'a Value) -> Self {
        EventFields {
            first: parse_time(text(ev, "/deprecatedFirstTimestamp")),
            last: parse_time(text(ev, "/deprecatedLastTimestamp")),
            event_time: parse_time(text(ev, "/eventTime")),
            count: int(ev, "/deprecatedCount"),
            series: series(ev),
            kind: text(ev, "/regarding/kind"),
            object_name: text(ev, "/regarding/name"),
            field_path: text(ev, "/regarding/fieldPath"),
            ty: text(ev, "/type"),
            reason: text(ev, "/reason"),
            message: text(ev, "/note"),
            component: text(ev, "/deprecatedSource/component"),
            host: text(ev, "/deprecatedSource/host"),
            reporting_controller: text(ev, "/reportingController"),
            reporting_instance: text(ev, "/reportingInstance"),
            name: text(ev, "/metadata/name"),
        }
    }
}

fn series(ev: &Value) -> Option<(i64, Option<i128>)> {
    let s = at(ev, "/series");
    s.is_object()
        .then(|| (int(s, "/count"), parse_time(text(s, "/lastObservedTime"))))
}

fn event_row(ev: &EventFields<'_>, now: i128) -> Vec<Value> {
    let stamp = |t: Option<i128>| t.map_or_else(|| "<unknown>".to_string(), |t| since(t, now));
    let first = if ev.first.is_some() {
        stamp(ev.first)
    } else {
        stamp(ev.event_time)
    };
    let mut last = if ev.last.is_some() {
        stamp(ev.last)
    } else {
        first.clone()
    };
    let mut count = ev.count;
    if let Some((series_count, observed)) = ev.series {
        last = stamp(observed);
        count = series_count;
    } else if count == 0 {
        count = 1;
    }
    let kind = ev.kind.to_lowercase();
    let target = if ev.object_name.is_empty() {
        kind
    } else {
        format!("{kind}/{}", ev.object_name)
    };
    let component = if ev.component.is_empty() {
        ev.reporting_controller
    } else {
        ev.component
    };
    let host = if ev.host.is_empty() {
        ev.reporting_instance
    } else {
        ev.host
    };
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        json!(last),
        json!(ev.ty),
        json!(ev.reason),
        json!(target),
        json!(ev.field_path),
        json!(source),
        json!(ev.message.trim()),
        json!(first),
        json!(count),
        json!(ev.name),
    ]
}

fn pv_row(pv: &Value, now: i128) -> Vec<Value> {
    let claim = at(pv, "/spec/claimRef");
    let claim = if claim.is_object() {
        format!("{}/{}", text(claim, "/namespace"), text(claim, "/name"))
    } else {
        String::new()
    };
    let phase = if at(pv, "/metadata/deletionTimestamp").is_null() {
        text(pv, "/status/phase")
    } else {
        "Terminating"
    };
    let class = match at(
        pv,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    )
    .as_str()
    {
        Some(c) => c,
        None => text(pv, "/spec/storageClassName"),
    };
    vec![
        name(pv),
        json!(quantity(at(pv, "/spec/capacity/storage"))),
        json!(access_modes(list(pv, "/spec/accessModes"))),
        json!(text(pv, "/spec/persistentVolumeReclaimPolicy")),
        json!(phase),
        json!(claim),
        json!(class),
        json!(
            at(pv, "/spec/volumeAttributesClassName")
                .as_str()
                .unwrap_or("<unset>")
        ),
        json!(text(pv, "/status/reason")),
        age(pv, now),
        json!(at(pv, "/spec/volumeMode").as_str().unwrap_or("<unset>")),
    ]
}

fn pvc_row(pvc: &Value, now: i128) -> Vec<Value> {
    let phase = if at(pvc, "/metadata/deletionTimestamp").is_null() {
        text(pvc, "/status/phase")
    } else {
        "Terminating"
    };
    let volume = text(pvc, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (
            quantity(at(pvc, "/status/capacity/storage")),
            access_modes(list(pvc, "/status/accessModes")),
        )
    };
    let class = match at(
        pvc,
        "/metadata/annotations/volume.beta.kubernetes.io~1storage-class",
    )
    .as_str()
    {
        Some(c) => c,
        None => text(pvc, "/spec/storageClassName"),
    };
    vec![
        name(pvc),
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(
            at(pvc, "/spec/volumeAttributesClassName")
                .as_str()
                .unwrap_or("<unset>")
        ),
        age(pvc, now),
        json!(at(pvc, "/spec/volumeMode").as_str().unwrap_or("<unset>")),
    ]
}

/// `RWO,ROX,RWX,RWOP` in that fixed order, as upstream's `GetAccessModesAsString`.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|v| v.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| has(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// A quantity as stored (kept in the form the client wrote), `0` when absent.
fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".to_string(),
    }
}

fn format_endpoints(ep: &Value) -> String {
    const MAX: usize = 3;
    let subsets = list(ep, "/subsets");
    if subsets.is_empty() {
        return "<none>".to_string();
    }
    let mut out: Vec<String> = Vec::new();
    let mut more = false;
    let mut count = 0;
    for ss in subsets {
        let addresses = list(ss, "/addresses");
        let ports = list(ss, "/ports");
        if ports.is_empty() {
            // Headless services may have no ports.
            count += addresses.len();
            for a in addresses {
                if out.len() == MAX {
                    more = true;
                    break;
                }
                out.push(text(a, "/ip").to_string());
            }
            continue;
        }
        for port in ports {
            count += addresses.len();
            for a in addresses {
                if out.len() == MAX {
                    more = true;
                    break;
                }
                let ip = text(a, "/ip");
                let p = int(port, "/port");
                out.push(if ip.contains(':') {
                    format!("[{ip}]:{p}")
                } else {
                    format!("{ip}:{p}")
                });
            }
        }
    }
    let joined = out.join(",");
    if more {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn list_with_more(items: Vec<String>, count: usize) -> String {
    const MAX: usize = 3;
    let joined = items
        .iter()
        .take(MAX)
        .cloned()
        .collect::<Vec<_>>()
        .join(",");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else if joined.is_empty() {
        "<unset>".to_string()
    } else {
        joined
    }
}

fn slice_ports(ports: &[Value]) -> String {
    let items = ports
        .iter()
        .map(
            |p| match (at(p, "/port").as_i64(), at(p, "/name").as_str()) {
                (Some(n), _) => n.to_string(),
                (None, Some(name)) => name.to_string(),
                (None, None) => "*".to_string(),
            },
        )
        .collect::<Vec<_>>();
    let count = items.len();
    list_with_more(items, count)
}

fn slice_endpoints(endpoints: &[Value]) -> String {
    let items: Vec<String> = endpoints
        .iter()
        .flat_map(|e| {
            list(e, "/addresses")
                .iter()
                .map(|a| a.as_str().unwrap_or_default().to_string())
        })
        .collect();
    let count = items.len();
    list_with_more(items, count)
}

fn hpa_metrics(hpa: &Value) -> String {
    let mut specs = list(hpa, "/spec/metrics").to_vec();
    let mut statuses = list(hpa, "/status/currentMetrics").to_vec();
    // autoscaling/v1 objects carry a single CPU target instead of metrics.
    if specs.is_empty()
        && let Some(target) = at(hpa, "/spec/targetCPUUtilizationPercentage").as_i64()
    {
        specs.push(json!({"type": "Resource", "resource": {"name": "cpu", "target": {"averageUtilization": target}}}));
        if let Some(current) = at(hpa, "/status/currentCPUUtilizationPercentage").as_i64() {
            statuses.push(json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}}));
        }
    }
    if specs.is_empty() {
        return "<none>".to_string();
    }
    let qty = |v: &Value| match v {
        Value::Null => "<nil>".to_string(),
        v => quantity(v),
    };
    let mut out: Vec<String> = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let status = statuses.get(i).unwrap_or(&Value::Null);
        let entry = match text(spec, "/type") {
            ty @ ("External" | "Object") => {
                let key = if ty == "External" {
                    "/external"
                } else {
                    "/object"
                };
                let target = at(spec, &format!("{key}/target"));
                let current = at(status, key);
                if !at(target, "/averageValue").is_null() {
                    let cur = match at(current, "/current/averageValue") {
                        v if current.is_object() && !v.is_null() => qty(v),
                        _ => "<unknown>".to_string(),
                    };
                    format!("{cur}/{} (avg)", qty(at(target, "/averageValue")))
                } else {
                    let cur = if current.is_object() {
                        qty(at(current, "/current/value"))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!("{cur}/{}", qty(at(target, "/value")))
                }
            }
            "Pods" => {
                let current = at(status, "/pods");
                let cur = if current.is_object() {
                    qty(at(current, "/current/averageValue"))
                } else {
                    "<unknown>".to_string()
                };
                format!("{cur}/{}", qty(at(spec, "/pods/target/averageValue")))
            }
            ty @ ("Resource" | "ContainerResource") => {
                let key = if ty == "Resource" {
                    "/resource"
                } else {
                    "/containerResource"
                };
                let res = at(spec, key);
                let current = at(status, key);
                let target = at(res, "/target");
                if !at(target, "/averageValue").is_null() {
                    let cur = if current.is_object() {
                        qty(at(current, "/current/averageValue"))
                    } else {
                        "<unknown>".to_string()
                    };
                    format!(
                        "{}: {cur}/{}",
                        text(res, "/name"),
                        qty(at(target, "/averageValue"))
                    )
                } else {
                    let cur = match at(current, "/current/averageUtilization").as_i64() {
                        Some(u) => format!("{u}%"),
                        None => "<unknown>".to_string(),
                    };
                    let want = match at(target, "/averageUtilization").as_i64() {
                        Some(u) => format!("{u}%"),
                        None => "<auto>".to_string(),
                    };
                    format!("{}: {cur}/{want}", text(res, "/name"))
                }
            }
            _ => "<unknown type>".to_string(),
        };
        out.push(entry);
    }
    const MAX: usize = 2;
    let count = out.len();
    out.truncate(MAX);
    let joined = out.join(", ");
    if count > MAX {
        format!("{joined} + {} more...", count - MAX)
    } else {
        joined
    }
}

fn subjects(subjects: &[Value]) -> (String, String, String) {
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in subjects {
        match text(s, "/kind") {
            "User" => users.push(text(s, "/name").to_string()),
            "Group" => groups.push(text(s, "/name").to_string()),
            "ServiceAccount" => sas.push(format!("{}/{}", text(s, "/namespace"), text(s, "/name"))),
            _ => {}
        }
    }
    (users.join(", "), groups.join(", "), sas.join(", "))
}

/// `statefulset.apps/web` for the controlling owner, `<none>` without one.
fn controller_of(obj: &Value) -> String {
    let Some(owner) = list(obj, "/metadata/ownerReferences")
        .iter()
        .find(|o| at(o, "/controller").as_bool() == Some(true))
    else {
        return "<none>".to_string();
    };
    let api_version = text(owner, "/apiVersion");
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let kind = text(owner, "/kind");
    let owner_name = text(owner, "/name");
    if kind.is_empty() && group.is_empty() {
        return owner_name.to_string();
    }
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{owner_name}", group_kind.to_lowercase())
}

fn quota_columns(quota: &Value) -> (String, String) {
    let (mut request, mut limit) = (Vec::new(), Vec::new());
    if let Some(hard) = at(quota, "/status/hard").as_object() {
        let mut names: Vec<&String> = hard.keys().collect();
        names.sort();
        for res in names {
            let used = quantity(
                at(quota, "/status/used")
                    .get(res.as_str())
                    .unwrap_or(&Value::Null),
            );
            let entry = format!("{res}: {used}/{}", quantity(&hard[res.as_str()]));
            let is_limit = res.split('.').count() > 1 && res.split('.').next() == Some("limits");
            if is_limit {
                limit.push(entry)
            } else {
                request.push(entry)
            }
        }
    }
    (request.join(", "), limit.join(", "))
}

// ---------------------------------------------------------------------------------------------
// Shared cell helpers

fn at<'a>(v: &'a Value, pointer: &str) -> &'a Value {
    v.pointer(pointer).unwrap_or(&Value::Null)
}

fn text<'a>(v: &'a Value, pointer: &str) -> &'a str {
    at(v, pointer).as_str().unwrap_or_default()
}

fn int(v: &Value, pointer: &str) -> i64 {
    let v = at(v, pointer);
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

fn list<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    at(v, pointer)
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn map_len(v: &Value, pointer: &str) -> usize {
    at(v, pointer).as_object().map_or(0, Map::len)
}

fn name(obj: &Value) -> Value {
    json!(text(obj, "/metadata/name"))
}

fn age(obj: &Value, now: i128) -> Value {
    json!(match parse_time(text(obj, "/metadata/creationTimestamp")) {
        Some(t) => since(t, now),
        None => "<unknown>".to_string(),
    })
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "<none>" } else { s }
}

/// `spec.replicas`, which the API defaults to 1.
fn replicas(obj: &Value) -> i64 {
    at(obj, "/spec/replicas").as_i64().unwrap_or(1)
}

fn containers(obj: &Value, pointer: &str) -> (String, String) {
    let cs = list(obj, pointer);
    let names = cs
        .iter()
        .map(|c| text(c, "/name"))
        .collect::<Vec<_>>()
        .join(",");
    let images = cs
        .iter()
        .map(|c| text(c, "/image"))
        .collect::<Vec<_>>()
        .join(",");
    (names, images)
}

/// `labels.FormatLabels`: sorted `k=v` pairs, `<none>` when empty.
fn format_labels(map: &Value) -> String {
    let mut pairs: Vec<String> = map
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    pairs.sort();
    if pairs.is_empty() {
        "<none>".to_string()
    } else {
        pairs.join(",")
    }
}

/// `metav1.FormatLabelSelector`: the selector's string, `<none>` when empty or absent (both
/// "everything" and "nothing" print as ""), `<error>` if invalid.
fn format_label_selector(sel: &Value) -> String {
    match LabelSelector::from_label_selector_json(sel) {
        Ok(s) => match s.to_string_form() {
            s if s.is_empty() => "<none>".to_string(),
            s => s,
        },
        Err(_) => "<error>".to_string(),
    }
}

fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => "N/A".to_string(),
    }
}

fn bool_ptr(v: &Value) -> &'static str {
    match v.as_bool() {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

// ---------------------------------------------------------------------------------------------
// Time

/// Go's zero `time.Time`, 0001-01-01T00:00:00Z, in nanoseconds since the Unix epoch.
const GO_ZERO_TIME: i128 = -62_135_596_800 * NANOS;
const NANOS: i128 = 1_000_000_000;

fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Parses an RFC 3339 timestamp (`2024-01-02T03:04:05Z`, optional fraction and offset) into
/// nanoseconds since the Unix epoch. `None` for empty or malformed input.
fn parse_time(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut pos = 19;
    let mut frac: i128 = 0;
    if b[pos] == b'.' {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            pos += 1;
        }
        let digits = s.get(start..pos)?;
        if digits.is_empty() {
            return None;
        }
        let mut padded = digits.chars().take(9).collect::<String>();
        while padded.len() < 9 {
            padded.push('0');
        }
        frac = padded.parse().ok()?;
    }
    let offset = match s.get(pos..)? {
        "Z" | "z" => 0,
        tz if tz.len() == 6 && (tz.starts_with('+') || tz.starts_with('-')) && &tz[3..4] == ":" => {
            let h = num(pos + 1..pos + 3)?;
            let m = num(pos + 4..pos + 6)?;
            let sign = if tz.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return None,
    };
    let secs =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    Some(i128::from(secs) * NANOS + frac)
}

/// Formats nanoseconds since the epoch as RFC 3339 in UTC with second precision.
fn format_time(nanos: i128) -> String {
    let secs = nanos.div_euclid(NANOS) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn since(t: i128, now: i128) -> String {
    human_duration_nanos(now - t)
}

/// apimachinery's `duration.HumanDuration`: a short, approximate rendering of a duration
/// (`45s`, `5m3s`, `45m`, `3h5m`, `12h`, `2d3h`, `30d`, `2y5d`, `9y`).
pub fn human_duration(d: Duration) -> String {
    human_duration_nanos(d.as_nanos() as i128)
}

fn human_duration_nanos(d: i128) -> String {
    // Up to two seconds in the future counts as "now" (clock skew between machines).
    let seconds = d / NANOS;
    if seconds < -1 {
        return "<invalid>".to_string();
    } else if seconds < 0 {
        return "0s".to_string();
    } else if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = d / (60 * NANOS);
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    } else if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = d / (3600 * NANOS);
    if hours < 8 {
        let m = minutes % 60;
        if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        }
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        let h = hours % 24;
        if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        }
    } else if hours < 24 * 365 * 2 {
        format!("{}d", hours / 24)
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        }
    } else {
        format!("{}y", hours / 24 / 365)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: &str = "2024-01-02T03:04:05Z";

    fn now() -> SystemTime {
        let nanos = parse_time(NOW).unwrap();
        UNIX_EPOCH + Duration::from_nanos(u64::try_from(nanos).unwrap())
    }

    /// A timestamp `secs` seconds before [`NOW`].
    fn ago(secs: i64) -> String {
        format_time(parse_time(NOW).unwrap() - i128::from(secs) * NANOS)
    }

    fn cells(group: &str, resource: &str, obj: &Value) -> Vec<Value> {
        let r = row(group, resource, obj, now());
        assert_eq!(
            r.len(),
            columns(group, resource).len(),
            "{resource}: one cell per column"
        );
        r
    }

    fn column_names(group: &str, resource: &str) -> Vec<(String, i64)> {
        columns(group, resource)
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["priority"].as_i64().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn human_durations() {
        let cases: &[(i64, &str)] = &[
            (-5, "<invalid>"),
            (-2, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (45, "45s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (303, "5m3s"),
            (599, "9m59s"),
            (600, "10m"),
            (179 * 60 + 59, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 5 * 60, "3h5m"),
            (8 * 3600 + 60, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (51 * 3600, "2d3h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (735 * 86400, "2y5d"),
            (8 * 365 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                human_duration_nanos(i128::from(*secs) * NANOS),
                *want,
                "{secs}s"
            );
        }
        assert_eq!(human_duration(Duration::from_millis(150_500)), "2m30s");
    }

    #[test]
    fn timestamps() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-01-02T03:04:05Z", Some(1_704_164_645 * NANOS)),
            (
                "2024-01-02T03:04:05.5Z",
                Some(1_704_164_645 * NANOS + 500_000_000),
            ),
            ("2024-01-02T04:04:05+01:00", Some(1_704_164_645 * NANOS)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800 * NANOS)),
            ("0001-01-01T00:00:00Z", Some(GO_ZERO_TIME)),
            ("", None),
            ("2024-01-02", None),
            ("2024-13-02T03:04:05Z", None),
            ("2024-01-02T03:04:05", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s), want, "{s}");
            if let Some(t) = want {
                assert_eq!(
                    parse_time(&format_time(t)).map(|x| x / NANOS),
                    Some(t / NANOS),
                    "{s} round trip"
                );
            }
        }
        assert_eq!(format_time(1_704_164_645 * NANOS), NOW);
        assert_eq!(format_time(GO_ZERO_TIME), "0001-01-01T00:00:00Z");
    }

    fn pod(phase: &str, statuses: Value) -> Value {
        json!({
            "metadata": {"name": "p", "creationTimestamp": ago(3600)},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"},
            "status": {"phase": phase, "containerStatuses": statuses, "podIPs": [{"ip": "10.0.0.5"}]}
        })
    }

    #[test]
    fn pod_status_column() {
        let running = json!([{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": ago(60)}}}]);
        let crash = json!([{"name": "c", "ready": false, "restartCount": 5,
            "state": {"waiting": {"reason": "CrashLoopBackOff"}},
            "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": ago(300)}}}]);
        let completed = json!([{"name": "c", "ready": false, "restartCount": 0,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]);
        let killed =
            json!([{"name": "c", "restartCount": 0, "state": {"terminated": {"exitCode": 137}}}]);
        let signal = json!([{"name": "c", "restartCount": 0, "state": {"terminated": {"exitCode": 0, "signal": 9}}}]);

        let mut terminating = pod("Running", running.clone());
        terminating["metadata"]["deletionTimestamp"] = json!(ago(10));
        let mut node_lost = terminating.clone();
        node_lost["status"]["reason"] = json!("NodeLost");
        let mut evicted = pod("Failed", json!([]));
        evicted["status"]["reason"] = json!("Evicted");
        let mut gated = pod("Pending", json!([]));
        gated["status"]["conditions"] =
            json!([{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]);

        // (pod, READY, STATUS, RESTARTS)
        let cases = [
            (pod("Pending", json!([])), "0/1", "Pending", "0"),
            (pod("Running", running.clone()), "1/1", "Running", "0"),
            (
                pod("Running", crash),
                "0/1",
                "CrashLoopBackOff",
                "5 (5m ago)",
            ),
            (terminating, "1/1", "Terminating", "0"),
            (node_lost, "1/1", "Unknown", "0"),
            (pod("Succeeded", completed), "0/1", "Completed", "0"),
            (pod("Failed", killed), "0/1", "ExitCode:137", "0"),
            (pod("Running", signal), "0/1", "Signal:9", "0"),
            (evicted, "0/1", "Evicted", "0"),
            (gated, "0/1", "SchedulingGated", "0"),
        ];
        for (i, (p, ready, status, restarts)) in cases.iter().enumerate() {
            let c = cells("", "pods", p);
            assert_eq!(c[0], "p");
            assert_eq!(
                (
                    c[1].as_str().unwrap(),
                    c[2].as_str().unwrap(),
                    c[3].as_str().unwrap()
                ),
                (*ready, *status, *restarts),
                "case {i}"
            );
            assert_eq!(c[4], "60m", "case {i}");
        }
    }

    #[test]
    fn pod_init_containers_and_wide_cells() {
        let base = |init_status: Value| {
            json!({
                "metadata": {"name": "p", "creationTimestamp": ago(30)},
                "spec": {
                    "initContainers": [{"name": "init"}, {"name": "sidecar", "restartPolicy": "Always"}],
                    "containers": [{"name": "c"}],
                    "readinessGates": [{"conditionType": "example.com/ready"}],
                },
                "status": {"phase": "Pending", "initContainerStatuses": init_status,
                    "conditions": [{"type": "example.com/ready", "status": "True"}]}
            })
        };
        let cases = [
            (
                json!([{"name": "init", "state": {"running": {}}}]),
                "0/2",
                "Init:0/2",
            ),
            (
                json!([{"name": "init", "state": {"waiting": {"reason": "ImagePullBackOff"}}}]),
                "0/2",
                "Init:ImagePullBackOff",
            ),
            (
                json!([{"name": "init", "state": {"terminated": {"exitCode": 1}}}]),
                "0/2",
                "Init:ExitCode:1",
            ),
            (
                json!([{"name": "init", "state": {"terminated": {"exitCode": 2, "reason": "Error"}}}]),
                "0/2",
                "Init:Error",
            ),
            (
                json!([{"name": "init", "state": {"terminated": {"exitCode": 0}}},
                       {"name": "sidecar", "started": true, "ready": true, "state": {"running": {}}}]),
                "1/2",
                "Pending",
            ),
        ];
        for (status, ready, want) in cases {
            let c = cells("", "pods", &base(status));
            assert_eq!(
                (c[1].as_str().unwrap(), c[2].as_str().unwrap()),
                (ready, want)
            );
        }
        let c = cells("", "pods", &base(json!([])));
        assert_eq!(
            c[5..],
            [
                json!("<none>"),
                json!("<none>"),
                json!("<none>"),
                json!("1/1")
            ]
        );
        let c = cells("", "pods", &pod("Running", json!([])));
        assert_eq!(
            c[5..],
            [
                json!("10.0.0.5"),
                json!("n1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        let names: Vec<_> = column_names("", "pods");
        assert_eq!(
            names,
            [
                ("Name", 0),
                ("Ready", 0),
                ("Status", 0),
                ("Restarts", 0),
                ("Age", 0),
                ("IP", 1),
                ("Node", 1),
                ("Nominated Node", 1),
                ("Readiness Gates", 1)
            ]
            .map(|(n, p)| (n.to_string(), p))
        );
    }

    #[test]
    fn node_status_and_roles() {
        let node = |conditions: Value, unschedulable: bool, labels: Value| {
            json!({
                "metadata": {"name": "n1", "creationTimestamp": ago(2 * 86400), "labels": labels},
                "spec": {"unschedulable": unschedulable},
                "status": {"conditions": conditions, "nodeInfo": {"kubeletVersion": "v1.32.0", "osImage": "Debian"},
                    "addresses": [{"type": "Hostname", "address": "n1"}, {"type": "InternalIP", "address": "10.1.0.1"}]}
            })
        };
        let ready = json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]);
        let not_ready = json!([{"type": "Ready", "status": "False"}]);
        let unknown = json!([{"type": "Ready", "status": "Unknown"}]);
        let roles = json!({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/": ""});
        let cases = [
            (node(ready.clone(), false, json!({})), "Ready", "<none>"),
            (
                node(ready.clone(), true, roles.clone()),
                "Ready,SchedulingDisabled",
                "control-plane,worker",
            ),
            (
                node(not_ready, false, json!({"kubernetes.io/role": "infra"})),
                "NotReady",
                "infra",
            ),
            (
                node(unknown, false, json!({"kubernetes.io/role": ""})),
                "NotReady",
                "<none>",
            ),
            (node(json!([]), false, json!({})), "Unknown", "<none>"),
            (
                node(json!([]), true, json!({})),
                "Unknown,SchedulingDisabled",
                "<none>",
            ),
        ];
        for (n, status, roles) in cases {
            let c = cells("", "nodes", &n);
            assert_eq!(
                (c[1].as_str().unwrap(), c[2].as_str().unwrap()),
                (status, roles)
            );
            assert_eq!(c[3], "2d");
            assert_eq!(c[4], "v1.32.0");
        }
        let c = cells("", "nodes", &node(ready, false, json!({})));
        assert_eq!(
            c[5..],
            [
                json!("10.1.0.1"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn service_cells() {
        let svc = |ty: &str, ports: Value, extra: Value| {
            let mut s = json!({
                "metadata": {"name": "web", "creationTimestamp": ago(45)},
                "spec": {"type": ty, "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"], "ports": ports, "selector": {"app": "web", "a": "b"}}
            });
            if let (Some(s), Some(extra)) = (s["spec"].as_object_mut(), extra.as_object()) {
                s.extend(extra.clone());
            }
            s
        };
        let cases = [
            (
                svc(
                    "ClusterIP",
                    json!([{"port": 80, "protocol": "TCP"}]),
                    json!({}),
                ),
                "<none>",
                "80/TCP",
            ),
            (
                svc(
                    "NodePort",
                    json!([{"port": 80, "nodePort": 30080, "protocol": "TCP"}]),
                    json!({}),
                ),
                "<none>",
                "80:30080/TCP",
            ),
            (
                svc(
                    "ClusterIP",
                    json!([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]),
                    json!({"externalIPs": ["1.2.3.4"]}),
                ),
                "1.2.3.4",
                "53/UDP,53/TCP",
            ),
            (svc("ClusterIP", json!([]), json!({})), "<none>", "<none>"),
            (
                svc("LoadBalancer", json!([{"port": 443}]), json!({})),
                "<pending>",
                "443/TCP",
            ),
            (
                svc(
                    "ExternalName",
                    json!([]),
                    json!({"externalName": "example.com"}),
                ),
                "example.com",
                "<none>",
            ),
        ];
        for (s, external, ports) in cases {
            let c = cells("", "services", &s);
            assert_eq!(
                (c[3].as_str().unwrap(), c[4].as_str().unwrap()),
                (external, ports)
            );
            assert_eq!(c[2], "10.96.0.10");
            assert_eq!(c[5], "45s");
            assert_eq!(c[6], "a=b,app=web");
        }
        let mut lb = svc("LoadBalancer", json!([]), json!({}));
        lb["status"] = json!({"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}, {"hostname": "lb.example.com"}, {"ip": "5.6.7.8"}]}});
        assert_eq!(cells("", "services", &lb)[3], "5.6.7.8,lb.example.com");
        let headless = json!({"metadata": {"name": "h"}, "spec": {"clusterIP": "None", "clusterIPs": ["None"]}});
        let c = cells("", "services", &headless);
        assert_eq!(
            c[1..6],
            [
                json!("ClusterIP"),
                json!("None"),
                json!("<none>"),
                json!("<none>"),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn workload_cells() {
        let deploy = json!({
            "metadata": {"name": "web", "creationTimestamp": ago(5 * 60 + 3)},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}]}}},
            "status": {"readyReplicas": 1, "updatedReplicas": 2, "availableReplicas": 1}
        });
        assert_eq!(
            cells("apps", "deployments", &deploy),
            [
                json!("web"),
                json!("1/2"),
                json!(2),
                json!(1),
                json!("5m3s"),
                json!("nginx,log"),
                json!("nginx:1.27,busybox"),
                json!("app=web")
            ]
        );
        let fresh = json!({"metadata": {"name": "d"}, "spec": {}});
        assert_eq!(
            cells("apps", "deployments", &fresh)[1..5],
            [json!("0/1"), json!(0), json!(0), json!("<unknown>")]
        );

        let rs = json!({"metadata": {"name": "web-1"}, "spec": {"replicas": 3, "selector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}},
            "status": {"replicas": 3, "readyReplicas": 2}});
        let c = cells("apps", "replicasets", &rs);
        assert_eq!(c[1..4], [json!(3), json!(3), json!(2)]);
        assert_eq!(c[7], "tier in (a,b)");

        let sts = json!({"metadata": {"name": "db"}, "spec": {"replicas": 3}, "status": {"readyReplicas": 3}});
        assert_eq!(cells("apps", "statefulsets", &sts)[1], "3/3");

        let ds = json!({"metadata": {"name": "agent"}, "spec": {"template": {"spec": {"nodeSelector": {"os": "linux"}}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberReady": 2, "updatedNumberScheduled": 3, "numberAvailable": 2}});
        let c = cells("apps", "daemonsets", &ds);
        assert_eq!(
            c[1..7],
            [
                json!(3),
                json!(3),
                json!(2),
                json!(3),
                json!(2),
                json!("os=linux")
            ]
        );
        assert_eq!(c[10], "<none>");

        let rc = json!({"metadata": {"name": "rc"}, "spec": {"selector": {"app": "x"}}});
        assert_eq!(cells("", "replicationcontrollers", &rc)[7], "app=x");
    }

    #[test]
    fn job_and_cronjob_cells() {
        let job = |spec: Value, status: Value| json!({"metadata": {"name": "j", "creationTimestamp": ago(600)}, "spec": spec, "status": status});
        let complete = json!({"succeeded": 1, "startTime": ago(600), "completionTime": ago(570),
            "conditions": [{"type": "Complete", "status": "True"}]});
        let cases = [
            (
                job(json!({"completions": 1}), complete),
                "Complete",
                "1/1",
                "30s",
            ),
            (
                job(
                    json!({"completions": 3}),
                    json!({"succeeded": 1, "startTime": ago(125)}),
                ),
                "Running",
                "1/3",
                "2m5s",
            ),
            (
                job(json!({"parallelism": 2}), json!({})),
                "Running",
                "0/1 of 2",
                "",
            ),
            (
                job(
                    json!({}),
                    json!({"conditions": [{"type": "Failed", "status": "True"}]}),
                ),
                "Failed",
                "0/1",
                "",
            ),
            (
                job(
                    json!({"suspend": true}),
                    json!({"conditions": [{"type": "Suspended", "status": "True"}]}),
                ),
                "Suspended",
                "0/1",
                "",
            ),
            (
                job(
                    json!({}),
                    json!({"conditions": [{"type": "Complete", "status": "False"}]}),
                ),
                "Running",
                "0/1",
                "",
            ),
        ];
        for (j, status, completions, duration) in cases {
            let c = cells("batch", "jobs", &j);
            assert_eq!(
                c[1..5],
                [
                    json!(status),
                    json!(completions),
                    json!(duration),
                    json!("10m")
                ]
            );
        }
        let mut deleting = job(json!({}), json!({}));
        deleting["metadata"]["deletionTimestamp"] = json!(ago(1));
        assert_eq!(cells("batch", "jobs", &deleting)[1], "Terminating");

        let cj = json!({"metadata": {"name": "cj", "creationTimestamp": ago(7200)},
            "spec": {"schedule": "*/5 * * * *", "suspend": false, "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "cj-1"}], "lastScheduleTime": ago(90)}});
        assert_eq!(
            cells("batch", "cronjobs", &cj),
            [
                json!("cj"),
                json!("*/5 * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("90s"),
                json!("120m"),
                json!("c"),
                json!("busybox"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn simple_resources() {
        let cm = json!({"metadata": {"name": "cfg", "creationTimestamp": ago(10)}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": ""}});
        assert_eq!(
            cells("", "configmaps", &cm),
            [json!("cfg"), json!(3), json!("10s")]
        );
        let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dg=="}});
        assert_eq!(
            cells("", "secrets", &secret),
            [json!("s"), json!("Opaque"), json!(1), json!("<unknown>")]
        );
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": ago(86400 * 3)}, "status": {"phase": "Active"}});
        assert_eq!(
            cells("", "namespaces", &ns),
            [json!("default"), json!("Active"), json!("3d")]
        );
        let sa = json!({"metadata": {"name": "default"}});
        assert_eq!(cells("", "serviceaccounts", &sa)[1], 0);
        let lease = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(cells("coordination.k8s.io", "leases", &lease)[1], "node-1");
        let pdb = json!({"metadata": {"name": "pdb"}, "spec": {"minAvailable": 1}, "status": {"disruptionsAllowed": 0}});
        assert_eq!(
            cells("policy", "poddisruptionbudgets", &pdb)[1..4],
            [json!("1"), json!("N/A"), json!(0)]
        );
        let pc = json!({"metadata": {"name": "high"}, "value": 1000, "globalDefault": true});
        assert_eq!(
            cells("scheduling.k8s.io", "priorityclasses", &pc)[1..3],
            [json!(1000), json!(true)]
        );
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "Group", "name": "devs"}, {"kind": "ServiceAccount", "namespace": "ns", "name": "bot"}, {"kind": "User", "name": "bob"}]});
        assert_eq!(
            cells("rbac.authorization.k8s.io", "rolebindings", &rb)[1..],
            [
                json!("ClusterRole/view"),
                json!("<unknown>"),
                json!("alice, bob"),
                json!("devs"),
                json!("ns/bot")
            ]
        );
        let cr = json!({"metadata": {"name": "web-5d8", "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": true}]}, "revision": 2});
        assert_eq!(
            cells("apps", "controllerrevisions", &cr)[1..3],
            [json!("statefulset.apps/web"), json!(2)]
        );
        let np = json!({"metadata": {"name": "deny"}, "spec": {"podSelector": {}}});
        assert_eq!(
            cells("networking.k8s.io", "networkpolicies", &np)[1],
            "<none>"
        );
        let sc = json!({"metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}, "provisioner": "x"});
        assert_eq!(
            cells("storage.k8s.io", "storageclasses", &sc)[..5],
            [
                json!("standard (default)"),
                json!("x"),
                json!("Delete"),
                json!("Immediate"),
                json!(false)
            ]
        );
        let quota = json!({"metadata": {"name": "q"}, "status": {"hard": {"pods": "10", "limits.cpu": "2", "requests.cpu": "1"}, "used": {"pods": "3"}}});
        assert_eq!(
            cells("", "resourcequotas", &quota)[1..3],
            [
                json!("pods: 3/10, requests.cpu: 0/1"),
                json!("limits.cpu: 0/2")
            ]
        );
        let pt = json!({"metadata": {"name": "pt"}, "template": {"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}});
        assert_eq!(
            cells("", "podtemplates", &pt),
            [json!("pt"), json!("c"), json!("i"), json!("app=x")]
        );
        let hpa = json!({"metadata": {"name": "h"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 1, "maxReplicas": 5,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}]},
            "status": {"currentReplicas": 2, "currentMetrics": [{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 35}}}]}});
        assert_eq!(
            cells("autoscaling", "horizontalpodautoscalers", &hpa)[1..6],
            [
                json!("Deployment/web"),
                json!("cpu: 35%/80%"),
                json!("1"),
                json!(5),
                json!(2)
            ]
        );
        let pvc = json!({"metadata": {"name": "data"}, "spec": {"volumeName": "pv-1", "storageClassName": "standard"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
        assert_eq!(
            cells("", "persistentvolumeclaims", &pvc)[1..7],
            [
                json!("Bound"),
                json!("pv-1"),
                json!("1Gi"),
                json!("RWO,RWX"),
                json!("standard"),
                json!("<unset>")
            ]
        );
        let pv = json!({"metadata": {"name": "pv-1"}, "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain", "claimRef": {"namespace": "default", "name": "data"}}, "status": {"phase": "Bound"}});
        assert_eq!(
            cells("", "persistentvolumes", &pv)[1..7],
            [
                json!("1Gi"),
                json!("RWO"),
                json!("Retain"),
                json!("Bound"),
                json!("default/data"),
                json!("")
            ]
        );
    }

    #[test]
    fn endpoints_cells() {
        let ep = |subsets: Value| json!({"metadata": {"name": "web"}, "subsets": subsets});
        let cases = [
            (json!([]), "<none>"),
            (
                json!([{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}], "ports": [{"port": 80}]}]),
                "10.0.0.1:80,10.0.0.2:80",
            ),
            (json!([{"addresses": [{"ip": "10.0.0.1"}]}]), "10.0.0.1"),
            (
                json!([{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 443}]}]),
                "[fd00::1]:443",
            ),
            (
                json!([{"addresses": [{"ip": "a"}, {"ip": "b"}, {"ip": "c"}], "ports": [{"port": 1}, {"port": 2}]}]),
                "a:1,b:1,c:1 + 3 more...",
            ),
        ];
        for (subsets, want) in cases {
            assert_eq!(cells("", "endpoints", &ep(subsets))[1], want);
        }
        let slice = json!({"metadata": {"name": "web-abc"}, "addressType": "IPv4", "ports": [{"port": 80}, {"name": "x"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2", "10.0.0.3", "10.0.0.4"]}]});
        assert_eq!(
            cells("discovery.k8s.io", "endpointslices", &slice)[1..4],
            [
                json!("IPv4"),
                json!("80,x"),
                json!("10.0.0.1,10.0.0.2,10.0.0.3 + 1 more...")
            ]
        );
        let empty = json!({"metadata": {"name": "e"}, "addressType": "IPv4"});
        assert_eq!(
            cells("discovery.k8s.io", "endpointslices", &empty)[2..4],
            [json!("<unset>"), json!("<unset>")]
        );
    }

    #[test]
    fn event_cells() {
        let ev = json!({"metadata": {"name": "p.17a"}, "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
            "type": "Warning", "reason": "BackOff", "message": " Back-off restarting \n", "count": 4,
            "firstTimestamp": ago(3600), "lastTimestamp": ago(30), "source": {"component": "kubelet", "host": "n1"}});
        assert_eq!(
            cells("", "events", &ev),
            [
                json!("30s"),
                json!("Warning"),
                json!("BackOff"),
                json!("pod/p"),
                json!("spec.containers{c}"),
                json!("kubelet, n1"),
                json!("Back-off restarting"),
                json!("60m"),
                json!(4),
                json!("p.17a")
            ]
        );
        let new_style = json!({"metadata": {"name": "e"}, "regarding": {"kind": "Node", "name": "n1"}, "type": "Normal", "reason": "Started",
            "note": "ok", "eventTime": "2024-01-02T03:03:04.500001Z", "reportingController": "ctl", "reportingInstance": "ctl-1"});
        assert_eq!(
            cells("events.k8s.io", "events", &new_style),
            [
                json!("60s"),
                json!("Normal"),
                json!("Started"),
                json!("node/n1"),
                json!(""),
                json!("ctl, ctl-1"),
                json!("ok"),
                json!("60s"),
                json!(1),
                json!("e")
            ]
        );
        assert_eq!(column_names("", "events")[0].0, "Last Seen");
    }

    #[test]
    fn default_columns_for_unprinted_resources() {
        for (group, resource) in [
            ("rbac.authorization.k8s.io", "clusterroles"),
            ("", "limitranges"),
            ("apiextensions.k8s.io", "customresourcedefinitions"),
        ] {
            let cols = columns(group, resource);
            assert_eq!(cols.len(), 2);
            assert_eq!(cols[0]["format"], "name");
            assert_eq!(cols[1]["name"], "Created At");
            assert_eq!(cols[1]["type"], "date");
        }
        let role = json!({"metadata": {"name": "admin", "creationTimestamp": "2024-01-02T04:04:05+01:00"}});
        assert_eq!(
            row("rbac.authorization.k8s.io", "clusterroles", &role, now()),
            [json!("admin"), json!(NOW)]
        );
    }

    #[test]
    fn whole_table() {
        let mut done = pod("Succeeded", json!([]));
        done["metadata"]["labels"] = json!({"app": "x"});
        let running = pod("Running", json!([]));
        let objects = [done.clone(), running];
        let t = table(
            "",
            "pods",
            &objects,
            json!({"resourceVersion": "42"}),
            "PartialObjectMetadata",
            now(),
        );
        assert_eq!(t["kind"], "Table");
        assert_eq!(t["apiVersion"], "meta.k8s.io/v1");
        assert_eq!(t["metadata"], json!({"resourceVersion": "42"}));
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 9);
        let rows = t["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0]["object"],
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": done["metadata"]})
        );
        assert_eq!(rows[0]["conditions"][0]["type"], "Completed");
        assert_eq!(rows[0]["conditions"][0]["reason"], "Succeeded");
        assert!(rows[1].get("conditions").is_none());

        let t = table("", "pods", &objects, Value::Null, "Object", now());
        assert_eq!(t["rows"][0]["object"], done);
        assert_eq!(t["metadata"], json!({}));
        let t = table("", "pods", &objects, json!({}), "None", now());
        assert!(t["rows"][0].get("object").is_none());
        assert!(
            table("", "pods", &[], json!({}), "", now())["rows"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn custom_resource_columns() {
        let apc = json!([
            {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
            {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status", "description": "Readiness"},
            {"name": "Hosts", "type": "string", "jsonPath": ".spec.hosts", "priority": 1},
            {"name": "First", "type": "string", "jsonPath": ".spec.hosts[0]"},
            {"name": "Label", "type": "string", "jsonPath": ".metadata.labels['app.kubernetes.io/name']"},
            {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio"},
            {"name": "Enabled", "type": "boolean", "jsonPath": ".spec.enabled"},
            {"name": "Started", "type": "date", "jsonPath": ".status.startedAt"},
            {"name": "Missing", "type": "string", "jsonPath": ".status.nothing"},
            {"name": "Mismatch", "type": "integer", "jsonPath": ".spec.enabled"},
        ]);
        let cols = crd_columns(&apc);
        assert_eq!(cols.len(), 11);
        assert_eq!(cols[0]["name"], "Name");
        assert_eq!(
            cols[1],
            json!({"name": "Replicas", "type": "integer", "format": "", "description": "Custom resource definition column (in JSONPath format): .spec.replicas", "priority": 0})
        );
        assert_eq!(cols[2]["description"], "Readiness");
        assert_eq!(cols[3]["priority"], 1);

        let obj = json!({
            "metadata": {"name": "w", "labels": {"app.kubernetes.io/name": "shop"}, "creationTimestamp": ago(100)},
            "spec": {"replicas": 3, "hosts": ["a", "b"], "ratio": 0.5, "enabled": true},
            "status": {"startedAt": ago(7200), "conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}
        });
        assert_eq!(
            crd_row(&apc, &obj, now()),
            [
                json!("w"),
                json!(3),
                json!("True"),
                json!("[\"a\",\"b\"]"),
                json!("a"),
                json!("shop"),
                json!(0.5),
                json!(true),
                json!("120m"),
                Value::Null,
                Value::Null
            ]
        );

        let default_cols = crd_columns(&Value::Null);
        assert_eq!(
            default_cols
                .iter()
                .map(|c| c["name"].as_str().unwrap())
                .collect::<Vec<_>>(),
            ["Name", "Age"]
        );
        assert_eq!(default_cols[1]["type"], "date");
        assert_eq!(
            crd_row(&json!([]), &obj, now()),
            [json!("w"), json!("100s")]
        );
        let bad_date = json!([{"name": "D", "type": "date", "jsonPath": ".spec.hosts[1]"}]);
        assert_eq!(crd_row(&bad_date, &obj, now())[1], "<invalid>");

        let t = crd_table(&apc, &[obj], json!({"resourceVersion": "7"}), "None", now());
        assert_eq!(t["rows"][0]["cells"][1], 3);
        assert_eq!(t["columnDefinitions"].as_array().unwrap().len(), 11);
    }

    #[test]
    fn every_printer_has_matching_cell_count() {
        let obj = json!({"metadata": {"name": "x"}});
        let resources = [
            ("", "pods"),
            ("", "podtemplates"),
            ("policy", "poddisruptionbudgets"),
            ("", "replicationcontrollers"),
            ("apps", "replicasets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
            ("", "services"),
            ("networking.k8s.io", "ingresses"),
            ("networking.k8s.io", "ingressclasses"),
            ("apps", "statefulsets"),
            ("", "endpoints"),
            ("", "nodes"),
            ("", "events"),
            ("events.k8s.io", "events"),
            ("", "namespaces"),
            ("", "secrets"),
            ("", "serviceaccounts"),
            ("", "persistentvolumes"),
            ("", "persistentvolumeclaims"),
            ("apps", "deployments"),
            ("autoscaling", "horizontalpodautoscalers"),
            ("", "configmaps"),
            ("networking.k8s.io", "networkpolicies"),
            ("rbac.authorization.k8s.io", "rolebindings"),
            ("rbac.authorization.k8s.io", "clusterrolebindings"),
            ("coordination.k8s.io", "leases"),
            ("storage.k8s.io", "storageclasses"),
            ("apps", "controllerrevisions"),
            ("", "resourcequotas"),
            ("scheduling.k8s.io", "priorityclasses"),
            ("discovery.k8s.io", "endpointslices"),
            (
                "admissionregistration.k8s.io",
                "validatingwebhookconfigurations",
            ),
            ("node.k8s.io", "runtimeclasses"),
            ("", "limitranges"),
        ];
        for (group, resource) in resources {
            assert!(
                printer(group, resource).is_some() || resource == "limitranges",
                "{resource}"
            );
            cells(group, resource, &obj);
        }
    }

    #[test]
    fn ingress_cells() {
        let ing = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "nginx", "tls": [{}],
            "rules": [{"host": "a.com"}, {"host": "b.com"}, {}, {"host": "c.com"}, {"host": "d.com"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "1.1.1.1"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "ingresses", &ing)[1..5],
            [
                json!("nginx"),
                json!("a.com,b.com,c.com + 2 more..."),
                json!("1.1.1.1"),
                json!("80, 443")
            ]
        );
        let bare = json!({"metadata": {"name": "i"}, "spec": {}});
        assert_eq!(
            cells("networking.k8s.io", "ingresses", &bare)[1..5],
            [json!("<none>"), json!("*"), json!(""), json!("80")]
        );
        let class = json!({"metadata": {"name": "c"}, "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            cells("networking.k8s.io", "ingressclasses", &class)[2],
            "IngressParameters.k8s.example.com/p"
        );
    }
}
