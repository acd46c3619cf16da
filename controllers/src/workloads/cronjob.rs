//! The CronJob controller's sync (`pkg/controller/cronjob`: `cronjob_controllerv2.go`
//! `sync`, `syncCronJob`, `cleanupFinishedJobs`; `utils.go`) as a pure plan over the CronJob
//! and the Jobs of its namespace, and the cron schedule it runs on (robfig/cron v3's
//! `ParseStandard` and `Next`, re-implemented).
//!
//! One plan is one upstream sync: delete finished Jobs beyond the history limits, reconcile
//! `status.active` with the Jobs that exist (a finished Job leaves it, `lastSuccessfulTime`
//! follows the latest completion), then — unless the CronJob is being deleted or is suspended
//! — find the most recent unmet schedule time and, within `startingDeadlineSeconds` and the
//! `concurrencyPolicy`, create its Job (`<cronjob>-<minutes since the epoch>`, so a time is
//! never run twice).
//!
//! # What the plan assumes of the runtime
//! - If `missing_jobs` is not empty, it first confirms with a live read that those Jobs are
//!   really gone (404); if any still exists its cache is behind: it drops the plan and plans
//!   again shortly.
//! - It applies the plan in field order: `delete_jobs` (propagation `Background`; 404 is
//!   success), `create_job`, the status, then `events`. After creating it writes
//!   [`CronJobPlan::job_created`]'s status (with the created Job's uid) and event instead of
//!   `status`. On AlreadyExists it reads the Job and passes it to `job_created` with
//!   `already_existed` (a Job of that name that this CronJob does not control is left alone).
//!   On another creation error it still writes `status` if `status_changed`, records a
//!   `FailedCreate` warning (`Error creating job: <error>`) and retries with back-off.
//! - The status write is an update carrying the cached CronJob's `resourceVersion`.
//! - `requeue_after`: plan again then (the next schedule time, plus 100 ms); None when the
//!   CronJob is suspended, being deleted, or its schedule or time zone is invalid (a change
//!   of the CronJob plans again).
//!
//! Without `spec.timeZone` schedules run in UTC (upstream: kube-controller-manager's local
//! time zone, UTC in its usual container). Other zones are read from the system's tz
//! database (`$ZONEINFO`, `/usr/share/zoneinfo`), as Go's `time.LoadLocation` does; local
//! times that fall in a DST gap or repeat follow jiff's "compatible" choice (the later time
//! for a gap, the earlier for a fold).

use std::fmt::Write as _;
use std::time::Duration;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, CronJobStatus, Job};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::civil::{Date, DateTime};
use k8s_openapi::jiff::tz::TimeZone;
use k8s_openapi::jiff::{SignedDuration, Span, Timestamp};

use super::job::{self, PlanEvent};
use super::podutil;
use super::{Error, Result};

/// Annotation on a CronJob's Job with its scheduled time (RFC 3339, in the schedule's zone).
pub const CRONJOB_SCHEDULED_TIMESTAMP: &str = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/// Padding added to the time until the next schedule (`nextScheduleDelta`), for clock skew.
pub const NEXT_SCHEDULE_DELTA: Duration = Duration::from_millis(100);
/// Missed schedule times beyond which a `TooManyMissedTimes` warning is recorded.
pub const MAX_MISSED_SCHEDULES: i64 = 100;
/// `successfulJobsHistoryLimit` when unset (the API server's default).
pub const DEFAULT_SUCCESSFUL_JOBS_HISTORY_LIMIT: i32 = 3;
/// `failedJobsHistoryLimit` when unset (the API server's default).
pub const DEFAULT_FAILED_JOBS_HISTORY_LIMIT: i32 = 1;

// ---------------------------------------------------------------------------------------
// Time zones.

fn valid_zone_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'-' | b'+'))
}

/// The time zone of that IANA name (`time.LoadLocation`): `UTC`, `Etc/UTC` and the empty
/// name are UTC; others are read from the system's tz database (`$ZONEINFO`,
/// `/usr/share/zoneinfo`, `/usr/share/lib/zoneinfo`, `/usr/lib/locale/TZ`). Fails with
/// [`Error::UnknownTimeZone`] otherwise.
pub fn load_time_zone(name: &str) -> Result<TimeZone> {
    if matches!(name, "" | "UTC" | "Etc/UTC" | "Local") {
        return Ok(TimeZone::UTC);
    }
    if !valid_zone_name(name) {
        return Err(Error::UnknownTimeZone(name.to_string()));
    }
    let mut dirs: Vec<String> = Vec::new();
    if let Ok(d) = std::env::var("ZONEINFO")
        && !d.is_empty()
    {
        dirs.push(d);
    }
    dirs.extend(
        [
            "/usr/share/zoneinfo",
            "/usr/share/lib/zoneinfo",
            "/usr/lib/locale/TZ",
        ]
        .iter()
        .map(|d| d.to_string()),
    );
    for dir in dirs {
        let path = std::path::Path::new(&dir).join(name);
        if let Ok(data) = std::fs::read(&path) {
            return TimeZone::tzif(name, &data)
                .map_err(|e| Error::UnknownTimeZone(format!("{name}: {e}")));
        }
    }
    Err(Error::UnknownTimeZone(name.to_string()))
}

