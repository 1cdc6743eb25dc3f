//! Integration tests for weft live in tests/tests.
