//! End-to-end: kube-rs (the `kube` crate: `Api<T>`, `kube::runtime::watcher`) as a client of
//! a real `keelson server`, configured from the admin kubeconfig the server writes, over
//! HTTPS with rustls (ring, the only crypto provider linked). What a controller built on
//! kube-rs relies on: optimistic concurrency, merge and JSON patches, paged lists that are
//! one snapshot, watches that resume from a resourceVersion, 410 Gone after compaction and
//! the watcher's relist, streaming lists, metadata-only requests, and server-side apply with
//! conflicts and forced takeover. kube-rs calls the error body `Status` (`ErrorResponse`
//! before kube 3): `kube::Error::Api(status)` carries the server's code and reason.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{
    Api, DeleteParams, ListParams, PartialObjectMeta, Patch, PatchParams, PostParams, WatchEvent,
    WatchParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::Status;
use kube::runtime::watcher::{self, Event, watcher};
use kube::{Client, ResourceExt};
use serde_json::json;

use common::etcdctl_ok;
use common::kube::Api as Server;

/// How long any one expected event or condition may take.
const WAIT: Duration = Duration::from_secs(10);

/// `keelson server` without the controller manager or scheduler: these tests look at the API
/// itself, and the controllers' own objects (each namespace's `kube-root-ca.crt`) would show
/// up in their lists.
fn api_server() -> Result<Server> {
    Server::server_with(&["--disable-controllers"])
}

/// A kube-rs client for `server`, from the kubeconfig it wrote (URL, CA, bearer token).
async fn client(server: &Server) -> Result<Client> {
    let kubeconfig = Kubeconfig::read_from(&server.kubeconfig)?;
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .context("kube::Config from the server's kubeconfig")?;
    Ok(Client::try_from(config)?)
}

async fn namespace(client: &Client, name: &str) -> Result<()> {
    let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}}))?;
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
        ..Default::default()
    }
}

