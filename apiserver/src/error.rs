//! The API server's error type and its one mapping to a Kubernetes `Status`.
//!
//! Every failure a client can see is an [`ApiError`]; [`ApiError::status`] turns it into the
//! `meta.k8s.io/v1 Status` body and HTTP code that kube-apiserver returns, because kubectl and
//! client libraries match on `reason` and `code` (`apimachinery/pkg/api/errors`).

use serde_json::{Value, json};

/// Result alias for the API server.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;

/// One field-level problem of an invalid object (`details.causes[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// Machine-readable reason, e.g. `FieldValueRequired`, `FieldValueInvalid`.
    pub reason: String,
    /// Human-readable message.
    pub message: String,
    /// The field path, e.g. `metadata.name` or `spec.containers[0].image`.
    pub field: String,
}

impl Cause {
    /// A cause with the given reason, field and message.
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: reason.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a resource error is about (`details` of the Status).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subject {
    /// API group, empty for core.
    pub group: String,
    /// Resource (plural) name, e.g. `pods`.
    pub kind: String,
    /// Object name.
    pub name: String,
}

/// Everything that can go wrong in the API server, as a client sees it.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    /// 400: malformed request, selector, body or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// 404 on an object.
    #[error("{} \"{}\" not found", qualified(&.0.kind, &.0.group), .0.name)]
    NotFound(Subject),
    /// 404 on a path that names no resource.
    #[error("the server could not find the requested resource")]
    NoRoute,
    /// 405: the resource does not support the verb.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// 409: create of an existing name.
    #[error("{} \"{}\" already exists", qualified(&.0.kind, &.0.group), .0.name)]
    AlreadyExists(Subject),
    /// 409: optimistic-concurrency or precondition failure.
    #[error("Operation cannot be fulfilled on {} \"{}\": {message}", qualified(&subject.kind, &subject.group), subject.name)]
    Conflict {
        /// The object.
        subject: Subject,
        /// Why.
        message: String,
    },
    /// 409 from server-side apply: fields owned by other managers.
    #[error("Apply failed with {} conflict{}: {}", causes.len(), if causes.len() == 1 { "" } else { "s" }, causes.iter().map(|c| c.message.as_str()).collect::<Vec<_>>().join("\n"))]
    ApplyConflict {
        /// The object.
        subject: Subject,
        /// One cause per conflicting field (`FieldManagerConflict`).
        causes: Vec<Cause>,
    },
    /// 403: refused by policy (e.g. creating in a terminating namespace).
    #[error("{0}")]
    Forbidden(String),
    /// 410: a continue token or resource version too old (`Expired`).
    #[error("{message}")]
    Expired {
        /// Message.
        message: String,
        /// A fresh continue token, when a list can be restarted.
        continue_token: Option<String>,
    },
    /// 410 `Gone`.
    #[error("{0}")]
    Gone(String),
    /// 413: request body too large.
    #[error("the request is too large: {0}")]
    TooLarge(String),
    /// 415: unsupported content type.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: the object fails validation.
    #[error("{} \"{}\" is invalid: {}", .kind, subject.name, causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect::<Vec<_>>().join(", "))]
    Invalid {
        /// The object.
        subject: Subject,
        /// `Kind.group` as upstream prints it, e.g. `Deployment.apps`.
        kind: String,
        /// The field causes.
        causes: Vec<Cause>,
    },
    /// 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// 500.
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// 503: the store has no quorum or cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// 504.
    #[error("{0}")]
    Timeout(String),
}

fn qualified(resource: &str, group: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    /// A 422 with one cause.
    pub fn invalid(subject: Subject, kind: impl Into<String>, causes: Vec<Cause>) -> Self {
        ApiError::Invalid {
            subject,
            kind: kind.into(),
            causes,
        }
    }

    /// A 409 Conflict with the usual "object has been modified" message.
    pub fn modified(subject: Subject) -> Self {
        ApiError::Conflict {
            subject,
            message: "the object has been modified; please apply your changes to the latest version and try again"
                .to_string(),
        }
    }

    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::NotFound(_) | ApiError::NoRoute => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::AlreadyExists(_)
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict { .. } => 409,
            ApiError::Forbidden(_) => 403,
            ApiError::Expired { .. } | ApiError::Gone(_) => 410,
            ApiError::TooLarge(_) => 413,
            ApiError::UnsupportedMediaType(_) => 415,
            ApiError::Invalid { .. } => 422,
            ApiError::TooManyRequests(_) => 429,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
            ApiError::Timeout(_) => 504,
        }
    }

    /// The Status `reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::NotFound(_) | ApiError::NoRoute => "NotFound",
            ApiError::MethodNotAllowed => "MethodNotAllowed",
            ApiError::AlreadyExists(_) => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Forbidden(_) => "Forbidden",
            ApiError::Expired { .. } => "Expired",
            ApiError::Gone(_) => "Gone",
            ApiError::TooLarge(_) => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType(_) => "UnsupportedMediaType",
            ApiError::Invalid { .. } => "Invalid",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::Internal(_) => "InternalError",
            ApiError::Unavailable(_) => "ServiceUnavailable",
            ApiError::Timeout(_) => "Timeout",
        }
    }

    /// The `meta.k8s.io/v1 Status` object for this error.
    pub fn status(&self) -> Value {
        let mut details = serde_json::Map::new();
        let subject = match self {
            ApiError::NotFound(s) | ApiError::AlreadyExists(s) => Some(s),
            ApiError::Conflict { subject, .. }
            | ApiError::ApplyConflict { subject, .. }
            | ApiError::Invalid { subject, .. } => Some(subject),
            _ => None,
        };
        if let Some(s) = subject {
            if !s.name.is_empty() {
                details.insert("name".into(), json!(s.name));
            }
            if !s.group.is_empty() {
                details.insert("group".into(), json!(s.group));
            }
            details.insert("kind".into(), json!(s.kind));
        }
        let causes = match self {
            ApiError::Invalid { causes, .. } | ApiError::ApplyConflict { causes, .. } => {
                causes.as_slice()
            }
            _ => &[],
        };
        if !causes.is_empty() {
            details.insert(
                "causes".into(),
                causes
                    .iter()
                    .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                    .collect(),
            );
        }
        let mut metadata = serde_json::Map::new();
        if let ApiError::Expired {
            continue_token: Some(t),
            ..
        } = self
        {
            metadata.insert("continue".into(), json!(t));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": metadata,
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_message_names_group() {
        let e = ApiError::NotFound(Subject {
            group: "apps".into(),
            kind: "deployments".into(),
            name: "x".into(),
        });
        assert_eq!(e.to_string(), "deployments.apps \"x\" not found");
        let s = e.status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["details"]["group"], "apps");
    }

    #[test]
    fn invalid_lists_causes() {
        let e = ApiError::invalid(
            Subject {
                group: "apps".into(),
                kind: "deployments".into(),
                name: "d".into(),
            },
            "Deployment.apps",
            vec![Cause::new(
                "FieldValueInvalid",
                "spec.replicas",
                "Invalid value: -1: must be greater than or equal to 0",
            )],
        );
        assert_eq!(
            e.to_string(),
            "Deployment.apps \"d\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        assert_eq!(e.status()["details"]["causes"][0]["field"], "spec.replicas");
        assert_eq!(e.code(), 422);
    }
}
