//! Integration tests: one binary (see DESIGN.md §5), all kernel objects in private namespaces.

mod errors;
mod lifecycle;
mod processes;
mod support;
mod walkthrough;
