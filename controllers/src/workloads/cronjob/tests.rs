use super::*;
use k8s_openapi::api::batch::v1::{JobCondition, JobSpec, JobStatus, JobTemplateSpec};

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn next(spec: &str, after: &str) -> Option<String> {
    Schedule::parse(spec)
        .unwrap()
        .next(ts(after))
        .map(|t| t.to_string())
}

// ---------------------------------------------------------------------------------------
// The parser.

#[test]
fn every_field_form() {
    assert_eq!(
        next("*/15 * * * *", "2024-05-01T10:07:00Z").unwrap(),
        "2024-05-01T10:15:00Z"
    );
    assert_eq!(
        next("*/15 * * * *", "2024-05-01T10:45:00Z").unwrap(),
        "2024-05-01T11:00:00Z"
    );
    assert_eq!(
        next("7 * * * *", "2024-05-01T10:07:00Z").unwrap(),
        "2024-05-01T11:07:00Z"
    );
    assert_eq!(
        next("3/20 * * * *", "2024-05-01T10:24:00Z").unwrap(),
        "2024-05-01T10:43:00Z"
    );
    assert_eq!(
        next("0 0-6/2 * * *", "2024-05-01T03:00:00Z").unwrap(),
        "2024-05-01T04:00:00Z"
    );
    assert_eq!(
        next("0 0-6/2 * * *", "2024-05-01T06:00:00Z").unwrap(),
        "2024-05-02T00:00:00Z"
    );
    assert_eq!(
        next("30 9 1,15 * *", "2024-05-02T00:00:00Z").unwrap(),
        "2024-05-15T09:30:00Z"
    );
    assert_eq!(
        next("0 22 * * 1-5", "2024-05-03T22:00:00Z").unwrap(),
        "2024-05-06T22:00:00Z"
    );
    assert_eq!(
        next("5 4 * * sun", "2024-05-01T00:00:00Z").unwrap(),
        "2024-05-05T04:05:00Z"
    );
    assert_eq!(
        next("0 0 ? * *", "2024-05-01T00:00:00Z").unwrap(),
        "2024-05-02T00:00:00Z"
    );
    assert_eq!(
        next("59/4294967295 * * * *", "2024-05-01T00:00:00Z").unwrap(),
        "2024-05-01T00:59:00Z"
    );
    assert_eq!(
        next("0,30 8-9 * * *", "2024-05-01T08:30:00Z").unwrap(),
        "2024-05-01T09:00:00Z"
    );
    // Names, case-insensitive, in ranges; Friday 2024-03-29 12:00 passed, then no weekday of
    // March is left: on to January.
    assert_eq!(
        next("0 12 * JAN-Mar mon-FRI", "2024-03-29T13:00:00Z").unwrap(),
        "2025-01-01T12:00:00Z"
    );
    // Day of month and day of week both restricted: either matches.
    assert_eq!(
        next("0 0 13 * 5", "2024-09-01T00:00:00Z").unwrap(),
        "2024-09-06T00:00:00Z"
    );
    assert_eq!(
        next("0 0 13 * 5", "2024-09-07T00:00:00Z").unwrap(),
        "2024-09-13T00:00:00Z"
    );
    // `*` in either: both must match.
    assert_eq!(
        next("0 0 * * 5", "2024-09-01T00:00:00Z").unwrap(),
        "2024-09-06T00:00:00Z"
    );
    // A step above 1 is not a star: `*/2` days OR Mondays.
    assert_eq!(
        next("0 0 */2 * 1", "2024-09-01T00:00:00Z").unwrap(),
        "2024-09-02T00:00:00Z"
    );
    assert_eq!(
        next("0 0 */2 * 1", "2024-09-02T00:00:00Z").unwrap(),
        "2024-09-03T00:00:00Z"
    );
    // Strictly after; sub-second parts are ignored.
    assert_eq!(
        next("* * * * *", "2024-05-01T10:07:00.5Z").unwrap(),
        "2024-05-01T10:08:00Z"
    );
}