// ---------------------------------------------------------------------------------------
// Cron schedules.

/// Set in a field's bits when it was `*` or `?` (with no step above 1): decides how day of
/// month and day of week combine.
const STAR: u64 = 1 << 63;

struct Bounds {
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MINUTES: Bounds = Bounds {
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: Bounds = Bounds {
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: Bounds = Bounds {
    min: 1,
    max: 31,
    names: &[],
};
/// Names are matched lowercase; a name's value is its position plus `min`.
const MONTHS: Bounds = Bounds {
    min: 1,
    max: 12,
    names: &[
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ],
};
const DAYS_OF_WEEK: Bounds = Bounds {
    min: 0,
    max: 6,
    names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"],
};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// Bit sets of the allowed values of each field (seconds are always 0).
    Fields {
        minute: u64,
        hour: u64,
        dom: u64,
        month: u64,
        dow: u64,
    },
    /// `@every <duration>`: a fixed delay (whole seconds, at least one).
    Every(Duration),
}

/// A parsed cron schedule: five fields (minute, hour, day of month, month, day of week) with
/// `*`, `?`, lists, ranges, steps and month / weekday names, or a `@yearly`, `@annually`,
/// `@monthly`, `@weekly`, `@daily`, `@midnight`, `@hourly` or `@every <duration>` macro,
/// optionally prefixed by `TZ=<zone>` / `CRON_TZ=<zone>`; and the time zone it runs in.
#[derive(Clone, Debug)]
pub struct Schedule {
    kind: Kind,
    zone: TimeZone,
}

fn parse_number(s: &str, expr: &str) -> Result<u32> {
    let n: i64 = s
        .parse()
        .map_err(|_| Error::InvalidSchedule(format!("failed to parse int from {s}: {expr}")))?;
    if n < 0 {
        return Err(Error::InvalidSchedule(format!(
            "negative number ({n}) not allowed: {expr}"
        )));
    }
    u32::try_from(n)
        .map_err(|_| Error::InvalidSchedule(format!("failed to parse int from {s}: {expr}")))
}

fn parse_int_or_name(s: &str, b: &Bounds, expr: &str) -> Result<u32> {
    let lower = s.to_ascii_lowercase();
    if let Some(pos) = b.names.iter().position(|n| *n == lower) {
        return Ok(b.min + u32::try_from(pos).unwrap_or(0));
    }
    parse_number(s, expr)
}

/// One comma-separated part of a field: `*`, `?`, `N`, `N-M`, each with an optional `/step`
/// (`N/step` meaning `N-max/step`).
fn parse_range(expr: &str, b: &Bounds) -> Result<u64> {
    let bad = |m: String| Err(Error::InvalidSchedule(m));
    let range_and_step: Vec<&str> = expr.split('/').collect();
    let low_high: Vec<&str> = range_and_step[0].split('-').collect();
    let single = low_high.len() == 1;
    let (start, mut end, mut extra);
    if low_high[0] == "*" || low_high[0] == "?" {
        start = b.min;
        end = b.max;
        extra = STAR;
    } else {
        start = parse_int_or_name(low_high[0], b, expr)?;
        end = match low_high.len() {
            1 => start,
            2 => parse_int_or_name(low_high[1], b, expr)?,
            _ => return bad(format!("too many hyphens: {expr}")),
        };
        extra = 0;
    }
    let step = match range_and_step.len() {
        1 => 1,
        2 => {
            let step = parse_number(range_and_step[1], expr)?;
            if single {
                end = b.max;
            }
            if step > 1 {
                extra = 0;
            }
            step
        }
        _ => return bad(format!("too many slashes: {expr}")),
    };
    if start < b.min {
        return bad(format!(
            "beginning of range ({start}) below minimum ({}): {expr}",
            b.min
        ));
    }
    if end > b.max {
        return bad(format!(
            "end of range ({end}) above maximum ({}): {expr}",
            b.max
        ));
    }
    if start > end {
        return bad(format!(
            "beginning of range ({start}) beyond end of range ({end}): {expr}"
        ));
    }
    if step == 0 {
        return bad(format!("step of range should be a positive number: {expr}"));
    }
    let mut bits = 0u64;
    let mut v = start;
    while v <= end {
        bits |= 1 << v;
        match v.checked_add(step) {
            Some(n) => v = n,
            None => break,
        }
    }
    Ok(bits | extra)
}

fn parse_field(field: &str, b: &Bounds) -> Result<u64> {
    field
        .split(',')
        .try_fold(0u64, |acc, part| Ok(acc | parse_range(part, b)?))
}

/// Go's `time.ParseDuration`, for `@every`: a sequence of decimal numbers with a unit (`ns`,
/// `us`, `µs`, `ms`, `s`, `m`, `h`), e.g. `1h30m`, `1.5h`.
fn parse_go_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() || rest.starts_with('-') {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let value: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += value * nanos_per;
    }
    if !total.is_finite() || total > 9.2e18 {
        return None;
    }
    // In range: checked just above.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(Duration::from_nanos(total as u64))
}

impl Schedule {
    /// Parses a schedule running in UTC unless it starts with `TZ=<zone>` / `CRON_TZ=<zone>`.
    pub fn parse(spec: &str) -> Result<Schedule> {
        Schedule::parse_in(spec, TimeZone::UTC)
    }

