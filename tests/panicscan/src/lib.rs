// SPDX-License-Identifier: GPL-2.0
//! Every public entry point of the scheduling core, instantiated with
//! opaque packet and storage types (so the optimiser cannot prove slices
//! empty, a packet never an ACK or never ECN-capable, and drop the code),
//! for `scan.sh` to look for panic calls. What the core reads of a packet
//! (its ACK fields, whether it takes a CE mark, its GSO shape) comes from
//! `extern "C"` functions the optimiser knows nothing about, so the ACK
//! filter, ECN marking and GSO overhead paths are scanned too.
#![no_std]
#![allow(missing_docs, clippy::all)]
use cakemt_sched::sched::ack_filter::AckFilterMode;
use cakemt_sched::sched::alloc::{AllocError, SliceAlloc};
use cakemt_sched::sched::cobalt::CobaltConfig;
use cakemt_sched::sched::host_table::{HostKey, HostTable, Pool};
use cakemt_sched::sched::overhead::{GsoShape, Overhead};
use cakemt_sched::sched::packet::{AckInfo, DropReason, FlowKeys, Packet, PacketQueue};
use cakemt_sched::sched::scheduler::{Dequeued, SchedConfig, Scheduler};
use cakemt_sched::sched::tcp_ack;
use cakemt_sched::sched::tin_queue::FlowMode;

#[panic_handler]
fn ph(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

extern "C" {
    fn opaque_ptr() -> *mut u8;
    fn opaque_len() -> usize;
    fn opaque_u32() -> u32;
    fn opaque_u64() -> u64;
    fn opaque_bool() -> bool;
}

fn u32_() -> u32 {
    unsafe { opaque_u32() }
}
fn bool_() -> bool {
    unsafe { opaque_bool() }
}

pub struct P(u32);
impl Packet for P {
    fn len(&self) -> u32 {
        self.0
    }
    fn enqueue_time(&self) -> u64 {
        unsafe { opaque_u64() }
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
        bool_()
    }
    fn ack_info(&self) -> Option<AckInfo> {
        if !bool_() {
            return None;
        }
        Some(AckInfo {
            conn_hash: u32_(),
            ack_seq: u32_(),
            window: u32_(),
            flags: u32_() as u8,
            has_sack: bool_(),
            sack_end: u32_(),
            other_options: bool_(),
            timestamps: if bool_() {
                Some((u32_(), u32_()))
            } else {
                None
            },
        })
    }
    fn network_offset(&self) -> u32 {
        u32_()
    }
    fn gso_shape(&self) -> Option<GsoShape> {
        bool_().then(|| GsoShape {
            segs: u32_(),
            seg_len: u32_(),
            last_len: u32_(),
        })
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
    fn remove_first(&mut self, max_scan: usize, pred: &mut dyn FnMut(&P) -> bool) -> Option<P> {
        // Calls the predicate as often as a real queue of unknown length
        // may (up to `max_scan`), so the ACK filter's scan is compiled in
        // as the kernel has it.
        let p = self.0.as_ref()?;
        let n = max_scan.min(unsafe { opaque_len() });
        let mut hit = false;
        for _ in 0..n {
            if pred(p) {
                hit = true;
                break;
            }
        }
        if hit {
            self.0.take()
        } else {
            None
        }
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

fn keys() -> FlowKeys {
    FlowKeys {
        flow_hash: u32_(),
        src_host_hash: u32_(),
        dst_host_hash: u32_(),
    }
}

#[no_mangle]
pub extern "C" fn scan_new(cfg: &SchedConfig) -> bool {
    S::new(&mut A, cfg).is_ok() && S::new(&mut A, &SchedConfig::for_tins(cfg.tins)).is_ok()
}
#[no_mangle]
pub extern "C" fn scan_enqueue(s: &mut S, tin: u32, len: u32, now: u64) -> u32 {
    match s.enqueue(tin, P(len), keys(), now, &mut |_p: P, _r: DropReason| {}) {
        Ok(e) => 1 + e.own_flow_cut as u32,
        Err(_) => 0,
    }
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
    s.set_tin_rate_default(tin, now);
    s.set_default_tin_rate(rate, now);
    s.set_overhead(Overhead::default());
    s.set_tin_weight(tin, w);
    s.set_link_rate(rate, now);
    s.set_memlimit(rate);
    s.set_cobalt(CobaltConfig::from_rtt(rate));
    s.set_flow_mode(FlowMode::from_cake_value(w as u8).unwrap_or_default());
    s.set_ack_filter(if w & 1 != 0 {
        AckFilterMode::Aggressive
    } else {
        AckFilterMode::Conservative
    });
    s.set_ingress(w & 2 != 0);
    s.reset(&mut |_p: P, _r: DropReason| {});
    let m = s.memory_report();
    let t = s.totals();
    s.next_wakeup().unwrap_or(0)
        + m.pool_bytes as u64
        + m.total_bytes as u64
        + m.flow_slots as u64
        + m.host_slots as u64
        + t.ecn_marks
        + s.tin(tin).map_or(0, |t| t.throttled() as u64 + t.follows_default_rate() as u64)
        + s.band_stats(tin, w as u8).map_or(0, |b| b.packets + b.backlog_bytes)
        + s.band(tin, w as u8).map_or(0, |b| b.target_ns + b.threshold_rate)
        + s.diffserv().bands() as u64
}
#[no_mangle]
pub extern "C" fn scan_take_over(s: &mut S, old: &mut S, default_tin: u32, now: u64) -> bool {
    s.take_over(old, default_tin, &mut |_p: &P| keys(), now)
        .is_ok()
}
#[no_mangle]
pub extern "C" fn scan_parse_ack(len: u32) -> u32 {
    let l3 = unsafe { core::slice::from_raw_parts(opaque_ptr(), opaque_len()) };
    tcp_ack::parse_ack(l3, len).map_or(0, |a| {
        a.conn_hash ^ a.ack_seq ^ a.window ^ a.sack_end ^ a.timestamps.map_or(0, |t| t.0 ^ t.1)
    })
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
#[no_mangle]
pub extern "C" fn scan_hosts(h: &mut HostTable<A>, old: &HostTable<A>, a: u64, now: u64) -> u64 {
    let busy = |t: u32| t == u32_();
    let mut addr = [0u8; 16];
    addr[..8].copy_from_slice(&a.to_be_bytes());
    let k6 = HostKey::v6(addr, u32_() as u8);
    let k4 = HostKey::v4([addr[0], addr[1], addr[2], addr[3]], u32_() as u8);
    h.sweep(now, opaque_len_(), &busy);
    let t = h.lookup(&k6, now, &busy).unwrap_or(0) as u64 + h.lookup(&k4, now, &busy).unwrap_or(0) as u64;
    h.adopt(old);
    h.set_idle(now);
    let pool = Pool { first: u32_(), tins: u32_(), exclude: u32_() };
    t + h.holder(u32_()).map_or(0, |i| i.since)
        + k4.contains(&k6) as u64
        + k6.addr()[u32_() as usize % 16] as u64
        + h.hosts() as u64
        + HostTable::<A>::bytes_for(pool) as u64
        + HostTable::<A>::new(&mut A, pool, now, (a, now)).is_ok() as u64
}
fn opaque_len_() -> usize {
    unsafe { opaque_len() }
}