#[test]
fn macros() {
    let from = "2024-05-15T10:30:00Z";
    assert_eq!(next("@hourly", from).unwrap(), "2024-05-15T11:00:00Z");
    assert_eq!(next("@daily", from).unwrap(), "2024-05-16T00:00:00Z");
    assert_eq!(next("@midnight", from).unwrap(), "2024-05-16T00:00:00Z");
    assert_eq!(next("@weekly", from).unwrap(), "2024-05-19T00:00:00Z");
    assert_eq!(next("@monthly", from).unwrap(), "2024-06-01T00:00:00Z");
    assert_eq!(next("@yearly", from).unwrap(), "2025-01-01T00:00:00Z");
    assert_eq!(next("@annually", from).unwrap(), "2025-01-01T00:00:00Z");
    assert_eq!(next("@every 90m", from).unwrap(), "2024-05-15T12:00:00Z");
    assert_eq!(next("@every 1h30m", from).unwrap(), "2024-05-15T12:00:00Z");
    assert_eq!(next("@every 1.5s", from).unwrap(), "2024-05-15T10:30:01Z");
}

#[test]
fn month_and_year_ends() {
    assert_eq!(
        next("0 0 1 1 *", "2023-12-31T23:59:59Z").unwrap(),
        "2024-01-01T00:00:00Z"
    );
    assert_eq!(
        next("59 23 31 12 *", "2024-06-01T00:00:00Z").unwrap(),
        "2024-12-31T23:59:00Z"
    );
    assert_eq!(
        next("0 0 31 * *", "2024-01-31T00:00:00Z").unwrap(),
        "2024-03-31T00:00:00Z"
    );
    assert_eq!(
        next("0 0 31 * *", "2024-04-30T00:00:00Z").unwrap(),
        "2024-05-31T00:00:00Z"
    );
    assert_eq!(
        next("0 0 29 2 *", "2023-01-01T00:00:00Z").unwrap(),
        "2024-02-29T00:00:00Z"
    );
    assert_eq!(
        next("0 12 29 2 *", "2024-03-01T00:00:00Z").unwrap(),
        "2028-02-29T12:00:00Z"
    );
    assert_eq!(
        next("0 0 * * *", "2024-02-28T23:00:00Z").unwrap(),
        "2024-02-29T00:00:00Z"
    );
    assert_eq!(
        next("0 0 * * *", "2023-02-28T23:00:00Z").unwrap(),
        "2023-03-01T00:00:00Z"
    );
    assert_eq!(
        next("*/10 * * * *", "2024-12-31T23:55:00Z").unwrap(),
        "2025-01-01T00:00:00Z"
    );
    // Never: gives up after five years.
    assert_eq!(next("0 0 30 2 *", "2024-01-01T00:00:00Z"), None);
}

#[test]
fn invalid_schedules() {
    for spec in [
        "",
        "   ",
        "* * * *",
        "* * * * * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "* * 32 * *",
        "* * * 0 *",
        "* * * 13 *",
        "* * * * 7",
        "5-1 * * * *",
        "*/0 * * * *",
        "a * * * *",
        "-1 * * * *",
        "1-2-3 * * * *",
        "1/2/3 * * * *",
        "* * * foo *",
        "@fortnightly",
        "@every",
        "@every 5x",
        "TZ=Mars/Olympus * * * * *",
        "TZ=UTC",
    ] {
        assert!(
            matches!(Schedule::parse(spec), Err(Error::InvalidSchedule(_))),
            "{spec:?} parsed"
        );
    }
    let Err(Error::InvalidSchedule(msg)) = Schedule::parse("* * * *") else {
        panic!()
    };
    assert_eq!(msg, "expected exactly 5 fields, found 4: * * * *");
    let Err(Error::InvalidSchedule(msg)) = Schedule::parse("70 * * * *") else {
        panic!()
    };
    assert_eq!(msg, "end of range (70) above maximum (59): 70");
}