    /// Parses a schedule running in `zone` unless it starts with `TZ=<zone>` /
    /// `CRON_TZ=<zone>` (robfig/cron's `ParseStandard`).
    pub fn parse_in(spec: &str, zone: TimeZone) -> Result<Schedule> {
        let mut zone = zone;
        let mut spec = spec.trim();
        if spec.is_empty() {
            return Err(Error::InvalidSchedule("empty spec string".into()));
        }
        if spec.starts_with("TZ=") || spec.starts_with("CRON_TZ=") {
            let (tz, rest) = spec.split_once(' ').ok_or_else(|| {
                Error::InvalidSchedule(format!("missing schedule after time zone: {spec}"))
            })?;
            let name = tz.split_once('=').map(|(_, n)| n).unwrap_or_default();
            zone = load_time_zone(name).map_err(|e| {
                Error::InvalidSchedule(format!("provided bad location {name}: {e}"))
            })?;
            spec = rest.trim();
        }
        if spec.starts_with('@') {
            let fields = match spec {
                "@yearly" | "@annually" => "0 0 1 1 *",
                "@monthly" => "0 0 1 * *",
                "@weekly" => "0 0 * * 0",
                "@daily" | "@midnight" => "0 0 * * *",
                "@hourly" => "0 * * * *",
                _ => {
                    if let Some(d) = spec.strip_prefix("@every ") {
                        let d = parse_go_duration(d.trim()).ok_or_else(|| {
                            Error::InvalidSchedule(format!("failed to parse duration {spec}"))
                        })?;
                        let whole = Duration::from_secs(d.as_secs().max(1));
                        return Ok(Schedule {
                            kind: Kind::Every(whole),
                            zone,
                        });
                    }
                    return Err(Error::InvalidSchedule(format!(
                        "unrecognized descriptor: {spec}"
                    )));
                }
            };
            return Schedule::parse_fields(fields, zone);
        }
        Schedule::parse_fields(spec, zone)
    }

    fn parse_fields(spec: &str, zone: TimeZone) -> Result<Schedule> {
        let fields: Vec<&str> = spec.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(Error::InvalidSchedule(format!(
                "expected exactly 5 fields, found {}: {spec}",
                fields.len()
            )));
        }
        Ok(Schedule {
            kind: Kind::Fields {
                minute: parse_field(fields[0], &MINUTES)?,
                hour: parse_field(fields[1], &HOURS)?,
                dom: parse_field(fields[2], &DAYS_OF_MONTH)?,
                month: parse_field(fields[3], &MONTHS)?,
                dow: parse_field(fields[4], &DAYS_OF_WEEK)?,
            },
            zone,
        })
    }

    /// The time zone the schedule runs in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    /// The first time of the schedule strictly after `after`, to the second; None if there is
    /// none within five years (e.g. `0 0 30 2 *`).
    pub fn next(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Every(d) => {
                let sub = u32::try_from(after.subsec_nanosecond().max(0)).unwrap_or(0);
                let step = d.saturating_sub(Duration::from_nanos(u64::from(sub)));
                after.checked_add(SignedDuration::try_from(step).ok()?).ok()
            }
            Kind::Fields {
                minute,
                hour,
                dom,
                month,
                dow,
            } => next_matching(&self.zone, after, *minute, *hour, *dom, *month, *dow),
        }
    }
}

fn has(bits: u64, v: i8) -> bool {
    u32::try_from(v).is_ok_and(|v| v < 63 && bits & (1 << v) != 0)
}

