//! Integration tests: one binary (see DESIGN.md §5), all kernel objects in private namespaces.

mod bad_inputs;
mod containment;
mod errors;
mod fault_random;
mod fuzz;
mod ledger_trust;
mod lifecycle;
mod limits;
mod net;
mod ownership;
mod processes;
mod repl;
mod sandbox_view;
mod scenario;
mod session;
mod shell;
mod side_by_side;
mod subtests;
mod support;
mod teardown_group;
mod trace;
mod traffic;
mod traffic_full;
mod user_errors;
mod veth;
mod walkthrough;
