// SPDX-License-Identifier: GPL-2.0
//! Host build of cakemt's scheduling core.
//!
//! The kernel module (`cakemt.rs`) compiles the very same `sched` module; this
//! root only exists so that `cargo test`, `cargo bench` and `cargo fuzz` can
//! drive it on the host. The lints mirror the kernel's `rust_common_flags` so
//! code that is clean here is clean in Kbuild too.
#![no_std]
#![warn(missing_docs, unreachable_pub, rust_2018_idioms)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod sched;