fn plus(t: Timestamp, secs: i64) -> Option<Timestamp> {
    t.checked_add(SignedDuration::from_secs(secs)).ok()
}

/// Civil fields to an instant in `zone`, normalising an out-of-range month or day as Go's
/// `time.Date` does (month 13 is January of the next year, April 31 is May 1).
fn civil(
    zone: &TimeZone,
    year: i64,
    month: i64,
    day: i64,
    h: i8,
    m: i8,
    s: i8,
) -> Option<Timestamp> {
    let months = year * 12 + (month - 1);
    let y = i16::try_from(months.div_euclid(12)).ok()?;
    let mo = i8::try_from(months.rem_euclid(12) + 1).ok()?;
    let date = Date::new(y, mo, 1)
        .ok()?
        .checked_add(Span::new().try_days(day - 1).ok()?)
        .ok()?;
    let dt = DateTime::new(date.year(), date.month(), date.day(), h, m, s, 0).ok()?;
    zone.to_ambiguous_timestamp(dt).compatible().ok()
}

/// robfig/cron's `SpecSchedule.Next`: walk from the next whole second, field by field from
/// the month down, restarting from the month whenever a field wraps; give up five years on.
fn next_matching(
    zone: &TimeZone,
    after: Timestamp,
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
) -> Option<Timestamp> {
    let day_matches = |dt: &DateTime| {
        let dom_match = has(dom, dt.day());
        let dow_match = has(dow, dt.weekday().to_sunday_zero_offset());
        if dom & STAR != 0 || dow & STAR != 0 {
            dom_match && dow_match
        } else {
            dom_match || dow_match
        }
    };
    let floor = if after.subsec_nanosecond() < 0 {
        after.as_second() - 1
    } else {
        after.as_second()
    };
    let mut t = Timestamp::from_second(floor.checked_add(1)?).ok()?;
    let at = |t: Timestamp| zone.to_datetime(t);
    let year_limit = i64::from(at(t).year()) + 5;
    let mut added = false;
    'wrap: loop {
        if i64::from(at(t).year()) > year_limit {
            return None;
        }
        while !has(month, at(t).month()) {
            let dt = at(t);
            if !added {
                added = true;
                t = civil(zone, dt.year().into(), dt.month().into(), 1, 0, 0, 0)?;
            }
            let dt = at(t);
            t = civil(
                zone,
                dt.year().into(),
                i64::from(dt.month()) + 1,
                dt.day().into(),
                dt.hour(),
                dt.minute(),
                dt.second(),
            )?;
            if at(t).month() == 1 {
                continue 'wrap;
            }
        }
        while !day_matches(&at(t)) {
            let dt = at(t);
            if !added {
                added = true;
                t = civil(
                    zone,
                    dt.year().into(),
                    dt.month().into(),
                    dt.day().into(),
                    0,
                    0,
                    0,
                )?;
            }
            let dt = at(t);
            t = civil(
                zone,
                dt.year().into(),
                dt.month().into(),
                i64::from(dt.day()) + 1,
                dt.hour(),
                dt.minute(),
                dt.second(),
            )?;
            // A DST change may have moved midnight: get back onto it.
            let h = i64::from(at(t).hour());
            if h != 0 {
                t = if h > 12 {
                    plus(t, (24 - h) * 3600)?
                } else {
                    plus(t, -h * 3600)?
                };
            }
            if at(t).day() == 1 {
                continue 'wrap;
            }
        }
        while !has(hour, at(t).hour()) {
            if !added {
                added = true;
                let dt = at(t);
                t = civil(
                    zone,
                    dt.year().into(),
                    dt.month().into(),
                    dt.day().into(),
                    dt.hour(),
                    0,
                    0,
                )?;
            }
            t = plus(t, 3600)?;
            if at(t).hour() == 0 {
                continue 'wrap;
            }
        }
        while !has(minute, at(t).minute()) {
            if !added {
                added = true;
                t = Timestamp::from_second(t.as_second().div_euclid(60) * 60).ok()?;
            }
            t = plus(t, 60)?;
            if at(t).minute() == 0 {
                continue 'wrap;
            }
        }
        let sec = i64::from(at(t).second());
        if sec != 0 {
            // Only second 0 matches: on to the next minute, which restarts the walk.
            added = true;
            t = plus(t, 60 - sec)?;
            continue 'wrap;
        }
        return Some(t);
    }
}

// ---------------------------------------------------------------------------------------
// Schedule times of a CronJob.

/// How many schedule times were missed since the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Missed {
    None,
    Few,
    Many,
}

/// The inputs of `mostRecentScheduleTime` from the CronJob.
struct Times {
    created: Timestamp,
    last_schedule: Option<Timestamp>,
    starting_deadline: Option<i64>,
}

