#!/usr/bin/env python3
"""What a device tree blob describes, read with libfdt (Debian's python3-libfdt) and
written as canonical lines: the independent reading the kernel's own reader is compared
with (src/dt/corpus_tests.rs). It implements the rules that reader promises, from the
Devicetree Specification and Linux's bindings, without sharing any of its code:

  memory BASE SIZE               each reg entry of each enabled root child with
                                 device_type "memory" (Linux 6.1's rule), size > 0
  reserved BASE SIZE [no-map]    each /memreserve/ entry, then each reg entry of each
                                 enabled child of /reserved-memory, size > 0
  cpu MPIDR METHOD [ADDR]        each child of /cpus named "cpu" or of device_type
                                 "cpu", in tree order, whose first reg entry has no bits
                                 outside the MPIDR affinity fields and is not a repeat;
                                 METHOD psci (only with a usable /psci), spin-table ADDR
                                 (an 8-byte cpu-release-addr, 8-aligned, below 2^47),
                                 none, or unsupported:NAME
  cpus-left-out N                CPUs beyond the first 512
  topology MPIDR S:C:K:T         for each CPU above, in the same order, the place
                                 /cpus/cpu-map gives it: a node strictly below
                                 cpu-map with a one-cell `cpu` phandle naming the
                                 CPU's node (`phandle`, one cell) places it by the
                                 names on its path from cpu-map, which must read
                                 [socketN] clusterN [clusterN..] coreN [threadN]
                                 (decimal N below 2^32; the innermost cluster counts,
                                 a missing socket or thread is 0); a CPU named again
                                 keeps the place of the first leaf in tree order
  gic v2 DIST SIZE CPU SIZE      the root interrupt controller (the root's
  gic v3 DIST SIZE REDIST SIZE.. interrupt-parent, followed to a controller with none),
                                 if it is a GIC this kernel drives; else the first
                                 enabled GIC in tree order
  psci 0.2+ hvc|smc              the first enabled node compatible with arm,psci,
  psci 0.1 hvc|smc [FN=ID]..     arm,psci-0.2 or arm,psci-1.0, if its method is hvc or
                                 smc. Which PSCI is the first of those three its
                                 compatible list names (Linux's of_match_node prefers
                                 the earliest string): 0.2+ for the two later ones,
                                 0.1 for "arm,psci", whose function numbers the node
                                 gives: cpu_suspend, cpu_off, cpu_on, migrate, each as
                                 FN=ID where its value is one 32-bit cell
  timer PHYS VIRT                the first enabled arm,armv8-timer/armv7-timer: its
                                 second and third interrupts, GIC PPIs, as INTIDs
  uart pl011|mini BASE SIZE NAME each enabled arm,pl011 / brcm,bcm2835-aux-uart, in tree
                                 order: reg entry 0 translated to a CPU address
  console BASE                   the UART the last console= bootarg names (alias or
                                 path), else /chosen/stdout-path's, else the first UART

Addresses are translated through every parent's ranges (a parent without ranges means
no CPU address). Numbers are lower-case hex.

Usage: libfdt_reading.py DIR  (every *.dtb below DIR; a block per blob, "== NAME" first)
"""

import os
import re
import sys

import libfdt

NOTFOUND = (libfdt.NOTFOUND,)
MPIDR_AFFINITY = 0xff00ffffff
MAX_CPUS = 512  # the kernel's MAX_CPUS (src/lib.rs)
MAX_RELEASE_ADDR = 1 << 47  # what the kernel maps (src/dt/consistency.rs)
GICV2 = ("arm,gic-400", "arm,cortex-a15-gic", "arm,cortex-a7-gic", "qcom,msm-qgic2")
GICV3 = ("arm,gic-v3",)
UARTS = (("arm,pl011", "pl011"), ("brcm,bcm2835-aux-uart", "mini"))
PSCI = ("arm,psci", "arm,psci-0.2", "arm,psci-1.0")
PSCI_0_1_FUNCTIONS = ("cpu_suspend", "cpu_off", "cpu_on", "migrate")


class Untranslatable(Exception):
    pass


