# GDB setup for hotslab: `make gdb`, or by hand from the repository's top directory:
#   gdb-multiarch build/kernel.elf -x tools/gdb/kernel.gdb
# Loads the kernel-aware commands (kcpus, kslabinfo, kdmesg, khotplug; see
# tools/gdb/hotslab.py) and attaches to QEMU's gdbstub on $GDBPORT (default 1234), lining
# the symbols up with wherever the image runs. Each vCPU is a GDB thread.
set pagination off
set confirm off
set print pretty on
python
import os, gdb
here = os.path.dirname(os.path.abspath(gdb.current_progspace().filename or "build/kernel.elf"))
gdb.execute("source " + os.path.join(here, "..", "tools", "gdb", "hotslab.py"))
end
kconnect