/// `mostRecentScheduleTime`: the last schedule time (or creation time), the most recent
/// schedule time not after `now` if any, and how many were missed; an error for a schedule
/// whose consecutive times are less than a second apart (or that never fires).
fn most_recent_schedule_time(
    t: &Times,
    sched: &Schedule,
    now: Timestamp,
    include_deadline: bool,
) -> Result<(Timestamp, Option<Timestamp>, Missed), String> {
    let mut earliest = t.last_schedule.unwrap_or(t.created);
    if include_deadline && let Some(sds) = t.starting_deadline {
        let deadline = now
            .checked_sub(SignedDuration::from_secs(sds))
            .unwrap_or(now);
        if deadline > earliest {
            earliest = deadline;
        }
    }
    let too_close = || "time difference between two schedules is less than 1 second".to_string();
    let t1 = sched.next(earliest).ok_or_else(too_close)?;
    if now < t1 {
        return Ok((earliest, None, Missed::None));
    }
    let t2 = sched.next(t1).ok_or_else(too_close)?;
    if now < t2 {
        return Ok((earliest, Some(t1), Missed::None));
    }
    let between_ns = t2.as_nanosecond() - t1.as_nanosecond();
    let between = i64::try_from((between_ns + 500_000_000) / 1_000_000_000).unwrap_or(i64::MAX);
    if between < 1 {
        return Err(too_close());
    }
    let elapsed = i64::try_from((now.as_nanosecond() - t1.as_nanosecond()) / 1_000_000_000)
        .unwrap_or(i64::MAX);
    let missed = elapsed / between + 1;
    // Jump close to now, then let the schedule find the exact most recent time.
    let potential = t1
        .checked_add(SignedDuration::from_secs(
            (missed - 2).saturating_mul(between),
        ))
        .unwrap_or(t1);
    let mut most_recent = None;
    let mut cursor = sched.next(potential);
    while let Some(c) = cursor
        && c <= now
    {
        most_recent = Some(c);
        cursor = sched.next(c);
    }
    let kind = if missed > MAX_MISSED_SCHEDULES {
        Missed::Many
    } else {
        Missed::Few
    };
    Ok((earliest, most_recent, kind))
}

/// `nextScheduleTimeDuration`: how long until the schedule time after the last one (or after
/// now when times were missed), plus [`NEXT_SCHEDULE_DELTA`].
fn next_schedule_duration(t: &Times, sched: &Schedule, now: Timestamp) -> Option<Duration> {
    let base = match most_recent_schedule_time(t, sched, now, false) {
        Err(_) => now,
        Ok((_, Some(recent), _)) => recent,
        Ok((earliest, None, Missed::None)) => earliest,
        Ok((_, None, _)) => now,
    };
    let next = sched.next(base)?;
    Some(podutil::duration_between(now, next) + NEXT_SCHEDULE_DELTA)
}

// ---------------------------------------------------------------------------------------
// Formatting.

const WEEKDAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTH_NAMES: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Go's `time.RFC3339` in `zone`: `2006-01-02T15:04:05Z07:00` (`Z` for a zero offset).
fn rfc3339_in(t: Timestamp, zone: &TimeZone) -> String {
    let dt = zone.to_datetime(t);
    let offset = zone.to_offset(t).seconds();
    let mut s = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        dt.month(),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    );
    if offset == 0 {
        s.push('Z');
    } else {
        let sign = if offset < 0 { '-' } else { '+' };
        let abs = offset.unsigned_abs();
        let _ = write!(s, "{sign}{:02}:{:02}", abs / 3600, abs % 3600 / 60);
    }
    s
}

