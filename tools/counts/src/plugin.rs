//! The plugin's face to QEMU: install, the per-vCPU counters, translation, the markers'
//! calls.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use qemu_plugin::install::{Args, Info, Value};
use qemu_plugin::sys::{
    qemu_plugin_cb_flags, qemu_plugin_mem_rw, qemu_plugin_op, qemu_plugin_scoreboard_new,
    qemu_plugin_u64, qemu_plugin_u64_get,
};
use qemu_plugin::{
    Error, HasCallbacks, PluginId, RegisterDescriptor, Result, TranslationBlock, VCPUIndex,
    register,
};

use crate::ledger::{Counts, Ledger};
use crate::marker::Marker;
use crate::spin::SpinFilter;

/// ISB (any option): `core::hint::spin_loop()` and every counter read.
fn is_isb(bytes: &[u8]) -> bool {
    <[u8; 4]>::try_from(bytes).is_ok_and(|b| u32::from_le_bytes(b) & 0xffff_f0ff == 0xd503_30df)
}

/// One vCPU's counters in QEMU's scoreboard.
#[repr(C)]
struct VcpuCounters {
    insns: u64,
    loads: u64,
    stores: u64,
}

/// The scoreboard's three columns.
#[derive(Clone, Copy)]
struct Columns {
    insns: qemu_plugin_u64,
    loads: qemu_plugin_u64,
    stores: qemu_plugin_u64,
}

// SAFETY: a scoreboard is QEMU's per-vCPU storage, made to be updated by each vCPU's
// thread and read from callbacks on any; the handle itself is never freed while QEMU runs.
unsafe impl Send for Columns {}
// SAFETY: as for Send: shared handles to storage QEMU synchronises per vCPU.
unsafe impl Sync for Columns {}

impl Columns {
    fn new() -> Columns {
        // SAFETY: QEMU allocates (and grows with the vCPUs) one zeroed element per vCPU.
        let score = unsafe { qemu_plugin_scoreboard_new(size_of::<VcpuCounters>()) };
        let column = |offset| qemu_plugin_u64 { score, offset };
        Columns {
            insns: column(std::mem::offset_of!(VcpuCounters, insns)),
            loads: column(std::mem::offset_of!(VcpuCounters, loads)),
            stores: column(std::mem::offset_of!(VcpuCounters, stores)),
        }
    }

    fn of(&self, vcpu: VCPUIndex) -> Counts {
        // SAFETY: the entries belong to this scoreboard, and vcpu is one QEMU named.
        unsafe {
            Counts {
                insns: qemu_plugin_u64_get(self.insns, vcpu),
                loads: qemu_plugin_u64_get(self.loads, vcpu),
                stores: qemu_plugin_u64_get(self.stores, vcpu),
            }
        }
    }
}

/// What the markers' calls share.
struct Shared {
    out: PathBuf,
    columns: Columns,
    /// The markers' registers, in `Marker::ALL` order, found when the first vCPU starts.
    registers: OnceLock<Vec<RegisterDescriptor<'static>>>,
    /// Each vCPU's waiting, taken out of its counts (`spin`).
    spins: Vec<Mutex<SpinFilter>>,
    ledger: Mutex<Ledger>,
}

impl Shared {
    fn spin(&self, vcpu: VCPUIndex) -> std::sync::MutexGuard<'_, SpinFilter> {
        self.spins[vcpu as usize]
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// A vCPU's counts, its waiting taken out.
    fn of(&self, vcpu: VCPUIndex) -> Counts {
        self.columns.of(vcpu) - self.spin(vcpu).waited()
    }

    fn on_isb(&self, pc: u64, vcpu: VCPUIndex) {
        let now = self.columns.of(vcpu);
        self.spin(vcpu).isb(pc, now);
    }

    fn argument(&self, marker: Marker) -> u64 {
        let Some(register) = self.registers.get().and_then(|r| {
            let at = Marker::ALL.iter().position(|m| *m == marker)?;
            r.get(at)
        }) else {
            return u64::MAX;
        };
        match register.read() {
            Ok(bytes) if bytes.len() == 8 => {
                u64::from_le_bytes(bytes.try_into().expect("eight bytes"))
            }
            _ => u64::MAX,
        }
    }

    fn on_marker(&self, marker: Marker, vcpu: VCPUIndex) {
        let argument = self.argument(marker);
        // No round of a wait is taken to span a marker: what it counts is settled now.
        self.spin(vcpu).forget();
        let own = self.of(vcpu);
        let mut ledger = self.ledger.lock().unwrap_or_else(|e| e.into_inner());
        match marker {
            Marker::Start => ledger.start(vcpu, argument, own),
            Marker::End => ledger.end(vcpu, argument, own),
            Marker::Checkpoint => ledger.checkpoint(vcpu, argument, own),
            Marker::Publish => {
                let text = ledger.render(argument);
                if let Err(e) = publish(&self.out, &text) {
                    let what = format!("counts: cannot write {}: {e}\n", self.out.display());
                    let _ = qemu_plugin::qemu_plugin_outs(what);
                }
            }
        }
    }
}