class Tree:
    def __init__(self, blob):
        self.blob = blob
        self.fdt = libfdt.Fdt(blob)
        # Every node: offset -> (path, parent offset, depth), in tree order.
        self.nodes = {}
        self.props = {}
        self.order = []
        stack = []
        offset, depth = 0, 0
        # libfdt's next_node ends with a negative offset, or a negative depth past the root.
        while offset >= 0 and depth >= 0:
            del stack[depth:]
            name = self.fdt.get_name(offset)
            parent = stack[-1] if stack else None
            path = "/" if parent is None else (
                self.nodes[parent][0].rstrip("/") + "/" + name)
            self.nodes[offset] = (path, parent, depth)
            self.props[offset] = self._properties(offset)
            self.order.append(offset)
            stack.append(offset)
            offset, depth = self.fdt.next_node(offset, depth, NOTFOUND)

    def _properties(self, offset):
        # Each property once, by offset: the binding's getprop mishandles reference counts
        # on a missing property (python3-libfdt 1.6.1), so it is never asked for one.
        props = {}
        at = self.fdt.first_property_offset(offset, NOTFOUND)
        while at >= 0:
            p = self.fdt.get_property_by_offset(at)
            props.setdefault(p.name, bytes(p))
            at = self.fdt.next_property_offset(at, NOTFOUND)
        return props

    def prop(self, offset, name):
        return self.props[offset].get(name)

    def string(self, offset, name):
        v = self.prop(offset, name)
        if v is None:
            return None
        return v.split(b"\0")[0].decode("utf-8", "replace")

    def strings(self, offset, name):
        v = self.prop(offset, name)
        return [] if v is None else [s.decode("utf-8", "replace") for s in v.rstrip(b"\0").split(b"\0")]

    def u32(self, offset, name):
        v = self.prop(offset, name)
        return int.from_bytes(v[:4], "big") if v is not None and len(v) >= 4 else None

    def cells(self, offset, name, default):
        v = self.u32(offset, name)
        return default if v is None else v

    def enabled(self, offset):
        status = self.string(offset, "status")
        return status in (None, "okay", "ok")

    def parent(self, offset):
        return self.nodes[offset][1]

    def path(self, offset):
        return self.nodes[offset][0]

    def name(self, offset):
        return self.fdt.get_name(offset)

    def compatible(self, offset, candidates):
        return any(c in candidates for c in self.strings(offset, "compatible"))

    def reg(self, offset):
        """Each (address, size) of reg, in the parent's cells, untranslated."""
        parent = self.parent(offset)
        ac = self.cells(parent, "#address-cells", 2)
        sc = self.cells(parent, "#size-cells", 1)
        v = self.prop(offset, "reg") or b""
        step = 4 * (ac + sc)
        entries = []
        for at in range(0, len(v) - step + 1, step) if step else []:
            addr = int.from_bytes(v[at:at + 4 * ac], "big")
            size = int.from_bytes(v[at + 4 * ac:at + step], "big")
            entries.append((addr, size))
        return entries

    def translate(self, offset, addr):
        """`addr`, in the address space of `offset`'s parent, as a CPU address."""
        bus = self.parent(offset)
        while bus is not None and self.parent(bus) is not None:
            ranges = self.prop(bus, "ranges")
            if ranges is None:
                raise Untranslatable(self.path(bus))
            if ranges:
                child_ac = self.cells(bus, "#address-cells", 2)
                parent_ac = self.cells(self.parent(bus), "#address-cells", 2)
                sc = self.cells(bus, "#size-cells", 1)
                step = 4 * (child_ac + parent_ac + sc)
                for at in range(0, len(ranges) - step + 1, step):
                    child = int.from_bytes(ranges[at:at + 4 * child_ac], "big")
                    parent = int.from_bytes(ranges[at + 4 * child_ac:at + 4 * (child_ac + parent_ac)], "big")
                    size = int.from_bytes(ranges[at + 4 * (child_ac + parent_ac):at + step], "big")
                    if child <= addr < child + size:
                        addr = addr - child + parent
                        break
                else:
                    raise Untranslatable(self.path(bus))
            bus = self.parent(bus)
        return addr

    def by_phandle(self, phandle):
        off = self.fdt.node_offset_by_phandle(phandle, NOTFOUND)
        return None if off < 0 else off

    def interrupt_parent(self, offset):
        node = offset
        while node is not None:
            ph = self.u32(node, "interrupt-parent")
            if ph is not None:
                return self.by_phandle(ph)
            node = self.parent(node)
        return None

    def interrupts(self, offset):
        """Each interrupt specifier of `offset` with its controller: (controller, cells)."""
        out = []
        ext = self.prop(offset, "interrupts-extended")
        if ext is not None:
            words = [int.from_bytes(ext[i:i + 4], "big") for i in range(0, len(ext) - 3, 4)]
            i = 0
            while i < len(words):
                ctrl = self.by_phandle(words[i])
                if ctrl is None:
                    break
                n = self.cells(ctrl, "#interrupt-cells", 0)
                out.append((ctrl, words[i + 1:i + 1 + n]))
                i += 1 + n
            return out
        v = self.prop(offset, "interrupts")
        ctrl = self.interrupt_parent(offset)
        if v is None or ctrl is None:
            return out
        n = self.cells(ctrl, "#interrupt-cells", 0)
        if n == 0:
            return out
        words = [int.from_bytes(v[i:i + 4], "big") for i in range(0, len(v) - 3, 4)]
        for i in range(0, len(words) - n + 1, n):
            out.append((ctrl, words[i:i + n]))
        return out


