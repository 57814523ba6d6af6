#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Netlink fuzzer for cakemt, run inside the guest.

Builds RTM_NEWQDISC (add, change, replace) and RTM_NEWTCLASS (class change)
requests for the "cakemt" qdisc from the attribute lists of the uapi header
(src/uapi/linux/pkt_sched_cakemt.h, parsed at start: names, numbers and the
types its comments give), valid and mutated: known and unknown attribute
types, wrong sizes, truncated and overlong attribute headers, TCA_OPTIONS
with and without NLA_F_NESTED, duplicates, extreme values, random tin-rate
arrays. It sends them on a device with traffic flowing through it, and
after every batch checks that the qdisc still dumps what a model of the
accepted requests says was configured last, and that its accounting
balances once the traffic has drained.

    nlfuzz.py --dev DEV --header PATH [--messages N] [--seconds S] [--seed X]

Prints the seed, the number of messages sent (accepted / refused) and exits
non-zero on the first mismatch, naming the request that led to it.
"""
import argparse
import ipaddress
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import time

TC = os.environ.get("TC", "tc")

NETLINK_ROUTE = 0
RTM_NEWQDISC, RTM_DELQDISC, RTM_NEWTCLASS = 36, 37, 40
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLMSG_ERROR = 2
TCA_KIND, TCA_OPTIONS = 1, 2
NLA_F_NESTED = 0x8000
TC_H_ROOT = 0xFFFFFFFF
HANDLE = 0x10000  # 1:

MAX_TINS = 65535
MEMLIMIT_MIN = 4096

# The configuration of a new qdisc, as the model keeps it.
DEFAULTS = {"bandwidth": 0, "tins": 1, "tin_bandwidth": 0, "default_tin": 0, "fwmark": 0, "memlimit": 0,
            "overhead": 0, "raw": True, "mpu": 0, "atm": 0, "flow_mode": 7, "ack_filter": 0,
            "ingress": 0, "split_gso": 2, "rtt": 100000, "target": 5000,
            "auto": 0, "mask4": 32, "mask6": 64, "auto_idle": 180000, "auto_first": 1, "auto_prefixes": [],
            "burst": 0, "burst_threshold": 0, "burst_time": 10000, "wash": 0, "nat": 0,
            "diffserv": 3, "autorate": 0}
# CAKE's settings: attribute -> (model key, least, most value accepted).
AUTO_MODES = ["none", "dsthost", "srchost"]
# Different bursts tins may have of their own at once (TIN_BURSTS in the core).
TIN_BURSTS = 16
CAKE_RANGES = {"TCA_CAKEMT_OVERHEAD": ("overhead", -64, 256), "TCA_CAKEMT_MPU": ("mpu", 0, 256),
               "TCA_CAKEMT_ATM": ("atm", 0, 2), "TCA_CAKEMT_FLOW_MODE": ("flow_mode", 0, 7),
               "TCA_CAKEMT_ACK_FILTER": ("ack_filter", 0, 2), "TCA_CAKEMT_INGRESS": ("ingress", 0, 1),
               "TCA_CAKEMT_SPLIT_GSO": ("split_gso", 0, 2), "TCA_CAKEMT_RTT": ("rtt", 1, 2**32 - 1),
               "TCA_CAKEMT_TARGET": ("target", 1, 2**32 - 1), "TCA_CAKEMT_WASH": ("wash", 0, 1),
               "TCA_CAKEMT_NAT": ("nat", 0, 1), "TCA_CAKEMT_DIFFSERV_MODE": ("diffserv", 0, 4),
               "TCA_CAKEMT_AUTORATE": ("autorate", 0, 1),
               # automatic per-host tins
               "TCA_CAKEMT_AUTO": ("auto", 0, 2), "TCA_CAKEMT_AUTO_MASK4": ("mask4", 1, 32),
               "TCA_CAKEMT_AUTO_MASK6": ("mask6", 1, 128), "TCA_CAKEMT_AUTO_IDLE": ("auto_idle", 1, 86400000),
               "TCA_CAKEMT_AUTO_FIRST": ("auto_first", 1, 65535),
               "TCA_CAKEMT_BURST_TIME": ("burst_time", 1, 86400000)}
AF_INET, AF_INET6 = 2, 10
MAX_PREFIXES = 16
# How tc -j prints them.
FLOW_MODES = ["flowblind", "srchost", "dsthost", "hosts", "flows", "dual-srchost", "dual-dsthost", "triple-isolate"]
ACK_FILTERS = ["disabled", "enabled", "aggressive"]
SPLIT_GSO = ["disabled", "enabled", "auto"]
ATM = ["noatm", "atm", "ptm"]
# A class's profile fields and values at and past their limits (flags: none).
PROFILE_VALUES = {"RTT": [0, 1, 1000, 50000, 600000], "TARGET": [0, 1, 2500, 30000],
                  "OVERHEAD": [-65, -64, 0, 18, 44, 256, 257], "MPU": [0, 64, 256, 257],
                  "ATM": [0, 1, 2, 3], "RTT_DEFAULT": [], "FRAMING_DEFAULT": []}
DIFFSERV = ["diffserv3", "diffserv4", "diffserv8", "besteffort", "precedence"]


def parse_header(path):
    """{enum first name: [(name, number, type)]} from the uapi header."""
    text = open(path).read()
    enums = {}
    for body in re.findall(r"enum\s*\{(.*?)\};", text, re.S):
        entries, n = [], 0
        for line in body.splitlines():
            m = re.match(r"\s*([A-Z_0-9]+)\s*(=\s*(\w+))?\s*,?\s*(/\*(.*?)\*/)?", line)
            if not m:
                continue
            name, comment = m.group(1), (m.group(5) or "").strip()
            if m.group(3):
                n = int(m.group(3), 0)
            kind = comment.split(":")[0].split()[0] if comment else ""
            entries.append((name, n, kind))
            n += 1
        if entries:
            enums[entries[0][0]] = entries
    return enums


def attrs_of(enums, first):
    return {name: (num, kind) for name, num, kind in enums[first]}


class Netlink:
    def __init__(self):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.settimeout(10)
        self.seq = int(time.time())

    def request(self, msg_type, flags, ifindex, handle, parent, attrs_blob):
        self.seq += 1
        tcm = struct.pack("=BxxxiIII", socket.AF_UNSPEC, ifindex, handle, parent, 0)
        body = tcm + attrs_blob
        hdr = struct.pack("=IHHII", 16 + len(body), msg_type, flags | NLM_F_REQUEST | NLM_F_ACK, self.seq, 0)
        self.sock.send(hdr + body)
        while True:
            data = self.sock.recv(65536)
            off = 0
            while off + 16 <= len(data):
                length, typ, _, seq, _ = struct.unpack_from("=IHHII", data, off)
                if typ == NLMSG_ERROR and seq == self.seq:
                    return -struct.unpack_from("=i", data, off + 16)[0]
                off += (length + 3) & ~3
                if length < 16:
                    break


def nla(typ, payload):
    """One attribute, padded to 4 bytes."""
    a = struct.pack("=HH", 4 + len(payload), typ) + payload
    return a + b"\0" * ((4 - len(a) % 4) % 4)


class Fuzzer:
    def __init__(self, rng, enums, dev, ifindex):
        self.rng = rng
        self.q = attrs_of(enums, "TCA_CAKEMT_UNSPEC")
        self.c = attrs_of(enums, "TCA_CAKEMT_CLASS_UNSPEC")
        self.dev, self.ifindex = dev, ifindex
        self.nl = Netlink()
        self.model = None          # the configuration in force, or None
        self.tins = {}             # tin -> (rate or None if default, weight)
        self.bursts = {}           # tin -> "none" or (rate, threshold, ms); absent: the qdisc's
        self.profiles = {}         # tin -> {field: value} of its own profile; absent: none
        self.sent = self.accepted = self.profiled = 0

    # ---- values ----
    def value(self, kind):
        """A payload for an attribute of `kind`: often sensible, sometimes
        extreme, sometimes the wrong size."""
        r = self.rng
        if kind == "u64":
            v = r.choice([0, 1, 125000, 1250000, 12500000, 125000000, 2**32, 2**63, 2**64 - 1])
            p = struct.pack("=Q", v)
        elif kind == "u32":
            v = r.choice([0, 1, 2, 3, 7, 8, 64, 256, 257, 300, 4095, 4096, 1 << 20, 65535, 65536, 2**31, 2**32 - 1])
            p = struct.pack("=I", v)
        elif kind == "s32":
            v = r.choice([0, 1, -1, 18, 38, 256, 257, -64, -65, 2**31 - 1, -2**31])
            p = struct.pack("=i", v)
        elif kind == "flag":
            p = b""
        else:
            p = bytes(r.getrandbits(8) for _ in range(r.choice([0, 1, 4, 16, 17, 64])))
        if r.random() < 0.15:
            p = p[: r.randint(0, len(p))] + b"\xff" * r.choice([0, 1, 3, 4])
        return p

    def tin_rates(self, tins):
        r = self.rng
        out = b""
        for _ in range(r.choice([1, 2, 5, 40])):
            tin = r.choice([r.randint(1, tins)] * 6 + [0, tins + 1, 65535, 2**32 - 1])
            rate = r.choice([0, 125000, 1000000, 2**63])
            weight = r.choice([0, 1, 3, 65535])
            flags = r.choice([0, 0, 0, 1, 1, 2, 0xFFFF])
            out += struct.pack("=QIHH", rate, tin, weight, flags)
        if r.random() < 0.2:
            out = out[: r.randint(0, len(out))]
        return out

    def prefixes(self):
        """A TCA_CAKEMT_AUTO_PREFIXES array: mostly sound entries, some with
        a bad family, length or pad, some too many or cut short."""
        r = self.rng
        out = b""
        for _ in range(r.choice([0, 1, 2, 5, MAX_PREFIXES, MAX_PREFIXES + 1])):
            family = r.choice([AF_INET, AF_INET6, AF_INET, AF_INET6, 0, 7])
            most = 32 if family == AF_INET else 128
            length = r.choice([0, most, r.randint(0, most), most + 1])
            pad = r.choice([0, 0, 0, 0, 1])
            out += struct.pack("=BBH16s", family, length, pad, r.randbytes(16))
        if r.random() < 0.1:
            out = out[: r.randint(0, len(out))]
        return out

    @staticmethod
    def decode_prefixes(payload):
        """(entries, True); entries None if the qdisc must refuse them."""
        if len(payload) % 20 or len(payload) // 20 > MAX_PREFIXES:
            return None, True
        out = []
        for o in range(0, len(payload), 20):
            family, length, pad, addr = struct.unpack_from("=BBH16s", payload, o)
            most = {AF_INET: 32, AF_INET6: 128}.get(family)
            if most is None or length > most or pad:
                return None, True
            out.append((family, length, addr))
        return out, True

    @staticmethod
    def decode(kind, payload):
        """(value, True) if the kernel's policy takes `payload` as `kind`."""
        if kind == "u64":
            return (struct.unpack("=Q", payload)[0], True) if len(payload) == 8 else (None, False)
        if kind == "u32":
            return (struct.unpack("=I", payload)[0], True) if len(payload) == 4 else (None, False)
        if kind == "s32":
            return (struct.unpack("=i", payload)[0], True) if len(payload) == 4 else (None, False)
        if kind == "flag":
            return True, len(payload) == 0
        if len(payload) == 0 or len(payload) % 16:
            return None, len(payload) != 0   # binary: the size is the qdisc's to judge
        return [struct.unpack_from("=QIHH", payload, o) for o in range(0, len(payload), 16)], True

    # ---- requests ----
    def qdisc_opts(self):
        """(blob, settings): settings as the kernel must read them, or None
        if the request breaks the netlink policy itself."""
        r = self.rng
        settings, blob, sound = {}, b"", True
        names = [n for n in self.q if n not in ("TCA_CAKEMT_UNSPEC", "TCA_CAKEMT_PAD")]
        tins_now = (self.model or {}).get("tins", 1)
        for name in r.sample(names, r.randint(0, len(names))):
            num, kind = self.q[name]
            if name == "TCA_CAKEMT_TIN_RATES":
                payload = self.tin_rates(settings.get("tins", tins_now))
            elif name == "TCA_CAKEMT_AUTO_PREFIXES":
                payload = self.prefixes()
            elif name in CAKE_RANGES and r.random() < 0.8:
                # Mostly in range: ten of them out of range at random would
                # leave few requests accepted.
                _, lo, hi = CAKE_RANGES[name]
                v = r.choice([lo, hi, r.randint(lo, min(hi, 300))])
                payload = struct.pack("=i" if kind == "s32" else "=I", v)
            elif name == "TCA_CAKEMT_TINS" and r.random() < 0.97:
                # 65,535 tins cost a lot of time on the debug kernel: rare.
                payload = struct.pack("=I", r.choice([0, 1, 2, 8, 64, 300, 65536]))
            else:
                payload = self.value(kind)
            v, ok = (self.decode_prefixes(payload) if name == "TCA_CAKEMT_AUTO_PREFIXES"
                     else self.decode(kind, payload))
            sound &= ok
            settings[name] = v
            blob += nla(num, payload)
        extra = r.random()
        if extra < 0.1:
            blob += nla(r.choice([0, 1, 255, 0x7FFF]), b"\1\2\3\4")    # unknown or pad
            sound = False
        elif extra < 0.15:
            blob += struct.pack("=HH", r.choice([0, 2, 3, 200]), 2)         # a broken header
            sound = False
        elif extra < 0.2 and blob:
            blob = blob + blob                                                 # duplicates (last wins)
        if r.random() < 0.1:
            return nla(TCA_KIND, b"cakemt\0") + nla(TCA_OPTIONS, blob), None  # no NLA_F_NESTED
        if r.random() < 0.05:
            return nla(TCA_KIND, b"cakemt\0"), {}                            # no options at all
        return nla(TCA_KIND, b"cakemt\0") + nla(TCA_OPTIONS | NLA_F_NESTED, blob), (settings if sound else None)

    def expect(self, settings):
        """The configuration a request with `settings` leads to, or None if
        the qdisc must refuse it."""
        if settings is None:
            return None
        m = dict(self.model) if self.model else dict(DEFAULTS)
        keys = {"TCA_CAKEMT_BASE_RATE64": "bandwidth", "TCA_CAKEMT_TINS": "tins",
                "TCA_CAKEMT_TIN_RATE64": "tin_bandwidth", "TCA_CAKEMT_DEFAULT_TIN": "default_tin",
                "TCA_CAKEMT_FWMARK": "fwmark", "TCA_CAKEMT_MEMLIMIT": "memlimit",
                "TCA_CAKEMT_BURST_RATE64": "burst", "TCA_CAKEMT_BURST_THRESHOLD64": "burst_threshold"}
        for name, v in settings.items():
            if name in keys:
                m[keys[name]] = v
        if not 1 <= m["tins"] <= MAX_TINS or m["default_tin"] > m["tins"]:
            return None
        if m["memlimit"] and m["memlimit"] < MEMLIMIT_MIN:
            return None
        # CAKE's settings: each in range, an overhead meaning "not raw"
        # unless RAW comes too.
        for name, (key, lo, hi) in CAKE_RANGES.items():
            if name in settings:
                v = settings[name]
                if not lo <= v <= hi:
                    return None
                m[key] = v
        if "TCA_CAKEMT_OVERHEAD" in settings:
            m["raw"] = False
        if "TCA_CAKEMT_RAW" in settings:
            m["raw"] = True
        if m["auto"] and m["auto_first"] > m["tins"]:
            return None
        if m["burst"] and not 0 < (m["burst_threshold"] or m["tin_bandwidth"]) < m["burst"]:
            return None
        if "TCA_CAKEMT_AUTO_PREFIXES" in settings:
            if settings["TCA_CAKEMT_AUTO_PREFIXES"] is None:
                return None
            m["auto_prefixes"] = settings["TCA_CAKEMT_AUTO_PREFIXES"]
        if "TCA_CAKEMT_TIN_RATES" in settings:
            rates = settings["TCA_CAKEMT_TIN_RATES"]
            if rates is None:
                return None
            for _, tin, _, flags in rates:
                if not 1 <= tin <= m["tins"] or flags & ~1:
                    return None
        return m

    def step(self):
        r = self.rng
        op = r.choice(["change"] * 5 + ["replace", "add", "class", "class", "delete"])
        if op == "class":
            return self.class_change()
        if op == "delete":
            err = self.nl.request(RTM_DELQDISC, 0, self.ifindex, HANDLE, TC_H_ROOT, b"")
            self.sent += 1
            if err == 0:
                self.model, self.tins, self.bursts, self.profiles = None, {}, {}, {}
            return "delete", err
        blob, settings = self.qdisc_opts()
        flags = {"change": 0, "replace": NLM_F_CREATE | NLM_F_REPLACE, "add": NLM_F_CREATE | NLM_F_EXCL}[op]
        err = self.nl.request(RTM_NEWQDISC, flags, self.ifindex, HANDLE, TC_H_ROOT, blob)
        self.sent += 1
        exists = self.model is not None
        creates = not exists and op != "change"
        changes = exists and op != "add"
        if settings == {} and changes:
            # No TCA_OPTIONS: the kernel does not call the qdisc at all.
            want = self.model
        elif creates or changes:
            if creates:
                self.model, self.tins, self.bursts, self.profiles = None, {}, {}, {}
            want = self.expect(settings)
        else:
            want = None
        what = "%s %r" % (op, settings)
        if err == 0:
            self.accepted += 1
            if want is None:
                raise AssertionError("the kernel accepted %s, which must be refused (model %r)" % (what, self.model))
            self.model = want
            for rate, tin, weight, fl in (settings or {}).get("TCA_CAKEMT_TIN_RATES") or []:
                old = self.tins.get(tin, (None, 1))
                self.tins[tin] = (None if fl & 1 else rate, weight or old[1])
            self.tins = {t: v for t, v in self.tins.items() if t <= want["tins"]}
            self.bursts = {t: v for t, v in self.bursts.items() if t <= want["tins"]}
            self.profiles = {t: v for t, v in self.profiles.items() if t <= want["tins"]}
        elif creates:
            self.model, self.tins, self.bursts, self.profiles = None, {}, {}, {}
        return what, err

    def class_change(self):
        r = self.rng
        tins = (self.model or {}).get("tins", 1)
        tin = r.choice([1, tins, tins + 1, r.randint(1, max(tins, 1)), 0xFFFF])
        blob, got, sound = b"", {}, True
        # Random attributes rarely make a whole valid profile: often send
        # only profile fields, with values near their limits.
        names = list(self.c)
        if r.random() < 0.4:
            names = [n for n in names if n[len("TCA_CAKEMT_CLASS_"):] in PROFILE_VALUES]
        for name in r.sample(names, r.randint(0, len(names))):
            num, kind = self.c[name]
            if name in ("TCA_CAKEMT_CLASS_UNSPEC", "TCA_CAKEMT_CLASS_PAD"):
                if r.random() < 0.8:
                    continue
                payload, ok = b"\0" * r.choice([0, 4, 8]), False
            else:
                near = PROFILE_VALUES.get(name[len("TCA_CAKEMT_CLASS_"):])
                if near and r.random() < 0.8:
                    payload = struct.pack("=i" if kind == "s32" else "=I", r.choice(near))
                else:
                    payload = self.value(kind)
                got[name], ok = self.decode(kind, payload)
            sound &= ok
            blob += nla(num, payload)
        opts = nla(TCA_KIND, b"cakemt\0") + nla(TCA_OPTIONS | NLA_F_NESTED, blob)
        err = self.nl.request(RTM_NEWTCLASS, 0, self.ifindex, HANDLE | tin, TC_H_ROOT, opts)
        self.sent += 1
        weight = got.get("TCA_CAKEMT_CLASS_WEIGHT")
        valid = (sound and self.model is not None and 1 <= tin <= tins
                 and not ("TCA_CAKEMT_CLASS_RATE64" in got and "TCA_CAKEMT_CLASS_RATE_DEFAULT" in got)
                 and (weight is None or 1 <= weight <= 65535))
        old = self.tins.get(tin, (None, 1))
        rate = old[0]
        if "TCA_CAKEMT_CLASS_RATE64" in got:
            rate = got["TCA_CAKEMT_CLASS_RATE64"]
        elif "TCA_CAKEMT_CLASS_RATE_DEFAULT" in got:
            rate = None
        burst = self.class_burst(tin, got, rate) if valid else False
        valid = valid and burst is not False
        profile = self.class_profile(tin, got) if valid else False
        valid = valid and profile is not False
        what = "class change of tin %d %r" % (tin, got)
        if err == 0:
            self.accepted += 1
            if not valid:
                raise AssertionError("the kernel accepted %s, which must be refused (tins %d)" % (what, tins))
            self.tins[tin] = (rate, weight or old[1])
            if burst == "default":
                self.bursts.pop(tin, None)
            elif burst is not None:
                self.bursts[tin] = burst
            if profile:
                self.profiles[tin] = profile
                self.profiled += 1
            elif profile is not None:
                self.profiles.pop(tin, None)
        return what, err

    def class_profile(self, tin, got):
        """The tin's own profile after a class change with `got` ({field:
        value}, {} for none; None: as it was), or False if the qdisc must
        refuse it. A table full of other profiles is not modelled: the
        qdisc may refuse for it, never accept for it."""
        g = {k[len("TCA_CAKEMT_CLASS_"):].lower(): v for k, v in got.items()}
        fields = ("rtt", "target", "rtt_default", "overhead", "mpu", "atm", "framing_default")
        if not any(f in g for f in fields):
            return None
        p = dict(self.profiles.get(tin, {}))
        if "rtt_default" in g:
            if "rtt" in g or "target" in g:
                return False
            p.pop("rtt", None)
            p.pop("target", None)
        elif "rtt" in g:
            target = g.get("target", max(g["rtt"] // 20, 1))
            if g["rtt"] == 0 or target == 0:
                return False
            p["rtt"], p["target"] = g["rtt"], target
        elif "target" in g:
            return False
        if "framing_default" in g:
            for f in ("overhead", "mpu", "atm"):
                p.pop(f, None)
        if "overhead" in g:
            if not -64 <= g["overhead"] <= 256:
                return False
            p["overhead"] = g["overhead"]
        if "mpu" in g:
            if g["mpu"] > 256:
                return False
            p["mpu"] = g["mpu"]
        if "atm" in g:
            if not 0 <= g["atm"] < len(ATM):
                return False
            p["atm"] = ATM[g["atm"]]
        return p

    def class_burst(self, tin, got, rate):
        """The tin's burst after a class change with `got` (None: as it
        was, "default", "none" or (rate, threshold, ms)), or False if the
        qdisc must refuse it. `rate`: the tin's own rate after it, None
        for tin-bandwidth."""
        b, thr, ms = (got.get("TCA_CAKEMT_CLASS_BURST_" + k) for k in ("RATE64", "THRESHOLD64", "TIME"))
        if "TCA_CAKEMT_CLASS_BURST_DEFAULT" in got:
            return "default" if b is None and thr is None and ms is None else False
        if b is None:
            return None if thr is None and ms is None else False
        if b == 0:
            return "none" if thr is None and ms is None else False
        if ms is not None and not 1 <= ms <= 86400000:
            return False
        thr = thr or (self.model["tin_bandwidth"] if rate is None else rate)
        if not 0 < thr < b:
            return False
        want = (b, thr, 10000 if ms is None else ms)
        others = {v for t, v in self.bursts.items() if t != tin and v != "none"}
        mine = self.bursts.get(tin)
        if want in others or len(others) < TIN_BURSTS or (mine not in (None, "none") and mine not in others):
            return want
        return False

    # ---- checks ----
    def check(self, what):
        qs = [q for q in tc_json("qdisc", "show", "dev", self.dev) if q.get("kind") == "cakemt"]
        if self.model is None:
            if qs:
                raise AssertionError("after %s: a cakemt qdisc exists, the model has none" % what)
            return
        if len(qs) != 1:
            raise AssertionError("after %s: %d cakemt qdiscs, the model has one" % (what, len(qs)))
        o, m = qs[0].get("options", {}), self.model
        want = {"bandwidth": m["bandwidth"], "tins": m["tins"], "tin_bandwidth": m["tin_bandwidth"],
                "default_tin": m["default_tin"] or m["tins"], "fwmark": m["fwmark"], "memlimit": m["memlimit"]}
        want.update({"flowmode": FLOW_MODES[m["flow_mode"]], "ingress": bool(m["ingress"]),
                     "ack-filter": ACK_FILTERS[m["ack_filter"]], "split_gso": SPLIT_GSO[m["split_gso"]],
                     "rtt": m["rtt"], "target": m["target"], "raw": m["raw"], "atm": ATM[m["atm"]],
                     "overhead": m["overhead"], "mpu": m["mpu"], "wash": bool(m["wash"]), "nat": bool(m["nat"]),
                     "diffserv": DIFFSERV[m["diffserv"]],
                     # tc prints autorate only when it is on, as tc-cake.
                     "autorate": "autorate-ingress" if m["autorate"] else None})
        # Automatic tins print only when on; a burst's details only with a burst.
        want["auto"] = AUTO_MODES[m["auto"]]
        if m["auto"]:
            want.update({"mask4": m["mask4"], "mask6": m["mask6"], "auto_idle_ms": m["auto_idle"],
                         "auto_first": m["auto_first"], "auto_prefixes": [prefix_text(*p) for p in m["auto_prefixes"]]})
        want["burst"] = m["burst"]
        if m["burst"]:
            want.update({"burst_threshold": m["burst_threshold"], "burst_time_ms": m["burst_time"]})
        got = {k: o.get(k) for k in want}
        if got != want:
            raise AssertionError("after %s: qdisc dumps %r, model says %r" % (what, got, want))
        classes = {int(c["handle"].split(":")[1], 16): c for c in tc_json("class", "show", "dev", self.dev)
                   if c.get("kind") == "cakemt"}
        if len(classes) != m["tins"]:
            raise AssertionError("after %s: %d classes, %d tins" % (what, len(classes), m["tins"]))
        for tin, c in classes.items():
            b = self.bursts.get(tin, "default")
            o = c.get("options", {})
            got = o.get("burst") if not isinstance(b, tuple) else (o.get("burst"), o.get("burst_threshold"), o.get("burst_time_ms"))
            if got != b:
                raise AssertionError("after %s: tin %d dumps burst %r, model says %r" % (what, tin, got, b))
            p = self.profiles.get(tin, {})
            got = {k: o[k] for k in ("rtt", "target", "overhead", "mpu", "atm") if k in o}
            if got != p:
                raise AssertionError("after %s: tin %d dumps profile %r, model says %r" % (what, tin, got, p))
        for tin, (rate, weight) in self.tins.items():
            c = classes[tin].get("options", {})
            want_rate = m["tin_bandwidth"] if rate is None else rate
            if c.get("bandwidth") != want_rate or c.get("weight") != weight or bool(c.get("bandwidth_default")) != (rate is None):
                raise AssertionError("after %s: tin %d dumps %r, model says rate %r weight %d" % (what, tin, c, rate, weight))


def prefix_text(family, length, addr):
    """A prefix as tc prints it: the kernel keeps only its masked bits."""
    raw = addr[:4] if family == AF_INET else addr
    net = ipaddress.ip_network((raw, length), strict=False)
    return "%s/%d" % (net.network_address, length)


def tc_json(*args):
    out = subprocess.run([TC, "-s", "-j", *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout or "[]")


def balance(dev):
    """received = sent + dropped + stolen + queued. Queued packets may
    leave while a dump is put together (its fields are read one by one),
    so a mismatch is only believed when it persists."""
    for _ in range(30):
        qs = [q for q in tc_json("qdisc", "show", "dev", dev) if q.get("kind") == "cakemt"]
        bad = ["received %d != sent %d + dropped %d + stolen %d + queued %d" % (
            q["received"], q["packets"], q["drops"], q["stolen"], q["qlen"])
            for q in qs if q["received"] != q["packets"] + q["drops"] + q["stolen"] + q["qlen"]]
        if not bad:
            return True, ""
        time.sleep(0.1)
    return False, bad[0]


def send_udp(dst, count):
    """Traffic through the qdisc while it is being reconfigured."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        try:
            s.sendto(b"x" * (64 + 23 * i), (dst, 9))
        except OSError:
            pass  # the qdisc may refuse (memory limit): that is its right
    s.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--traffic-to", default="", help="address behind DEV to send UDP to during batches")
    a = ap.parse_args()
    seed = a.seed if a.seed is not None else random.randrange(1 << 32)
    print("nlfuzz: seed %d" % seed, flush=True)
    rng = random.Random(seed)
    ifindex = socket.if_nametoindex(a.dev)
    f = Fuzzer(rng, parse_header(a.header), a.dev, ifindex)
    deadline = time.time() + a.seconds
    last = "start"
    try:
        while f.sent < a.messages and time.time() < deadline:
            for i in range(a.batch):
                last, err = f.step()
                if a.traffic_to and i % 5 == 0:
                    send_udp(a.traffic_to, 20)
            f.check(last)
            ok, why = balance(a.dev)
            if not ok:
                raise AssertionError("after %s: accounting: %s" % (last, why))
    except AssertionError as e:
        print("nlfuzz: FAIL (seed %d, after %d messages): %s" % (seed, f.sent, e), flush=True)
        sys.exit(1)
    print("nlfuzz: %d messages (%d accepted, %d refused; %d gave a tin a profile of its own),"
          " dumps and accounting checked after every %d"
          % (f.sent, f.accepted, f.sent - f.accepted, f.profiled, a.batch), flush=True)


if __name__ == "__main__":
    main()
