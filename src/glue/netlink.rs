// SPDX-License-Identifier: GPL-2.0
//! Netlink for the qdisc: parsing `TCA_OPTIONS` with the strict policies in
//! `helpers.c`, extack error messages, and writing attributes in dumps.

use super::bindings as b;
use core::fmt::Write;
use core::marker::PhantomData;
use core::ptr;
use kernel::prelude::*;

/// Where to report a configuration error to the user (may be absent).
pub(crate) struct ExtAck(*mut b::netlink_ext_ack);

/// A message for extack, formatted into netlink's own buffer size (longer
/// ones are cut, never overflow).
struct MsgBuf {
    buf: [u8; b::CAKEMT_ERR_MSG_LEN as usize],
    len: usize,
}

impl Write for MsgBuf {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        // The last byte stays 0: the terminating NUL.
        let room = self.buf.len().saturating_sub(1);
        for &c in s.as_bytes() {
            if self.len >= room {
                break;
            }
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = c;
            }
            self.len = self.len.saturating_add(1);
        }
        Ok(())
    }
}

impl ExtAck {
    /// # Safety
    /// `ext` is null or a valid extack for the duration of the callback.
    pub(crate) unsafe fn from_raw(ext: *mut b::netlink_ext_ack) -> Self {
        Self(ext)
    }

    /// Records a message (and the attribute at fault) for tc to print, and
    /// returns `err` to propagate.
    pub(crate) fn fail(
        &mut self,
        err: Error,
        attr: Option<Attr<'_>>,
        msg: core::fmt::Arguments<'_>,
    ) -> Error {
        let mut m = MsgBuf {
            buf: [0; b::CAKEMT_ERR_MSG_LEN as usize],
            len: 0,
        };
        let _ = m.write_fmt(msg);
        let attr = attr.map_or(ptr::null(), |a| a.0);
        // SAFETY: `self.0` is null or valid (constructor contract); the
        // message is NUL-terminated (the buffer was zeroed and `write_str`
        // keeps its last byte) and copied by the helper before we return.
        unsafe { b::cakemt_set_err(self.0, m.buf.as_ptr().cast(), attr) };
        err
    }

    /// [`fail`](Self::fail) with `-EINVAL`: the request was wrong.
    pub(crate) fn invalid(
        &mut self,
        attr: Option<Attr<'_>>,
        msg: core::fmt::Arguments<'_>,
    ) -> Error {
        self.fail(EINVAL, attr, msg)
    }
}

/// One attribute of a parsed `TCA_OPTIONS`, valid while the request is.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a>(*const b::nlattr, PhantomData<&'a b::nlattr>);

impl<'a> Attr<'a> {
    /// Its value as u32 (the policy guaranteed the size).
    pub(crate) fn u32(self) -> u32 {
        // SAFETY: the attribute is valid for 'a and the strict policy checked
        // it is an NLA_U32.
        unsafe { b::cakemt_nla_u32(self.0) }
    }

    /// Its value as s32 (the policy guaranteed the size).
    pub(crate) fn s32(self) -> i32 {
        // SAFETY: as in `u32`, for an NLA_S32.
        unsafe { b::cakemt_nla_s32(self.0) }
    }

    /// Its value as u64 (the policy guaranteed the size).
    pub(crate) fn u64(self) -> u64 {
        // SAFETY: as in `u32`, for an NLA_U64.
        unsafe { b::cakemt_nla_u64(self.0) }
    }

    /// Its payload (for NLA_BINARY attributes).
    pub(crate) fn bytes(self) -> &'a [u8] {
        // SAFETY: the attribute is valid for 'a; its payload is `nla_len`
        // bytes starting at `nla_data`, inside the request, which nothing
        // writes while the request is being handled.
        unsafe {
            let len = b::cakemt_nla_len(self.0) as usize;
            let data = b::cakemt_nla_data(self.0).cast::<u8>();
            if len == 0 || data.is_null() {
                return &[];
            }
            core::slice::from_raw_parts(data, len)
        }
    }
}

