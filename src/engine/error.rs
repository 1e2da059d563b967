//! The engine's one error type: what was attempted and the errno or message the kernel gave.

use nix::errno::Errno;

/// A failed kernel operation: what was attempted and why it failed.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {cause}")]
pub struct EngineError {
    /// What was attempted, in words ("create namespace netns1").
    pub op: String,
    /// Why it failed: the kernel's errno, or a message.
    pub cause: Cause,
}

#[derive(Debug, thiserror::Error)]
pub enum Cause {
    #[error("{}", errno_text(*.0))]
    Errno(Errno),
    #[error("{0}")]
    Message(String),
}

/// The C library's words for an errno ("File exists"), which users recognise from `ip`.
pub fn errno_text(errno: Errno) -> String {
    errno.desc().to_string()
}

impl EngineError {
    /// A failure the kernel reported as an errno.
    pub fn errno(op: impl Into<String>, errno: Errno) -> Self {
        EngineError { op: op.into(), cause: Cause::Errno(errno) }
    }

    /// A failure described in words (no errno).
    pub fn message(op: impl Into<String>, msg: impl Into<String>) -> Self {
        EngineError { op: op.into(), cause: Cause::Message(msg.into()) }
    }

    /// From an I/O error: its errno when it has one, else its message.
    pub fn io(op: impl Into<String>, err: std::io::Error) -> Self {
        match err.raw_os_error() {
            Some(code) => Self::errno(op, Errno::from_raw(code)),
            None => Self::message(op, err.to_string()),
        }
    }

    /// The kernel's errno, when the failure came from a system call or netlink.
    pub fn code(&self) -> Option<Errno> {
        match self.cause {
            Cause::Errno(e) => Some(e),
            Cause::Message(_) => None,
        }
    }

    /// From a netlink error: the errno the kernel answered with, else the error's message.
    pub fn from_netlink(op: impl Into<String>, err: rtnetlink::Error) -> Self {
        match &err {
            rtnetlink::Error::NetlinkError(msg) => match msg.code {
                Some(code) => Self::errno(op, Errno::from_raw(-code.get())),
                None => Self::message(op, err.to_string()),
            },
            _ => Self::message(op, err.to_string()),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
