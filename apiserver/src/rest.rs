//! The generic REST storage: create, get, update, patch, delete and list of any resource over
//! the [`Backend`], with kube-apiserver's object semantics (system fields, optimistic
//! concurrency, status and scale subresources, finalizers and graceful deletion, dry runs,
//! pagination), plus the per-kind hooks that live in kube-apiserver (Service IP and node port
//! allocation, namespace lifecycle, Job selectors).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::backend::{Backend, Cond, Kv, Mutation, Write, prefix_end};
use crate::cache::{Cache, decode_object, set_resource_version};
use crate::error::{ApiError, Cause, Result, Subject};
use crate::meta;
use crate::registry::Registry;
use crate::resources::Resource;
use crate::selector::{FieldSelector, LabelSelector, ObjectFilter};
use crate::{alloc, managed, validation};

/// Largest request body accepted (kube-apiserver's limit).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// How unknown fields in a request body are treated (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Drop them silently.
    Ignore,
    /// Drop them and warn (the default).
    #[default]
    Warn,
    /// Refuse the request.
    Strict,
}

/// Options common to writes.
#[derive(Debug, Clone, Default)]
pub struct WriteOpts {
    /// `dryRun=All`: run everything but the store write.
    pub dry_run: bool,
    /// `fieldManager`.
    pub field_manager: Option<String>,
    /// `fieldValidation`.
    pub field_validation: FieldValidation,
    /// `force` (server-side apply).
    pub force: bool,
    /// The version a patch is written in, when it is not the storage version (the patch is
    /// applied to the object converted to it).
    pub view: Option<Arc<Resource>>,
    /// A change the API server makes itself on behalf of a subresource (a pod's `binding`
    /// sets `spec.nodeName`): the result is validated as an object, but not against the
    /// update rules that forbid clients to change such fields.
    pub server_side: bool,
    /// The write goes through the `status` subresource: it never bumps the generation (as
    /// upstream's status strategies).
    pub status_subresource: bool,
}

/// What a write returns.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The object as stored (or as it would be, for dry runs).
    pub object: Value,
    /// HTTP status code.
    pub code: u16,
    /// `Warning` headers.
    pub warnings: Vec<String>,
}

impl Outcome {
    fn new(object: Value, code: u16) -> Self {
        Outcome {
            object,
            code,
            warnings: vec![],
        }
    }
}

/// Options of a list.
#[derive(Debug, Clone, Default)]
pub struct ListOpts {
    /// `labelSelector`.
    pub label: Option<LabelSelector>,
    /// `fieldSelector`.
    pub field: Option<FieldSelector>,
    /// `limit` (0 = no limit).
    pub limit: i64,
    /// `continue`.
    pub continue_token: Option<String>,
    /// `resourceVersion` (None = most recent, consistent).
    pub resource_version: Option<String>,
    /// `resourceVersionMatch`.
    pub rv_match: Option<String>,
}

/// Server settings the REST layer needs.
#[derive(Debug, Clone)]
pub struct RestConfig {
    /// Service cluster IP range, e.g. `10.96.0.0/12`.
    pub service_cidr: String,
    /// Node port range.
    pub node_ports: (u16, u16),
    /// Events kept by each watch cache.
    pub cache_window: usize,
    /// Resources (plural names) stored in another shard of the store: `(resource, shard)`.
    pub shards: Vec<(String, String)>,
}

impl Default for RestConfig {
    fn default() -> Self {
        RestConfig {
            service_cidr: "10.96.0.0/12".into(),
            node_ports: (30000, 32767),
            cache_window: 2000,
            shards: vec![],
        }
    }
}

/// The API's storage layer, shared by every request handler.
pub struct Rest {
    /// The store (its default keyspace).
    pub backend: Arc<dyn Backend>,
    shard_backends: RwLock<HashMap<String, Arc<dyn Backend>>>,
    /// Served resources.
    pub registry: RwLock<Arc<Registry>>,
    caches: RwLock<HashMap<String, Arc<Cache>>>,
    /// Settings.
    pub config: RestConfig,
}

fn subject(res: &Resource, name: &str) -> Subject {
    Subject {
        group: res.group.clone(),
        kind: res.plural.clone(),
        name: name.to_string(),
    }
}

/// A continue token (upstream's layout: base64 of `{"v","rv","start"}`).
pub fn encode_continue(rv: i64, start: &str) -> String {
    let j = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": start});
    base64::engine::general_purpose::STANDARD.encode(j.to_string())
}

