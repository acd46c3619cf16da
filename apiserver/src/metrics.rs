//! Prometheus metrics of the API server (`/metrics`): requests by verb and code, and a
//! latency histogram, named as kube-apiserver names them.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Counters and histograms, shared by every request.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    buckets: BTreeMap<String, (Vec<u64>, f64, u64)>,
}

impl Metrics {
    /// Record one request.
    pub fn observe(&self, verb: &str, code: u16, took: Duration) {
        let Ok(mut i) = self.inner.lock() else { return };
        *i.requests.entry((verb.to_string(), code)).or_default() += 1;
        let secs = took.as_secs_f64();
        let e = i
            .buckets
            .entry(verb.to_string())
            .or_insert_with(|| (vec![0; BUCKETS.len()], 0.0, 0));
        for (n, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                e.0[n] += 1;
            }
        }
        e.1 += secs;
        e.2 += 1;
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let Ok(i) = self.inner.lock() else {
            return String::new();
        };
        let mut out = String::from("# TYPE apiserver_request_total counter\n");
        for ((verb, code), n) in &i.requests {
            out.push_str(&format!(
                "apiserver_request_total{{verb=\"{verb}\",code=\"{code}\"}} {n}\n"
            ));
        }
        out.push_str("# TYPE apiserver_request_duration_seconds histogram\n");
        for (verb, (counts, sum, count)) in &i.buckets {
            for (n, b) in BUCKETS.iter().enumerate() {
                out.push_str(&format!(
                    "apiserver_request_duration_seconds_bucket{{verb=\"{verb}\",le=\"{b}\"}} {}\n",
                    counts[n]
                ));
            }
            out.push_str(&format!(
                "apiserver_request_duration_seconds_bucket{{verb=\"{verb}\",le=\"+Inf\"}} {count}\n"
            ));
            out.push_str(&format!(
                "apiserver_request_duration_seconds_sum{{verb=\"{verb}\"}} {sum}\n"
            ));
            out.push_str(&format!(
                "apiserver_request_duration_seconds_count{{verb=\"{verb}\"}} {count}\n"
            ));
        }
        out
    }
}
