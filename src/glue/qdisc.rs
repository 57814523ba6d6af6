// SPDX-License-Identifier: GPL-2.0
//! A qdisc in safe Rust: the [`Qdisc`] trait says what a scheduler
//! implements, [`Adapter`] turns it into the `struct Qdisc_ops` callbacks the
//! kernel calls, and [`Registration`] registers it for the module's lifetime.
//!
//! The adapter, not the scheduler, owns the qdisc's `qlen`/`backlog`
//! accounting: a packet is counted in when it is handed to
//! [`Qdisc::enqueue`], out when [`Qdisc::dequeue`] returns it, and a packet
//! dropped after it was counted goes through [`EnqueueCtx::drop_queued`] or
//! [`DequeueCtx::drop_queued`], which count it out and tell the parents
//! (`qdisc_tree_reduce_backlog`, once per callback, as sch_cake does). A
//! scheduler built on top cannot get qlen wrong, whatever it drops when.
//!
//! Locking is the kernel's: enqueue, dequeue and reset run under the qdisc
//! lock; init and destroy own the qdisc; change and the dumps run under RTNL
//! only. So the state is split: the scheduler's `Control` (its configuration,
//! read and written only under RTNL) and the scheduler itself (touched under
//! the qdisc lock; change and the dumps take the tree lock to reach it). A
//! change is prepared (validated, memory allocated) before the lock is
//! taken, applied under it, and what it replaced is freed after.

use super::bindings as b;
use super::netlink::{dump_xstats, ExtAck, NlWriter, Options};
use super::skb::SkBuff;
use crate::sched::packet::Packet;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::error::from_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// Longest qdisc name the kernel keeps (`IFNAMSIZ` minus the NUL).
const MAX_NAME_LEN: usize = 15;

/// What a scheduler implements to become a qdisc.
pub(crate) trait Qdisc: Sized {
    /// The name `tc qdisc add ... NAME` uses (at most 15 bytes: longer
    /// fails to compile).
    const NAME: &'static [u8];
    /// The configuration in force, kept under RTNL.
    type Control;
    /// A validated change with its memory prepared, not yet applied.
    type Change;
    /// Where [`Qdisc::classify`] put a packet.
    type Class: Copy;
    /// A snapshot of the statistics, taken under the lock, dumped after.
    type Stats;