fn decode_continue(token: &str) -> Result<(i64, String)> {
    let bad = || ApiError::BadRequest(format!("continue key is not valid: {token}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(token)
        .map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if v.get("v").and_then(Value::as_str) != Some("meta.k8s.io/v1") {
        return Err(bad());
    }
    let rv = v.get("rv").and_then(Value::as_i64).ok_or_else(bad)?;
    let start = v
        .get("start")
        .and_then(Value::as_str)
        .ok_or_else(bad)?
        .to_string();
    if start.contains("..") || start.starts_with('/') {
        return Err(bad());
    }
    Ok((rv, start))
}

fn parse_rv(s: &str) -> Result<i64> {
    s.parse::<i64>()
        .ok()
        .filter(|v| *v >= 0)
        .ok_or_else(|| ApiError::BadRequest(format!("invalid resource version: {s}")))
}

impl Rest {
    /// A REST layer over `backend`; watch caches start for every resource.
    pub fn new(backend: Arc<dyn Backend>, config: RestConfig) -> Arc<Rest> {
        let rest = Arc::new(Rest {
            backend,
            shard_backends: RwLock::new(HashMap::new()),
            registry: RwLock::new(Arc::new(Registry::default())),
            caches: RwLock::new(HashMap::new()),
            config,
        });
        rest.start_caches();
        rest
    }

    /// The current registry.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Replace the registry (CRDs changed) and start caches for new resources.
    pub fn set_registry(&self, reg: Registry) {
        if let Ok(mut r) = self.registry.write() {
            *r = Arc::new(reg);
        }
        self.start_caches();
    }

    /// The backend holding a resource: its shard when one is configured, else the default.
    pub fn backend_for(&self, res: &Resource) -> Arc<dyn Backend> {
        let Some((_, shard)) = self.config.shards.iter().find(|(r, _)| *r == res.plural) else {
            return self.backend.clone();
        };
        if let Some(b) = self
            .shard_backends
            .read()
            .ok()
            .and_then(|m| m.get(shard).cloned())
        {
            return b;
        }
        match self.backend.shard(shard) {
            Some(b) => {
                if let Ok(mut m) = self.shard_backends.write() {
                    m.insert(shard.to_string(), b.clone());
                }
                b
            }
            None => self.backend.clone(),
        }
    }

    fn backend_for_prefix(&self, prefix: &str) -> Arc<dyn Backend> {
        let reg = self.registry();
        match reg
            .all()
            .iter()
            .find(|r| format!("{}/", r.storage) == prefix)
        {
            Some(r) => self.backend_for(r),
            None => self.backend.clone(),
        }
    }

    fn start_caches(&self) {
        let prefixes = self.registry().storage_prefixes();
        let Ok(mut caches) = self.caches.write() else {
            return;
        };
        for p in prefixes {
            caches.entry(p.clone()).or_insert_with(|| {
                Cache::start(self.backend_for_prefix(&p), p, self.config.cache_window)
            });
        }
    }

    /// The watch cache of a resource.
    pub fn cache(&self, res: &Resource) -> Result<Arc<Cache>> {
        let p = format!("{}/", res.storage);
        if let Some(c) = self.caches.read().ok().and_then(|c| c.get(&p).cloned()) {
            return Ok(c);
        }
        let mut caches = self
            .caches
            .write()
            .map_err(|_| ApiError::Internal("cache map poisoned".into()))?;
        Ok(caches
            .entry(p.clone())
            .or_insert_with(|| {
                Cache::start(self.backend_for_prefix(&p), p, self.config.cache_window)
            })
            .clone())
    }

    async fn read(&self, res: &Resource, ns: &str, name: &str) -> Result<(Kv, Value)> {
        let key = res.key(ns, name);
        let (kv, _) = self.backend_for(res).get(&key).await?;
        let kv = kv.ok_or_else(|| ApiError::NotFound(subject(res, name)))?;
        let obj = decode_object(&kv.value, kv.mod_revision)?;
        Ok((kv, obj))
    }

    /// GET of one object.
    pub async fn get(&self, res: &Resource, ns: &str, name: &str) -> Result<Value> {
        Ok(self.read(res, ns, name).await?.1)
    }

    /// Check that creating in `ns` is allowed (it exists and is not terminating).
    async fn check_namespace(&self, ns: &str) -> Result<()> {
        let reg = self.registry();
        let Some(nsr) = reg.find("", "v1", "namespaces") else {
            return Ok(());
        };
        // Like upstream's NamespaceLifecycle admission: an active namespace in the watch cache
        // is enough; anything else (absent, terminating, cache not ready) is read from the store.
        if let Ok(cache) = self.cache(&nsr) {
            let key = nsr.key("", ns);
            let (objs, _) = cache.list(&key);
            if objs
                .iter()
                .any(|o| meta::name(o) == ns && !meta::deleting(o))
            {
                return Ok(());
            }
        }
        match self.read(&nsr, "", ns).await {
            Ok((_, obj)) => {
                if meta::deleting(&obj) {
                    Err(ApiError::Forbidden(format!(
                        "unable to create new content in namespace {ns} because it is being terminated"
                    )))
                } else {
                    Ok(())
                }
            }
            Err(ApiError::NotFound(_)) => Err(ApiError::NotFound(Subject {
                group: String::new(),
                kind: "namespaces".into(),
                name: ns.to_string(),
            })),
            Err(e) => Err(e),
        }
    }

    /// Check kind/apiVersion/namespace of a request body against the URL and fill them in.
    fn check_body(
        &self,
        res: &Resource,
        ns: &str,
        obj: &mut Value,
        sub_kind: Option<(&str, &str)>,
    ) -> Result<()> {
        let Some(o) = obj.as_object_mut() else {
            return Err(ApiError::BadRequest(
                "the request body is not a JSON object".into(),
            ));
        };
        let (want_av, want_kind) = match sub_kind {
            Some((av, k)) => (av.to_string(), k.to_string()),
            None => (res.api_version(), res.kind.clone()),
        };
        match o.get("apiVersion").and_then(Value::as_str) {
            Some(av) if !av.is_empty() && av != want_av => {
                // Other served versions of the same group are accepted (stored as sent).
                let group_of = |s: &str| {
                    s.rsplit_once('/')
                        .map(|(g, _)| g.to_string())
                        .unwrap_or_default()
                };
                if group_of(av) != res.group || sub_kind.is_some() {
                    return Err(ApiError::BadRequest(format!(
                        "the API version in the data ({av}) does not match the expected API version ({want_av})"
                    )));
                }
            }
            _ => {
                o.insert("apiVersion".into(), Value::String(want_av.clone()));
            }
        }
        match o.get("kind").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k != want_kind => {
                return Err(ApiError::BadRequest(format!(
                    "the kind in the data ({k}) does not match the expected kind ({want_kind})"
                )));
            }
            _ => {
                o.insert("kind".into(), Value::String(want_kind));
            }
        }
        let m = meta::metadata_mut(obj);
        if res.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() && n != ns => {
                    return Err(ApiError::BadRequest(
                        "the namespace of the provided object does not match the namespace sent on the request".into(),
                    ));
                }
                _ => {
                    m.insert("namespace".into(), Value::String(ns.to_string()));
                }
            }
        } else {
            m.remove("namespace");
        }
        Ok(())
    }

    /// Defaults, validation, unknown-field policy. Returns warnings.
    fn admit(
        &self,
        res: &Resource,
        obj: &mut Value,
        old: Option<&Value>,
        opts: &WriteOpts,
    ) -> Result<Vec<String>> {
        let mut warnings = vec![];
        if !res.custom {
            validation::check_types(&res.group, &res.version, &res.kind, obj)?;
            {
                let unknown = validation::unknown_fields(&res.group, &res.version, &res.kind, obj)?;
                if !unknown.is_empty() && opts.field_validation != FieldValidation::Ignore {
                    if opts.field_validation == FieldValidation::Strict {
                        return Err(validation::strict_decoding_error(
                            &res.kind,
                            &res.version,
                            &unknown,
                        ));
                    }
                    warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
                }
                // Unknown fields are dropped, as typed decoding drops them upstream.
                for f in &unknown {
                    remove_field(obj, f);
                }
            }
            validation::apply_defaults(&res.group, &res.kind, obj);
        }
        let mut causes = if res.custom {
            vec![]
        } else {
            validation::validate(
                &res.group,
                &res.kind,
                obj,
                if opts.server_side { None } else { old },
            )
        };
        if res.custom {
            causes.extend(crate::crd::admit_custom(res, obj));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(
                subject(res, meta::name(obj)),
                res.qualified_kind(),
                causes,
            ));
        }
        Ok(warnings)
    }

    /// POST: create an object.
    pub async fn create(
        &self,
        res: &Resource,
        ns: &str,
        mut obj: Value,
        opts: &WriteOpts,
    ) -> Result<Outcome> {
        self.check_body(res, ns, &mut obj, None)?;
        if !meta::meta_str(&obj, "resourceVersion").is_empty() {
            return Err(ApiError::BadRequest(
                "resourceVersion should not be set on objects to be created".into(),
            ));
        }
        if res.namespaced {
            self.check_namespace(ns).await?;
        }
        let generate = meta::meta_str(&obj, "generateName").to_string();
        if meta::name(&obj).is_empty() && generate.is_empty() {
            return Err(ApiError::invalid(
                subject(res, ""),
                res.qualified_kind(),
                vec![Cause::new(
                    "FieldValueRequired",
                    "metadata.name",
                    "Required value: name or generateName is required",
                )],
            ));
        }
        {
            let m = meta::metadata_mut(&mut obj);
            m.insert("uid".into(), Value::String(meta::new_uid()));
            m.insert("creationTimestamp".into(), Value::String(meta::now()));
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
            m.remove("generation");
        }
        prepare_create(res, &mut obj);
        if spec_bearing(res) {
            meta::metadata_mut(&mut obj).insert("generation".into(), json!(1));
        }
        let mut warnings = Vec::new();
        for attempt in 0..8 {
            let mut candidate = obj.clone();
            if meta::name(&candidate).is_empty() || (attempt > 0 && !generate.is_empty()) {
                meta::metadata_mut(&mut candidate)
                    .insert("name".into(), Value::String(meta::generate_name(&generate)));
            }
            if res.group == "batch" && res.kind == "Job" {
                let uid = meta::meta_str(&candidate, "uid").to_string();
                validation::job_selector(&mut candidate, &uid);
            }
            warnings = self.admit(res, &mut candidate, None, opts)?;
            managed::record_update(&mut candidate, None, opts, res);
            let name = meta::name(&candidate).to_string();
            let key = res.key(ns, &name);
            let (conds, muts) = alloc::on_create(self, res, &mut candidate).await?;
            if opts.dry_run {
                set_resource_version(&mut candidate, 0);
                meta::metadata_mut(&mut candidate).remove("resourceVersion");
                return Ok(Outcome {
                    object: candidate,
                    code: 201,
                    warnings,
                });
            }
            let mut stored = candidate.clone();
            meta::strip_for_storage(&mut stored);
            let bytes =
                serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
            let mut all_conds = vec![Cond {
                key: key.clone(),
                mod_revision: 0,
            }];
            all_conds.extend(conds);
            let mut all_muts = vec![Mutation::Put(key, bytes)];
            all_muts.extend(muts);
            match self.backend_for(res).commit(all_conds, all_muts).await? {
                Write::Done(rev) => {
                    set_resource_version(&mut candidate, rev);
                    return Ok(Outcome {
                        object: candidate,
                        code: 201,
                        warnings,
                    });
                }
                Write::Failed(Some(_)) if !generate.is_empty() && meta::name(&obj).is_empty() => {
                    continue;
                }
                Write::Failed(Some(_)) => return Err(ApiError::AlreadyExists(subject(res, &name))),
                // The object key was free, so an allocation raced with another writer: retry.
                Write::Failed(None) => continue,
            }
        }
        let _ = warnings;
        Err(ApiError::AlreadyExists(subject(res, meta::name(&obj))))
    }

    /// The write path every modification ends in: finalize `new` against `old`, and store it
    /// (or delete the object when its last finalizer went away during deletion).
    async fn store_modified(
        &self,
        res: &Resource,
        kv: &Kv,
        old: &Value,
        mut new: Value,
        opts: &WriteOpts,
        precondition: bool,
    ) -> Result<std::result::Result<Outcome, ()>> {
        // System fields come from the stored object.
        {
            let om = meta::metadata(old).clone();
            let m = meta::metadata_mut(&mut new);
            for f in [
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            ] {
                match om.get(f) {
                    Some(v) => {
                        m.insert(f.into(), v.clone());
                    }
                    None => {
                        m.remove(f);
                    }
                }
            }
            match om.get("generation") {
                Some(g) => m.insert("generation".into(), g.clone()),
                None => m.remove("generation"),
            };
            m.insert(
                "resourceVersion".into(),
                Value::String(kv.mod_revision.to_string()),
            );
        }
        let mut warnings = self.admit(res, &mut new, Some(old), opts)?;
        if spec_bearing(res)
            && !opts.status_subresource
            && validation::generation_changed(&res.kind, old, &new)
        {
            let g = meta::metadata(old)
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                + 1;
            meta::metadata_mut(&mut new).insert("generation".into(), json!(g));
        }
        if meta::deleting(old) {
            let old_f = meta::finalizers(old);
            for f in meta::finalizers(&new) {
                if !old_f.contains(&f) {
                    return Err(ApiError::invalid(
                        subject(res, meta::name(old)),
                        res.qualified_kind(),
                        vec![Cause::new(
                            "FieldValueForbidden",
                            "metadata.finalizers",
                            format!(
                                "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{f}\"}}"
                            ),
                        )],
                    ));
                }
            }
        }
        managed::record_update(&mut new, Some(old), opts, res);
        let (conds, muts) = alloc::on_update(self, res, old, &mut new).await?;
        let namespace_held = res.group.is_empty()
            && res.kind == "Namespace"
            && new
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty());
        // As upstream's ShouldDeleteDuringUpdate: being deleted, no finalizers left, and no
        // grace period running (a pod in graceful deletion stays until its node confirms).
        let grace_over = meta::metadata(&new)
            .get("deletionGracePeriodSeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            == 0;
        let finished = meta::deleting(&new)
            && meta::finalizers(&new).is_empty()
            && !namespace_held
            && grace_over;
        if opts.dry_run {
            return Ok(Ok(Outcome {
                object: new,
                code: 200,
                warnings,
            }));
        }
        let mut stored = new.clone();
        meta::strip_for_storage(&mut stored);
        let mut old_stored = old.clone();
        meta::strip_for_storage(&mut old_stored);
        if stored == old_stored && conds.is_empty() && muts.is_empty() && !finished {
            // No-op updates do not write (and keep the resourceVersion), as upstream.
            return Ok(Ok(Outcome {
                object: new,
                code: 200,
                warnings,
            }));
        }
        let mut all_conds = vec![Cond {
            key: kv.key.clone(),
            mod_revision: kv.mod_revision,
        }];
        all_conds.extend(conds);
        let mut all_muts = if finished {
            let (_, release) = alloc::on_delete(res, old);
            let mut m = vec![Mutation::Delete(kv.key.clone())];
            m.extend(release);
            m
        } else {
            let bytes =
                serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
            vec![Mutation::Put(kv.key.clone(), bytes)]
        };
        all_muts.extend(muts);
        match self.backend_for(res).commit(all_conds, all_muts).await? {
            Write::Done(rev) => {
                set_resource_version(&mut new, rev);
                warnings.dedup();
                Ok(Ok(Outcome {
                    object: new,
                    code: 200,
                    warnings,
                }))
            }
            Write::Failed(_) if precondition => {
                Err(ApiError::modified(subject(res, meta::name(old))))
            }
            Write::Failed(_) => Ok(Err(())),
        }
    }

    /// Read-modify-write with retries on conflicts (kube-apiserver's GuaranteedUpdate).
    /// `f` gets the current object and returns the new one.
    pub async fn modify<F>(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        opts: &WriteOpts,
        mut f: F,
    ) -> Result<Outcome>
    where
        F: FnMut(&Value) -> Result<(Value, bool)>,
    {
        for _ in 0..16 {
            let (kv, old) = self.read(res, ns, name).await?;
            let (new, precondition) = f(&old)?;
            if let Ok(out) = self
                .store_modified(res, &kv, &old, new, opts, precondition)
                .await?
            {
                return Ok(out);
            }
        }
        Err(ApiError::modified(subject(res, name)))
    }

    /// PUT of the object or of its `status`.
    pub async fn update(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        mut body: Value,
        sub: Option<&str>,
        opts: &WriteOpts,
    ) -> Result<Outcome> {
        self.check_body(res, ns, &mut body, None)?;
        if meta::name(&body) != name {
            return Err(ApiError::BadRequest(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                meta::name(&body)
            )));
        }
        let want_rv = meta::meta_str(&body, "resourceVersion").to_string();
        let want_uid = meta::meta_str(&body, "uid").to_string();
        let opts = &WriteOpts {
            status_subresource: sub == Some("status"),
            ..opts.clone()
        };
        let sub = sub.map(str::to_string);
        self.modify(res, ns, name, opts, |old| {
            if !want_uid.is_empty() && want_uid != meta::meta_str(old, "uid") {
                return Err(ApiError::Conflict {
                    subject: subject(res, name),
                    message: format!(
                        "Precondition failed: UID in precondition: {want_uid}, UID in object meta: {}",
                        meta::meta_str(old, "uid")
                    ),
                });
            }
            if !want_rv.is_empty() && want_rv != meta::meta_str(old, "resourceVersion") {
                return Err(ApiError::modified(subject(res, name)));
            }
            Ok((merge_subresource(res, old, body.clone(), sub.as_deref()), !want_rv.is_empty()))
        })
        .await
    }

    /// PATCH of the object or of its `status`.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        content_type: &str,
        patch: &[u8],
        sub: Option<&str>,
        opts: &WriteOpts,
    ) -> Result<Outcome> {
        if content_type.starts_with("application/apply-patch") {
            let body = crate::decode::yaml_or_json(patch)?;
            return crate::managed::server_side_apply(self, res, ns, name, body, sub, opts).await;
        }
        let patch_value: Value = serde_json::from_slice(patch)
            .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
        let kind = patch_kind(content_type)?;
        if kind == PatchKind::Strategic && res.custom {
            return Err(ApiError::UnsupportedMediaType(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
            ));
        }
        let opts = &WriteOpts {
            status_subresource: sub == Some("status"),
            ..opts.clone()
        };
        let sub = sub.map(str::to_string);
        self.modify(res, ns, name, opts, |old| {
            let mut base = old.clone();
            meta::metadata_mut(&mut base).remove("resourceVersion");
            if let Some(v) = &opts.view {
                base = crate::convert::from_storage(v, base);
            }
            let mut patched = apply_patch(
                kind,
                &base,
                &patch_value,
                opts.view.as_deref().unwrap_or(res),
            )?;
            if let Some(v) = &opts.view {
                patched = crate::convert::to_storage(v, patched);
            }
            // A resourceVersion in the patch is a precondition.
            let want = meta::meta_str(&patched, "resourceVersion").to_string();
            let precondition = !want.is_empty();
            if precondition && want != meta::meta_str(old, "resourceVersion") {
                return Err(ApiError::modified(subject(res, name)));
            }
            if meta::name(&patched) != name {
                return Err(ApiError::BadRequest(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta::name(&patched)
                )));
            }
            self.check_body(res, ns, &mut patched, None)?;
            Ok((
                merge_subresource(res, old, patched, sub.as_deref()),
                precondition,
            ))
        })
        .await
    }

    /// DELETE of one object, honouring preconditions, finalizers, propagation policy and
    /// graceful deletion of pods.
    pub async fn delete(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
        opts: &Value,
        dry_run: bool,
    ) -> Result<Outcome> {
        let policy = opts
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| {
                opts.get("orphanDependents")
                    .and_then(Value::as_bool)
                    .map(|o| if o { "Orphan" } else { "Background" }.to_string())
            });
        if let Some(p) = &policy
            && !["Orphan", "Background", "Foreground"].contains(&p.as_str())
        {
            return Err(ApiError::invalid(
                subject(res, name),
                "DeleteOptions",
                vec![Cause::new(
                    "FieldValueNotSupported",
                    "propagationPolicy",
                    format!(
                        "Unsupported value: \"{p}\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
                    ),
                )],
            ));
        }
        let grace = opts.get("gracePeriodSeconds").and_then(Value::as_i64);
        let pre_uid = opts
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string);
        let pre_rv = opts
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
        for _ in 0..16 {
            let (kv, old) = self.read(res, ns, name).await?;
            if let Some(u) = &pre_uid
                && u != meta::meta_str(&old, "uid")
            {
                return Err(ApiError::Conflict {
                    subject: subject(res, name),
                    message: format!(
                        "Precondition failed: UID in precondition: {u}, UID in object meta: {}",
                        meta::meta_str(&old, "uid")
                    ),
                });
            }
            if let Some(r) = &pre_rv
                && r != meta::meta_str(&old, "resourceVersion")
            {
                return Err(ApiError::Conflict {
                    subject: subject(res, name),
                    message: format!(
                        "Precondition failed: ResourceVersion in precondition: {r}, ResourceVersion in object meta: {}",
                        meta::meta_str(&old, "resourceVersion")
                    ),
                });
            }
            let mut finalizers = meta::finalizers(&old);
            let mut add = |f: &str| {
                if !finalizers.iter().any(|x| x == f) {
                    finalizers.push(f.to_string());
                }
            };
            match policy.as_deref() {
                Some("Foreground") => add("foregroundDeletion"),
                Some("Orphan") => add("orphan"),
                _ => {}
            }
            if res.group.is_empty() && res.kind == "Namespace" && !meta::deleting(&old) {
                // Namespaces go through Terminating; the namespace finalizer empties them.
                let mut new = old.clone();
                let m = meta::metadata_mut(&mut new);
                m.insert("deletionTimestamp".into(), Value::String(meta::now()));
                m.insert("deletionGracePeriodSeconds".into(), json!(0));
                if !finalizers.is_empty() {
                    m.insert("finalizers".into(), json!(finalizers));
                }
                new["status"]["phase"] = json!("Terminating");
                return self.write_deleting(res, &kv, &old, new, dry_run).await;
            }
            let graceful = self.pod_grace(res, &old, grace).await;
            if !finalizers.is_empty() || graceful.is_some() {
                if meta::deleting(&old) && finalizers == meta::finalizers(&old) {
                    // Already being deleted with the same finalizers: nothing to change.
                    return Ok(Outcome::new(old, 200));
                }
                let mut new = old.clone();
                let m = meta::metadata_mut(&mut new);
                if !meta::deleting(&old) {
                    let g = graceful.unwrap_or(0);
                    let at = std::time::SystemTime::now() + Duration::from_secs(g.max(0) as u64);
                    m.insert(
                        "deletionTimestamp".into(),
                        Value::String(humantime::format_rfc3339_seconds(at).to_string()),
                    );
                    m.insert("deletionGracePeriodSeconds".into(), json!(g));
                }
                if finalizers.is_empty() {
                    m.remove("finalizers");
                } else {
                    m.insert("finalizers".into(), json!(finalizers));
                }
                match self.write_deleting(res, &kv, &old, new, dry_run).await {
                    Err(ApiError::Conflict { .. }) => continue,
                    other => return other,
                }
            }
            if dry_run {
                return Ok(Outcome::new(old, 200));
            }
            let (_, release) = alloc::on_delete(res, &old);
            let mut muts = vec![Mutation::Delete(kv.key.clone())];
            muts.extend(release);
            match self
                .backend_for(res)
                .commit(
                    vec![Cond {
                        key: kv.key.clone(),
                        mod_revision: kv.mod_revision,
                    }],
                    muts,
                )
                .await?
            {
                // Like kube-apiserver, pods, services and service accounts answer with the
                // deleted object (`ReturnDeletedObject`); everything else with a Status.
                Write::Done(_)
                    if res.group.is_empty()
                        && matches!(res.kind.as_str(), "Pod" | "Service" | "ServiceAccount") =>
                {
                    return Ok(Outcome::new(old, 200));
                }
                Write::Done(_) => {
                    let status = json!({
                        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                        "details": {"name": name, "group": res.group, "kind": res.plural, "uid": meta::meta_str(&old, "uid")}
                    });
                    return Ok(Outcome::new(status, 200));
                }
                Write::Failed(None) => return Err(ApiError::NotFound(subject(res, name))),
                Write::Failed(Some(_)) => continue,
            }
        }
        Err(ApiError::modified(subject(res, name)))
    }

    async fn write_deleting(
        &self,
        res: &Resource,
        kv: &Kv,
        old: &Value,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Outcome> {
        if dry_run {
            return Ok(Outcome::new(new, 200));
        }
        let mut stored = new.clone();
        meta::strip_for_storage(&mut stored);
        let bytes = serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
        match self
            .backend_for(res)
            .commit(
                vec![Cond {
                    key: kv.key.clone(),
                    mod_revision: kv.mod_revision,
                }],
                vec![Mutation::Put(kv.key.clone(), bytes)],
            )
            .await?
        {
            Write::Done(rev) => {
                set_resource_version(&mut new, rev);
                Ok(Outcome::new(new, 200))
            }
            Write::Failed(_) => Err(ApiError::modified(subject(res, meta::name(old)))),
        }
    }

    /// The grace period of a pod deletion, or None when the pod goes at once: pods not bound
    /// to an existing node, finished pods, and `gracePeriodSeconds=0`.
    async fn pod_grace(&self, res: &Resource, pod: &Value, grace: Option<i64>) -> Option<i64> {
        if !(res.group.is_empty() && res.kind == "Pod") {
            return None;
        }
        let node = pod
            .pointer("/spec/nodeName")
            .and_then(Value::as_str)
            .unwrap_or("");
        let phase = pod
            .pointer("/status/phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if node.is_empty() || phase == "Succeeded" || phase == "Failed" {
            return None;
        }
        let g = grace
            .or_else(|| {
                pod.pointer("/spec/terminationGracePeriodSeconds")
                    .and_then(Value::as_i64)
            })
            .unwrap_or(30);
        if g <= 0 {
            return None;
        }
        let nodes = self.registry().find("", "v1", "nodes")?;
        self.read(&nodes, "", node).await.ok()?;
        Some(g)
    }

    /// DELETE of a collection: every object matching the list options, one by one.
    pub async fn delete_collection(
        &self,
        res: &Resource,
        ns: Option<&str>,
        list: &ListOpts,
        opts: &Value,
        dry_run: bool,
    ) -> Result<Value> {
        let mut lo = list.clone();
        lo.limit = 0;
        lo.continue_token = None;
        let items = self.list(res, ns, &lo).await?;
        let mut deleted = Vec::new();
        for item in items.items {
            let item = &*item;
            let n = meta::name(item).to_string();
            let ins = meta::namespace(item).to_string();
            match self.delete(res, &ins, &n, opts, dry_run).await {
                // A list of the objects, as upstream's DeleteCollection answers, even for
                // kinds whose single delete answers with a Status.
                Ok(o) if o.object.get("kind").and_then(Value::as_str) == Some("Status") => {
                    deleted.push(item.clone())
                }
                Ok(o) => deleted.push(o.object),
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(
            json!({"kind": format!("{}List", res.kind), "apiVersion": res.api_version(), "metadata": {}, "items": deleted}),
        )
    }

    /// LIST with selectors, pagination and resourceVersion semantics.
    pub async fn list(
        &self,
        res: &Resource,
        ns: Option<&str>,
        opts: &ListOpts,
    ) -> Result<ListResult> {
        if let Some(f) = &opts.field {
            f.check_fields(&res.allowed_fields())?;
        }
        let rv = opts.resource_version.as_deref().filter(|s| !s.is_empty());
        let matching = opts.rv_match.as_deref().filter(|s| !s.is_empty());
        if matching.is_some() && rv.is_none() {
            return Err(ApiError::BadRequest(
                "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided".into(),
            ));
        }
        if let Some(m) = matching {
            if m != "Exact" && m != "NotOlderThan" {
                return Err(ApiError::BadRequest(format!(
                    "resourceVersionMatch: Unsupported value: \"{m}\": supported values: \"Exact\", \"NotOlderThan\""
                )));
            }
            if m == "Exact" && rv == Some("0") {
                return Err(ApiError::BadRequest(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"".into(),
                ));
            }
            if opts.continue_token.is_some() {
                return Err(ApiError::BadRequest(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden when continue is provided".into(),
                ));
            }
        }
        let prefix = res.prefix(ns.filter(|_| res.namespaced));
        let ns_filter = ns.filter(|_| res.namespaced);
        let selection = ObjectFilter {
            ns: ns_filter.map(str::to_string),
            label: opts.label.clone(),
            field: opts.field.clone(),
        };
        let filter = |obj: &Value| selection.matches(obj);
        // Served from the watch cache: resourceVersion=0, or N with NotOlderThan and no paging.
        let from_cache = match (rv, matching) {
            (Some("0"), _) if opts.continue_token.is_none() => Some(0),
            (Some(n), None | Some("NotOlderThan"))
                if opts.continue_token.is_none() && opts.limit == 0 =>
            {
                Some(parse_rv(n)?)
            }
            _ => None,
        };
        if let Some(min) = from_cache {
            let cache = self.cache(res)?;
            cache.wait_for(min.max(1), Duration::from_secs(3)).await?;
            let (objs, revision) = cache.list(&prefix);
            // Shared with the cache: no copy of any object.
            let items = objs.into_iter().filter(|o| filter(o)).collect();
            return Ok(ListResult {
                items,
                revision,
                continue_token: None,
                remaining: None,
            });
        }
        let end = prefix_end(&prefix);
        let (mut revision, mut start) = match &opts.continue_token {
            Some(t) => {
                let (rv, rel) = decode_continue(t)?;
                (rv, format!("{prefix}{rel}"))
            }
            None => match (rv, matching) {
                (Some(n), Some("Exact")) => (parse_rv(n)?, prefix.clone()),
                (Some(n), _) => {
                    // NotOlderThan with paging: read now, but never older than asked.
                    let want = parse_rv(n)?;
                    let cache = self.cache(res)?;
                    cache.wait_for(want, Duration::from_secs(3)).await?;
                    (0, prefix.clone())
                }
                _ => (0, prefix.clone()),
            },
        };
        let limit = opts.limit.max(0);
        let unfiltered = opts.label.is_none() && opts.field.is_none();
        let mut items = Vec::new();
        let mut next: Option<String> = None;
        let mut remaining = None;
        loop {
            let want = if limit == 0 {
                0
            } else {
                (limit - items.len() as i64).max(1)
            };
            let page = match self
                .backend_for(res)
                .range(&start, &end, want, revision)
                .await
            {
                Err(ApiError::Expired { .. }) if opts.continue_token.is_some() => {
                    return Err(ApiError::Expired {
                        message: "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.".into(),
                        continue_token: Some(encode_continue(-1, start.strip_prefix(&prefix).unwrap_or(""))),
                    });
                }
                Err(ApiError::Expired { .. }) => {
                    return Err(ApiError::Expired {
                        message: format!(
                            "The resourceVersion for the provided list is too old: {}",
                            rv.unwrap_or("")
                        ),
                        continue_token: None,
                    });
                }
                other => other?,
            };
            if revision == 0 {
                revision = page.revision;
            }
            for kv in &page.kvs {
                let obj = decode_object(&kv.value, kv.mod_revision)?;
                if filter(&obj) {
                    items.push(Arc::new(obj));
                }
            }
            let last = page.kvs.last().map(|k| k.key.clone());
            if !page.more || last.is_none() {
                break;
            }
            let after = format!("{}\0", last.unwrap_or_default());
            if limit > 0 && items.len() as i64 >= limit {
                if unfiltered {
                    remaining = Some(page.count - page.kvs.len() as i64);
                }
                next = Some(encode_continue(
                    revision,
                    after.strip_prefix(&prefix).unwrap_or(&after),
                ));
                break;
            }
            start = after;
        }
        Ok(ListResult {
            items,
            revision,
            continue_token: next,
            remaining,
        })
    }
}

/// One list answer.
#[derive(Debug, Clone)]
pub struct ListResult {
    /// Matching objects.
    pub items: Vec<Arc<Value>>,
    /// Revision of the read.
    pub revision: i64,
    /// Token for the next page.
    pub continue_token: Option<String>,
    /// Items after this page (unfiltered lists only).
    pub remaining: Option<i64>,
}

/// Kinds whose `metadata.generation` is maintained (they have a spec).
fn spec_bearing(res: &Resource) -> bool {
    if res.custom {
        return true;
    }
    !matches!(
        res.kind.as_str(),
        "ConfigMap"
            | "Secret"
            | "Event"
            | "Endpoints"
            | "ServiceAccount"
            | "Namespace"
            | "Node"
            | "Lease"
            | "EndpointSlice"
            | "ControllerRevision"
            | "Role"
            | "RoleBinding"
            | "ClusterRole"
            | "ClusterRoleBinding"
            | "LimitRange"
            | "ResourceQuota"
            | "PodTemplate"
            | "Service"
            | "PersistentVolume"
            | "PersistentVolumeClaim"
    )
}

/// Status reset on create, as kube-apiserver's strategies do.
fn prepare_create(res: &Resource, obj: &mut Value) {
    let Some(o) = obj.as_object_mut() else { return };
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => {
            o.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": qos_class(o.get("spec"))}),
            );
        }
        ("", "PersistentVolumeClaim") => {
            o.insert("status".into(), json!({"phase": "Pending"}));
        }
        ("", "PersistentVolume") => {
            o.insert("status".into(), json!({"phase": "Pending"}));
        }
        ("", "Namespace") => {
            o.insert("status".into(), json!({"phase": "Active"}));
        }
        ("", "Node") => {}
        ("apiextensions.k8s.io", _) => {
            o.insert("status".into(), json!({}));
        }
        _ if res.has_status => {
            o.insert("status".into(), json!({}));
        }
        _ => {}
    }
}