fn data(cm: &ConfigMap) -> BTreeMap<String, String> {
    cm.data.clone().unwrap_or_default()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn rv<K: ResourceExt>(obj: &K) -> String {
    obj.resource_version().unwrap_or_default()
}

/// The `Status` of a failed call, or a failure saying what came instead.
fn api_error<T: std::fmt::Debug>(r: kube::Result<T>, what: &str) -> Result<Box<Status>> {
    match r {
        Err(kube::Error::Api(s)) => Ok(s),
        Err(e) => bail!("{what}: expected a Status from the server, got {e:?}"),
        Ok(v) => bail!("{what}: expected an error, got {v:?}"),
    }
}

/// The next item of `stream` within [`WAIT`].
async fn next<S: Stream + Unpin>(stream: &mut S, what: &str) -> Result<S::Item> {
    tokio::time::timeout(WAIT, stream.next())
        .await
        .map_err(|_| anyhow!("no {what} within {WAIT:?}"))?
        .ok_or_else(|| anyhow!("stream ended before {what}"))
}

/// The next watch event that is not a bookmark.
async fn next_change<S>(stream: &mut S, what: &str) -> Result<WatchEvent<ConfigMap>>
where
    S: Stream<Item = kube::Result<WatchEvent<ConfigMap>>> + Unpin,
{
    loop {
        match next(stream, what).await?? {
            WatchEvent::Bookmark(_) => continue,
            ev => return Ok(ev),
        }
    }
}

/// A watch event as `(type, name, data)`, for comparing whole sequences.
fn summary(ev: &WatchEvent<ConfigMap>) -> (String, String, BTreeMap<String, String>) {
    match ev {
        WatchEvent::Added(o) => ("ADDED".into(), o.name_any(), data(o)),
        WatchEvent::Modified(o) => ("MODIFIED".into(), o.name_any(), data(o)),
        WatchEvent::Deleted(o) => ("DELETED".into(), o.name_any(), data(o)),
        WatchEvent::Bookmark(b) => {
            let rv = b.metadata.resource_version.clone();
            ("BOOKMARK".into(), rv, BTreeMap::new())
        }
        WatchEvent::Error(s) => (
            format!("ERROR {}", s.code),
            s.message.clone(),
            BTreeMap::new(),
        ),
    }
}

/// A `watcher` event as `(kind, name)`.
fn describe<K: ResourceExt>(ev: &Event<K>) -> (&'static str, String) {
    match ev {
        Event::Apply(o) => ("Apply", o.name_any()),
        Event::Delete(o) => ("Delete", o.name_any()),
        Event::Init => ("Init", String::new()),
        Event::InitApply(o) => ("InitApply", o.name_any()),
        Event::InitDone => ("InitDone", String::new()),
    }
}

#[tokio::test]
async fn t80_configmap_and_pod_crud_conflicts_and_patches() -> Result<()> {
    let server = api_server()?;
    let client = client(&server).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");

    let created = cms
        .create(&PostParams::default(), &config_map("c1", &[("a", "1")]))
        .await?;
    assert!(created.uid().is_some(), "{created:?}");
    assert!(!rv(&created).is_empty(), "{created:?}");
    let got = cms.get("c1").await?;
    assert_eq!(data(&got), map(&[("a", "1")]));
    assert_eq!(rv(&got), rv(&created));

    // Replace at the current version succeeds and moves the version on.
    let mut fresh = got.clone();
    fresh.data = Some(map(&[("a", "2")]));
    let replaced = cms.replace("c1", &PostParams::default(), &fresh).await?;
    assert_eq!(data(&replaced), map(&[("a", "2")]));
    assert_ne!(rv(&replaced), rv(&got));
    // Replace with the version read before that update: 409 Conflict, object untouched.
    let mut stale = got.clone();
    stale.data = Some(map(&[("a", "stale")]));
    let s = api_error(
        cms.replace("c1", &PostParams::default(), &stale).await,
        "replace with a stale resourceVersion",
    )?;
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"), "{s:?}");
    assert_eq!(data(&cms.get("c1").await?), map(&[("a", "2")]));

    // JSON merge patch adds a key; JSON patch replaces one and removes another.
    let merged = cms
        .patch(
            "c1",
            &PatchParams::default(),
            &Patch::Merge(json!({"data": {"b": "x"}})),
        )
        .await?;
    assert_eq!(data(&merged), map(&[("a", "2"), ("b", "x")]));
    let ops = json!([
        {"op": "test", "path": "/data/a", "value": "2"},
        {"op": "replace", "path": "/data/a", "value": "3"},
        {"op": "remove", "path": "/data/b"},
    ]);
    let patched = cms
        .patch(
            "c1",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(ops)?),
        )
        .await?;
    assert_eq!(data(&patched), map(&[("a", "3")]));
    // A JSON patch whose `test` fails is refused whole (422, as kube-apiserver answers).
    let failing = json!([
        {"op": "test", "path": "/data/a", "value": "not-3"},
        {"op": "replace", "path": "/data/a", "value": "4"},
    ]);
    let s = api_error(
        cms.patch(
            "c1",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(failing)?),
        )
        .await,
        "JSON patch with a failing test",
    )?;
    assert_eq!(s.code, 422, "{s:?}");
    assert_eq!(data(&cms.get("c1").await?), map(&[("a", "3")]));

    // A ConfigMap's delete answers with a success Status (it has no graceful phase).
    let s = cms.delete("c1", &DeleteParams::default()).await?.either(
        |o| {
            Err(anyhow!(
                "deleting a ConfigMap answered with the object: {o:?}"
            ))
        },
        Ok,
    )?;
    assert!(s.is_success(), "{s:?}");
    let s = api_error(cms.get("c1").await, "get after delete")?;
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"), "{s:?}");
    assert!(cms.get_opt("c1").await?.is_none());

    // Pods: the same verbs on a typed object with a spec.
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "p1", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }))?;
    let created = pods.create(&PostParams::default(), &pod).await?;
    assert_eq!(created.labels().get("app").map(String::as_str), Some("web"));
    let got = pods.get("p1").await?;
    let spec = got.spec.clone().unwrap_or_default();
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:1.27"));

    let mut fresh = got.clone();
    fresh
        .labels_mut()
        .insert("tier".to_string(), "front".to_string());
    let replaced = pods.replace("p1", &PostParams::default(), &fresh).await?;
    assert_eq!(
        replaced.labels().get("tier").map(String::as_str),
        Some("front")
    );
    let mut stale = got.clone();
    stale
        .labels_mut()
        .insert("tier".to_string(), "stale".to_string());
    let s = api_error(
        pods.replace("p1", &PostParams::default(), &stale).await,
        "pod replace with a stale resourceVersion",
    )?;
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"), "{s:?}");

    let merged = pods
        .patch(
            "p1",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"annotations": {"note": "merged"}}})),
        )
        .await?;
    assert_eq!(
        merged.annotations().get("note").map(String::as_str),
        Some("merged")
    );
    let ops = json!([
        {"op": "replace", "path": "/metadata/labels/app", "value": "api"},
        {"op": "add", "path": "/spec/activeDeadlineSeconds", "value": 30},
    ]);
    let patched = pods
        .patch(
            "p1",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(ops)?),
        )
        .await?;
    assert_eq!(patched.labels().get("app").map(String::as_str), Some("api"));
    assert_eq!(
        patched
            .spec
            .as_ref()
            .and_then(|s| s.active_deadline_seconds),
        Some(30)
    );

    // An unscheduled pod has nobody to wait for: it goes at once.
    pods.delete("p1", &DeleteParams::default()).await?;
    let s = api_error(pods.get("p1").await, "pod get after delete")?;
    assert_eq!((s.code, s.reason.as_str()), (404, "NotFound"), "{s:?}");
    Ok(())
}