    /// A new instance (`tc qdisc add`). Runs before the qdisc is visible
    /// to the data path; errors carry an extack message.
    fn init(opts: &Options<'_>, ext: &mut ExtAck) -> Result<(Self::Control, Self)>;
    /// Validates a `tc qdisc change` and prepares it (allocations happen
    /// here, without the qdisc lock). Nothing is changed yet.
    fn prepare(ctrl: &Self::Control, opts: &Options<'_>, ext: &mut ExtAck) -> Result<Self::Change>;
    /// Applies a prepared change under the qdisc lock; cannot fail. What
    /// `change` holds afterwards (the memory it replaced) is dropped once
    /// the lock is released.
    fn apply(&mut self, ctrl: &mut Self::Control, change: &mut Self::Change);
    /// Decides where `skb` goes, before it is counted in.
    fn classify(&mut self, q: &mut EnqueueCtx<'_>, skb: &mut SkBuff) -> Classified<Self::Class>;
    /// Should a GSO packet going to `class` be split into its segments?
    fn split_gso(&self, class: Self::Class) -> bool;
    /// Takes a packet (already counted in qlen and backlog). Packets it
    /// drops, this one or earlier ones, go through `q.drop_queued`.
    fn enqueue(&mut self, q: &mut EnqueueCtx<'_>, class: Self::Class, skb: SkBuff) -> Verdict;
    /// Gives the next packet to send, or arms the watchdog and gives none.
    fn dequeue(&mut self, q: &mut DequeueCtx<'_>) -> Option<SkBuff>;
    /// Drops every queued packet through `q` (the kernel zeroes qlen and
    /// backlog after).
    fn reset(&mut self, q: &mut ResetCtx<'_>);
    /// Writes the configuration into `TCA_OPTIONS` (under RTNL).
    fn dump(ctrl: &Self::Control, out: &mut NlWriter) -> Result;
    /// Copies the statistics (under the tree lock: keep it short).
    fn stats(&self) -> Self::Stats;
    /// Writes a statistics snapshot into `TCA_STATS_APP`.
    fn dump_stats(
        ctrl: &Self::Control,
        stats: &Self::Stats,
        counters: &Counters,
        out: &mut NlWriter,
    ) -> Result;
}

/// Where a packet goes, as [`Qdisc::classify`] decided.
pub(crate) enum Classified<C> {
    /// To this class of the scheduler.
    To(C),
    /// A filter action dropped it.
    Shot,
    /// A filter action took it over (stolen, queued, trap).
    Stolen,
}

/// What became of an enqueued packet.
pub(crate) enum Verdict {
    /// Queued.
    Queued,
    /// Queued, but the packet's own flow was cut to make room
    /// (`NET_XMIT_CN`, as sch_cake).
    QueuedOwnFlowCut,
    /// Dropped (through [`EnqueueCtx::drop_queued`]).
    Dropped,
}

/// What the filters attached to the qdisc said of a packet.
pub(crate) enum Filtered {
    /// No filter, or none matched.
    Nothing,
    /// A filter named this class id.
    Class(u32),
    /// An action dropped it.
    Shot,
    /// An action took it over.
    Stolen,
}

/// Counters the adapter keeps for every qdisc: with the kernel's own
/// `bstats`/`qstats` they give the identity
/// `received = sent + dropped + stolen + qlen`.
#[derive(Default, Clone, Copy)]
pub(crate) struct Counters {
    /// Packets that entered enqueue (GSO segments counted one by one).
    pub(crate) received: u64,
    /// Packets a filter action took over.
    pub(crate) stolen: u64,
}

/// The qdisc during `enqueue`: filters, accounting and drops.
pub(crate) struct EnqueueCtx<'a> {
    sch: *mut b::Qdisc,
    to_free: *mut *mut b::sk_buff,
    counters: &'a mut Counters,
    /// Change of qlen and backlog in this call, for the parents.
    qlen_delta: i64,
    backlog_delta: i64,
}

impl EnqueueCtx<'_> {
    /// The qdisc's handle.
    pub(crate) fn handle(&self) -> u32 {
        // SAFETY: `sch` is the qdisc being called.
        unsafe { b::cakemt_qdisc_handle(self.sch) }
    }

    /// Runs the filters attached to the qdisc on `skb` (their actions may
    /// change it: skbedit, for one).
    pub(crate) fn filter(&mut self, skb: &mut SkBuff) -> Filtered {
        let mut classid = 0u32;
        // SAFETY: `sch` is our qdisc, in its enqueue (RCU-bh read side, as
        // tcf_classify needs); we own `skb`.
        let r = unsafe { b::cakemt_classify(self.sch, skb.as_ptr(), &mut classid) };
        match r {
            b::cakemt_cls_result_CAKEMT_CLS_CLASS => Filtered::Class(classid),
            b::cakemt_cls_result_CAKEMT_CLS_SHOT => Filtered::Shot,
            b::cakemt_cls_result_CAKEMT_CLS_STOLEN => Filtered::Stolen,
            _ => Filtered::Nothing,
        }
    }

    /// Counts `skb` into qlen and backlog (done by the adapter before the
    /// scheduler sees it).
    fn count_in(&mut self, skb: &SkBuff) {
        // SAFETY: `sch` is the qdisc being called, locked by the kernel for
        // the duration of enqueue; `skb` is a valid packet.
        unsafe { b::cakemt_qdisc_count_in(self.sch, skb.as_ptr()) };
        self.counters.received = self.counters.received.wrapping_add(1);
        self.qlen_delta = self.qlen_delta.wrapping_add(1);
        self.backlog_delta = self.backlog_delta.wrapping_add(i64::from(skb.len()));
    }

    /// Drops a packet counted in earlier (this one or one queued before),
    /// counting it out and as a drop. Its kernel drop reason is
    /// `SKB_DROP_REASON_QDISC_DROP`, Linux 6.12's only one for qdiscs; the
    /// scheduler's own statistics say which of its reasons it was.
    pub(crate) fn drop_queued(&mut self, skb: SkBuff) {
        self.qlen_delta = self.qlen_delta.wrapping_sub(1);
        self.backlog_delta = self.backlog_delta.wrapping_sub(i64::from(skb.len()));
        // SAFETY: as in `count_in`; `to_free` is the list the kernel passed
        // to enqueue, and ownership of the packet moves onto it.
        unsafe { b::cakemt_qdisc_drop_queued(self.sch, skb.into_raw(), self.to_free) };
    }

    /// Drops a packet never counted in; `count` makes it a drop in the stats.
    fn drop_new(&mut self, skb: SkBuff, count: bool) {
        self.counters.received = self.counters.received.wrapping_add(1);
        // SAFETY: as in `drop_queued`.
        unsafe { b::cakemt_qdisc_drop_new(self.sch, skb.into_raw(), self.to_free, count) };
    }
}

/// The qdisc during `dequeue`: accounting, drops and the watchdog timer.
pub(crate) struct DequeueCtx<'a> {
    sch: *mut b::Qdisc,
    watchdog: *mut b::qdisc_watchdog,
    dropped: i32,
    dropped_bytes: i32,
    _cb: PhantomData<&'a mut b::Qdisc>,
}

impl DequeueCtx<'_> {
    /// Drops a queued packet, counting it out and as a drop (reason as in
    /// [`EnqueueCtx::drop_queued`]); the parents hear of it at the end of
    /// the call.
    pub(crate) fn drop_queued(&mut self, skb: SkBuff) {
        self.dropped = self.dropped.saturating_add(1);
        self.dropped_bytes = self
            .dropped_bytes
            .saturating_add(i32::try_from(skb.len()).unwrap_or(i32::MAX));
        // SAFETY: `sch` is the qdisc being called, locked by the kernel for
        // the duration of dequeue; the packet is ours and freed at once.
        unsafe { b::cakemt_qdisc_drop_queued(self.sch, skb.into_raw(), ptr::null_mut()) };
    }

    /// Counts a dequeue the shaper held back in the qdisc's `overlimits`,
    /// as CAKE, HTB and TBF do.
    pub(crate) fn overlimit(&mut self) {
        // SAFETY: `sch` is the qdisc being called, locked by the kernel.
        unsafe { b::cakemt_qdisc_overlimit(self.sch) }
    }

    /// Asks to be dequeued again at `ns` (CLOCK_MONOTONIC).
    pub(crate) fn wake_at(&mut self, ns: u64) {
        // SAFETY: the watchdog lives in this qdisc's private area and was
        // initialised in `init`.
        unsafe { b::cakemt_watchdog_schedule(self.watchdog, ns) }
    }
}

/// The qdisc during `reset`.
pub(crate) struct ResetCtx<'a> {
    sch: *mut b::Qdisc,
    _cb: PhantomData<&'a mut b::Qdisc>,
}

impl ResetCtx<'_> {
    /// Frees a queued packet, counted as a drop (the kernel zeroes qlen
    /// and backlog after the reset).
    pub(crate) fn drop(&mut self, skb: SkBuff) {
        // SAFETY: `sch` is the qdisc being reset, under its lock; the packet
        // is counted in qlen, which the kernel clears afterwards anyway.
        unsafe { b::cakemt_qdisc_drop_queued(self.sch, skb.into_raw(), ptr::null_mut()) };
    }
}