/// The pod QoS class from its containers' requests and limits.
pub fn qos_class(spec: Option<&Value>) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|f| spec.and_then(|s| s.get(*f)).and_then(Value::as_array))
        .flatten()
        .collect();
    let mut any = false;
    let mut guaranteed = true;
    for c in &containers {
        let req = c.pointer("/resources/requests").and_then(Value::as_object);
        let lim = c.pointer("/resources/limits").and_then(Value::as_object);
        if req.is_some_and(|r| !r.is_empty()) || lim.is_some_and(|l| !l.is_empty()) {
            any = true;
        }
        for r in ["cpu", "memory"] {
            let l = lim.and_then(|l| l.get(r));
            let q = req.and_then(|q| q.get(r)).or(l);
            if l.is_none() || q != l {
                guaranteed = false;
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed && !containers.is_empty() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// The object a main-resource or status write produces: the main endpoint keeps the stored
/// status; the status endpoint keeps everything but the status (and labels/annotations).
fn merge_subresource(res: &Resource, old: &Value, mut new: Value, sub: Option<&str>) -> Value {
    match sub {
        Some("status") => {
            let mut out = old.clone();
            if let Some(s) = new.get("status") {
                out["status"] = s.clone();
            } else if let Some(o) = out.as_object_mut() {
                o.remove("status");
            }
            // As upstream's status strategies, which reset only the spec (and, for
            // Deployments, the labels): labels and annotations written through /status are
            // kept. The deployment controller records `deployment.kubernetes.io/revision`
            // this way, without bumping the generation.
            let mut fields = vec!["annotations"];
            if !(res.group == "apps" && res.kind == "Deployment") {
                fields.push("labels");
            }
            for f in fields {
                let m = meta::metadata_mut(&mut out);
                match new.pointer(&format!("/metadata/{f}")) {
                    Some(v) if !v.is_null() => {
                        m.insert(f.into(), v.clone());
                    }
                    _ => {
                        m.remove(f);
                    }
                }
            }
            out
        }
        _ => {
            if res.has_status
                && let Some(o) = new.as_object_mut()
            {
                match old.get("status") {
                    Some(s) => {
                        o.insert("status".into(), s.clone());
                    }
                    None => {
                        o.remove("status");
                    }
                }
            }
            new
        }
    }
}

/// The four patch types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// RFC 6902.
    Json,
    /// RFC 7386.
    Merge,
    /// Kubernetes strategic merge patch.
    Strategic,
}

/// The patch type of a Content-Type.
pub fn patch_kind(ct: &str) -> Result<PatchKind> {
    let base = ct.split(';').next().unwrap_or("").trim();
    match base {
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {other})"
        ))),
    }
}

