// SPDX-License-Identifier: GPL-2.0
//! A qdisc's classes in safe Rust: [`Classes`] says what a scheduler with a
//! fixed set of numbered classes implements, [`ClassAdapter`] fills the
//! `struct Qdisc_class_ops` callbacks, as sch_drr.c and sch_htb.c do for
//! theirs. Classes are `1..=classes()`, fixed by the qdisc's configuration:
//! they hold no child qdisc, cannot be added or deleted on their own, and
//! take no filters of their own (filters attach to the qdisc).
//!
//! Every class op runs under RTNL. Dumps take the tree lock once per class,
//! never across a whole walk, so a dump of 65,535 classes never holds the
//! data path up for more than one class's copy.

use super::bindings as b;
use super::netlink::{dump_xstats, ClassOptions, ExtAck, NlWriter};
use super::qdisc::{Adapter, Qdisc};
use core::ffi::c_ulong;
use core::marker::PhantomData;
use core::ptr;
use kernel::error::from_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// What a qdisc with numbered classes implements, beyond [`Qdisc`].
pub(crate) trait Classes: Qdisc {
    /// A validated class change, not yet applied.
    type ClassChange;
    /// A snapshot of one class, taken under the lock, dumped after.
    type ClassStats;

    /// Number of classes: `1..=classes` exist.
    fn classes(ctrl: &Self::Control) -> u32;
    /// Validates `tc class change` of class `cl` (which exists).
    fn class_prepare(
        ctrl: &Self::Control,
        cl: u32,
        opts: &ClassOptions<'_>,
        ext: &mut ExtAck,
    ) -> Result<Self::ClassChange>;
    /// Why a validated change found it cannot be applied after all: what
    /// only the qdisc's state under the lock can tell.
    type ClassRefusal;
    /// Applies it under the qdisc lock, all or nothing: a refusal changes
    /// nothing. It allocates nothing.
    fn class_apply(
        &mut self,
        ctrl: &Self::Control,
        cl: u32,
        change: Self::ClassChange,
    ) -> core::result::Result<(), Self::ClassRefusal>;
    /// The error and extack message of a refusal (after the lock).
    fn class_refused(refusal: Self::ClassRefusal, ext: &mut ExtAck) -> Error;
    /// Copies class `cl`'s settings and statistics (under the tree lock).
    fn class_stats(&self, cl: u32) -> Option<Self::ClassStats>;
    /// Writes class `cl`'s `TCA_OPTIONS` content from a snapshot.
    fn class_dump(ctrl: &Self::Control, stats: &Self::ClassStats, out: &mut NlWriter) -> Result;
    /// The basic counters every class reports (`tc -s class show`).
    fn class_basic(stats: &Self::ClassStats) -> ClassBasic;
    /// Writes the class's `TCA_STATS_APP` content from a snapshot.
    fn class_dump_stats(stats: &Self::ClassStats, out: &mut NlWriter) -> Result;
}

/// A class's basic and queue statistics.
pub(crate) struct ClassBasic {
    /// Bytes sent.
    pub(crate) bytes: u64,
    /// Packets sent.
    pub(crate) packets: u64,
    /// Packets dropped (wrapping, as the kernel's u32 field).
    pub(crate) drops: u32,
    /// Times the class was held back by its rate.
    pub(crate) overlimits: u32,
    /// Packets queued.
    pub(crate) qlen: u32,
    /// Bytes queued.
    pub(crate) backlog: u32,
}

/// Fills `struct Qdisc_class_ops` for `T`.
pub(crate) struct ClassAdapter<T: Classes>(PhantomData<T>);

impl<T: Classes> ClassAdapter<T> {
    /// The class ops table for `T`.
    pub(crate) const fn ops() -> b::Qdisc_class_ops {
        // SAFETY: `Qdisc_class_ops` is plain data: all-zeroes is a valid
        // "no callback" value.
        let mut ops: b::Qdisc_class_ops = unsafe { core::mem::zeroed() };
        ops.graft = Some(Self::graft_callback);
        ops.leaf = Some(Self::leaf_callback);
        ops.find = Some(Self::find_callback);
        ops.change = Some(Self::change_callback);
        ops.delete = Some(Self::delete_callback);
        ops.walk = Some(Self::walk_callback);
        ops.tcf_block = Some(Self::tcf_block_callback);
        ops.bind_tcf = Some(Self::bind_tcf_callback);
        ops.unbind_tcf = Some(Self::unbind_tcf_callback);
        ops.dump = Some(Self::dump_callback);
        ops.dump_stats = Some(Self::dump_stats_callback);
        ops
    }