/// Go's `time.RFC1123Z` in UTC: `Mon, 02 Jan 2006 15:04:05 +0000`.
fn rfc1123z_utc(t: Timestamp) -> String {
    let dt = TimeZone::UTC.to_datetime(t);
    let wd = usize::try_from(dt.weekday().to_sunday_zero_offset()).unwrap_or(0);
    let mo = usize::try_from(dt.month() - 1).unwrap_or(0);
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000",
        WEEKDAYS[wd % 7],
        dt.day(),
        MONTH_NAMES[mo % 12],
        dt.year(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

// ---------------------------------------------------------------------------------------
// The plan.

/// What to do for one CronJob, in the order given in the module documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct CronJobPlan {
    /// The Job to create for the schedule time due now.
    pub create_job: Option<Job>,
    /// Jobs (names) to delete: beyond the history limits, or still running when the next
    /// time came under `concurrencyPolicy: Replace`.
    pub delete_jobs: Vec<String>,
    /// Jobs (names) in `status.active` that the cache does not have: confirm they are gone
    /// (live read, 404) before writing the status, else plan again.
    pub missing_jobs: Vec<String>,
    /// The status to write, assuming the deletions succeed; without `create_job` (see
    /// [`CronJobPlan::job_created`]).
    pub status: CronJobStatus,
    /// Whether `status` differs from the stored status (else skip the write).
    pub status_changed: bool,
    /// Events to record once the writes succeeded.
    pub events: Vec<PlanEvent>,
    /// Plan again after this long even if nothing changes (the next schedule time).
    pub requeue_after: Option<Duration>,
    scheduled_time: Option<Timestamp>,
    owner_uid: String,
}

/// The `status.active` entry of a Job (`ref.GetReference`).
pub fn job_reference(job: &Job) -> ObjectReference {
    ObjectReference {
        api_version: Some("batch/v1".into()),
        kind: Some("Job".into()),
        name: job.metadata.name.clone(),
        namespace: job.metadata.namespace.clone(),
        uid: job.metadata.uid.clone(),
        resource_version: job.metadata.resource_version.clone(),
        field_path: None,
    }
}

impl CronJobPlan {
    /// The status and event once `create_job` exists: `job` as the API server returned it
    /// (or, after AlreadyExists, as read back, with `already_existed`). `status` plus the Job
    /// in `active` and `lastScheduleTime` set to its schedule time; the `SuccessfulCreate`
    /// event unless it already existed. A Job this CronJob does not control, or one already in
    /// `active`, leaves `status` as planned.
    pub fn job_created(
        &self,
        job: &Job,
        already_existed: bool,
    ) -> (CronJobStatus, Option<PlanEvent>) {
        let mut status = self.status.clone();
        let uid = job.metadata.uid.as_deref();
        let ours = podutil::is_controlled_by(&job.metadata, &self.owner_uid);
        let listed = status
            .active
            .iter()
            .flatten()
            .any(|r| r.uid.is_some() && r.uid.as_deref() == uid);
        if !ours || listed {
            return (status, None);
        }
        status
            .active
            .get_or_insert_with(Vec::new)
            .push(job_reference(job));
        if let Some(t) = self.scheduled_time {
            status.last_schedule_time = Some(Time(t));
        }
        let event = (!already_existed).then(|| {
            PlanEvent::normal(
                "SuccessfulCreate",
                format!(
                    "Created job {}",
                    job.metadata.name.as_deref().unwrap_or_default()
                ),
            )
        });
        (status, event)
    }
}

/// The controller reference a CronJob puts on its Jobs.
pub fn cronjob_controller_ref(
    cj: &CronJob,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
    podutil::new_controller_ref(&cj.metadata, "batch/v1", "CronJob")
}

/// The name of the Job of schedule time `t`: `<cronjob>-<minutes since the epoch>`.
pub fn job_name(cj: &CronJob, t: Timestamp) -> String {
    format!(
        "{}-{}",
        cj.metadata.name.as_deref().unwrap_or_default(),
        t.as_second().div_euclid(60)
    )
}

/// The Job to create for schedule time `t` (`getJobFromTemplate2`): the template's labels,
/// annotations and spec, the scheduled-timestamp annotation, the controller reference.
pub fn job_from_template(cj: &CronJob, t: Timestamp, zone: &TimeZone) -> Job {
    let spec = cj.spec.clone().unwrap_or_default();
    let meta = spec.job_template.metadata.unwrap_or_default();
    let mut annotations = meta.annotations.unwrap_or_default();
    annotations.insert(CRONJOB_SCHEDULED_TIMESTAMP.into(), rfc3339_in(t, zone));
    Job {
        metadata: ObjectMeta {
            name: Some(job_name(cj, t)),
            namespace: cj.metadata.namespace.clone(),
            labels: meta.labels.filter(|l| !l.is_empty()),
            annotations: Some(annotations),
            creation_timestamp: Some(Time(t)),
            owner_references: Some(vec![cronjob_controller_ref(cj)]),
            ..Default::default()
        },
        spec: spec.job_template.spec,
        status: None,
    }
}

fn start_time(j: &Job) -> Option<Timestamp> {
    j.status.as_ref()?.start_time.as_ref().map(|t| t.0)
}

/// The type of the first `True` `Complete` or `Failed` condition (`getFinishedStatus`).
fn finished_type(j: &Job) -> Option<&str> {
    j.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| (c.type_ == job::COMPLETE || c.type_ == job::FAILED) && c.status == "True")
        .map(|c| c.type_.as_str())
}

fn normalize_status(mut s: CronJobStatus) -> CronJobStatus {
    s.active = s.active.filter(|a| !a.is_empty());
    s
}