#[test]
fn time_zones() {
    assert!(load_time_zone("UTC").is_ok_and(|z| z == TimeZone::UTC));
    assert!(load_time_zone("Etc/UTC").is_ok_and(|z| z == TimeZone::UTC));
    assert!(matches!(
        load_time_zone("Mars/Olympus"),
        Err(Error::UnknownTimeZone(_))
    ));
    assert!(matches!(
        load_time_zone("../../etc/passwd"),
        Err(Error::UnknownTimeZone(_))
    ));
    assert!(matches!(
        load_time_zone("/etc/localtime"),
        Err(Error::UnknownTimeZone(_))
    ));
    let Ok(ny) = load_time_zone("America/New_York") else {
        // No tz database on this machine: UTC only.
        return;
    };
    let s = Schedule::parse_in("0 9 * * *", ny.clone()).unwrap();
    assert_eq!(
        s.next(ts("2024-07-01T00:00:00Z")),
        Some(ts("2024-07-01T13:00:00Z"))
    );
    assert_eq!(
        s.next(ts("2024-12-01T00:00:00Z")),
        Some(ts("2024-12-01T14:00:00Z"))
    );
    // Across the spring-forward night: 02:30 does not exist on 2024-03-10.
    let s = Schedule::parse_in("30 2 * * *", ny.clone()).unwrap();
    assert_eq!(
        s.next(ts("2024-03-09T08:00:00Z")),
        Some(ts("2024-03-11T06:30:00Z"))
    );
    let s = Schedule::parse("CRON_TZ=America/New_York 0 9 * * *").unwrap();
    assert_eq!(
        s.next(ts("2024-07-01T00:00:00Z")),
        Some(ts("2024-07-01T13:00:00Z"))
    );
    assert_eq!(
        rfc3339_in(ts("2024-07-01T13:00:00Z"), &ny),
        "2024-07-01T09:00:00-04:00"
    );
    assert_eq!(
        rfc3339_in(ts("2024-07-01T13:00:00Z"), &TimeZone::UTC),
        "2024-07-01T13:00:00Z"
    );
}

#[test]
fn formats() {
    assert_eq!(
        rfc1123z_utc(ts("2024-01-01T01:00:00Z")),
        "Mon, 01 Jan 2024 01:00:00 +0000"
    );
    assert_eq!(
        rfc1123z_utc(ts("2023-12-31T23:05:09Z")),
        "Sun, 31 Dec 2023 23:05:09 +0000"
    );
}

// ---------------------------------------------------------------------------------------
// The plan.

const UID: &str = "cj-uid";

fn cronjob(schedule: &str) -> CronJob {
    CronJob {
        metadata: ObjectMeta {
            name: Some("hello".into()),
            namespace: Some("default".into()),
            uid: Some(UID.into()),
            creation_timestamp: Some(Time(ts("2024-01-01T00:00:00Z"))),
            ..Default::default()
        },
        spec: Some(CronJobSpec {
            schedule: schedule.into(),
            concurrency_policy: Some("Allow".into()),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(1),
            suspend: Some(false),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some([("app".to_string(), "hello".to_string())].into()),
                    annotations: Some([("note".to_string(), "x".to_string())].into()),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(2),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        status: None,
    }
}

fn spec_mut(cj: &mut CronJob) -> &mut CronJobSpec {
    cj.spec.as_mut().unwrap()
}

/// A Job of `cj` for schedule time `t`, as stored; `finished`: `Complete` / `Failed`.
fn child(cj: &CronJob, t: &str, finished: Option<&str>) -> Job {
    let t = ts(t);
    let mut j = job_from_template(cj, t, &TimeZone::UTC);
    j.metadata.uid = Some(format!("uid-{}", j.metadata.name.as_deref().unwrap()));
    let done = add(t, 30);
    j.status = Some(JobStatus {
        start_time: Some(Time(t)),
        completion_time: (finished == Some("Complete")).then_some(Time(done)),
        conditions: finished.map(|c| {
            vec![JobCondition {
                type_: c.into(),
                status: "True".into(),
                last_transition_time: Some(Time(done)),
                ..Default::default()
            }]
        }),
        ..Default::default()
    });
    j
}

fn add(t: Timestamp, secs: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(secs)).unwrap()
}

fn with_active(mut cj: CronJob, jobs: &[&Job], last: &str) -> CronJob {
    cj.status = Some(CronJobStatus {
        active: Some(jobs.iter().map(|j| job_reference(j)).collect()),
        last_schedule_time: Some(Time(ts(last))),
        last_successful_time: None,
    });
    cj
}

fn reasons(p: &CronJobPlan) -> Vec<&'static str> {
    p.events.iter().map(|e| e.reason).collect()
}

