//! Shared helpers for the scenario and simulation tests.
