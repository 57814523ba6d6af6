// SPDX-License-Identifier: GPL-2.0
//! Raw bindings to the qdisc, sk_buff and netlink API and to `helpers.h`,
//! generated at build time by bindgen with the kernel's own flags (see
//! Kbuild). Only the glue modules beside this one may use them.

#[allow(
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    dead_code,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn
)]
mod generated {
    // The kernel's bindgen_parameters blocklist these to map them by hand.
    type __kernel_size_t = usize;
    type __kernel_ssize_t = isize;
    type __kernel_ptrdiff_t = isize;
    include!("bindings_generated.rs");
}

pub(crate) use generated::*;