#[test]
fn schedules_on_time() {
    let cj = cronjob("*/5 * * * *");
    // Before the first time: nothing, back at 00:05 (+100 ms).
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T00:04:00Z")).unwrap();
    assert!(p.create_job.is_none() && !p.status_changed);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(60_100)));

    let now = ts("2024-01-01T00:05:10Z");
    let p = plan_cronjob(&cj, &[], now).unwrap();
    let job = p.create_job.clone().unwrap();
    let minutes = ts("2024-01-01T00:05:00Z").as_second() / 60;
    assert_eq!(job.metadata.name, Some(format!("hello-{minutes}")));
    assert_eq!(job.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(job.metadata.labels.as_ref().unwrap()["app"], "hello");
    let ann = job.metadata.annotations.as_ref().unwrap();
    assert_eq!(ann["note"], "x");
    assert_eq!(ann[CRONJOB_SCHEDULED_TIMESTAMP], "2024-01-01T00:05:00Z");
    let r = podutil::controller_ref(&job.metadata).unwrap();
    assert_eq!(
        (
            r.api_version.as_str(),
            r.kind.as_str(),
            r.uid.as_str(),
            r.block_owner_deletion
        ),
        ("batch/v1", "CronJob", UID, Some(true))
    );
    assert_eq!(job.spec.as_ref().unwrap().backoff_limit, Some(2));
    // 00:10 + 100 ms.
    assert_eq!(p.requeue_after, Some(Duration::from_millis(290_100)));
    assert!(p.events.is_empty());

    // Once created: listed as active, lastScheduleTime set.
    let mut created = job.clone();
    created.metadata.uid = Some("j-uid".into());
    created.metadata.resource_version = Some("7".into());
    let (status, event) = p.job_created(&created, false);
    let active = status.active.as_ref().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(
        (
            active[0].kind.as_deref(),
            active[0].uid.as_deref(),
            active[0].api_version.as_deref()
        ),
        (Some("Job"), Some("j-uid"), Some("batch/v1"))
    );
    assert_eq!(
        status.last_schedule_time,
        Some(Time(ts("2024-01-01T00:05:00Z")))
    );
    assert_eq!(
        event,
        Some(PlanEvent::normal(
            "SuccessfulCreate",
            format!("Created job hello-{minutes}")
        ))
    );
    // AlreadyExists read-back: same status, no event; someone else's Job: untouched.
    assert_eq!(p.job_created(&created, true).1, None);
    let mut foreign = created.clone();
    foreign.metadata.owner_references = None;
    assert_eq!(p.job_created(&foreign, true).0, p.status);

    // The next sync sees it: nothing more until 00:10.
    let mut cj2 = cj.clone();
    cj2.status = Some(status);
    let p = plan_cronjob(&cj2, &[created], ts("2024-01-01T00:06:00Z")).unwrap();
    assert!(p.create_job.is_none() && !p.status_changed && p.events.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_millis(240_100)));
}

