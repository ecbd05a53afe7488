"""Kernel-aware GDB commands for hotslab, reading the kernel's memory through the symbols
in build/kernel.elf (GDB's Python API; no code runs in the target):

  kconnect [PORT]  attach to QEMU's gdbstub and line the symbols up with the running image
  ksymbols         line the symbols up again (after the image was loaded away from its link address)
  kcpus            per CPU: logical id, MPIDR, enable method, hotplug state, online or not, GDB thread
  kslabinfo        the slab cache chain: name, object size, slabs, objects in use, per-CPU array fill
  kdmesg           the kernel log ring buffer (works on a hung kernel)
  khotplug         the hotplug lock: readers inside, the writer, waiters, per-CPU read depth

Each command says plainly when the kernel is too early in boot for what it reads. kcpus,
kslabinfo and khotplug take --raw: the same facts as key=value words, a line per thing, as
the shell's --raw forms print them (docs/shell.md), for scripts and tests.
"""

import os
import re

import gdb

# Where the image is linked (linker.ld) and where an arm64 Image keeps its magic.
IMAGE_MAGIC_OFFSET = 56
IMAGE_MAGIC = b"ARM\x64"
TEXT_OFFSET = 0x80000
STATE_NAMES = ["offline", "up-prepare", "booting", "online", "down-prepare", "dying", "dead"]
ONCE_COMPLETE = 2


class TooEarly(Exception):
    """The kernel has not yet built what a command reads."""


# --- reading Rust values ------------------------------------------------------------------

WRAPPERS = (
    "core::cell::UnsafeCell",
    "core::mem::maybe_uninit::MaybeUninit",
    "core::mem::manually_drop::ManuallyDrop",
    "core::mem::maybe_dangling::MaybeDangling",
)


def peel(v):
    """Strips the transparent wrappers (UnsafeCell, MaybeUninit, ...) around a value."""
    while (v.type.strip_typedefs().name or "").startswith(WRAPPERS):
        fields = v.type.strip_typedefs().fields()
        named = [f.name for f in fields if f.name in ("value", "__0")]
        v = v[named[0]] if named else v[fields[-1].name]
    return v


def atomic(v):
    """The plain value inside an Atomic* (`v`, or `p` for AtomicPtr)."""
    name = "p" if any(f.name == "p" for f in v.type.strip_typedefs().fields()) else "v"
    return int(peel(v[name]))


def once(v, what):
    """The value of a spin::Once, or TooEarly naming `what`."""
    status = atomic(v["status"]["__0"])
    if status != ONCE_COMPLETE:
        raise TooEarly(what)
    return peel(v["data"])


def mutex_data(v):
    """What a spin::Mutex guards (read without taking it: the target is stopped)."""
    return peel(v["inner"]["data"])


def lock_data(v):
    """What the kernel's SpinLock guards: its spin::Mutex's data."""
    return mutex_data(v["inner"])


def arrayvec(v):
    length = int(v["len"])
    return [peel(v["xs"][i]) for i in range(length)]


def slice_items(v):
    """The elements of a Rust slice reference (`&[T]`)."""
    data = v["data_ptr"]
    return [data[i] for i in range(int(v["length"]))]


def per_cpu(v, what):
    """The entries of a smp::percpu::PerCpu table (one per possible CPU), or TooEarly
    naming `what` before boot made it."""
    return slice_items(once(v["table"], what))


