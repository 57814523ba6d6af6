// SPDX-License-Identifier: GPL-2.0
//! Explicit storage. The core never allocates by itself: every table it uses is
//! obtained from a caller-supplied [`SliceAlloc`] at configuration time (never
//! in the packet path). The kernel glue backs it with `KVVec` (kvmalloc), host
//! tests with `Vec`.

use core::ops::DerefMut;

/// The allocation failed; nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocError;

/// A source of fixed-size slices, used only while (re)configuring.
pub trait SliceAlloc {
    /// An owned slice of `T`; dropping it frees the memory.
    type Slice<T>: DerefMut<Target = [T]>;

    /// Allocates `len` elements, element `i` initialised by `init(i)`.
    fn alloc_slice<T>(
        &mut self,
        len: usize,
        init: impl FnMut(usize) -> T,
    ) -> Result<Self::Slice<T>, AllocError>;

    /// Hint that `item` will be read soon, so the platform may start
    /// loading its cache lines (the kernel's `prefetch`). Only a hint:
    /// the default does nothing.
    fn prefetch<T: ?Sized>(_item: &T) {}
}