#[test]
fn missed_schedules_run_the_latest_only() {
    let cj = cronjob("*/5 * * * *");
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T01:02:00Z")).unwrap();
    let job = p.create_job.clone().unwrap();
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[CRONJOB_SCHEDULED_TIMESTAMP],
        "2024-01-01T01:00:00Z"
    );
    assert!(reasons(&p).is_empty());
    // 01:05 + 100 ms.
    assert_eq!(p.requeue_after, Some(Duration::from_millis(180_100)));
}

#[test]
fn starting_deadline() {
    let mut cj = cronjob("*/5 * * * *");
    spec_mut(&mut cj).starting_deadline_seconds = Some(60);
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T01:00:30Z")).unwrap();
    assert!(p.create_job.is_some());
    // Too late for 01:00: the deadline window starts at 01:00:30.
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T01:01:30Z")).unwrap();
    assert!(p.create_job.is_none());
    assert!(p.events.is_empty());
    assert_eq!(p.requeue_after, Some(Duration::from_millis(210_100)));
    // A deadline ending exactly at "now" is also missed... unless the window still holds it.
    spec_mut(&mut cj).starting_deadline_seconds = Some(200);
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T01:01:30Z")).unwrap();
    assert!(p.create_job.is_some());
}

#[test]
fn starting_deadline_window_uses_last_schedule_time() {
    // Hourly, last run at 00:00, a 10 s window: 01:00 runs until 01:00:10, then is skipped
    // (the window no longer holds it: upstream's MissSchedule cannot fire once the deadline
    // bounds the look-back).
    let mut cj = cronjob("0 * * * *");
    spec_mut(&mut cj).starting_deadline_seconds = Some(10);
    cj.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(ts("2024-01-01T00:00:00Z"))),
        ..Default::default()
    });
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T01:00:05Z")).unwrap();
    assert!(p.create_job.is_some());
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T01:00:30Z")).unwrap();
    assert!(p.create_job.is_none());
    assert!(p.events.is_empty());
    // Next try at 02:00 (+100 ms).
    assert_eq!(p.requeue_after, Some(Duration::from_millis(3_570_100)));
}

#[test]
fn too_many_missed_times() {
    let cj = cronjob("* * * * *");
    let p = plan_cronjob(&cj, &[], ts("2024-01-02T00:00:30Z")).unwrap();
    assert_eq!(reasons(&p), ["TooManyMissedTimes"]);
    let job = p.create_job.unwrap();
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[CRONJOB_SCHEDULED_TIMESTAMP],
        "2024-01-02T00:00:00Z"
    );
    // A starting deadline bounds the look-back.
    let mut cj = cronjob("* * * * *");
    spec_mut(&mut cj).starting_deadline_seconds = Some(200);
    let p = plan_cronjob(&cj, &[], ts("2024-01-02T00:00:30Z")).unwrap();
    assert!(reasons(&p).is_empty());
    assert!(p.create_job.is_some());
}

#[test]
fn forbid_and_replace() {
    let base = cronjob("*/5 * * * *");
    let running = child(&base, "2024-01-01T00:05:00Z", None);
    let now = ts("2024-01-01T00:10:05Z");

    let mut forbid = with_active(base.clone(), &[&running], "2024-01-01T00:05:00Z");
    spec_mut(&mut forbid).concurrency_policy = Some("Forbid".into());
    let p = plan_cronjob(&forbid, std::slice::from_ref(&running), now).unwrap();
    assert!(p.create_job.is_none() && p.delete_jobs.is_empty());
    assert_eq!(reasons(&p), ["JobAlreadyActive"]);
    assert_eq!(p.requeue_after, Some(Duration::from_millis(295_100)));

    let mut replace = with_active(base.clone(), &[&running], "2024-01-01T00:05:00Z");
    spec_mut(&mut replace).concurrency_policy = Some("Replace".into());
    let p = plan_cronjob(&replace, std::slice::from_ref(&running), now).unwrap();
    assert_eq!(p.delete_jobs, [running.metadata.name.clone().unwrap()]);
    assert_eq!(reasons(&p), ["SuccessfulDelete"]);
    assert!(p.create_job.is_some());
    assert_eq!(p.status.active, None);
    assert!(p.status_changed);

    // Allow: both run.
    let allow = with_active(base, &[&running], "2024-01-01T00:05:00Z");
    let p = plan_cronjob(&allow, std::slice::from_ref(&running), now).unwrap();
    assert!(p.create_job.is_some() && p.delete_jobs.is_empty());
    let mut created = p.create_job.clone().unwrap();
    created.metadata.uid = Some("new".into());
    assert_eq!(p.job_created(&created, false).0.active.unwrap().len(), 2);
}