/// Plans one sync of `cj` against the Jobs of its namespace (`jobs` may hold other
/// namespaces' Jobs; they are ignored), at `now`. The CronJob's Jobs are those whose
/// controller reference has its uid. Problems of the CronJob's own spec (time zone,
/// schedule) are reported as warning events, as upstream, not as errors.
pub fn plan_cronjob(cj: &CronJob, jobs: &[Job], now: Timestamp) -> Result<CronJobPlan> {
    let prev = cj.status.clone().unwrap_or_default();
    let uid = cj.metadata.uid.clone().unwrap_or_default();
    let namespace = cj.metadata.namespace.as_deref().unwrap_or_default();
    let spec = cj.spec.clone().unwrap_or_else(|| CronJobSpec {
        suspend: Some(true),
        ..Default::default()
    });
    let mut plan = CronJobPlan {
        create_job: None,
        delete_jobs: Vec::new(),
        missing_jobs: Vec::new(),
        status: prev.clone(),
        status_changed: false,
        events: Vec::new(),
        requeue_after: None,
        scheduled_time: None,
        owner_uid: uid.clone(),
    };
    let mut status = prev.clone();
    let mut active: Vec<ObjectReference> = status.active.take().unwrap_or_default();
    let children: Vec<&Job> = jobs
        .iter()
        .filter(|j| {
            j.metadata.namespace.as_deref().unwrap_or_default() == namespace
                && podutil::is_controlled_by(&j.metadata, &uid)
        })
        .collect();
    let remove_active = |active: &mut Vec<ObjectReference>, job_uid: Option<&str>| {
        active.retain(|r| r.uid.as_deref() != job_uid);
    };

    // History limits.
    for (type_, limit) in [
        (job::COMPLETE, spec.successful_jobs_history_limit),
        (job::FAILED, spec.failed_jobs_history_limit),
    ] {
        let Some(limit) = limit else {
            continue;
        };
        let mut finished: Vec<&Job> = children
            .iter()
            .copied()
            .filter(|j| finished_type(j) == Some(type_))
            .collect();
        let extra = finished
            .len()
            .saturating_sub(usize::try_from(limit.max(0)).unwrap_or(0));
        if extra == 0 {
            continue;
        }
        finished.sort_by(|a, b| {
            let key = |j: &Job| {
                (
                    start_time(j).is_none(),
                    start_time(j),
                    j.metadata.name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });
        for j in finished.into_iter().take(extra) {
            let name = j.metadata.name.clone().unwrap_or_default();
            remove_active(&mut active, j.metadata.uid.as_deref());
            plan.events.push(PlanEvent::normal(
                "SuccessfulDelete",
                format!("Deleted job {name}"),
            ));
            plan.delete_jobs.push(name);
        }
    }

    // Reconcile `active` with the Jobs.
    let mut unexpected: Vec<String> = Vec::new();
    for j in &children {
        let job_uid = j.metadata.uid.as_deref();
        let found = active.iter().any(|r| r.uid.as_deref() == job_uid);
        let name = j.metadata.name.clone().unwrap_or_default();
        match finished_type(j) {
            None if !found => unexpected.push(name),
            None => {}
            Some(cond) => {
                if found {
                    remove_active(&mut active, job_uid);
                    plan.events.push(PlanEvent::normal(
                        "SawCompletedJob",
                        format!("Saw completed job: {name}, condition: {cond}"),
                    ));
                }
                if cond == job::COMPLETE {
                    let completed = j.status.as_ref().and_then(|s| s.completion_time.clone());
                    match (&status.last_successful_time, &completed) {
                        (None, _) => status.last_successful_time = completed,
                        (Some(last), Some(c)) if c.0 > last.0 => {
                            status.last_successful_time = completed;
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let known: Vec<Option<&str>> = children.iter().map(|j| j.metadata.uid.as_deref()).collect();
    let missing: Vec<ObjectReference> = active
        .iter()
        .filter(|r| !known.contains(&r.uid.as_deref()))
        .cloned()
        .collect();
    for r in missing {
        let name = r.name.clone().unwrap_or_default();
        plan.events.push(PlanEvent::normal(
            "MissingJob",
            format!("Active job went missing: {name}"),
        ));
        remove_active(&mut active, r.uid.as_deref());
        plan.missing_jobs.push(name);
    }

    let finish = |mut plan: CronJobPlan,
                  mut status: CronJobStatus,
                  active: Vec<ObjectReference>,
                  unexpected: Vec<String>| {
        for name in unexpected {
            plan.events.push(PlanEvent::warning(
                "UnexpectedJob",
                format!("Saw a job that the controller did not create or forgot: {name}"),
            ));
        }
        status.active = Some(active).filter(|a| !a.is_empty());
        plan.status_changed = normalize_status(prev.clone()) != status;
        plan.status = status;
        Ok(plan)
    };

    if cj.metadata.deletion_timestamp.is_some() {
        return finish(plan, status, active, unexpected);
    }
    let zone = match spec.time_zone.as_deref() {
        Some(name) => match load_time_zone(name) {
            Ok(z) => z,
            Err(e) => {
                plan.events.push(PlanEvent::warning(
                    "UnknownTimeZone",
                    format!("invalid timeZone: {name:?}: {e}"),
                ));
                return finish(plan, status, active, unexpected);
            }
        },
        None => TimeZone::UTC,
    };
    if spec.suspend == Some(true) {
        return finish(plan, status, active, unexpected);
    }
    if spec.schedule.contains("TZ") {
        plan.events.push(PlanEvent::warning(
            "UnsupportedSchedule",
            format!(
                "CRON_TZ or TZ used in schedule {:?} is not officially supported, see https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/ for more details",
                spec.schedule
            ),
        ));
    }
    let sched = match Schedule::parse_in(&spec.schedule, zone) {
        Ok(s) => s,
        Err(e) => {
            let msg = match e {
                Error::InvalidSchedule(m) => m,
                other => other.to_string(),
            };
            plan.events.push(PlanEvent::warning(
                "UnparseableSchedule",
                format!("unparseable schedule: {:?} : {msg}", spec.schedule),
            ));
            return finish(plan, status, active, unexpected);
        }
    };
    let mut times = Times {
        created: cj.metadata.creation_timestamp.as_ref().map_or(now, |t| t.0),
        last_schedule: status.last_schedule_time.as_ref().map(|t| t.0),
        starting_deadline: spec.starting_deadline_seconds,
    };
    let scheduled = match most_recent_schedule_time(&times, &sched, now, true) {
        Err(e) => {
            plan.events.push(PlanEvent::warning(
                "InvalidSchedule",
                format!("invalid schedule: {} : {e}", spec.schedule),
            ));
            return finish(plan, status, active, unexpected);
        }
        Ok((_, recent, missed)) => {
            if missed == Missed::Many && recent.is_some() {
                plan.events.push(PlanEvent::warning(
                    "TooManyMissedTimes",
                    "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
                ));
            }
            recent.filter(|t| *t <= now)
        }
    };
    plan.requeue_after = next_schedule_duration(&times, &sched, now);
    let Some(scheduled) = scheduled else {
        return finish(plan, status, active, unexpected);
    };
    if let Some(sds) = spec.starting_deadline_seconds
        && scheduled
            .checked_add(SignedDuration::from_secs(sds))
            .is_ok_and(|t| t < now)
    {
        plan.events.push(PlanEvent::warning(
            "MissSchedule",
            format!(
                "Missed scheduled time to start a job: {}",
                rfc1123z_utc(scheduled)
            ),
        ));
        return finish(plan, status, active, unexpected);
    }
    let name = job_name(cj, scheduled);
    let processed = active.iter().any(|r| {
        r.name.as_deref() == Some(name.as_str())
            && r.namespace.as_deref().unwrap_or_default() == namespace
    }) || status
        .last_schedule_time
        .as_ref()
        .is_some_and(|t| t.0 == scheduled);
    if processed {
        return finish(plan, status, active, unexpected);
    }
    match spec.concurrency_policy.as_deref() {
        Some("Forbid") if !active.is_empty() => {
            plan.events.push(PlanEvent::normal(
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency policy is Forbid",
            ));
            return finish(plan, status, active, unexpected);
        }
        Some("Replace") => {
            for r in std::mem::take(&mut active) {
                let n = r.name.clone().unwrap_or_default();
                plan.events.push(PlanEvent::normal(
                    "SuccessfulDelete",
                    format!("Deleted job {n}"),
                ));
                plan.delete_jobs.push(n);
            }
        }
        _ => {}
    }
    times.last_schedule = Some(scheduled);
    plan.requeue_after = next_schedule_duration(&times, &sched, now);
    match jobs.iter().find(|j| {
        j.metadata.namespace.as_deref().unwrap_or_default() == namespace
            && j.metadata.name.as_deref() == Some(name.as_str())
    }) {
        // Created earlier, but the status update was lost: list it again.
        Some(existing) if podutil::is_controlled_by(&existing.metadata, &uid) => {
            unexpected.retain(|n| *n != name);
            active.push(job_reference(existing));
            status.last_schedule_time = Some(Time(scheduled));
        }
        // Someone else's Job of that name: leave it alone.
        Some(_) => plan.requeue_after = None,
        None => {
            plan.create_job = Some(job_from_template(cj, scheduled, sched.zone()));
            plan.scheduled_time = Some(scheduled);
        }
    }
    finish(plan, status, active, unexpected)
}

#[cfg(test)]
mod tests;
