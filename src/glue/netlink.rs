// SPDX-License-Identifier: GPL-2.0
//! Netlink for the qdisc: parsing `TCA_OPTIONS` with the strict policy in
//! `helpers.c`, extack error messages, and writing attributes in dumps.

use super::bindings as b;
use core::marker::PhantomData;
use core::ptr;
use kernel::prelude::*;

/// Number of slots in the parsed attribute table (attribute types 0..=MAX).
const OPT_SLOTS: usize = b::CAKEMT_OPT_SLOTS as usize;

/// Where to report a configuration error to the user (may be absent).
pub(crate) struct ExtAck(*mut b::netlink_ext_ack);

impl ExtAck {
    /// # Safety
    /// `ext` is null or a valid extack for the duration of the callback.
    pub(crate) unsafe fn from_raw(ext: *mut b::netlink_ext_ack) -> Self {
        Self(ext)
    }

    /// Records `msg` (and the attribute at fault) for tc to print, and
    /// returns the error to propagate: `-EINVAL`.
    pub(crate) fn invalid(&mut self, msg: &'static CStr, attr: Option<Attr<'_>>) -> Error {
        let attr = attr.map_or(ptr::null(), |a| a.0);
        // SAFETY: `self.0` is null or valid (constructor contract); `msg` is
        // a 'static C string, as extack's `_msg` requires.
        unsafe { b::cakemt_set_err(self.0, msg.as_char_ptr().cast(), attr) };
        EINVAL
    }
}

/// One attribute inside a parsed `TCA_OPTIONS`.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a>(*const b::nlattr, PhantomData<&'a b::nlattr>);

impl Attr<'_> {
    /// Its value as u32 (the policy guaranteed the size).
    pub(crate) fn u32(self) -> u32 {
        // SAFETY: the attribute is valid for 'a and the strict policy checked
        // it is an NLA_U32.
        unsafe { b::cakemt_nla_u32(self.0) }
    }

    /// Its value as u64 (the policy guaranteed the size).
    pub(crate) fn u64(self) -> u64 {
        // SAFETY: as in `u32`, for an NLA_U64.
        unsafe { b::cakemt_nla_u64(self.0) }
    }
}

/// `TCA_OPTIONS` parsed into a table indexed by attribute type.
pub(crate) struct Options<'a> {
    table: [*mut b::nlattr; OPT_SLOTS],
    _msg: PhantomData<&'a b::nlattr>,
}

impl<'a> Options<'a> {
    /// Parses and validates `opt` (null means "no options given").
    ///
    /// # Safety
    /// `opt` is null or a valid nested attribute living for `'a`; `ext` as in
    /// [`ExtAck::from_raw`].
    pub(crate) unsafe fn parse(opt: *mut b::nlattr, ext: &mut ExtAck) -> Result<Self> {
        let mut table = [ptr::null_mut(); OPT_SLOTS];
        if !opt.is_null() {
            // SAFETY: `table` has TCA_CAKEMT_MAX + 1 slots as nla_parse_nested
            // requires; `opt` and `ext.0` are valid by the caller's contract.
            let err = unsafe { b::cakemt_parse_opts(table.as_mut_ptr(), opt, ext.0) };
            if err < 0 {
                return Err(Error::from_errno(err));
            }
        }
        Ok(Self {
            table,
            _msg: PhantomData,
        })
    }

    /// The attribute of type `kind`, if given.
    pub(crate) fn get(&self, kind: u32) -> Option<Attr<'a>> {
        let p = *self.table.get(kind as usize)?;
        (!p.is_null()).then_some(Attr(p, PhantomData))
    }
}

/// Appends attributes to a netlink message being dumped.
pub(crate) struct NlWriter(*mut b::sk_buff);

/// An open nested attribute; close it with [`NlWriter::nest_end`].
pub(crate) struct Nest(*mut b::nlattr);

impl NlWriter {
    /// # Safety
    /// `skb` is a valid netlink message being built, exclusively ours for
    /// the duration of the callback.
    pub(crate) unsafe fn from_raw(skb: *mut b::sk_buff) -> Self {
        Self(skb)
    }

    /// Appends a u32 attribute; `ENOSPC` if the message is full (the dump callbacks report -1 either way).
    pub(crate) fn put_u32(&mut self, kind: u32, value: u32) -> Result {
        // SAFETY: `self.0` is a valid message (constructor contract).
        let err = unsafe { b::cakemt_put_u32(self.0, kind as i32, value) };
        if err < 0 {
            return Err(ENOSPC);
        }
        Ok(())
    }

    /// Appends a u64 attribute, aligned with a `pad` attribute if needed.
    pub(crate) fn put_u64(&mut self, kind: u32, value: u64, pad: u32) -> Result {
        // SAFETY: as in `put_u32`.
        let err = unsafe { b::cakemt_put_u64(self.0, kind as i32, value, pad as i32) };
        if err < 0 {
            return Err(ENOSPC);
        }
        Ok(())
    }

    /// Opens a nested attribute of type `kind`.
    pub(crate) fn nest_start(&mut self, kind: u32) -> Result<Nest> {
        // SAFETY: as in `put_u32`.
        let nest = unsafe { b::cakemt_nest_start(self.0, kind as i32) };
        if nest.is_null() {
            return Err(ENOSPC);
        }
        Ok(Nest(nest))
    }

    /// Closes `nest`; returns the message length as dumps report it.
    pub(crate) fn nest_end(&mut self, nest: Nest) -> i32 {
        // SAFETY: `nest` was opened on this message by `nest_start`.
        unsafe { b::cakemt_nest_end(self.0, nest.0) }
    }

    /// Removes `nest` and everything put in it (after a failed put).
    pub(crate) fn nest_cancel(&mut self, nest: Nest) {
        // SAFETY: `nest` was opened on this message by `nest_start`.
        unsafe { b::cakemt_nest_cancel(self.0, nest.0) }
    }
}