#[tokio::test]
async fn t81_list_pages_follow_continue_over_one_snapshot() -> Result<()> {
    let server = api_server()?;
    let client = client(&server).await?;
    namespace(&client, "paging").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "paging");
    for i in 0..25 {
        cms.create(
            &PostParams::default(),
            &config_map(&format!("cm-{i:02}"), &[("i", &i.to_string())]),
        )
        .await?;
    }

    let mut names = Vec::new();
    let mut versions = Vec::new();
    let mut remaining = Vec::new();
    let mut token: Option<String> = None;
    for page in 0.. {
        let mut lp = ListParams::default().limit(10);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let list = cms.list(&lp).await?;
        assert!(list.items.len() <= 10, "page {page}: {}", list.items.len());
        names.extend(list.items.iter().map(|c| c.name_any()));
        versions.push(list.metadata.resource_version.clone().unwrap_or_default());
        remaining.push(list.metadata.remaining_item_count);
        token = list.metadata.continue_.clone().filter(|t| !t.is_empty());
        if page == 0 {
            // Between pages: a new object (it would sort last), a deleted and an updated one
            // that the later pages still hold. None of it may show.
            cms.create(&PostParams::default(), &config_map("cm-late", &[]))
                .await?;
            cms.delete("cm-20", &DeleteParams::default()).await?;
            cms.patch(
                "cm-21",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"i": "changed"}})),
            )
            .await?;
        }
        if page == 2 {
            let cm21 = list.items.iter().find(|c| c.name_any() == "cm-21");
            assert_eq!(
                cm21.map(data),
                Some(map(&[("i", "21")])),
                "the last page shows cm-21 as it was at the first page's version"
            );
        }
        if token.is_none() {
            break;
        }
        assert!(page < 5, "more pages than 25 items at 10 a page: {names:?}");
    }
    let want: Vec<String> = (0..25).map(|i| format!("cm-{i:02}")).collect();
    assert_eq!(names, want, "every object exactly once, in key order");
    assert_eq!(versions.len(), 3, "{versions:?}");
    assert!(
        versions.iter().all(|v| !v.is_empty() && *v == versions[0]),
        "every page at the first page's resourceVersion: {versions:?}"
    );
    assert_eq!(remaining, vec![Some(15), Some(5), None]);

    // A fresh list sees the changes made between the pages.
    let now = cms.list(&ListParams::default()).await?;
    let names: Vec<String> = now.items.iter().map(|c| c.name_any()).collect();
    assert_eq!(names.len(), 25);
    assert!(names.contains(&"cm-late".to_string()) && !names.contains(&"cm-20".to_string()));
    Ok(())
}

