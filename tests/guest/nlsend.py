#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Sends `tc qdisc change` requests for cakemt (or, with --class MINOR,
`tc class change` requests for that tin) straight over netlink, with
attribute values tc itself would refuse, and prints what the kernel said,
so that a test can check the module's own extack messages.

    nlsend.py --dev DEV --header PATH [--class MINOR] REQUEST...

Each REQUEST is NAME=VALUE[,NAME=VALUE...] with the attribute names of the
uapi header (without TCA_CAKEMT_, or TCA_CAKEMT_CLASS_ for a class), their
types taken from its comments (a
flag takes no =VALUE, a binary one hex digits). For each request one line: the errno (0: accepted),
a tab, and the kernel's extack message. One interpreter start serves all
of them (one costs seconds on the debug kernel under TCG).
"""
import argparse
import socket
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the checkout the guest shares
from nlfuzz import (HANDLE, NLA_F_NESTED, NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST,
                    RTM_NEWQDISC, RTM_NEWTCLASS, TC_H_ROOT, TCA_KIND, TCA_OPTIONS, attrs_of, nla,
                    parse_header)

SOL_NETLINK, NETLINK_CAP_ACK, NETLINK_EXT_ACK = 270, 10, 11
NLM_F_ACK_TLVS = 0x200
NLMSGERR_ATTR_MSG = 1


def payload(kind, value):
    if kind == "flag":
        return b""
    if kind == "binary":
        return bytes.fromhex(value)
    fmt = {"u32": "=I", "s32": "=i", "u64": "=Q"}[kind]
    return struct.pack(fmt, int(value, 0))


def send(sock, seq, ifindex, blob, minor=0):
    """(errno, extack message) of one RTM_NEWQDISC change (of class
    `minor` with RTM_NEWTCLASS if it is not 0)."""
    msg = RTM_NEWTCLASS if minor else RTM_NEWQDISC
    tcm = struct.pack("=BxxxiIII", socket.AF_UNSPEC, ifindex, HANDLE | minor, TC_H_ROOT, 0)
    body = tcm + nla(TCA_KIND, b"cakemt\0") + nla(TCA_OPTIONS | NLA_F_NESTED, blob)
    sock.send(struct.pack("=IHHII", 16 + len(body), msg, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
    while True:
        data = sock.recv(65536)
        off = 0
        while off + 16 <= len(data):
            length, typ, flags, rseq, _ = struct.unpack_from("=IHHII", data, off)
            if typ == NLMSG_ERROR and rseq == seq:
                err = -struct.unpack_from("=i", data, off + 16)[0]
                msg = ""
                # with NETLINK_CAP_ACK only the request's header is echoed
                tlv = off + 20 + 16
                while flags & NLM_F_ACK_TLVS and tlv + 4 <= off + length:
                    alen, atype = struct.unpack_from("=HH", data, tlv)
                    if alen < 4:
                        break
                    if atype == NLMSGERR_ATTR_MSG:
                        msg = data[tlv + 4:tlv + alen].split(b"\0")[0].decode()
                    tlv += (alen + 3) & ~3
                return err, msg
            if length < 16:
                break
            off += (length + 3) & ~3


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--class", dest="minor", type=int, default=0)
    ap.add_argument("requests", nargs="+")
    a = ap.parse_args()
    prefix = "TCA_CAKEMT_CLASS_" if a.minor else "TCA_CAKEMT_"
    attrs = attrs_of(parse_header(a.header), prefix + "UNSPEC")
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
    sock.setsockopt(SOL_NETLINK, NETLINK_EXT_ACK, 1)
    sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)
    sock.bind((0, 0))
    sock.settimeout(10)
    ifindex = socket.if_nametoindex(a.dev)
    for seq, req in enumerate(a.requests, 1):
        blob = b""
        for item in req.split(","):
            name, _, value = item.partition("=")
            num, kind = attrs[prefix + name]
            blob += nla(num, payload(kind, value))
        err, msg = send(sock, seq, ifindex, blob, a.minor)
        print("%d\t%s" % (err, msg), flush=True)


if __name__ == "__main__":
    main()