/// Apply a patch of `kind` to `base`.
pub fn apply_patch(kind: PatchKind, base: &Value, patch: &Value, res: &Resource) -> Result<Value> {
    match kind {
        PatchKind::Json => {
            let p: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
            let mut doc = base.clone();
            json_patch::patch(&mut doc, &p).map_err(|e| {
                ApiError::invalid(
                    subject(res, meta::name(base)),
                    res.qualified_kind(),
                    vec![Cause::new(
                        "FieldValueInvalid",
                        "",
                        format!(
                            "the server rejected our request due to an error in our request: {e}"
                        ),
                    )],
                )
            })?;
            Ok(doc)
        }
        PatchKind::Merge => {
            if !patch.is_object() {
                return Err(ApiError::BadRequest(
                    "merge patch must be a JSON object".into(),
                ));
            }
            let mut doc = base.clone();
            json_patch::merge(&mut doc, patch);
            Ok(doc)
        }
        PatchKind::Strategic => crate::smp::apply(base, patch, &res.group, &res.kind),
    }
}

/// Drop map entries holding null, recursively (merge patches may leave none, but bodies may).
pub fn drop_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(drop_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Remove the field at a path like `spec.template.spec.containers[1].foo`.
pub fn remove_field(obj: &mut Value, path: &str) {
    let mut segs: Vec<(String, Option<usize>)> = vec![];
    for part in path.split('.') {
        match part.split_once('[') {
            Some((name, rest)) => {
                segs.push((name.to_string(), None));
                for idx in rest.split('[') {
                    if let Ok(i) = idx.trim_end_matches(']').parse::<usize>() {
                        segs.push((String::new(), Some(i)));
                    }
                }
            }
            None => segs.push((part.to_string(), None)),
        }
    }
    let Some((last, parents)) = segs.split_last() else {
        return;
    };
    let mut cur = obj;
    for (name, idx) in parents {
        let next = match idx {
            Some(i) => cur.get_mut(*i),
            None => cur.get_mut(name.as_str()),
        };
        match next {
            Some(n) => cur = n,
            None => return,
        }
    }
    if let (None, Some(m)) = (last.1, cur.as_object_mut()) {
        m.remove(&last.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_reject_garbage() {
        let t = encode_continue(42, "default/web\0");
        assert_eq!(
            decode_continue(&t).ok(),
            Some((42, "default/web\0".to_string()))
        );
        assert!(decode_continue("bm9wZQ==").is_err());
        assert!(decode_continue("%%%").is_err());
    }

    #[test]
    fn unknown_fields_are_removed_by_path() {
        let mut o =
            json!({"spec": {"foo": 1, "containers": [{"name": "a"}, {"name": "b", "bad": true}]}});
        remove_field(&mut o, "spec.foo");
        remove_field(&mut o, "spec.containers[1].bad");
        remove_field(&mut o, "spec.nothing.here");
        assert_eq!(
            o,
            json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}})
        );
    }

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(Some(&json!({"containers":[{"name":"a"}]}))),
            "BestEffort"
        );
        assert_eq!(
            qos_class(Some(
                &json!({"containers":[{"resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]})
            )),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(Some(
                &json!({"containers":[{"resources":{"requests":{"cpu":"1"}}}]})
            )),
            "Burstable"
        );
    }
}
