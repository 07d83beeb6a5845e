//! HTTP tests of the simulator.
