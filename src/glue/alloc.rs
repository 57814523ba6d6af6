// SPDX-License-Identifier: GPL-2.0
//! The scheduling core's storage in the kernel: every table it asks for at
//! configuration time is one `kvcalloc` (kmalloc, falling back to vmalloc
//! for large ones), allocated in process context before any lock is taken
//! and freed with `kvfree`. Nothing here runs in the packet path but the
//! prefetch hint.
//!
//! The kernel crate's `KVVec` would do, but its growth paths carry panic
//! branches (capacity arithmetic) into the module; a fixed-size slice needs
//! none of them.

use super::bindings as b;
use crate::sched::alloc::{AllocError, SliceAlloc};
use core::marker::PhantomData;
use core::mem::{align_of, size_of, size_of_val};
use core::ops::{Deref, DerefMut};
use core::ptr::NonNull;

/// An owned, initialised slice in kvmalloc'ed memory.
///
/// # Invariants
/// `ptr` points to `len` initialised `T`s in memory from `cakemt_kvcalloc`
/// that this value owns (dangling and never freed when `len` or the size of
/// `T` is 0).
pub(crate) struct KvSlice<T> {
    ptr: NonNull<T>,
    len: usize,
    _owns: PhantomData<T>,
}

impl<T> KvSlice<T> {
    /// Does this slice own kvmalloc'ed memory (not a dangling pointer)?
    fn allocated(&self) -> bool {
        self.len != 0 && size_of::<T>() != 0
    }
}

impl<T> Deref for KvSlice<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` holds `len` initialised `T`s (type invariant),
        // suitably aligned (kvmalloc aligns to at least 8 bytes, checked
        // against `T` at allocation, or dangling-but-aligned when empty).
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> DerefMut for KvSlice<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T> Drop for KvSlice<T> {
    fn drop(&mut self) {
        let slice: *mut [T] = &mut **self;
        // SAFETY: every element is initialised and owned (type invariant),
        // dropped once here; the memory is then freed once, if allocated.
        unsafe {
            core::ptr::drop_in_place(slice);
            if self.allocated() {
                b::cakemt_kvfree(self.ptr.as_ptr().cast());
            }
        }
    }
}

/// Allocates with `GFP_KERNEL`, quietly: a failure is reported to the
/// operator as ENOMEM with an extack message, not as a kernel warning.
/// Counts what it handed out, for the qdisc's memory statistics.
#[derive(Default)]
pub(crate) struct KernelAlloc {
    /// Bytes of the slices allocated through this allocator.
    pub(crate) bytes: usize,
}

/// kvmalloc'ed memory is aligned at least this much.
const KVMALLOC_ALIGN: usize = 8;

impl SliceAlloc for KernelAlloc {
    type Slice<T> = KvSlice<T>;

    fn alloc_slice<T>(
        &mut self,
        len: usize,
        mut init: impl FnMut(usize) -> T,
    ) -> Result<KvSlice<T>, AllocError> {
        if align_of::<T>() > KVMALLOC_ALIGN {
            return Err(AllocError);
        }
        let ptr = if len == 0 || size_of::<T>() == 0 {
            NonNull::dangling()
        } else {
            // SAFETY: no preconditions; kvcalloc checks `len * size` for
            // overflow and returns null on failure.
            let p = unsafe { b::cakemt_kvcalloc(len, size_of::<T>()) };
            NonNull::new(p.cast::<T>()).ok_or(AllocError)?
        };
        for i in 0..len {
            // SAFETY: `ptr` has room for `len` `T`s, suitably aligned (see
            // the check above); element `i` is written exactly once.
            unsafe { ptr.as_ptr().add(i).write(init(i)) };
        }
        // INVARIANT: all `len` elements were just initialised.
        let s = KvSlice {
            ptr,
            len,
            _owns: PhantomData,
        };
        self.bytes = self.bytes.saturating_add(size_of_val(&*s));
        Ok(s)
    }

    fn prefetch<T: ?Sized>(item: &T) {
        let p: *const T = item;
        // SAFETY: `prefetch_range` only hints the CPU and never faults; the
        // range is `item` itself, which is live.
        unsafe { b::cakemt_prefetch_range(p.cast(), size_of_val(item)) };
    }
}