def hexs(n):
    return "0x%x" % n


def read(blob):
    t = Tree(blob)
    lines = []
    root = 0

    # memory
    memory = []
    for off in t.order:
        if t.parent(off) == root and t.string(off, "device_type") == "memory" and t.enabled(off):
            for addr, size in t.reg(off):
                if size > 0:
                    memory.append((addr, size))
    for addr, size in memory:
        lines.append("memory %s %s" % (hexs(addr), hexs(size)))

    # reservations: the memreserve block, read from the header's offsets
    rsv = int.from_bytes(blob[16:20], "big")
    while rsv + 16 <= len(blob):
        addr = int.from_bytes(blob[rsv:rsv + 8], "big")
        size = int.from_bytes(blob[rsv + 8:rsv + 16], "big")
        rsv += 16
        if addr == 0 and size == 0:
            break
        if size > 0:
            lines.append("reserved %s %s" % (hexs(addr), hexs(size)))
    resmem = t.fdt.path_offset("/reserved-memory", NOTFOUND)
    if resmem >= 0:
        for off in t.order:
            if t.parent(off) == resmem and t.enabled(off):
                no_map = " no-map" if t.prop(off, "no-map") is not None else ""
                for addr, size in t.reg(off):
                    if size > 0:
                        try:
                            base = t.translate(off, addr)
                        except Untranslatable:
                            continue
                        lines.append("reserved %s %s%s" % (hexs(base), hexs(size), no_map))

    # psci
    psci = None
    for off in t.order:
        if t.enabled(off) and t.compatible(off, PSCI):
            method = t.string(off, "method")
            first = next(c for c in t.strings(off, "compatible") if c in PSCI)
            if method in ("hvc", "smc") and first == "arm,psci":
                psci = "0.1 " + method
                for fn in PSCI_0_1_FUNCTIONS:
                    v = t.prop(off, fn)
                    if v is not None and len(v) == 4:
                        psci += " %s=%s" % (fn, hexs(int.from_bytes(v, "big")))
            elif method in ("hvc", "smc"):
                psci = "0.2+ " + method
            break

    # cpus
    cpus = t.fdt.path_offset("/cpus", NOTFOUND)
    seen = []
    phandles = []
    left_out = 0
    if cpus >= 0:
        ac = t.cells(cpus, "#address-cells", 2)
        for off in t.order:
            if t.parent(off) != cpus:
                continue
            if not (t.name(off).split("@")[0] == "cpu" or t.string(off, "device_type") == "cpu"):
                continue
            reg = t.prop(off, "reg")
            if reg is None or len(reg) < 4 * ac or ac == 0:
                continue
            mpidr = int.from_bytes(reg[:4 * ac], "big")
            if mpidr & ~MPIDR_AFFINITY or mpidr in seen:
                continue
            method = t.string(off, "enable-method")
            if method == "psci":
                desc = "psci" if psci else "unsupported:psci"
            elif method == "spin-table":
                rel = t.prop(off, "cpu-release-addr")
                addr = int.from_bytes(rel, "big") if rel is not None and len(rel) == 8 else None
                if addr is not None and addr % 8 == 0 and addr < MAX_RELEASE_ADDR:
                    desc = "spin-table %s" % hexs(addr)
                else:
                    desc = "unsupported:spin-table"
            elif method is None:
                desc = "none"
            else:
                desc = "unsupported:" + method
            if len(seen) >= MAX_CPUS:
                left_out += 1
                continue
            seen.append(mpidr)
            phandle = t.prop(off, "phandle")
            phandles.append(int.from_bytes(phandle, "big") if phandle is not None and len(phandle) == 4 else None)
            lines.append("cpu %s %s" % (hexs(mpidr), desc))
    if left_out:
        lines.append("cpus-left-out %d" % left_out)
    lines.extend(topology(t, seen, phandles))

    # the GIC
    def gic_version(off):
        if not t.enabled(off):
            return None
        if t.compatible(off, GICV2):
            return 2
        if t.compatible(off, GICV3):
            return 3
        return None

    gic = None
    ctrl = t.interrupt_parent(root)
    hops = 0
    while ctrl is not None and hops < 16:
        up = t.interrupt_parent(ctrl)
        if up is None or up == ctrl:
            break
        ctrl, hops = up, hops + 1
    if ctrl is not None and gic_version(ctrl):
        gic = ctrl
    else:
        gic = next((off for off in t.order if gic_version(off)), None)
    if gic is not None:
        try:
            regs = [(t.translate(gic, a), s) for a, s in t.reg(gic)]
            if gic_version(gic) == 2 and len(regs) >= 2 and all(s for _, s in regs[:2]):
                lines.append("gic v2 %s %s %s %s" % tuple(hexs(n) for r in regs[:2] for n in r))
            elif gic_version(gic) == 3:
                count = t.cells(gic, "#redistributor-regions", 1)
                redists = regs[1:1 + min(count, 8)]
                if regs and redists and all(s for _, s in regs[:1 + len(redists)]):
                    lines.append("gic v3 %s" % " ".join(hexs(n) for r in regs[:1 + len(redists)] for n in r))
        except Untranslatable:
            pass

    if psci:
        lines.append("psci " + psci)

    # the timer
    for off in t.order:
        if t.enabled(off) and t.compatible(off, ("arm,armv8-timer", "arm,armv7-timer")):
            ppis = []
            for ctrl, cells in t.interrupts(off)[1:3]:
                if ctrl == gic and len(cells) >= 3 and cells[0] == 1 and cells[1] < 16:
                    ppis.append(16 + cells[1])
            if len(ppis) == 2:
                lines.append("timer %d %d" % tuple(ppis))
            break

    # UARTs and the console
    uarts = []
    for off in t.order:
        if not t.enabled(off):
            continue
        kind = next((k for c, k in UARTS if t.compatible(off, (c,))), None)
        if kind is None:
            continue
        reg = t.reg(off)
        if not reg or reg[0][1] == 0:
            continue
        try:
            base = t.translate(off, reg[0][0])
        except Untranslatable:
            continue
        uarts.append((off, kind, base, reg[0][1]))
        lines.append("uart %s %s %s %s" % (kind, hexs(base), hexs(reg[0][1]), t.name(off)))

    chosen = t.fdt.path_offset("/chosen", NOTFOUND)
    wanted = []
    if chosen >= 0:
        bootargs = t.string(chosen, "bootargs") or ""
        console_args = [w[len("console="):] for w in bootargs.split() if w.startswith("console=")]
        if console_args:
            wanted.append(console_args[-1])
        stdout = t.string(chosen, "stdout-path") or t.string(chosen, "linux,stdout-path")
        if stdout:
            wanted.append(stdout)
    console = None
    for name in wanted:
        name = name.split(":")[0] if name.startswith("/") else name.split(":")[0].split(",")[0]
        target = t.fdt.path_offset(name, (libfdt.NOTFOUND, libfdt.BADPATH))
        if target >= 0:
            console = next((u for u in uarts if u[0] == target), None)
            if console:
                break
    if console is None and uarts:
        console = uarts[0]
    if console:
        lines.append("console %s" % hexs(console[2]))

    if not memory:
        lines.insert(0, "refused no-memory")
    return lines


