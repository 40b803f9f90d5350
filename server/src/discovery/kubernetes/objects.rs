//! The parts of Kubernetes API objects that discovery reads (JSON as the API server sends it). Every field is
//! optional on the wire; missing ones take their defaults.

use std::collections::BTreeMap;

use serde::Deserialize;

/// `metadata` of every object.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name.
    pub name: String,
    /// Namespace (empty for cluster-scoped objects).
    pub namespace: String,
    /// UID.
    pub uid: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    pub annotations: BTreeMap<String, String>,
    /// Owners.
    pub owner_references: Vec<OwnerReference>,
    /// Version of the object.
    pub resource_version: String,
}

/// An owner of an object.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct OwnerReference {
    /// Kind (`ReplicaSet`, ...).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Whether this owner is the managing controller.
    pub controller: Option<bool>,
}

/// A reference to another object (endpoint targets).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ObjectReference {
    /// Kind (`Pod`, `Node`, ...).
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
}

/// A Pod.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Pod {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: PodSpec,
    /// Status.
    pub status: PodStatus,
}

/// `Pod.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodSpec {
    /// The node the pod runs on.
    pub node_name: String,
    /// Containers.
    pub containers: Vec<Container>,
    /// Init containers.
    pub init_containers: Vec<Container>,
}

/// A container.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Container {
    /// Name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Declared ports.
    pub ports: Vec<ContainerPort>,
}

/// A container port.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerPort {
    /// Name.
    pub name: String,
    /// Port number.
    pub container_port: i64,
    /// Protocol (`TCP`, `UDP`, `SCTP`).
    pub protocol: String,
}

/// `Pod.status`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct PodStatus {
    /// Phase (`Running`, ...).
    pub phase: String,
    /// Pod IP.
    #[serde(rename = "podIP")]
    pub pod_ip: String,
    /// Host IP.
    #[serde(rename = "hostIP")]
    pub host_ip: String,
    /// Conditions.
    pub conditions: Vec<Condition>,
    /// Container states.
    pub container_statuses: Vec<ContainerStatus>,
    /// Init container states.
    pub init_container_statuses: Vec<ContainerStatus>,
}

/// A condition.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Condition {
    /// Type (`Ready`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
}

/// A container's state.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Container name.
    pub name: String,
    /// Runtime container ID.
    #[serde(rename = "containerID")]
    pub container_id: String,
}

/// A Service.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Service {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: ServiceSpec,
}

/// `Service.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Type (`ClusterIP`, `NodePort`, `LoadBalancer`, `ExternalName`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Cluster IP.
    #[serde(rename = "clusterIP")]
    pub cluster_ip: String,
    /// Load balancer IP.
    #[serde(rename = "loadBalancerIP")]
    pub load_balancer_ip: String,
    /// External name.
    pub external_name: String,
    /// Ports.
    pub ports: Vec<ServicePort>,
}

/// A service port.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ServicePort {
    /// Name.
    pub name: String,
    /// Port number.
    pub port: i64,
    /// Protocol.
    pub protocol: String,
}

/// An Endpoints object.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Endpoints {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Subsets.
    pub subsets: Vec<EndpointSubset>,
}

/// A subset of an Endpoints object.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Ready addresses.
    pub addresses: Vec<EndpointAddress>,
    /// Not ready addresses.
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports.
    pub ports: Vec<EndpointPort>,
}

/// An endpoint address.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointAddress {
    /// IP.
    pub ip: String,
    /// Hostname.
    pub hostname: String,
    /// Node name.
    pub node_name: Option<String>,
    /// The object behind the address.
    pub target_ref: Option<ObjectReference>,
}

/// An endpoint port.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointPort {
    /// Name.
    pub name: String,
    /// Port.
    pub port: i64,
    /// Protocol.
    pub protocol: String,
}

/// An EndpointSlice (`discovery.k8s.io/v1`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct EndpointSlice {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: String,
    /// Endpoints.
    pub endpoints: Vec<SliceEndpoint>,
    /// Ports.
    pub ports: Vec<SlicePort>,
}

/// One endpoint of a slice.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SliceEndpoint {
    /// Addresses.
    pub addresses: Vec<String>,
    /// Conditions.
    pub conditions: SliceConditions,
    /// Hostname.
    pub hostname: Option<String>,
    /// Target object.
    pub target_ref: Option<ObjectReference>,
    /// Node name.
    pub node_name: Option<String>,
    /// Zone.
    pub zone: Option<String>,
    /// Topology labels (deprecated `v1beta1` field).
    pub deprecated_topology: BTreeMap<String, String>,
}

/// Conditions of a slice endpoint.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct SliceConditions {
    /// Ready.
    pub ready: Option<bool>,
    /// Serving.
    pub serving: Option<bool>,
    /// Terminating.
    pub terminating: Option<bool>,
}

/// A port of a slice.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct SlicePort {
    /// Name.
    pub name: Option<String>,
    /// Port.
    pub port: Option<i64>,
    /// Protocol.
    pub protocol: Option<String>,
    /// Application protocol.
    pub app_protocol: Option<String>,
}

/// A Node.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Node {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: NodeSpec,
    /// Status.
    pub status: NodeStatus,
}

/// `Node.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeSpec {
    /// Cloud provider ID.
    #[serde(rename = "providerID")]
    pub provider_id: String,
}

/// `Node.status`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeStatus {
    /// Addresses.
    pub addresses: Vec<NodeAddress>,
    /// Daemon endpoints.
    pub daemon_endpoints: DaemonEndpoints,
}

/// A node address.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The address.
    pub address: String,
}

/// `Node.status.daemonEndpoints`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DaemonEndpoints {
    /// The kubelet's endpoint.
    pub kubelet_endpoint: DaemonEndpoint,
}

/// A daemon endpoint.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DaemonEndpoint {
    /// Port.
    pub port: i64,
}

/// An Ingress (`networking.k8s.io/v1`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Ingress {
    /// Metadata.
    pub metadata: ObjectMeta,
    /// Spec.
    pub spec: IngressSpec,
}

/// `Ingress.spec`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IngressSpec {
    /// The ingress class.
    pub ingress_class_name: Option<String>,
    /// TLS settings.
    pub tls: Vec<IngressTls>,
    /// Rules.
    pub rules: Vec<IngressRule>,
}

/// A TLS entry of an ingress.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IngressTls {
    /// Hosts (may contain a leading wildcard label).
    pub hosts: Vec<String>,
}

/// An ingress rule.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IngressRule {
    /// Host.
    pub host: String,
    /// HTTP paths.
    pub http: Option<IngressHttp>,
}

/// `IngressRule.http`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IngressHttp {
    /// Paths.
    pub paths: Vec<IngressPath>,
}

/// An ingress path.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct IngressPath {
    /// Path.
    pub path: String,
}

/// A Namespace.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Namespace {
    /// Metadata.
    pub metadata: ObjectMeta,
}
