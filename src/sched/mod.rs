// SPDX-License-Identifier: GPL-2.0
//! cakemt's scheduling core: safe, `no_std`, allocation-explicit Rust that knows
//! nothing about the kernel. The module's glue hands it packets and time; host
//! tests hand it their own packet type and a simulated clock.
#![cfg_attr(not(test), forbid(unsafe_code))]
// Unit tests share the host helpers, whose prefetch hint needs one
// `unsafe` intrinsic call; nothing else may use it.
#![cfg_attr(test, deny(unsafe_code))]

pub mod ack_filter;
pub mod alloc;
pub mod autorate;
pub mod band;
pub mod burst;
pub mod calendar;
pub mod cobalt;
pub mod diffserv;
pub mod flow_table;
pub mod host_table;
pub mod memlimit;
pub mod overhead;
pub mod packet;
pub mod scheduler;
pub mod shaper;
pub mod shared_settings;
pub mod tcp_ack;
#[cfg(test)]
pub(crate) mod test_support;
pub mod tin;
pub mod tin_drr;
pub mod tin_profile;
pub mod tin_queue;