#[tokio::test]
async fn t82_watcher_sees_changes_and_watch_resumes_from_a_version() -> Result<()> {
    let server = api_server()?;
    let client = client(&server).await?;
    namespace(&client, "w").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "w");
    cms.create(&PostParams::default(), &config_map("before", &[("k", "0")]))
        .await?;

    // The runtime watcher: an initial list, then Apply for creates and updates, Delete.
    let mut w = watcher(cms.clone(), watcher::Config::default()).boxed();
    let initial = initial_list(&mut w).await?;
    assert_eq!(
        initial,
        vec![
            ("Init", String::new()),
            ("InitApply", "before".to_string()),
            ("InitDone", String::new()),
        ]
    );
    let a = cms
        .create(&PostParams::default(), &config_map("a", &[("k", "1")]))
        .await?;
    match next(&mut w, "Apply for the create").await?? {
        Event::Apply(o) => {
            assert_eq!((o.name_any(), data(&o)), ("a".into(), map(&[("k", "1")])));
            assert_eq!(rv(&o), rv(&a));
        }
        other => bail!("expected Apply(a), got {}", describe(&other).0),
    }
    cms.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "2"}})),
    )
    .await?;
    match next(&mut w, "Apply for the update").await?? {
        Event::Apply(o) => {
            assert_eq!((o.name_any(), data(&o)), ("a".into(), map(&[("k", "2")])))
        }
        other => bail!("expected Apply(a) with k=2, got {}", describe(&other).0),
    }
    cms.delete("a", &DeleteParams::default()).await?;
    match next(&mut w, "Delete for the delete").await?? {
        Event::Delete(o) => assert_eq!(o.name_any(), "a"),
        other => bail!("expected Delete(a), got {}", describe(&other).0),
    }

    // The raw watch from a resourceVersion replays exactly what came after it.
    let r1 = cms
        .create(&PostParams::default(), &config_map("r1", &[("v", "1")]))
        .await?;
    cms.patch(
        "r1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await?;
    cms.create(&PostParams::default(), &config_map("r2", &[]))
        .await?;
    cms.delete("r1", &DeleteParams::default()).await?;
    let mut raw = cms
        .watch(&WatchParams::default().timeout(20), &rv(&r1))
        .await?
        .boxed();
    let mut seen = Vec::new();
    for i in 0..3 {
        seen.push(summary(
            &next_change(&mut raw, &format!("replayed event {i}")).await?,
        ));
    }
    // A fence: the next event is the next write, so nothing else was replayed.
    cms.create(&PostParams::default(), &config_map("fence", &[]))
        .await?;
    seen.push(summary(&next_change(&mut raw, "the fence").await?));
    let want = vec![
        ("MODIFIED".to_string(), "r1".to_string(), map(&[("v", "2")])),
        ("ADDED".to_string(), "r2".to_string(), map(&[])),
        ("DELETED".to_string(), "r1".to_string(), map(&[("v", "2")])),
        ("ADDED".to_string(), "fence".to_string(), map(&[])),
    ];
    assert_eq!(seen, want);

    // The watcher saw the same writes, in order.
    let mut from_watcher = Vec::new();
    while from_watcher.len() < 5 {
        from_watcher.push(describe(&next(&mut w, "the watcher's events").await??));
    }
    assert_eq!(
        from_watcher,
        vec![
            ("Apply", "r1".to_string()),
            ("Apply", "r1".to_string()),
            ("Apply", "r2".to_string()),
            ("Delete", "r1".to_string()),
            ("Apply", "fence".to_string()),
        ]
    );
    Ok(())
}

