// SPDX-License-Identifier: GPL-2.0
//! cakemt's scheduling core: safe, `no_std`, allocation-explicit Rust that knows
//! nothing about the kernel. The module's glue hands it packets and time; host
//! tests hand it their own packet type and a simulated clock.
#![forbid(unsafe_code)]

pub mod alloc;
pub mod packet;
pub mod calendar;
pub mod overhead;
pub mod shaper;