PLACE_NAME = re.compile(r"(socket|cluster|core|thread)([0-9]+)")
PLACE_PATH = re.compile(r"(socket,)?(cluster,)+core(,thread)?")


def topology(t, mpidrs, phandles):
    """The `topology` lines of the CPUs kept (their MPIDRs and phandles, in order)."""
    cpu_map = t.fdt.path_offset("/cpus/cpu-map", NOTFOUND)
    if cpu_map < 0:
        return []
    places = [None] * len(mpidrs)
    for off in t.order:
        chain = []
        up = off
        while up is not None and up != cpu_map:
            chain.append(t.name(up))
            up = t.parent(up)
        if up is None or off == cpu_map:
            continue
        v = t.prop(off, "cpu")
        if v is None or len(v) != 4:
            continue
        names = [PLACE_NAME.fullmatch(n) for n in reversed(chain)]
        if not all(names) or any(int(m.group(2)) >= 1 << 32 for m in names):
            continue
        if not PLACE_PATH.fullmatch(",".join(m.group(1) for m in names)):
            continue
        number = {kind: 0 for kind in ("socket", "cluster", "core", "thread")}
        for m in names:
            number[m.group(1)] = int(m.group(2))
        phandle = int.from_bytes(v, "big")
        if phandle in phandles:
            cpu = phandles.index(phandle)
            if places[cpu] is None:
                places[cpu] = "%d:%d:%d:%d" % tuple(number[k] for k in ("socket", "cluster", "core", "thread"))
    return ["topology %s %s" % (hexs(m), p) for m, p in zip(mpidrs, places) if p is not None]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: libfdt_reading.py DIR")
    top = sys.argv[1]
    blobs = sorted(
        os.path.relpath(os.path.join(d, f), top)
        for d, _, files in os.walk(top) for f in files if f.endswith(".dtb"))
    for name in blobs:
        with open(os.path.join(top, name), "rb") as f:
            blob = f.read()
        print("== " + name)
        try:
            for line in read(blob):
                print(line)
        except libfdt.FdtException as e:
            print("refused malformed %s" % e)


if __name__ == "__main__":
    main()