/// Current CLOCK_MONOTONIC time in nanoseconds.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: ktime_get_ns has no preconditions.
    unsafe { b::cakemt_now_ns() }
}

/// A random u32 (seeds for hashing).
pub(crate) fn random_u32() -> u32 {
    // SAFETY: get_random_u32 has no preconditions.
    unsafe { b::cakemt_random_u32() }
}

/// The scheduler and the adapter's counters, behind `cakemt_priv::state`.
pub(crate) struct Instance<T> {
    pub(crate) counters: Counters,
    pub(crate) qdisc: T,
}

/// Fills `struct Qdisc_ops` for `T`.
pub(crate) struct Adapter<T: Qdisc>(PhantomData<T>);

impl<T: Qdisc> Adapter<T> {
    /// The ops table for `T`; `owner` and `cl_ops` are set at registration.
    pub(crate) const fn ops() -> b::Qdisc_ops {
        let name = T::NAME;
        assert!(
            name.len() <= MAX_NAME_LEN,
            "qdisc names have at most 15 bytes"
        );
        // SAFETY: `Qdisc_ops` is plain data (pointers, integers, optional
        // function pointers): all-zeroes is a valid "no callback" value.
        let mut ops: b::Qdisc_ops = unsafe { core::mem::zeroed() };
        let mut i = 0;
        while i < name.len() {
            ops.id[i] = name[i] as _;
            i += 1;
        }
        ops.priv_size = core::mem::size_of::<b::cakemt_priv>() as c_int;
        ops.enqueue = Some(Self::enqueue_callback);
        ops.dequeue = Some(Self::dequeue_callback);
        ops.peek = Some(b::cakemt_qdisc_peek);
        ops.init = Some(Self::init_callback);
        ops.reset = Some(Self::reset_callback);
        ops.destroy = Some(Self::destroy_callback);
        ops.change = Some(Self::change_callback);
        ops.dump = Some(Self::dump_callback);
        ops.dump_stats = Some(Self::dump_stats_callback);
        ops
    }