#[test]
fn history_limits_delete_oldest_finished() {
    let cj = cronjob("0 * * * *");
    let mut jobs = Vec::new();
    for h in 1..=5 {
        jobs.push(child(
            &cj,
            &format!("2024-01-01T0{h}:00:00Z"),
            Some("Complete"),
        ));
    }
    for h in 6..=8 {
        jobs.push(child(
            &cj,
            &format!("2024-01-01T0{h}:00:00Z"),
            Some("Failed"),
        ));
    }
    let mut other = child(&cj, "2024-01-01T02:00:00Z", Some("Complete"));
    other.metadata.name = Some("someone-else".into());
    other.metadata.owner_references = None;
    jobs.push(other);
    let mut cj = cj;
    cj.status = Some(CronJobStatus {
        last_schedule_time: Some(Time(ts("2024-01-01T08:00:00Z"))),
        ..Default::default()
    });
    let p = plan_cronjob(&cj, &jobs, ts("2024-01-01T08:30:00Z")).unwrap();
    let name = |h: &str| job_name(&cj, ts(&format!("2024-01-01T{h}:00:00Z")));
    assert_eq!(
        p.delete_jobs,
        [name("01"), name("02"), name("06"), name("07")]
    );
    assert_eq!(reasons(&p), ["SuccessfulDelete"; 4]);
    assert_eq!(p.events[0].message, format!("Deleted job {}", name("01")));
    // lastSuccessfulTime follows the latest completion.
    assert_eq!(
        p.status.last_successful_time,
        Some(Time(ts("2024-01-01T05:00:30Z")))
    );
    assert!(p.create_job.is_none());
}

#[test]
fn finished_and_missing_jobs_leave_active() {
    let cj = cronjob("0 * * * *");
    let done = child(&cj, "2024-01-01T01:00:00Z", Some("Complete"));
    let gone = child(&cj, "2024-01-01T02:00:00Z", None);
    let cj = with_active(cj, &[&done, &gone], "2024-01-01T02:00:00Z");
    let p = plan_cronjob(&cj, std::slice::from_ref(&done), ts("2024-01-01T02:10:00Z")).unwrap();
    assert_eq!(p.status.active, None);
    assert_eq!(p.missing_jobs, [gone.metadata.name.clone().unwrap()]);
    assert_eq!(reasons(&p), ["SawCompletedJob", "MissingJob"]);
    assert_eq!(
        p.events[0].message,
        format!(
            "Saw completed job: {}, condition: Complete",
            done.metadata.name.as_deref().unwrap()
        )
    );
    assert_eq!(
        p.status.last_successful_time,
        Some(Time(ts("2024-01-01T01:00:30Z")))
    );
    assert!(p.status_changed);
}