#[tokio::test]
async fn t83_compacted_versions_are_gone_and_the_watcher_relists() -> Result<()> {
    // A watch cache of two events per resource: older versions are read from the store,
    // where compaction removes them.
    let server = Server::server_with(&["--watch-cache-size", "2", "--disable-controllers"])?;
    let client = client(&server).await?;
    namespace(&client, "gone").await?;
    namespace(&client, "churn").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "gone");
    let churn: Api<ConfigMap> = Api::namespaced(client.clone(), "churn");
    let churn_from = |from: usize| {
        let churn = churn.clone();
        async move {
            let mut last = String::new();
            for i in from..from + 5 {
                let c = churn
                    .create(&PostParams::default(), &config_map(&format!("c{i}"), &[]))
                    .await?;
                last = rv(&c);
            }
            anyhow::Ok(last)
        }
    };
    let g1 = cms
        .create(&PostParams::default(), &config_map("g1", &[("v", "1")]))
        .await?;

    // A watcher that has listed; it opens its watch, from the list's resourceVersion, when
    // next polled. Nothing it would see happens until then, so that version stays put. (Its
    // watches also end every 2 s, to resume from the last version seen.)
    let config = watcher::Config::default().timeout(2).disable_bookmarks();
    let mut w = watcher(cms.clone(), config).boxed();
    let initial = initial_list(&mut w).await?;
    assert_eq!(initial[1], ("InitApply", "g1".to_string()), "{initial:?}");

    // Out of the cache but not compacted: a watch from g1's version is served from the store
    // and replays exactly what followed, then goes on live.
    cms.patch(
        "g1",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"v": "2"}})),
    )
    .await?;
    churn_from(0).await?;
    let mut raw = cms
        .watch(&WatchParams::default().timeout(20), &rv(&g1))
        .await?
        .boxed();
    let replayed = summary(&next_change(&mut raw, "the replayed MODIFIED").await?);
    cms.create(&PostParams::default(), &config_map("fence", &[]))
        .await?;
    let live = summary(&next_change(&mut raw, "the live ADDED").await?);
    assert_eq!(
        (replayed, live),
        (
            ("MODIFIED".to_string(), "g1".to_string(), map(&[("v", "2")])),
            ("ADDED".to_string(), "fence".to_string(), map(&[])),
        )
    );
    drop(raw);

    // More writes elsewhere, then compaction: versions before it are gone from the store.
    let last = churn_from(5).await?;
    etcdctl_ok(
        std::slice::from_ref(&server.store_endpoint),
        &["compact", &last],
    )?;

    // A watch from before the compaction: one ERROR event, 410 Gone.
    let mut raw = cms.watch(&WatchParams::default(), &rv(&g1)).await?.boxed();
    match next(&mut raw, "the 410 event").await? {
        Ok(WatchEvent::Error(s)) => {
            assert_eq!((s.code, s.reason.as_str()), (410, "Expired"), "{s:?}")
        }
        Ok(other) => bail!(
            "expected an ERROR event with 410, got {:?}",
            summary(&other)
        ),
        Err(e) => bail!("expected an ERROR event with 410, got the error {e:?}"),
    }

    // The watcher: 410 on its next resume, then a relist, then live events again.
    match next(&mut w, "the watcher's 410").await? {
        Err(watcher::Error::WatchError(s)) => assert_eq!(s.code, 410, "{s:?}"),
        Err(other) => bail!("expected WatchError(410), got {other:?}"),
        Ok(ev) => bail!("expected the watcher's 410, got {:?}", describe(&ev)),
    }
    let relist = initial_list(&mut w).await?;
    assert_eq!(
        relist,
        vec![
            ("Init", String::new()),
            ("InitApply", "fence".to_string()),
            ("InitApply", "g1".to_string()),
            ("InitDone", String::new()),
        ]
    );
    cms.create(&PostParams::default(), &config_map("g2", &[]))
        .await?;
    cms.delete("g1", &DeleteParams::default()).await?;
    let mut after = Vec::new();
    while after.len() < 2 {
        after.push(describe(&next(&mut w, "events after the relist").await??));
    }
    assert_eq!(
        after,
        vec![("Apply", "g2".to_string()), ("Delete", "g1".to_string())]
    );
    Ok(())
}

