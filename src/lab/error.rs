//! The lab's error type: what went wrong in the user's terms, with a hint where one helps.

use nix::errno::Errno;

use crate::engine::EngineError;

/// A lab operation that failed, in the user's terms (the layers above add what would help: `script::hints`).
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// An argument is not valid.
    #[error("invalid {what} {value:?}: {reason}")]
    Invalid {
        /// What the argument is ("link name", "address").
        what: &'static str,
        /// The value given.
        value: String,
        /// Why it is not valid, and what would be.
        reason: String,
    },

    /// No network namespace of this name.
    #[error("namespace {0:?} does not exist")]
    NoSuchNetns(String),

    /// No link of this name in the namespace.
    #[error("link {link:?} does not exist in {ns}")]
    NoSuchLink {
        /// The namespace looked in.
        ns: String,
        /// The link's name.
        link: String,
    },

    /// An object of this name is there already.
    #[error("{what} {name:?} already exists{owner}")]
    Exists {
        /// What kind of object ("namespace", "link", "route").
        what: &'static str,
        /// Its name.
        name: String,
        /// Who holds it, in parentheses (" (on the host, not created by nslab)"), or empty.
        owner: String,
    },

    /// Another VXLAN link created from the same namespace (the underlay, where the UDP sockets
    /// live) already uses this VNI on this UDP port: a different id (or port) is needed.
    #[error("VNI {vni} is taken on UDP port {port} in {underlay}: another vxlan link made from there already uses it; pick another id")]
    VniTaken {
        /// The VXLAN network identifier asked for.
        vni: u32,
        /// The UDP port.
        port: u16,
        /// The underlay namespace, in words (`namespace "u1"`, `the root namespace`).
        underlay: String,
    },

    /// The kernel refused for lack of privilege.
    #[error("permission denied: cannot {op}")]
    PermissionDenied {
        /// What was attempted.
        op: String,
    },

    /// The running kernel lacks a feature the operation needs.
    #[error("cannot {op}: the running kernel has no {feature} support")]
    Unsupported {
        /// What was attempted.
        op: String,
        /// The missing feature.
        feature: String,
    },

    /// The kernel or the system refused for another reason.
    #[error("cannot {op}: {detail}")]
    Failed {
        /// What was attempted.
        op: String,
        /// Why it failed.
        detail: String,
        /// The kernel's errno, when there is one.
        errno: Option<Errno>,
    },

    /// The request cannot be carried out as given; the message says why in full, with what is
    /// there instead or what would work (an address a link does not have, a link that cannot move).
    #[error("{0}")]
    Refused(String),

    /// Ctrl-C or a signal stopped the operation.
    #[error("interrupted")]
    Interrupted,

    /// An operation that was held back (see `lab/holding.rs`) failed when it was carried out;
    /// `ticket` is the one its call got (`Outcome::Held`).
    #[error("{error}")]
    Deferred {
        /// The ticket the held call got.
        ticket: super::holding::Ticket,
        /// What went wrong when it was carried out.
        error: Box<LabError>,
    },
}

impl LabError {
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

    /// The kernel's errno behind the failure, if any.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            LabError::Failed { errno, .. } => *errno,
            LabError::Deferred { error, .. } => error.errno(),
            LabError::VniTaken { .. } => Some(Errno::EEXIST),
            _ => None,
        }
    }
}

/// The lab's result type.
pub type Result<T, E = LabError> = std::result::Result<T, E>;
