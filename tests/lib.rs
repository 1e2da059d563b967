//! Integration tests: one binary (see DESIGN.md §5), all kernel objects in private namespaces.

mod net;
mod repl;
mod support;
mod veth;
mod walkthrough;