#[tokio::test]
async fn t84_server_side_apply_conflicts_force_and_managed_fields() -> Result<()> {
    let server = api_server()?;
    let client = client(&server).await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let applied = |data: serde_json::Value| {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "ssa"},
            "data": data,
        })
    };

    // Apply creates.
    let created = cms
        .patch(
            "ssa",
            &PatchParams::apply("mgr"),
            &Patch::Apply(applied(json!({"a": "1", "b": "1"}))),
        )
        .await?;
    assert_eq!(data(&created), map(&[("a", "1"), ("b", "1")]));
    assert!(created.uid().is_some());
    assert_eq!(data(&cms.get("ssa").await?), data(&created));

    // Another manager setting a field `mgr` owns, to another value: 409 naming both.
    let s = api_error(
        cms.patch(
            "ssa",
            &PatchParams::apply("other"),
            &Patch::Apply(applied(json!({"a": "2"}))),
        )
        .await,
        "conflicting apply",
    )?;
    assert_eq!((s.code, s.reason.as_str()), (409, "Conflict"), "{s:?}");
    assert!(
        s.message.contains("mgr") && s.message.contains(".data.a"),
        "{s:?}"
    );
    assert_eq!(data(&cms.get("ssa").await?), map(&[("a", "1"), ("b", "1")]));

    // Forced, it takes the field over; `mgr` keeps the one it still alone sets.
    let forced = cms
        .patch(
            "ssa",
            &PatchParams::apply("other").force(),
            &Patch::Apply(applied(json!({"a": "2"}))),
        )
        .await?;
    assert_eq!(data(&forced), map(&[("a", "2"), ("b", "1")]));
    let managed = forced.managed_fields();
    let entry = |manager: &str| {
        managed
            .iter()
            .find(|m| m.manager.as_deref() == Some(manager))
            .cloned()
    };
    let mgr = entry("mgr").context("managedFields lacks mgr")?;
    let other = entry("other").context("managedFields lacks other")?;
    for m in [&mgr, &other] {
        assert_eq!(m.operation.as_deref(), Some("Apply"), "{managed:?}");
        assert_eq!(m.api_version.as_deref(), Some("v1"), "{managed:?}");
    }
    let fields = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry| {
        m.fields_v1
            .as_ref()
            .map(|f| f.0.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        fields(&mgr)["f:data"],
        json!({"f:b": {}}),
        "mgr owns only b now: {managed:?}"
    );
    assert_eq!(
        fields(&other)["f:data"],
        json!({"f:a": {}}),
        "other owns a: {managed:?}"
    );

    // Re-applying what one already owns, unchanged, is a no-op: same resourceVersion.
    let again = cms
        .patch(
            "ssa",
            &PatchParams::apply("other"),
            &Patch::Apply(applied(json!({"a": "2"}))),
        )
        .await?;
    assert_eq!(rv(&again), rv(&forced));
    Ok(())
}

/// Drives `w` to the end of its initial list; returns the events seen, `InitDone` included.
async fn initial_list<K, S>(w: &mut S) -> Result<Vec<(&'static str, String)>>
where
    K: ResourceExt,
    S: Stream<Item = watcher::Result<Event<K>>> + Unpin,
{
    let mut seen = Vec::new();
    loop {
        let ev = next(w, "the watcher's initial list").await??;
        let done = matches!(ev, Event::InitDone);
        seen.push(describe(&ev));
        if done {
            return Ok(seen);
        }
    }
}

#[tokio::test]
async fn t85_streaming_list_watcher() -> Result<()> {
    let server = api_server()?;
    let client = client(&server).await?;
    namespace(&client, "s").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "s");
    for name in ["s1", "s2"] {
        cms.create(&PostParams::default(), &config_map(name, &[("k", name)]))
            .await?;
    }
    let listed = |names: &[&str]| {
        let mut v = vec![("Init", String::new())];
        v.extend(names.iter().map(|n| ("InitApply", n.to_string())));
        v.push(("InitDone", String::new()));
        v
    };

    // The streaming list: one watch with sendInitialEvents=true, whose initial objects end at
    // a bookmark annotated `k8s.io/initial-events-end`.
    let mut w = watcher(cms.clone(), watcher::Config::default().streaming_lists()).boxed();
    assert_eq!(initial_list(&mut w).await?, listed(&["s1", "s2"]));
    cms.create(&PostParams::default(), &config_map("s3", &[]))
        .await?;
    assert_eq!(
        describe(&next(&mut w, "Apply(s3)").await??),
        ("Apply", "s3".to_string())
    );

    Ok(())
}

