//! Integration tests: one binary (see DESIGN.md §5), all kernel objects in private namespaces.

mod containment;
mod errors;
mod lifecycle;
mod net;
mod processes;
mod repl;
mod scenario;
mod support;
mod traffic;
mod veth;
mod walkthrough;