    /// The instance behind `sch`, if `init` got far enough to create it.
    ///
    /// # Safety
    /// `sch` is a qdisc of these ops, and the caller has exclusive access to
    /// its state for the returned lifetime (qdisc lock, tree lock, or
    /// init/destroy).
    pub(crate) unsafe fn instance<'a>(sch: *mut b::Qdisc) -> Option<&'a mut Instance<T>> {
        // SAFETY: `sch` has a `cakemt_priv` private area (priv_size above);
        // `state` is null or a `KBox<Instance<T>>` leaked in `init_callback`.
        unsafe { (*b::cakemt_priv(sch)).state.cast::<Instance<T>>().as_mut() }
    }

    /// The configuration behind `sch`, if `init` got far enough.
    ///
    /// # Safety
    /// `sch` is a qdisc of these ops and the caller holds RTNL (or owns the
    /// qdisc, in init/destroy), which serialises every user of `control`.
    pub(crate) unsafe fn control<'a>(sch: *mut b::Qdisc) -> Option<&'a mut T::Control> {
        // SAFETY: as in `instance`, for the `KBox<T::Control>` of `control`.
        unsafe { (*b::cakemt_priv(sch)).control.cast::<T::Control>().as_mut() }
    }

    /// Runs `f` on the scheduler with the tree lock held.
    ///
    /// # Safety
    /// `sch` is a qdisc of these ops, called under RTNL (change, dump).
    pub(crate) unsafe fn with_tree_lock<R>(
        sch: *mut b::Qdisc,
        f: impl FnOnce(Option<&mut Instance<T>>) -> R,
    ) -> R {
        // SAFETY: `sch` is valid; the tree lock serialises us against the
        // data path, so the state reference is exclusive while it is held.
        unsafe {
            b::cakemt_tree_lock(sch);
            let r = f(Self::instance(sch));
            b::cakemt_tree_unlock(sch);
            r
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::init`.
    unsafe extern "C" fn init_callback(
        sch: *mut b::Qdisc,
        opt: *mut b::nlattr,
        extack: *mut b::netlink_ext_ack,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `sch` is a new qdisc of these ops with a zeroed private
            // area that nothing else uses yet; the watchdog is set up first so
            // that `destroy`, which the kernel calls when init fails, can
            // always cancel it (the other fields are zero: nothing to free).
            let priv_ = unsafe {
                let p = b::cakemt_priv(sch);
                b::qdisc_watchdog_init(&mut (*p).watchdog, sch);
                p
            };
            // SAFETY: `opt` and `extack` come from the kernel for this call.
            let (opts, mut ext) = unsafe {
                let mut ext = ExtAck::from_raw(extack);
                (Options::parse(opt, &mut ext)?, ext)
            };
            // SAFETY: `sch` is our qdisc, in init; `extack` as above.
            let err = unsafe { b::cakemt_block_get(sch, extack) };
            if err < 0 {
                return Err(Error::from_errno(err));
            }
            let (ctrl, qdisc) = T::init(&opts, &mut ext)?;
            let ctrl = KBox::new(ctrl, GFP_KERNEL)?;
            let state = KBox::new(
                Instance {
                    counters: Counters::default(),
                    qdisc,
                },
                GFP_KERNEL,
            )?;
            // SAFETY: as above; both boxes are reclaimed in `destroy_callback`.
            unsafe {
                (*priv_).control = KBox::into_raw(ctrl).cast();
                (*priv_).state = KBox::into_raw(state).cast();
            }
            Ok(0)
        })
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::change`, under RTNL.
    unsafe extern "C" fn change_callback(
        sch: *mut b::Qdisc,
        opt: *mut b::nlattr,
        extack: *mut b::netlink_ext_ack,
    ) -> c_int {
        from_result(|| {
            // SAFETY: `opt` and `extack` come from the kernel for this call.
            let (opts, mut ext) = unsafe {
                let mut ext = ExtAck::from_raw(extack);
                (Options::parse(opt, &mut ext)?, ext)
            };
            // SAFETY: `sch` is our qdisc and we hold RTNL.
            let ctrl = unsafe { Self::control(sch) }.ok_or(EINVAL)?;
            let mut change = T::prepare(ctrl, &opts, &mut ext)?;
            // SAFETY: as above.
            unsafe {
                Self::with_tree_lock(sch, |inst| {
                    if let Some(inst) = inst {
                        inst.qdisc.apply(ctrl, &mut change);
                    }
                })
            };
            // What the change replaced is freed here, outside the lock.
            drop(change);
            Ok(0)
        })
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::enqueue`, under the qdisc lock.
    unsafe extern "C" fn enqueue_callback(
        skb: *mut b::sk_buff,
        sch: *mut b::Qdisc,
        to_free: *mut *mut b::sk_buff,
    ) -> c_int {
        let Some(skb) = NonNull::new(skb) else {
            return b::NET_XMIT_DROP as c_int;
        };
        // SAFETY: the kernel hands us ownership of `skb`.
        let mut skb = unsafe { SkBuff::from_raw(skb) };
        // SAFETY: the qdisc lock is held, so the state is ours alone.
        let Some(inst) = (unsafe { Self::instance(sch) }) else {
            // SAFETY: `sch` is our qdisc; the packet goes on `to_free`.
            unsafe { b::cakemt_qdisc_drop_new(sch, skb.into_raw(), to_free, true) };
            return b::NET_XMIT_DROP as c_int;
        };
        let Instance { counters, qdisc } = inst;
        let mut q = EnqueueCtx {
            sch,
            to_free,
            counters,
            qlen_delta: 0,
            backlog_delta: 0,
        };
        let len = i64::from(skb.len());
        let class = match qdisc.classify(&mut q, &mut skb) {
            Classified::To(c) => c,
            Classified::Shot => {
                q.drop_new(skb, true);
                return b::CAKEMT_XMIT_BYPASS as c_int;
            }
            Classified::Stolen => {
                q.counters.stolen = q.counters.stolen.wrapping_add(1);
                q.drop_new(skb, false);
                return b::CAKEMT_XMIT_STOLEN as c_int;
            }
        };
        let split = skb.is_gso() && qdisc.split_gso(class);
        let mut queued = false;
        let mut cut = false;
        let mut take = |q: &mut EnqueueCtx<'_>, p: SkBuff| {
            q.count_in(&p);
            match qdisc.enqueue(q, class, p) {
                Verdict::Queued => queued = true,
                Verdict::QueuedOwnFlowCut => {
                    queued = true;
                    cut = true;
                }
                Verdict::Dropped => {}
            }
        };
        if split {
            match skb.segment() {
                Ok(segs) => segs.for_each(|s| take(&mut q, s)),
                Err(skb) => {
                    q.drop_new(skb, true);
                    return b::NET_XMIT_DROP as c_int;
                }
            }
        } else {
            take(&mut q, skb);
        }
        let (ret, told): (u32, (i64, i64)) = if !queued {
            (b::NET_XMIT_DROP, (0, 0))
        } else if cut {
            (b::NET_XMIT_CN, (0, 0))
        } else {
            (b::NET_XMIT_SUCCESS, (1, len))
        };
        // The parents count what we return as success (one packet of
        // `len`): tell them how the real change differs (segments added,
        // earlier packets dropped), as sch_cake does.
        // (Deltas of one call: a few packets, never near i64's range.)
        let n = told.0.wrapping_sub(q.qlen_delta);
        let bytes = told.1.wrapping_sub(q.backlog_delta);
        if n != 0 || bytes != 0 {
            let n = i32::try_from(n).unwrap_or(i32::MAX);
            let bytes = i32::try_from(bytes).unwrap_or(i32::MAX);
            // SAFETY: `sch` is our qdisc, under its lock.
            unsafe { b::cakemt_tree_reduce_backlog(sch, n, bytes) };
        }
        ret as c_int
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::dequeue`, under the qdisc lock.
    unsafe extern "C" fn dequeue_callback(sch: *mut b::Qdisc) -> *mut b::sk_buff {
        // SAFETY: the qdisc lock is held, so the state is ours alone; the
        // watchdog lives in the private area of `sch`.
        let (inst, watchdog) =
            unsafe { (Self::instance(sch), &mut (*b::cakemt_priv(sch)).watchdog) };
        let Some(inst) = inst else {
            return ptr::null_mut();
        };
        let mut q = DequeueCtx {
            sch,
            watchdog,
            dropped: 0,
            dropped_bytes: 0,
            _cb: PhantomData,
        };
        let skb = inst.qdisc.dequeue(&mut q);
        if q.dropped != 0 {
            // SAFETY: `sch` is our qdisc, under its lock.
            unsafe { b::cakemt_tree_reduce_backlog(sch, q.dropped, q.dropped_bytes) };
        }
        match skb {
            Some(skb) => {
                // SAFETY: as above; the packet leaves the qdisc now.
                unsafe { b::cakemt_qdisc_count_out(sch, skb.as_ptr()) };
                skb.into_raw()
            }
            None => ptr::null_mut(),
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::reset`, under the qdisc lock.
    unsafe extern "C" fn reset_callback(sch: *mut b::Qdisc) {
        // SAFETY: the qdisc lock is held, so the state is ours alone.
        if let Some(inst) = unsafe { Self::instance(sch) } {
            let mut q = ResetCtx {
                sch,
                _cb: PhantomData,
            };
            inst.qdisc.reset(&mut q);
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::destroy`, once, after `init`
    /// (successful or not) and `reset`.
    unsafe extern "C" fn destroy_callback(sch: *mut b::Qdisc) {
        // SAFETY: `init_callback` always initialised the watchdog before
        // anything could fail; `block` is null or ours; `state` and
        // `control` are null or the boxes it leaked; nothing uses the qdisc
        // any more.
        unsafe {
            let p = b::cakemt_priv(sch);
            b::qdisc_watchdog_cancel(&mut (*p).watchdog);
            b::cakemt_block_put(sch);
            let state = (*p).state.cast::<Instance<T>>();
            (*p).state = ptr::null_mut();
            if !state.is_null() {
                drop(KBox::from_raw(state));
            }
            let ctrl = (*p).control.cast::<T::Control>();
            (*p).control = ptr::null_mut();
            if !ctrl.is_null() {
                drop(KBox::from_raw(ctrl));
            }
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::dump`, under RTNL.
    unsafe extern "C" fn dump_callback(sch: *mut b::Qdisc, skb: *mut b::sk_buff) -> c_int {
        // SAFETY: `skb` is the message being built for this dump.
        let mut out = unsafe { NlWriter::from_raw(skb) };
        // SAFETY: `sch` is our qdisc and we hold RTNL.
        let Some(ctrl) = (unsafe { Self::control(sch) }) else {
            return -1;
        };
        out.nested(b::TCA_OPTIONS, |out| T::dump(ctrl, out))
            .unwrap_or(-1)
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::dump_stats`, under RTNL.
    unsafe extern "C" fn dump_stats_callback(sch: *mut b::Qdisc, d: *mut b::gnet_dump) -> c_int {
        // SAFETY: `sch` is our qdisc and we hold RTNL.
        let Some(ctrl) = (unsafe { Self::control(sch) }) else {
            return -1;
        };
        // SAFETY: as above.
        let Some((stats, counters)) = (unsafe {
            Self::with_tree_lock(sch, |inst| inst.map(|i| (i.qdisc.stats(), i.counters)))
        }) else {
            return -1;
        };
        // SAFETY: `d` is the stats dump the kernel passed to this callback.
        unsafe { dump_xstats(d, |out| T::dump_stats(ctrl, &stats, &counters, out)) }
    }
}

/// A `Qdisc_ops` the kernel may link into its list of qdiscs.
pub(crate) struct OpsTable {
    ops: UnsafeCell<b::Qdisc_ops>,
    registered: AtomicBool,
}

// SAFETY: the table is written only by `Registration::register`, which the
// `registered` flag lets run once, before the kernel sees it; afterwards
// only the kernel touches it, under its own lock.
unsafe impl Sync for OpsTable {}

impl OpsTable {
    /// Wraps an ops table built by [`Adapter::ops`].
    pub(crate) const fn new(ops: b::Qdisc_ops) -> Self {
        Self {
            ops: UnsafeCell::new(ops),
            registered: AtomicBool::new(false),
        }
    }
}

/// A registered qdisc; unregistered when dropped (module exit).
pub(crate) struct Registration(&'static OpsTable);

impl Registration {
    /// Registers `table` (with its class operations `classes`) on behalf of
    /// `module`, so that `tc` can use it and the module cannot be unloaded
    /// while an instance exists. A table registers once: `EBUSY` after.
    pub(crate) fn register(
        table: &'static OpsTable,
        classes: &'static super::class::ClassOpsTable,
        module: &'static ThisModule,
    ) -> Result<Self> {
        if table.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let ops = table.ops.get();
        // SAFETY: the flag above makes this the only writer, and the table
        // is not registered yet, so nothing else reads it; the kernel keeps
        // the pointers until `unregister_qdisc` in `drop`; both tables are
        // 'static.
        let err = unsafe {
            (*ops).owner = module.as_ptr().cast();
            (*ops).cl_ops = classes.as_ptr();
            b::register_qdisc(ops)
        };
        if err < 0 {
            table.registered.store(false, Ordering::Release);
            return Err(Error::from_errno(err));
        }
        Ok(Self(table))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; the module refcount guarantees no
        // instance of it is left when the module exits.
        unsafe { b::unregister_qdisc(self.0.ops.get()) };
        self.0.registered.store(false, Ordering::Release);
    }
}