#[tokio::test]
async fn t86_metadata_only_get_list_and_watch() -> Result<()> {
    // `Api<PartialObjectMeta<K>>` and `get_metadata` ask for
    // `application/json;as=PartialObjectMetadata[List];g=meta.k8s.io;v=v1`: kube-apiserver
    // answers with only the metadata, as kind PartialObjectMetadata(List).
    let server = api_server()?;
    let client = client(&server).await?;
    namespace(&client, "m").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "m");
    for name in ["m1", "m2"] {
        cms.create(&PostParams::default(), &config_map(name, &[("k", name)]))
            .await?;
    }

    // The metadata watcher: list and watch, metadata only.
    let metas: Api<PartialObjectMeta<ConfigMap>> = Api::namespaced(client.clone(), "m");
    let mut m = watcher(metas.clone(), watcher::Config::default()).boxed();
    assert_eq!(
        initial_list(&mut m).await?,
        vec![
            ("Init", String::new()),
            ("InitApply", "m1".to_string()),
            ("InitApply", "m2".to_string()),
            ("InitDone", String::new()),
        ]
    );
    cms.patch(
        "m2",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"seen": "yes"}}})),
    )
    .await?;
    match next(&mut m, "the metadata watch event").await?? {
        Event::Apply(o) => {
            assert_eq!(o.name_any(), "m2");
            assert_eq!(o.labels().get("seen").map(String::as_str), Some("yes"));
        }
        other => bail!("expected Apply(m2), got {:?}", describe(&other)),
    }

    // What came back is metadata, not the object.
    let meta = cms.get_metadata("m1").await?;
    assert_eq!(meta.name_any(), "m1");
    assert_eq!(
        meta.resource_version(),
        cms.get("m1").await?.resource_version()
    );
    assert_eq!(
        meta.types
            .as_ref()
            .map(|t| (t.api_version.as_str(), t.kind.as_str())),
        Some(("meta.k8s.io/v1", "PartialObjectMetadata")),
        "GET with Accept as=PartialObjectMetadata: {meta:?}"
    );
    let list = cms.list_metadata(&ListParams::default()).await?;
    assert_eq!(list.items.len(), 2);
    assert_eq!(
        (list.types.api_version.as_str(), list.types.kind.as_str()),
        ("meta.k8s.io/v1", "PartialObjectMetadataList"),
        "LIST with Accept as=PartialObjectMetadataList"
    );
    Ok(())
}

#[tokio::test]
async fn t87_deleting_a_pod_answers_with_the_pod() -> Result<()> {
    // kube-apiserver's pod storage sets `ReturnDeletedObject`: DELETE answers with the Pod
    // (200, or 202 while it terminates), never a Status. Typed clients rely on it: the
    // Python client's `delete_namespaced_pod` parses the answer as a V1Pod.
    let server = api_server()?;
    let client = client(&server).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "gone"},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.27"}]},
    }))?;
    let created = pods.create(&PostParams::default(), &pod).await?;
    let p = pods
        .delete("gone", &DeleteParams::default())
        .await?
        .either(Ok, |s| {
            Err(anyhow!(
                "DELETE of a pod answered with a Status, not the Pod: {s:?}"
            ))
        })?;
    assert_eq!(p.name_any(), "gone");
    assert_eq!(p.uid(), created.uid());
    assert!(pods.get_opt("gone").await?.is_none());
    Ok(())
}

#[tokio::test]
async fn t88_delete_collection_answers_with_the_deleted_objects() -> Result<()> {
    let server = api_server()?;
    let client = client(&server).await?;
    namespace(&client, "dc").await?;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "dc");
    for (name, tier) in [("a", "x"), ("b", "x"), ("c", "y")] {
        let mut cm = config_map(name, &[("k", "v")]);
        cm.metadata.labels = Some([("tier".to_string(), tier.to_string())].into());
        cms.create(&PostParams::default(), &cm).await?;
    }
    // kube-rs decodes the answer as a list of ConfigMaps (a list of Status objects would not
    // decode), as kube-apiserver sends it.
    let out = cms
        .delete_collection(
            &kube::api::DeleteParams::default(),
            &kube::api::ListParams::default().labels("tier=x"),
        )
        .await?;
    let list = out.left().context("a ConfigMapList")?;
    let mut names: Vec<String> = list.items.iter().map(|c| c.name_any()).collect();
    names.sort();
    assert_eq!(names, ["a", "b"]);
    let left: Vec<String> = cms
        .list(&Default::default())
        .await?
        .items
        .iter()
        .map(|c| c.name_any())
        .collect();
    assert_eq!(left, ["c"]);
    Ok(())
}
