//! keelson's API server: the Kubernetes REST API over keelson's store (or any etcd), so the
//! real `kubectl` 1.27-1.33 and client libraries work unmodified.
//!
//! **Architecture invariant:** the store is reached only through [`backend::Backend`]; no
//! other module knows about etcd or keelson-store. Objects are stored as JSON under
//! kube-apiserver's key layout (`/registry/pods/<ns>/<name>`) and `resourceVersion` is the
//! store's mod revision.
//!
//! Where to start reading:
//! - [`server`]: configuration, TLS, startup and background tasks;
//! - [`http`]: routing, query/body decoding, content negotiation, errors as `Status`;
//! - [`rest`]: object semantics (create/update/patch/delete/list) over the backend;
//! - [`cache`] and [`watch`]: one store watch per resource, fanned out to every client watch;
//! - [`resources`] and [`registry`]: what is served; [`crd`]: custom resources;
//! - [`smp`], [`managed`]: strategic merge patch and server-side apply;
//! - [`validation`]: defaulting and validation of built-in kinds; [`protobuf`]: kubectl's
//!   protobuf bodies; [`table`]/[`printing`]: server-side printing; [`openapi`]: OpenAPI v3/v2;
//!   [`discovery`]: `/api`, `/apis`, `/version`.

pub mod alloc;
pub mod backend;
pub mod cache;
pub mod convert;
pub mod crd;
pub mod decode;
pub mod discovery;
pub mod error;
pub mod http;
pub mod lifecycle;
pub mod managed;
pub mod meta;
pub mod metrics;
pub mod openapi;
pub mod policy;
pub mod printing;
pub mod protobuf;
pub mod proxy;
pub mod registry;
pub mod resources;
pub mod rest;
pub mod selector;
pub mod server;
pub mod smp;
pub mod table;
pub mod validation;
pub mod watch;

pub use backend::{Backend, EtcdBackend};
pub use error::{ApiError, Result};
pub use server::{ApiConfig, Running, start};
