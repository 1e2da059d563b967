//! Integration tests: one binary (see DESIGN.md §5).