/// Replaces `out` with `text` in one rename.
fn publish(out: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut temporary = out.as_os_str().to_owned();
    temporary.push(".tmp");
    std::fs::write(&temporary, text)?;
    std::fs::rename(&temporary, out)
}

#[derive(Default)]
struct Plugin {
    shared: Option<Arc<Shared>>,
}

impl qemu_plugin::Register for Plugin {
    fn register(&mut self, id: PluginId, args: &Args, info: &Info) -> Result<()> {
        let out = match args.parsed.get("out") {
            Some(Value::String(path)) => PathBuf::from(path),
            _ => {
                return Err(Error::IoError(std::io::Error::other(
                    "counts: needs out=FILE, the file the kernel reads its counts from \
                     (the same path as its bench.counts= bootarg)",
                )));
            }
        };
        if info.target_name != "aarch64" {
            return Err(Error::IoError(std::io::Error::other(format!(
                "counts: knows aarch64's markers only, not {}'s",
                info.target_name
            ))));
        }
        // A file left by an earlier run must not pass for this one's.
        match std::fs::remove_file(&out) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(Error::IoError(e));
            }
            _ => {}
        }
        let vcpus = info.system.as_ref().map_or(1, |s| s.max_vcpus.max(1)) as usize;
        let shared = Arc::new(Shared {
            out,
            columns: Columns::new(),
            registers: OnceLock::new(),
            spins: (0..vcpus).map(|_| Mutex::default()).collect(),
            ledger: Mutex::new(Ledger::default()),
        });
        let at_exit = shared.clone();
        qemu_plugin::qemu_plugin_register_atexit_cb(id, move |_| {
            let ledger = at_exit.ledger.lock().unwrap_or_else(|e| e.into_inner());
            for problem in ledger.problems() {
                let _ = qemu_plugin::qemu_plugin_outs(format!("counts: problem {problem}\n"));
            }
        })?;
        self.shared = Some(shared);
        Ok(())
    }
}

impl HasCallbacks for Plugin {
    fn on_vcpu_init(&mut self, _: PluginId, _: VCPUIndex) -> Result<()> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        if shared.registers.get().is_some() {
            return Ok(());
        }
        let all = qemu_plugin::qemu_plugin_get_registers()?;
        let mut registers = Vec::new();
        for marker in Marker::ALL {
            let name = marker.register_name();
            let register = all
                .iter()
                .find(|r| r.name == name)
                .cloned()
                .ok_or_else(|| {
                    Error::IoError(std::io::Error::other(format!(
                        "counts: QEMU lists no register {name}"
                    )))
                })?;
            registers.push(register);
        }
        let _ = shared.registers.set(registers);
        Ok(())
    }

    fn on_translation_block_translate(&mut self, _: PluginId, tb: TranslationBlock) -> Result<()> {
        let Some(shared) = &self.shared else {
            return Ok(());
        };
        let columns = shared.columns;
        let dbg = std::env::var("COUNTS_DEBUG").unwrap_or_default();
        for insn in tb.instructions() {
            if dbg.contains("nothing") {
                continue;
            }
            if let Some(marker) = Marker::decode(&insn.data()) {
                let shared = shared.clone();
                insn.register_execute_callback_flags(
                    move |vcpu| shared.on_marker(marker, vcpu),
                    qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS,
                );
                continue;
            }
            if is_isb(&insn.data()) {
                let (shared, pc) = (shared.clone(), insn.vaddr());
                insn.register_execute_callback(move |vcpu| shared.on_isb(pc, vcpu));
            }
            let add = qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64;
            if !dbg.contains("noinsn") {
                qemu_plugin::qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
                    insn.clone(),
                    add,
                    columns.insns,
                    1,
                );
            }
            if dbg.contains("nomem") {
                continue;
            }
            for (rw, column) in [
                (qemu_plugin_mem_rw::QEMU_PLUGIN_MEM_R, columns.loads),
                (qemu_plugin_mem_rw::QEMU_PLUGIN_MEM_W, columns.stores),
            ] {
                qemu_plugin::qemu_plugin_register_vcpu_mem_inline_per_vcpu(
                    insn.clone(),
                    rw,
                    add,
                    column,
                    1,
                );
            }
        }
        Ok(())
    }
}

register!(Plugin::default());