    /// Class number `cl` if it exists (RTNL held by the caller).
    ///
    /// # Safety
    /// `sch` is a qdisc of `T`, and the caller holds RTNL.
    unsafe fn existing(sch: *mut b::Qdisc, cl: c_ulong) -> Option<u32> {
        // SAFETY: forwarded contract.
        let ctrl = unsafe { Adapter::<T>::control(sch) }?;
        let cl = u32::try_from(cl).ok()?;
        (1..=T::classes(ctrl)).contains(&cl).then_some(cl)
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::find`, under RTNL.
    unsafe extern "C" fn find_callback(sch: *mut b::Qdisc, classid: u32) -> c_ulong {
        // SAFETY: `sch` is our qdisc.
        let handle = unsafe { b::cakemt_qdisc_handle(sch) };
        if classid & 0xFFFF_0000 != handle & 0xFFFF_0000 {
            return 0;
        }
        // SAFETY: `sch` is our qdisc and RTNL is held.
        unsafe { Self::existing(sch, (classid & 0xFFFF) as c_ulong) }.map_or(0, |cl| cl as c_ulong)
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::graft`, under RTNL.
    unsafe extern "C" fn graft_callback(
        _sch: *mut b::Qdisc,
        _cl: c_ulong,
        _new: *mut b::Qdisc,
        _old: *mut *mut b::Qdisc,
        extack: *mut b::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `extack` comes from the kernel for this call.
        let mut ext = unsafe { ExtAck::from_raw(extack) };
        let e = ext.fail(
            super::eopnotsupp(),
            None,
            format_args!("cakemt: tins hold no child qdisc (CAKE's queueing is built in)"),
        );
        e.to_errno()
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::leaf`, under RTNL.
    unsafe extern "C" fn leaf_callback(_sch: *mut b::Qdisc, _cl: c_ulong) -> *mut b::Qdisc {
        ptr::null_mut()
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::change`, under RTNL.
    unsafe extern "C" fn change_callback(
        sch: *mut b::Qdisc,
        classid: u32,
        _parentid: u32,
        tca: *mut *mut b::nlattr,
        arg: *mut c_ulong,
        extack: *mut b::netlink_ext_ack,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `extack` comes from the kernel for this call.
            let mut ext = unsafe { ExtAck::from_raw(extack) };
            // SAFETY: `arg` points to the class the kernel found (0: none).
            let found = unsafe { arg.as_ref() }.copied().unwrap_or(0);
            // SAFETY: `sch` is our qdisc and RTNL is held.
            let Some(cl) = (unsafe { Self::existing(sch, found) }) else {
                // SAFETY: as above.
                let tins = unsafe { Adapter::<T>::control(sch) }.map_or(0, |c| T::classes(c));
                return Err(ext.invalid(
                    None,
                    format_args!(
                        "cakemt: no tin {} (tins {}); tins come from the qdisc's tins",
                        classid & 0xFFFF,
                        tins
                    ),
                ));
            };
            // SAFETY: `tca` is the request's attribute table, valid for
            // this call; its TCA_OPTIONS entry is null or a nested attribute.
            let opts = unsafe {
                let opt = b::cakemt_tca_options(tca);
                ClassOptions::parse(opt, &mut ext)?
            };
            // SAFETY: `sch` is our qdisc and RTNL is held.
            let ctrl = unsafe { Adapter::<T>::control(sch) }.ok_or(EINVAL)?;
            let change = T::class_prepare(ctrl, cl, &opts, &mut ext)?;
            // SAFETY: as above.
            let applied = unsafe {
                Adapter::<T>::with_tree_lock(sch, |inst| match inst {
                    Some(inst) => inst.qdisc.class_apply(ctrl, cl, change),
                    None => Ok(()),
                })
            };
            applied.map_err(|r| T::class_refused(r, &mut ext))?;
            Ok(0)
        })
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::delete`, under RTNL.
    unsafe extern "C" fn delete_callback(
        _sch: *mut b::Qdisc,
        _cl: c_ulong,
        extack: *mut b::netlink_ext_ack,
    ) -> c_int {
        // SAFETY: `extack` comes from the kernel for this call.
        let mut ext = unsafe { ExtAck::from_raw(extack) };
        let e = ext.fail(
            super::eopnotsupp(),
            None,
            format_args!("cakemt: a tin cannot be deleted; lower the qdisc's tins"),
        );
        e.to_errno()
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::walk`, under RTNL.
    unsafe extern "C" fn walk_callback(sch: *mut b::Qdisc, arg: *mut b::qdisc_walker) {
        // SAFETY: `sch` is our qdisc and RTNL is held.
        let Some(ctrl) = (unsafe { Adapter::<T>::control(sch) }) else {
            return;
        };
        // SAFETY: `arg` is the kernel's walker for this call.
        unsafe { b::cakemt_walk(sch, arg, T::classes(ctrl)) };
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::tcf_block`, under RTNL.
    unsafe extern "C" fn tcf_block_callback(
        sch: *mut b::Qdisc,
        cl: c_ulong,
        extack: *mut b::netlink_ext_ack,
    ) -> *mut b::tcf_block {
        if cl != 0 {
            // SAFETY: `extack` comes from the kernel for this call.
            let mut ext = unsafe { ExtAck::from_raw(extack) };
            ext.invalid(
                None,
                format_args!("cakemt: filters attach to the qdisc (parent 1:), not to a tin"),
            );
            return ptr::null_mut();
        }
        // SAFETY: `sch` is our qdisc; the block was set up in init.
        unsafe { b::cakemt_block(sch) }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::bind_tcf`, under RTNL.
    unsafe extern "C" fn bind_tcf_callback(
        sch: *mut b::Qdisc,
        _parent: c_ulong,
        classid: u32,
    ) -> c_ulong {
        // SAFETY: forwarded contract.
        unsafe { Self::find_callback(sch, classid) }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::unbind_tcf`, under RTNL.
    unsafe extern "C" fn unbind_tcf_callback(_sch: *mut b::Qdisc, _cl: c_ulong) {}

    /// Class `cl`'s snapshot, taken under the tree lock.
    ///
    /// # Safety
    /// `sch` is a qdisc of `T`, and the caller holds RTNL.
    unsafe fn snapshot(sch: *mut b::Qdisc, cl: c_ulong) -> Option<(u32, T::ClassStats)> {
        // SAFETY: forwarded contract.
        let cl = unsafe { Self::existing(sch, cl) }?;
        // SAFETY: as above.
        let stats = unsafe {
            Adapter::<T>::with_tree_lock(sch, |inst| inst.and_then(|i| i.qdisc.class_stats(cl)))
        }?;
        Some((cl, stats))
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::dump`, under RTNL.
    unsafe extern "C" fn dump_callback(
        sch: *mut b::Qdisc,
        cl: c_ulong,
        skb: *mut b::sk_buff,
        tcm: *mut b::tcmsg,
    ) -> c_int {
        // SAFETY: `sch` is our qdisc and RTNL is held.
        let Some((cl, stats)) = (unsafe { Self::snapshot(sch, cl) }) else {
            return -1;
        };
        // SAFETY: as above; `tcm` is the message header being filled.
        unsafe {
            let handle = b::cakemt_qdisc_handle(sch);
            b::cakemt_class_set_handle(tcm, (handle & 0xFFFF_0000) | cl);
        }
        // SAFETY: `sch` is our qdisc and RTNL is held.
        let Some(ctrl) = (unsafe { Adapter::<T>::control(sch) }) else {
            return -1;
        };
        // SAFETY: `skb` is the message being built for this dump.
        let mut out = unsafe { NlWriter::from_raw(skb) };
        out.nested(b::TCA_OPTIONS, |out| T::class_dump(ctrl, &stats, out))
            .unwrap_or(-1)
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_class_ops::dump_stats`, under RTNL.
    unsafe extern "C" fn dump_stats_callback(
        sch: *mut b::Qdisc,
        cl: c_ulong,
        d: *mut b::gnet_dump,
    ) -> c_int {
        // SAFETY: `sch` is our qdisc and RTNL is held.
        let Some((_, stats)) = (unsafe { Self::snapshot(sch, cl) }) else {
            return -1;
        };
        let basic = T::class_basic(&stats);
        // SAFETY: `d` is the stats dump in progress, ours for this call.
        let err = unsafe {
            b::cakemt_class_dump_stats(
                d,
                basic.bytes,
                basic.packets,
                basic.drops,
                basic.overlimits,
                basic.qlen,
                basic.backlog,
            )
        };
        if err < 0 {
            return -1;
        }
        // SAFETY: `d` is the stats dump the kernel passed to this callback.
        unsafe { dump_xstats(d, |out| T::class_dump_stats(&stats, out)) }
    }
}

/// A `Qdisc_class_ops` the qdisc's ops table points to (never written
/// after construction: the kernel only reads it).
pub(crate) struct ClassOpsTable(b::Qdisc_class_ops);

impl ClassOpsTable {
    /// Wraps a table built by [`ClassAdapter::ops`].
    pub(crate) const fn new(ops: b::Qdisc_class_ops) -> Self {
        Self(ops)
    }

    /// The table as the kernel takes it.
    pub(crate) fn as_ptr(&'static self) -> *const b::Qdisc_class_ops {
        &self.0
    }
}
