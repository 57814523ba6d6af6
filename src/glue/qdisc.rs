// SPDX-License-Identifier: GPL-2.0
//! A qdisc in safe Rust: the [`Qdisc`] trait says what a scheduler
//! implements, [`Adapter`] turns it into the `struct Qdisc_ops` callbacks the
//! kernel calls, and [`Registration`] registers it for the module's lifetime.
//!
//! Locking is the kernel's: enqueue, dequeue and reset run under the qdisc
//! lock; init and destroy own the qdisc; change, dump and dump_stats run
//! under RTNL only, so the adapter takes the tree lock around them to get the
//! exclusive (or shared) access the trait's `&mut self` (`&self`) promises.

use super::bindings as b;
use super::netlink::{ExtAck, NlWriter, Options};
use super::skb::SkBuff;
use core::cell::UnsafeCell;
use core::marker::PhantomData;
use core::ptr::{self, NonNull};
use kernel::error::from_result;
use kernel::ffi::c_int;
use kernel::prelude::*;

/// What a scheduler implements to become a qdisc.
pub(crate) trait Qdisc: Sized {
    /// The name `tc qdisc add ... NAME` uses (at most 15 bytes).
    const NAME: &'static [u8];
    /// Options parsed and validated, not yet applied.
    type Config;

    /// Validates `opts`; errors carry an extack message. Runs without the
    /// qdisc lock, so it may not look at a running instance.
    fn parse(opts: &Options<'_>, ext: &mut ExtAck) -> Result<Self::Config>;
    /// A new instance configured by `cfg` (from `tc qdisc add`).
    fn new(cfg: Self::Config) -> Result<Self>;
    /// Applies `cfg` to a running instance (`tc qdisc change`); cannot fail,
    /// everything fallible happened in `parse`.
    fn apply(&mut self, cfg: Self::Config);
    /// Takes a packet.
    fn enqueue(&mut self, sch: &mut EnqueueCtx<'_>, skb: SkBuff) -> Verdict;
    /// Gives the next packet to send, or arms the watchdog and gives none.
    fn dequeue(&mut self, sch: &mut DequeueCtx<'_>) -> Option<SkBuff>;
    /// Frees every queued packet (the kernel zeroes qlen and backlog after).
    fn reset(&mut self);
    /// Writes the configuration into `TCA_OPTIONS`.
    fn dump(&self, out: &mut NlWriter) -> Result;
    /// Writes the extended statistics into `TCA_STATS_APP`.
    fn dump_stats(&self, out: &mut NlWriter) -> Result;
}

/// What became of an enqueued packet.
pub(crate) enum Verdict {
    /// Queued; the qdisc's qlen and backlog were increased.
    Queued,
    /// Dropped and counted; the packet was handed to the caller to free.
    Dropped,
}

/// The qdisc during `enqueue`: accounting and drops.
pub(crate) struct EnqueueCtx<'a> {
    sch: *mut b::Qdisc,
    to_free: *mut *mut b::sk_buff,
    _cb: PhantomData<&'a mut b::Qdisc>,
}

impl EnqueueCtx<'_> {
    /// Counts `skb` into the qdisc's qlen and backlog.
    pub(crate) fn enqueued(&mut self, skb: &SkBuff) {
        // SAFETY: `sch` is the qdisc being called, locked by the kernel for
        // the duration of enqueue; `skb` is a valid packet.
        unsafe { b::cakemt_qdisc_enqueued(self.sch, skb.as_ptr()) }
    }

    /// Drops `skb`, counting it in the qdisc's drops.
    pub(crate) fn drop(&mut self, skb: SkBuff) -> Verdict {
        // SAFETY: as in `enqueued`; `to_free` is the list the kernel passed to
        // enqueue, and ownership of the packet moves onto it.
        unsafe { b::cakemt_qdisc_drop(skb.into_raw(), self.sch, self.to_free) };
        Verdict::Dropped
    }
}

/// The qdisc during `dequeue`: accounting and the watchdog timer.
pub(crate) struct DequeueCtx<'a> {
    sch: *mut b::Qdisc,
    watchdog: *mut b::qdisc_watchdog,
    _cb: PhantomData<&'a mut b::Qdisc>,
}