#[test]
fn lost_status_update_relists_the_job() {
    let cj = cronjob("0 * * * *");
    let existing = child(&cj, "2024-01-01T01:00:00Z", None);
    let stray = {
        let mut j = child(&cj, "2024-01-01T00:30:00Z", None);
        j.metadata.name = Some("hand-made".into());
        j
    };
    let p = plan_cronjob(&cj, &[existing.clone(), stray], ts("2024-01-01T01:00:20Z")).unwrap();
    assert!(p.create_job.is_none());
    let active = p.status.active.as_ref().unwrap();
    assert_eq!(active.len(), 1);
    assert_eq!(active[0].uid, existing.metadata.uid);
    assert_eq!(
        p.status.last_schedule_time,
        Some(Time(ts("2024-01-01T01:00:00Z")))
    );
    assert_eq!(reasons(&p), ["UnexpectedJob"]);
    assert!(p.events[0].message.ends_with("hand-made"));
}

#[test]
fn someone_elses_job_of_that_name_is_left_alone() {
    let cj = cronjob("0 * * * *");
    let mut foreign = child(&cj, "2024-01-01T01:00:00Z", None);
    foreign.metadata.owner_references = None;
    let p = plan_cronjob(&cj, &[foreign], ts("2024-01-01T01:00:20Z")).unwrap();
    assert!(p.create_job.is_none());
    assert_eq!(p.requeue_after, None);
}

#[test]
fn suspended_or_deleted_does_nothing() {
    let mut cj = cronjob("* * * * *");
    spec_mut(&mut cj).suspend = Some(true);
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T00:05:00Z")).unwrap();
    assert!(p.create_job.is_none() && p.requeue_after.is_none() && p.events.is_empty());
    let mut cj = cronjob("* * * * *");
    cj.metadata.deletion_timestamp = Some(Time(ts("2024-01-01T00:04:00Z")));
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T00:05:00Z")).unwrap();
    assert!(p.create_job.is_none() && p.requeue_after.is_none());
    // Resumed: the latest missed time runs.
    let cj = cronjob("* * * * *");
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T00:05:00Z")).unwrap();
    assert!(p.create_job.is_some());
}

#[test]
fn invalid_spec_is_reported() {
    let mut cj = cronjob("* * * * *");
    spec_mut(&mut cj).time_zone = Some("Mars/Olympus".into());
    let p = plan_cronjob(&cj, &[], ts("2024-01-01T00:05:00Z")).unwrap();
    assert_eq!(reasons(&p), ["UnknownTimeZone"]);
    assert!(p.create_job.is_none() && p.requeue_after.is_none());

    let p = plan_cronjob(&cronjob("61 * * * *"), &[], ts("2024-01-01T00:05:00Z")).unwrap();
    assert_eq!(reasons(&p), ["UnparseableSchedule"]);
    assert_eq!(
        p.events[0].message,
        "unparseable schedule: \"61 * * * *\" : end of range (61) above maximum (59): 61"
    );

    let p = plan_cronjob(&cronjob("0 0 30 2 *"), &[], ts("2024-01-01T00:05:00Z")).unwrap();
    assert_eq!(reasons(&p), ["InvalidSchedule"]);
    assert!(p.requeue_after.is_none());

    let p = plan_cronjob(
        &cronjob("TZ=UTC 0 * * * *"),
        &[],
        ts("2024-01-01T01:00:05Z"),
    )
    .unwrap();
    assert_eq!(reasons(&p), ["UnsupportedSchedule"]);
    assert!(p.create_job.is_some());
}

#[test]
fn time_zone_schedules_and_annotation() {
    if load_time_zone("Europe/Paris").is_err() {
        return;
    }
    let mut cj = cronjob("0 9 * * *");
    spec_mut(&mut cj).time_zone = Some("Europe/Paris".into());
    let p = plan_cronjob(&cj, &[], ts("2024-01-02T08:00:10Z")).unwrap();
    let job = p.create_job.unwrap();
    assert_eq!(
        job.metadata.annotations.as_ref().unwrap()[CRONJOB_SCHEDULED_TIMESTAMP],
        "2024-01-02T09:00:00+01:00"
    );
    assert_eq!(
        job.metadata.name,
        Some(format!(
            "hello-{}",
            ts("2024-01-02T08:00:00Z").as_second() / 60
        ))
    );
}
