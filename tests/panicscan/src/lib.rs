// SPDX-License-Identifier: GPL-2.0
//! Every public entry point of the scheduling core, instantiated with
//! opaque packet and storage types (so the optimiser cannot prove slices
//! empty and drop the code), for `scan.sh` to look for panic calls.
#![no_std]
#![allow(missing_docs, clippy::all)]
use cakemt_sched::sched::alloc::{AllocError, SliceAlloc};
use cakemt_sched::sched::packet::{AckInfo, DropReason, FlowKeys, Packet, PacketQueue};
use cakemt_sched::sched::scheduler::{Dequeued, SchedConfig, Scheduler};

#[panic_handler]
fn ph(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

pub struct P(u32);
impl Packet for P {
    fn len(&self) -> u32 {
        self.0
    }
    fn enqueue_time(&self) -> u64 {
        0
    }
    fn set_enqueue_time(&mut self, _: u64) {}
    fn adjusted_len(&self) -> u32 {
        self.0
    }
    fn set_adjusted_len(&mut self, _: u32) {}
    fn mem_size(&self) -> u32 {
        self.0
    }
    fn set_ce(&mut self) -> bool {
        false
    }
    fn ack_info(&self) -> Option<AckInfo> {
        None
    }
}
#[derive(Default)]
pub struct Q(Option<P>);
impl PacketQueue for Q {
    type Packet = P;
    fn push_back(&mut self, p: P) {
        self.0 = Some(p)
    }
    fn pop_front(&mut self) -> Option<P> {
        self.0.take()
    }
    fn front(&self) -> Option<&P> {
        self.0.as_ref()
    }
    fn remove_first(&mut self, _: usize, _: &mut dyn FnMut(&P) -> bool) -> Option<P> {
        None
    }
}
pub struct Sl<T> {
    ptr: *mut T,
    len: usize,
}
impl<T> core::ops::Deref for Sl<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }
}
impl<T> core::ops::DerefMut for Sl<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}
extern "C" {
    fn opaque_ptr() -> *mut u8;
    fn opaque_len() -> usize;
}
pub struct A;
impl SliceAlloc for A {
    type Slice<T> = Sl<T>;
    fn alloc_slice<T>(&mut self, _: usize, _: impl FnMut(usize) -> T) -> Result<Sl<T>, AllocError> {
        let len = unsafe { opaque_len() };
        if len == 0 {
            return Err(AllocError);
        }
        Ok(Sl {
            ptr: unsafe { opaque_ptr() } as *mut T,
            len,
        })
    }
}

pub type S = Scheduler<Q, A>;

#[no_mangle]
pub extern "C" fn scan_new(cfg: &SchedConfig) -> bool {
    S::new(&mut A, cfg).is_ok()
}
#[no_mangle]
pub extern "C" fn scan_enqueue(s: &mut S, tin: u32, len: u32, now: u64) -> bool {
    s.enqueue(
        tin,
        P(len),
        FlowKeys::default(),
        now,
        &mut |_p: P, _r: DropReason| {},
    )
    .is_ok()
}
#[no_mangle]
pub extern "C" fn scan_dequeue(s: &mut S, now: u64) -> u64 {
    match s.dequeue(now, &mut |_p: P, _r: DropReason| {}) {
        Dequeued::Packet(p) => p.0 as u64,
        Dequeued::WaitUntil(t) => t,
        Dequeued::Empty => 0,
    }
}
#[no_mangle]
pub extern "C" fn scan_misc(s: &mut S, tin: u32, rate: u64, now: u64, w: u16) -> u64 {
    s.set_tin_rate(tin, rate, now);
    s.set_overhead(cakemt_sched::sched::overhead::Overhead::default());
    s.set_tin_weight(tin, w);
    s.set_link_rate(rate, now);
    s.set_memlimit(rate);
    s.reset(&mut |_p: P, _r: DropReason| {});
    s.next_wakeup().unwrap_or(0) + s.memory_report().pool_bytes as u64
}

use cakemt_sched::sched::calendar::{Calendar, CalendarConfig};
use cakemt_sched::sched::memlimit::MemBuckets;
use cakemt_sched::sched::tin_drr::TinDrr;

#[no_mangle]
pub extern "C" fn scan_cal(c: &mut Calendar<A>, t: u32, due: u64) -> u64 {
    c.insert(t, due);
    c.remove(t);
    let a = c.pop_due(due).unwrap_or(0) as u64;
    let b = c.take_any().unwrap_or(0) as u64;
    c.clear();
    a + b
        + c.next_due().unwrap_or(0)
        + c.due_of(t).unwrap_or(0)
        + c.wheel_bytes() as u64
        + c.len() as u64
        + Calendar::<A>::new(&mut A, 5, CalendarConfig::default()).is_ok() as u64
}
#[no_mangle]
pub extern "C" fn scan_drr(d: &mut TinDrr<A>, t: u32, len: u32, w: u16) -> u64 {
    d.push_back(t);
    d.set_weight(t, w);
    d.charge(t, len);
    d.forget_credit(t);
    let a = d.select().unwrap_or(0) as u64;
    d.remove(t);
    a + d.pop_front().unwrap_or(0) as u64
        + d.deficit(t) as u64
        + d.quantum(t) as u64
        + TinDrr::<A>::new(&mut A, 4, 1514).is_ok() as u64
}
#[no_mangle]
pub extern "C" fn scan_mem(m: &mut MemBuckets<A>, t: u32, b: u64) -> u64 {
    m.add(t, b);
    m.sub(t, b / 2);
    let f = m.fattest().unwrap_or(0) as u64;
    m.clear();
    f + m.of(t) + m.total() + MemBuckets::<A>::new(&mut A, 4).is_ok() as u64
}
