//! Integration tests: one binary (see DESIGN.md §5), all kernel objects in private namespaces.

mod support;
mod traffic;
mod walkthrough;