def cpu_in(mask, cpu):
    """Whether `cpu` is in an AtomicCpuMask (64-bit words, lowest CPU first)."""
    return atomic(mask["__0"][cpu // 64]) >> (cpu % 64) & 1 == 1


def arraystring(v):
    length = int(v["len"])
    return bytes(int(peel(v["xs"][i])) for i in range(length)).decode("utf-8", "replace")


def sym(name):
    """A kernel static by its Rust path, whatever language the current frame is in (at the
    first instruction it is the loader's stub, which has none)."""
    language = gdb.parameter("language")
    gdb.execute("set language rust", to_string=True)
    try:
        return gdb.parse_and_eval(name)
    except gdb.error as e:
        # A static whose initializer holds a closure is also a namespace (its closure's),
        # which GDB's Rust parser takes the name for: look the symbol up instead.
        found = gdb.lookup_static_symbol(name) or gdb.lookup_global_symbol(name)
        if found is not None:
            return found.value()
        raise gdb.GdbError(f"{name}: {e} (is build/kernel.elf loaded?)")
    finally:
        gdb.execute(f"set language {language}", to_string=True)


def platform():
    return once(sym("hotslab::boot::PLATFORM"), "the device tree is not kept yet (kernel_main has not run)")


def variant(v):
    """The variant name of a Rust enum value, e.g. SpinTable."""
    text = str(v)
    return re.split(r"[{( ]", text.split("::")[-1])[0]


# --- lining up symbols -----------------------------------------------------------------------


def elf_path():
    return gdb.current_progspace().filename


def link_start():
    """_start's address as the loaded symbols say (an assembly label, so no debug info)."""
    text = gdb.execute("info address _start", to_string=True)
    return int(re.search(r"0x[0-9a-f]+", text).group(0), 16)


def image_base_candidates():
    """Where the image may run, from every vCPU's pc: a loader puts it at a 2 MiB boundary
    plus the header's text_offset."""
    seen = []
    for thread in gdb.selected_inferior().threads():
        try:
            thread.switch()
            pc = int(gdb.selected_frame().pc())
        except gdb.error:
            continue
        # In the image, or in the loader's stub just below it (halted at the first instruction).
        guesses = [(pc & ~0x1FFFFF) + TEXT_OFFSET]
        if pc >= TEXT_OFFSET:
            guesses.append(((pc - TEXT_OFFSET) & ~0x1FFFFF) + TEXT_OFFSET)
        seen.extend(g for g in guesses if g not in seen)
    return seen


def has_image_magic(base):
    try:
        got = bytes(gdb.selected_inferior().read_memory(base + IMAGE_MAGIC_OFFSET, 4))
    except gdb.MemoryError:
        return False
    return got == IMAGE_MAGIC


def line_up_symbols():
    """Reloads the ELF's symbols at the offset the image runs at, if it is not its link
    address (e.g. 0x80000 on the Raspberry Pi 4, 0x40000000 below the link address)."""
    linked = link_start()
    if has_image_magic(linked):
        return 0
    current = gdb.selected_thread()
    try:
        for base in image_base_candidates():
            if has_image_magic(base):
                offset = base - linked
                gdb.execute(f"symbol-file -o {offset:#x} {elf_path()}", to_string=True)
                return offset
    finally:
        if current is not None and current.is_valid():
            current.switch()
    print("ksymbols: no arm64 Image header found near any vCPU's pc: symbols left at the link address")
    return 0


class KConnect(gdb.Command):
    """kconnect [PORT]: attach to QEMU's gdbstub (PORT, else $GDBPORT, else 1234) and line
    the kernel's symbols up with where its image runs."""

    def __init__(self):
        super().__init__("kconnect", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        port = arg.strip() or os.environ.get("GDBPORT", "1234")
        gdb.execute(f"target remote :{port}")
        offset = line_up_symbols()
        threads = len(gdb.selected_inferior().threads())
        print(f"hotslab: {threads} vCPU(s) as GDB threads 1-{threads}; symbols at offset {offset:#x}")


class KSymbols(gdb.Command):
    """ksymbols: line the kernel's symbols up with where its image runs (after relocation)."""

    def __init__(self):
        super().__init__("ksymbols", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        print(f"symbols at offset {line_up_symbols():#x}")


# --- the kernel-aware commands ---------------------------------------------------------------


class KernelCommand(gdb.Command):
    """A command that reports TooEarly plainly instead of failing."""

    def invoke(self, arg, from_tty):
        try:
            self.run(arg)
        except TooEarly as e:
            print(f"{self._command}: the kernel is too early in boot: {e}")

    def __init__(self, name):
        super().__init__(name, gdb.COMMAND_USER)
        self._command = name


def raw_option(command, arg):
    """Whether `arg` asks for the raw form: nothing or `--raw`, anything else refused."""
    words = arg.split()
    if words and words != ["--raw"]:
        raise gdb.GdbError(f"{command}: expected nothing or --raw, not {arg.strip()!r}")
    return bool(words)


def thread_of_cpu():
    """GDB thread number for each logical CPU id, from each vCPU's TPIDR_EL1 (where the
    kernel keeps a CPU's id). A vCPU that never ran the kernel has 0 there too, so an id
    claimed by several threads is left out."""
    claims = {}
    current = gdb.selected_thread()
    try:
        for thread in gdb.selected_inferior().threads():
            thread.switch()
            try:
                cpu = int(gdb.parse_and_eval("$TPIDR_EL1"))
            except gdb.error:
                continue
            claims.setdefault(cpu, []).append(thread.num)
    finally:
        if current is not None and current.is_valid():
            current.switch()
    return {cpu: threads[0] for cpu, threads in claims.items() if len(threads) == 1}


class KCpus(KernelCommand):
    """kcpus: every CPU of the device tree: logical id, MPIDR, enable method, hotplug state,
    online or offline, and the GDB thread (vCPU) it runs on."""

    def __init__(self):
        super().__init__("kcpus")

    def run(self, arg):
        raw = raw_option("kcpus", arg)
        cpus = arrayvec(platform()["cpus"])
        slots = per_cpu(sym("hotslab::smp::state::SLOTS"), "the CPUs' slots are not made yet")
        online = sym("hotslab::smp::state::ONLINE")
        threads = thread_of_cpu()
        if not raw:
            print("CPU  MPIDR        METHOD       STATE             ONLINE  GDB-THREAD")
        for i, cpu in enumerate(cpus):
            mpidr = int(cpu["mpidr"]["__0"])  # dt::Mpidr, a newtype
            if i < len(slots):
                state = atomic(slots[i]["state"])
                name = STATE_NAMES[state] if state < len(STATE_NAMES) else f"?{state}"
                parked = bool(atomic(slots[i]["parked"]))
            else:
                # Beyond the CPUs the kernel manages, as the shell's cpus says.
                name, parked = "left-out", False
            method = variant(cpu["enable_method"]).lower().replace("spintable", "spin-table")
            is_online = "yes" if cpu_in(online, i) else "no"
            if raw:
                print(
                    f"cpu={i} mpidr={mpidr:#x} method={method} state={name} "
                    f"parked={'yes' if parked else 'no'} online={is_online} "
                    f"thread={threads.get(i, 'none')}"
                )
                continue
            if parked:
                name += " (parked)"
            thread = threads.get(i, "?")
            print(f"{i:3}  {mpidr:<#11x}  {method:<12} {name:<17} {is_online:<7} {thread}")


class KSlabinfo(KernelCommand):
    """kslabinfo: the caches on the slab chain: name, object size, slabs, objects in use
    (from the slab lists) and each CPU's array fill (avail/limit)."""

    def __init__(self):
        super().__init__("kslabinfo")

    def run(self, arg):
        raw = raw_option("kslabinfo", arg)
        slab = once(sym("hotslab::mm::kernel_slab::SLAB"), "the slab allocator is not started yet")
        caches = arrayvec(lock_data(slab["chain"]["caches"]))
        if raw:
            print(f"caches={len(caches)}")
        else:
            print(f"{len(caches)} cache(s) on the chain")
            print(f"{'name':<24} {'objsize':>7} {'slabs':>6} {'inuse':>6}  per-CPU arrays (cpu:avail/limit)")
        for ref in caches:
            cache = ref.dereference()
            lists = lock_data(cache["lists"])
            arrays = []
            for cpu, entry in enumerate(slice_items(cache["percpu"])):
                slot = entry["array"]
                ptr = atomic(slot)
                if ptr:
                    ac = gdb.Value(ptr).cast(slot["p"]["value"].type).dereference()
                    arrays.append(f"{cpu}:{int(ac['avail'])}/{int(ac['limit'])}")
            if raw:
                print(
                    f"cache={arraystring(cache['name'])} "
                    f"objsize={int(cache['geometry']['object_size'])} slabs={int(lists['slabs'])} "
                    f"inuse={int(lists['inuse'])} arrays={','.join(arrays) or 'none'}"
                )
                continue
            print(
                f"{arraystring(cache['name']):<24} {int(cache['geometry']['object_size']):>7} "
                f"{int(lists['slabs']):>6} {int(lists['inuse']):>6}  {' '.join(arrays) or '(none)'}"
            )


class KDmesg(KernelCommand):
    """kdmesg: the kernel log from its ring buffer, oldest line first."""

    def __init__(self):
        super().__init__("kdmesg")

    def run(self, arg):
        once(sym("hotslab::console::output::UART"), "the console is not started yet, so nothing is logged")
        ring = lock_data(sym("hotslab::console::output::CONSOLE")["inner"])
        buf = ring["buf"]
        size = buf.type.range()[1] + 1
        written = int(ring["written"])
        data = bytes(gdb.selected_inferior().read_memory(buf.address, size))
        if written <= size:
            text = data[:written]
        else:
            start = written % size
            text = data[start:] + data[:start]
            text = text[text.find(b"\n") + 1 :]
        print(text.decode("utf-8", "replace"), end="")


class KHotplug(KernelCommand):
    """khotplug: the CPU hotplug lock: its mutex, readers inside, the writer, the CPUs
    waiting, and each CPU's read-side nesting depth."""

    def __init__(self):
        super().__init__("khotplug")

    def run(self, arg):
        raw = raw_option("khotplug", arg)
        lock = sym("hotslab::smp::hotplug::LOCK")
        writer = atomic(lock["writer"])
        depth = lock["depth"]
        # The writer looks at the possible CPUs' counts alone; so does this.
        cpus = min(atomic(lock["cpus"]), depth.type.range()[1] + 1)
        nested = [f"cpu{cpu}:{atomic(depth[cpu])}" for cpu in range(cpus) if atomic(depth[cpu])]
        # A ticket lock: held (or queued for) while a ticket is out.
        mutex = "held" if atomic(lock["next"]) != atomic(lock["serving"]) else "free"
        readers = sum(1 for cpu in range(cpus) if atomic(depth[cpu]) and cpu != writer)
        if raw:
            print(
                f"lock=hotplug readers={readers} "
                f"writer={'none' if writer >= 1 << 63 else writer} "
                f"waiting={atomic(lock['waiters'])} mutex={mutex} depth={','.join(nested) or 'none'}"
            )
            return
        print(f"mutex:     {mutex}")
        print(f"readers:   {readers} inside")
        print(f"writer:    {'none' if writer >= 1 << 63 else f'cpu{writer}'}")
        print(f"waiting:   {atomic(lock['waiters'])}")
        print(f"read depth: {' '.join(nested) or '(no CPU holds the read side)'}")


for command in (KConnect, KSymbols, KCpus, KSlabinfo, KDmesg, KHotplug):
    command()
