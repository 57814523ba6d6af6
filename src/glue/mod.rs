// SPDX-License-Identifier: GPL-2.0
//! The thin layer between the kernel's C API and cakemt's safe Rust: every
//! `unsafe` of the module lives under here.

mod bindings;
pub(crate) mod netlink;
pub(crate) mod qdisc;
pub(crate) mod skb;

pub(crate) use bindings::{
    TCA_CAKEMT_BASE_RATE64, TCA_CAKEMT_MEMLIMIT, TCA_CAKEMT_PAD, TCA_CAKEMT_STATS_BASE_RATE64,
    TCA_CAKEMT_STATS_DROP_OVERLIMIT, TCA_CAKEMT_STATS_MEMORY_LIMIT, TCA_CAKEMT_STATS_MEMORY_USED,
    TCA_CAKEMT_STATS_PAD, TCA_CAKEMT_STATS_THROTTLED,
};