impl DequeueCtx<'_> {
    /// Counts `skb` out of qlen and backlog and into the byte/packet stats.
    pub(crate) fn dequeued(&mut self, skb: &SkBuff) {
        // SAFETY: `sch` is the qdisc being called, locked by the kernel for
        // the duration of dequeue; `skb` is a valid packet.
        unsafe { b::cakemt_qdisc_dequeued(self.sch, skb.as_ptr()) }
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

/// Current CLOCK_MONOTONIC time in nanoseconds.
pub(crate) fn now_ns() -> u64 {
    // SAFETY: ktime_get_ns has no preconditions.
    unsafe { b::cakemt_now_ns() }
}

/// Fills `struct Qdisc_ops` for `T`.
pub(crate) struct Adapter<T: Qdisc>(PhantomData<T>);

impl<T: Qdisc> Adapter<T> {
    /// The ops table for `T`; `owner` is set at registration.
    pub(crate) const fn ops() -> b::Qdisc_ops {
        // SAFETY: `Qdisc_ops` is plain data (pointers, integers, optional
        // function pointers): all-zeroes is a valid "no callback" value.
        let mut ops: b::Qdisc_ops = unsafe { core::mem::zeroed() };
        let mut i = 0;
        while i < T::NAME.len() && i + 1 < ops.id.len() {
            ops.id[i] = T::NAME[i] as _;
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
    unsafe fn state<'a>(sch: *mut b::Qdisc) -> Option<&'a mut T> {
        // SAFETY: `sch` has a `cakemt_priv` private area (priv_size above);
        // `state` is null or a `KBox<T>` leaked in `init_callback`.
        unsafe { (*b::cakemt_priv(sch)).state.cast::<T>().as_mut() }
    }

    /// Runs `f` on the state with the tree lock held.
    ///
    /// # Safety
    /// `sch` is a qdisc of these ops, called under RTNL (change, dump).
    unsafe fn with_tree_lock<R>(sch: *mut b::Qdisc, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        // SAFETY: `sch` is valid; the tree lock serialises us against the
        // data path, so the state reference is exclusive while it is held.
        unsafe {
            b::cakemt_tree_lock(sch);
            let r = f(Self::state(sch));
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
            // always cancel it.
            let priv_ = unsafe {
                let p = b::cakemt_priv(sch);
                b::qdisc_watchdog_init(&mut (*p).watchdog, sch);
                (*p).state = ptr::null_mut();
                p
            };
            // SAFETY: `opt` and `extack` come from the kernel for this call.
            let (opts, mut ext) = unsafe {
                let mut ext = ExtAck::from_raw(extack);
                (Options::parse(opt, &mut ext)?, ext)
            };
            let cfg = T::parse(&opts, &mut ext)?;
            let state = KBox::new(T::new(cfg)?, GFP_KERNEL)?;
            // SAFETY: as above; the box is reclaimed in `destroy_callback`.
            unsafe { (*priv_).state = KBox::into_raw(state).cast() };
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
            let cfg = T::parse(&opts, &mut ext)?;
            // SAFETY: `sch` is our qdisc and we are under RTNL.
            unsafe {
                Self::with_tree_lock(sch, |state| state.map(|s| s.apply(cfg)).ok_or(EINVAL))
            }?;
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
        let mut ctx = EnqueueCtx {
            sch,
            to_free,
            _cb: PhantomData,
        };
        let Some(skb) = NonNull::new(skb) else {
            return b::NET_XMIT_DROP as c_int;
        };
        // SAFETY: the kernel hands us ownership of `skb`.
        let skb = unsafe { SkBuff::from_raw(skb) };
        // SAFETY: the qdisc lock is held, so the state is ours alone.
        let Some(state) = (unsafe { Self::state(sch) }) else {
            ctx.drop(skb);
            return b::NET_XMIT_DROP as c_int;
        };
        match state.enqueue(&mut ctx, skb) {
            Verdict::Queued => b::NET_XMIT_SUCCESS as c_int,
            Verdict::Dropped => b::NET_XMIT_DROP as c_int,
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::dequeue`, under the qdisc lock.
    unsafe extern "C" fn dequeue_callback(sch: *mut b::Qdisc) -> *mut b::sk_buff {
        // SAFETY: the qdisc lock is held, so the state is ours alone; the
        // watchdog lives in the private area of `sch`.
        let (state, watchdog) = unsafe { (Self::state(sch), &mut (*b::cakemt_priv(sch)).watchdog) };
        let mut ctx = DequeueCtx {
            sch,
            watchdog,
            _cb: PhantomData,
        };
        state
            .and_then(|s| s.dequeue(&mut ctx))
            .map_or(ptr::null_mut(), SkBuff::into_raw)
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::reset`, under the qdisc lock.
    unsafe extern "C" fn reset_callback(sch: *mut b::Qdisc) {
        // SAFETY: the qdisc lock is held, so the state is ours alone.
        if let Some(state) = unsafe { Self::state(sch) } {
            state.reset();
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::destroy`, once, after `init`
    /// (successful or not) and `reset`.
    unsafe extern "C" fn destroy_callback(sch: *mut b::Qdisc) {
        // SAFETY: `init_callback` always initialised the watchdog before
        // anything could fail, and `state` is null or the box it leaked;
        // nothing uses the qdisc any more.
        unsafe {
            let p = b::cakemt_priv(sch);
            b::qdisc_watchdog_cancel(&mut (*p).watchdog);
            let state = (*p).state.cast::<T>();
            (*p).state = ptr::null_mut();
            if !state.is_null() {
                drop(KBox::from_raw(state));
            }
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::dump`, under RTNL.
    unsafe extern "C" fn dump_callback(sch: *mut b::Qdisc, skb: *mut b::sk_buff) -> c_int {
        // SAFETY: `skb` is the message being built for this dump.
        let mut out = unsafe { NlWriter::from_raw(skb) };
        let Ok(nest) = out.nest_start(b::TCA_OPTIONS) else {
            return -1;
        };
        // SAFETY: `sch` is our qdisc and we are under RTNL.
        let res = unsafe { Self::with_tree_lock(sch, |s| s.map_or(Ok(()), |s| s.dump(&mut out))) };
        match res {
            Ok(()) => out.nest_end(nest),
            Err(_) => {
                out.nest_cancel(nest);
                -1
            }
        }
    }

    /// # Safety
    /// Called by the kernel as `Qdisc_ops::dump_stats`, under RTNL.
    unsafe extern "C" fn dump_stats_callback(sch: *mut b::Qdisc, d: *mut b::gnet_dump) -> c_int {
        // SAFETY: `d` is the stats dump in progress; its message is ours.
        let (mut out, nest) = unsafe {
            let nest = b::cakemt_xstats_start(d);
            (NlWriter::from_raw(b::cakemt_xstats_skb(d)), nest)
        };
        if nest.is_null() {
            return -1;
        }
        // SAFETY: `sch` is our qdisc and we are under RTNL.
        let res =
            unsafe { Self::with_tree_lock(sch, |s| s.map_or(Ok(()), |s| s.dump_stats(&mut out))) };
        // SAFETY: `nest` was opened on `d`'s message above.
        unsafe { b::cakemt_xstats_end(d, nest) };
        match res {
            Ok(()) => 0,
            Err(_) => -1,
        }
    }
}

/// A `Qdisc_ops` the kernel may link into its list of qdiscs.
pub(crate) struct OpsTable(UnsafeCell<b::Qdisc_ops>);

// SAFETY: the table is written only in `Registration::register`, before the
// kernel sees it; afterwards only the kernel touches it, under its own lock.
unsafe impl Sync for OpsTable {}

impl OpsTable {
    /// Wraps an ops table built by [`Adapter::ops`].
    pub(crate) const fn new(ops: b::Qdisc_ops) -> Self {
        Self(UnsafeCell::new(ops))
    }
}

/// A registered qdisc; unregistered when dropped (module exit).
pub(crate) struct Registration(&'static OpsTable);

impl Registration {
    /// Registers `table` on behalf of `module`, so that `tc` can use it and
    /// the module cannot be unloaded while an instance exists.
    pub(crate) fn register(table: &'static OpsTable, module: &'static ThisModule) -> Result<Self> {
        let ops = table.0.get();
        // SAFETY: not registered yet (one registration per table, made here),
        // so nothing else reads `ops`; the kernel keeps the pointer until
        // `unregister_qdisc` in `drop`, and the table is 'static.
        let err = unsafe {
            (*ops).owner = module.as_ptr().cast();
            b::register_qdisc(ops)
        };
        if err < 0 {
            return Err(Error::from_errno(err));
        }
        Ok(Self(table))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        // SAFETY: registered in `register`; the module refcount guarantees no
        // instance of it is left when the module exits.
        unsafe { b::unregister_qdisc(self.0 .0.get()) };
    }
}
