// SPDX-License-Identifier: GPL-2.0
//! The thin layer between the kernel's C API and cakemt's safe Rust: every
//! `unsafe` of the module lives under here.

pub(crate) mod alloc;
mod bindings;
pub(crate) mod class;
pub(crate) mod netlink;
pub(crate) mod qdisc;
pub(crate) mod skb;
pub(crate) mod uapi;

use kernel::error::Error;

/// `-EOPNOTSUPP`, which the kernel crate has no name for.
pub(crate) fn eopnotsupp() -> Error {
    Error::from_errno(-(bindings::CAKEMT_EOPNOTSUPP as i32))
}

/// `-EMSGSIZE` (a dump's message is full), which the kernel crate has no
/// name for.
pub(crate) fn emsgsize() -> Error {
    Error::from_errno(-(bindings::CAKEMT_EMSGSIZE as i32))
}