/// Slots of a parsed table: enough for every attribute set of the
/// contract (checked below), so one table type serves them all.
const TABLE_SLOTS: usize = 32;
const _: () = assert!(b::CAKEMT_OPT_SLOTS as usize <= TABLE_SLOTS);
const _: () = assert!(b::CAKEMT_CLASS_OPT_SLOTS as usize <= TABLE_SLOTS);

/// An attribute set of the contract and its strict policy.
pub(crate) trait Policy {
    /// Parses `opt` into `table` (as `nla_parse_nested`).
    ///
    /// # Safety
    /// `table` has [`TABLE_SLOTS`] slots; `opt` is a valid nested
    /// attribute; `ext` is null or valid.
    unsafe fn parse(
        table: *mut *mut b::nlattr,
        opt: *mut b::nlattr,
        ext: *mut b::netlink_ext_ack,
    ) -> i32;
}

/// The qdisc's attributes (`TCA_CAKEMT_*`).
pub(crate) struct QdiscPolicy;
/// A class's attributes (`TCA_CAKEMT_CLASS_*`).
pub(crate) struct ClassPolicy;

impl Policy for QdiscPolicy {
    unsafe fn parse(
        table: *mut *mut b::nlattr,
        opt: *mut b::nlattr,
        ext: *mut b::netlink_ext_ack,
    ) -> i32 {
        // SAFETY: forwarded contract; the table has at least
        // CAKEMT_OPT_SLOTS slots (assertion above).
        unsafe { b::cakemt_parse_opts(table, opt, ext) }
    }
}

impl Policy for ClassPolicy {
    unsafe fn parse(
        table: *mut *mut b::nlattr,
        opt: *mut b::nlattr,
        ext: *mut b::netlink_ext_ack,
    ) -> i32 {
        // SAFETY: forwarded contract; the table has at least
        // CAKEMT_CLASS_OPT_SLOTS slots (assertion above).
        unsafe { b::cakemt_parse_class_opts(table, opt, ext) }
    }
}

/// A nested attribute parsed with policy `P` into a table indexed by
/// attribute type.
pub(crate) struct Parsed<'a, P> {
    table: [*mut b::nlattr; TABLE_SLOTS],
    _msg: PhantomData<(&'a b::nlattr, P)>,
}

/// The qdisc's `TCA_OPTIONS`.
pub(crate) type Options<'a> = Parsed<'a, QdiscPolicy>;
/// A class's `TCA_OPTIONS`.
pub(crate) type ClassOptions<'a> = Parsed<'a, ClassPolicy>;

