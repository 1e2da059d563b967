//! The lab's error type: what went wrong in the user's terms, with a hint where one helps.

use nix::errno::Errno;

use crate::engine::EngineError;

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid { what: &'static str, value: String, reason: String },

    #[error("namespace {0:?} does not exist")]
    NoSuchNetns(String),

    #[error("link {link:?} does not exist in {ns}")]
    NoSuchLink { ns: String, link: String },

    #[error("{what} {name:?} already exists{owner}")]
    Exists { what: &'static str, name: String, owner: String },

    #[error("permission denied: cannot {op}")]
    PermissionDenied { op: String },

    #[error("cannot {op}: the running kernel has no {feature} support")]
    Unsupported { op: String, feature: String },

    #[error("cannot {op}: {detail}")]
    Failed { op: String, detail: String, errno: Option<Errno> },

    /// The request cannot be carried out as given; the message says why in full, with what is
    /// there instead or what would work (an address a link does not have, a link that cannot move).
    #[error("{0}")]
    Refused(String),

    #[error("interrupted")]
    Interrupted,

    /// An operation that was held back (see `lab/holding.rs`) failed when it was carried out;
    /// `ticket` is the one its call got (`Outcome::Held`).
    #[error("{error}")]
    Deferred { ticket: super::holding::Ticket, error: Box<LabError> },
}

impl LabError {
    pub fn hint(&self) -> Option<String> {
        match self {
            LabError::Deferred { error, .. } => error.hint(),
            LabError::PermissionDenied { .. } => Some(
                "changing network namespaces needs CAP_NET_ADMIN: run as root, or run with --sandbox \
                 to work in a private namespace"
                    .into(),
            ),
            LabError::NoSuchNetns(name) => {
                Some(format!("create it first with netns_add({name:?}); netns_list() shows the ones that exist"))
            }
            LabError::NoSuchLink { .. } => {
                Some("links(ns) lists the links a namespace has; a link moved with move_to is found in its new namespace".into())
            }
            LabError::Exists { what: "link", .. } => {
                Some("a namespace holds one link of each name: pick another name, or rename the one there first".into())
            }
            LabError::Exists { what: "route", .. } => Some(
                "the kernel keeps one route per destination and metric: remove that one with route_del, or give this \
                 one another metric (#{via, metric})"
                    .into(),
            ),
            LabError::Exists { what: "namespace", .. } => {
                Some("pick another name, or use netns(name) to work with the existing one".into())
            }
            LabError::Unsupported { .. } => Some("this kernel was built without that feature and cannot load modules".into()),
            _ => None,
        }
    }

    /// Wraps an engine failure with the operation in the user's words. Errnos with a well-known
    /// meaning become specific errors.
    pub fn from_engine(op: impl Into<String>, err: EngineError) -> LabError {
        let op = op.into();
        // Out of descriptors: say which limit and how to raise it (a big lab meets it first).
        if let Some(detail) = err.code().and_then(crate::engine::limits::exhausted) {
            return LabError::Failed { op, detail, errno: err.code() };
        }
        match err.code() {
            Some(Errno::EPERM) | Some(Errno::EACCES) => LabError::PermissionDenied { op },
            Some(Errno::EOPNOTSUPP) => {
                LabError::Failed { op, detail: "the running kernel does not support this".into(), errno: Some(Errno::EOPNOTSUPP) }
            }
            code => LabError::Failed { op, detail: err.cause.to_string(), errno: code },
        }
    }

    pub fn errno(&self) -> Option<Errno> {
        match self {
            LabError::Failed { errno, .. } => *errno,
            LabError::Deferred { error, .. } => error.errno(),
            _ => None,
        }
    }
}

pub type Result<T, E = LabError> = std::result::Result<T, E>;
