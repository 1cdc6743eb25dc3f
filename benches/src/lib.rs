//! Benchmarks for weft live in benches/benches.