impl<'a, P: Policy> Parsed<'a, P> {
    /// Parses and validates `opt` (null means "no options given").
    ///
    /// # Safety
    /// `opt` is null or a valid nested attribute living for `'a`; `ext` as
    /// in [`ExtAck::from_raw`].
    pub(crate) unsafe fn parse(opt: *mut b::nlattr, ext: &mut ExtAck) -> Result<Self> {
        let mut table = [ptr::null_mut(); TABLE_SLOTS];
        if !opt.is_null() {
            // SAFETY: `table` has TABLE_SLOTS slots; `opt` and `ext.0` are
            // valid by the caller's contract.
            let err = unsafe { P::parse(table.as_mut_ptr(), opt, ext.0) };
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

/// Writes a qdisc's or class's xstats into the stats dump `d`: opens the
/// xstats attribute, lets `write` append to it, closes it. Returns what a
/// `dump_stats` callback returns: 0, or -1 if the message is full.
///
/// # Safety
/// `d` is the stats dump in progress that the kernel passed to the
/// `dump_stats` callback calling this; its message is ours meanwhile.
pub(crate) unsafe fn dump_xstats(
    d: *mut b::gnet_dump,
    write: impl FnOnce(&mut NlWriter) -> Result,
) -> i32 {
    // SAFETY: `d` is a live stats dump (the caller's contract), and its
    // message is a valid netlink message exclusively ours for the callback.
    let (mut out, nest) = unsafe {
        let nest = b::cakemt_xstats_start(d);
        (NlWriter::from_raw(b::cakemt_xstats_skb(d)), nest)
    };
    if nest.is_null() {
        return -1;
    }
    let res = write(&mut out);
    // SAFETY: `nest` was opened on `d`'s message above.
    unsafe { b::cakemt_xstats_end(d, nest) };
    if res.is_err() {
        return -1;
    }
    0
}

/// An open nested attribute; close it with [`NlWriter::nest_end`].
pub(crate) struct Nest(*mut b::nlattr);

impl NlWriter {
    /// # Safety
    /// `skb` is a valid netlink message being built, exclusively ours for
    /// the duration of the callback.
    pub(crate) unsafe fn from_raw(skb: *mut b::sk_buff) -> Self {
        Self(skb)
    }

    /// Appends a u32 attribute; `-EMSGSIZE` if the message is full.
    pub(crate) fn put_u32(&mut self, kind: u32, value: u32) -> Result {
        // SAFETY: `self.0` is a valid message (constructor contract).
        let err = unsafe { b::cakemt_put_u32(self.0, kind as i32, value) };
        if err < 0 {
            return Err(super::emsgsize());
        }
        Ok(())
    }

    /// Appends an s32 attribute; `-EMSGSIZE` if the message is full.
    pub(crate) fn put_s32(&mut self, kind: u32, value: i32) -> Result {
        // SAFETY: as in `put_u32`.
        let err = unsafe { b::cakemt_put_s32(self.0, kind as i32, value) };
        if err < 0 {
            return Err(super::emsgsize());
        }
        Ok(())
    }

    /// Appends a u64 attribute, aligned with a `pad` attribute if needed.
    pub(crate) fn put_u64(&mut self, kind: u32, value: u64, pad: u32) -> Result {
        // SAFETY: as in `put_u32`.
        let err = unsafe { b::cakemt_put_u64(self.0, kind as i32, value, pad as i32) };
        if err < 0 {
            return Err(super::emsgsize());
        }
        Ok(())
    }

    /// Appends a binary attribute holding `data`.
    pub(crate) fn put_bytes(&mut self, kind: u32, data: &[u8]) -> Result {
        let len = u32::try_from(data.len()).map_err(|_| super::emsgsize())?;
        // SAFETY: as in `put_u32`; `data` is valid for `len` bytes, which
        // nla_put copies.
        let err = unsafe { b::cakemt_put_bytes(self.0, kind as i32, data.as_ptr().cast(), len) };
        if err < 0 {
            return Err(super::emsgsize());
        }
        Ok(())
    }

    /// Appends a flag attribute.
    pub(crate) fn put_flag(&mut self, kind: u32) -> Result {
        // SAFETY: as in `put_u32`.
        let err = unsafe { b::cakemt_put_flag(self.0, kind as i32) };
        if err < 0 {
            return Err(super::emsgsize());
        }
        Ok(())
    }

    /// Opens a nested attribute of type `kind`.
    pub(crate) fn nest_start(&mut self, kind: u32) -> Result<Nest> {
        // SAFETY: as in `put_u32`.
        let nest = unsafe { b::cakemt_nest_start(self.0, kind as i32) };
        if nest.is_null() {
            return Err(super::emsgsize());
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

    /// Writes `f`'s attributes inside a nest of type `kind`, removing the
    /// nest again if `f` fails.
    pub(crate) fn nested(&mut self, kind: u32, f: impl FnOnce(&mut Self) -> Result) -> Result<i32> {
        let nest = self.nest_start(kind)?;
        match f(self) {
            Ok(()) => Ok(self.nest_end(nest)),
            Err(e) => {
                self.nest_cancel(nest);
                Err(e)
            }
        }
    }
}
