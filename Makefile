# hotslab: build, run and test the kernel.
#
#   make run     boot in QEMU and get the shell            (options below)
#   make debug   the same, halted, with QEMU's gdbstub on GDBPORT
#   make gdb     gdb-multiarch on build/kernel.elf, attached to it (GDBFLAGS= for more)
#   make test    every test: lint, host unit tests, the QEMU suite
#   make bench   the kernel's benchmarks and Linux's in the same QEMU: table, CSV, JSON, chart;
#                the same paths in guest instructions and accesses (the counting plugin);
#                LINUX_AT_64=1 adds Linux's boot at 64 CPUs (GICv3), 3 to over 10 minutes
#   make image   build/Image, build/kernel.elf and build/dts/*.dtb
#   make sdcard  a Raspberry Pi 4's card: its boot files in build/sdcard/ and the whole card,
#                ready for dd, in build/sdcard.img (docs/rpi4.md); FIRMWARE=stock|tf-a
#                (tf-a: BL31 as the armstub, PSCI), BOOTLOADER=none|u-boot (u-boot: U-Boot
#                boots the kernel through extlinux.conf), SDCARD=DIR for another directory
#   make docs    docs/tests.md's table of the QEMU cases, from tools/ktest's case list
#   make fuzz    the fuzz targets of fuzz/, FUZZ_SECONDS (300) each (FUZZ_TARGETS=...)
#
# Options for run and debug:
#   BOARD=virt   SMP=4  MEM=512M  CPU=cortex-a72  GIC=2|3  EL=1|2
#   BOARD=rpi4   QEMU's raspi4b (4 x A72, 2 GiB, entered at EL2), with DTB=PATH, or
#                DTB=upstream for Debian's bcm2711-rpi-4-b.dtb (default: ours, build/dts/rpi4.dtb),
#                and the Pi's boot chains (docs/rpi4.md):
#                FIRMWARE=tf-a: Trusted Firmware-A's BL31 as the ARM stub, loaded as the
#                  Pi's firmware loads it (tools/rpi4-armstub.sh): PSCI over SMC
#                BOOTLOADER=u-boot: U-Boot boots the kernel by itself from make sdcard's card
#                  image, the SD card here (DTB=upstream then; ARGS are the card's)
#   ARGS='bootargs'   GDBPORT=1234
#   SYMBOLIZE=0  show Oops reports as the kernel prints them, without the symbolised
#                call trace tools/symbolize adds after each (default 1)

BOARD ?= virt
SMP   ?= 4
MEM   ?= 512M
CPU   ?= cortex-a72
GIC   ?= 2
EL    ?= 1
ARGS  ?=
FIRMWARE   ?= stock
BOOTLOADER ?= none
GDBPORT ?= 1234
GDBFLAGS ?=
SYMBOLIZE ?= 1

TARGET  := aarch64-unknown-none-softfloat
ELF     := target/$(TARGET)/release/kernel
BUILD   := build
IMAGE   := $(BUILD)/Image
DTS     := $(wildcard dts/*.dts)
DTBS    := $(patsubst dts/%.dts,$(BUILD)/dts/%.dtb,$(DTS))
QEMU    := qemu-system-aarch64
OBJCOPY := $(shell command -v llvm-objcopy || command -v rust-objcopy)
READELF := $(shell command -v llvm-readelf || command -v readelf)

# The host tool that names the functions and lines of an Oops report's addresses.
SYMBOLIZER := target/release/symbolize
# The QEMU plugin that counts guest instructions, loads and stores between the kernel's
# count markers (tools/counts): for `make bench` and the QEMU cases that count.
COUNTS_PLUGIN := target/release/libcounts.so
ifeq ($(SYMBOLIZE),1)
CONSOLE_FILTER := $(SYMBOLIZER) --elf $(BUILD)/kernel.elf --
CONSOLE_DEPS   := $(SYMBOLIZER)
else ifeq ($(SYMBOLIZE),0)
CONSOLE_FILTER :=
CONSOLE_DEPS   :=
else
$(error SYMBOLIZE must be 0 or 1, not '$(SYMBOLIZE)')
endif

# The Raspberry Pi 4's device tree as distributions ship it (from Debian's kernel package).
UPSTREAM_DTB := $(BUILD)/dts/upstream/bcm2711-rpi-4-b.dtb
# The Raspberry Pi 4's boot firmware from Debian (fetched below), and make sdcard's card:
# its files in $(SDCARD)/, the whole card in $(SDCARD).img.
FIRMWARE_DIR := $(BUILD)/firmware
SDCARD       ?= $(BUILD)/sdcard
override SDCARD := $(patsubst %/,%,$(strip $(SDCARD)))
ifeq ($(SDCARD),)
$(error SDCARD must name a directory)
endif

ifeq ($(BOARD),virt)
ifeq ($(EL),2)
VIRT := virt,gic-version=$(GIC),virtualization=on
else ifeq ($(EL),1)
VIRT := virt,gic-version=$(GIC)
else
$(error EL must be 1 or 2, not '$(EL)')
endif
BOARD_FLAGS := -M $(VIRT) -cpu $(CPU) -smp $(SMP) -m $(MEM) -kernel $(IMAGE) -append '$(ARGS)'
SERIAL      := -serial mon:stdio
BOARD_DEPS  :=
ifneq ($(FIRMWARE)-$(BOOTLOADER),stock-none)
RUN_REFUSED := FIRMWARE and BOOTLOADER choose a Raspberry Pi 4 boot chain: add BOARD=rpi4
endif
else ifeq ($(BOARD),rpi4)
# U-Boot finds the card through the upstream tree's SD controller, which ours leaves out.
DTB ?= $(if $(filter u-boot,$(BOOTLOADER)),upstream,$(BUILD)/dts/rpi4.dtb)
override DTB := $(if $(filter upstream,$(DTB)),$(UPSTREAM_DTB),$(DTB))
BOARD_FLAGS := -M raspi4b
BOARD_DEPS  := $(DTB)
ifeq ($(FIRMWARE),tf-a)
# BL31 at 0 entering the kernel (or U-Boot), the tree and the kernel where the firmware
# puts them, made afresh for each run; the firmware's reset at SYSTEM_OFF ends QEMU.
BOARD_FLAGS += -no-reboot \
	$$(tools/rpi4-armstub.sh $(BUILD)/rpi4-armstub $(FIRMWARE_DIR)/bl31.bin $(DTB) \
	  $(if $(filter u-boot,$(BOOTLOADER)),$(FIRMWARE_DIR)/u-boot.bin '',$(IMAGE) '$(ARGS)'))
BOARD_DEPS  += $(FIRMWARE_DIR)/bl31.bin
# BL31 makes serial0, the PL011, the console.
SERIAL      := $$(tools/rpi4-serial.sh --stdout-path serial0 $(DTB) '$(ARGS)')
else ifeq ($(BOOTLOADER),u-boot)
BOARD_FLAGS += -dtb $(DTB) -kernel $(FIRMWARE_DIR)/u-boot.bin
# U-Boot prints on the PL011 before the kernel takes the console the tree names.
SERIAL      := $$(tools/rpi4-serial.sh --with-pl011 $(DTB) '$(ARGS)')
else
BOARD_FLAGS += -dtb $(DTB) -kernel $(IMAGE) -append '$(ARGS)'
# The PL011 or the mini UART, whichever the DT (or console=) makes the console.
SERIAL      := $$(tools/rpi4-serial.sh $(DTB) '$(ARGS)')
endif
ifeq ($(BOOTLOADER),u-boot)
# The card as make sdcard writes it for this chain, its writes kept out of the file.
BOARD_FLAGS += -drive if=sd,format=raw,snapshot=on,file=$(SDCARD).img
BOARD_DEPS  += sdcard $(FIRMWARE_DIR)/u-boot.bin
ifneq ($(ARGS),)
$(error ARGS: with BOOTLOADER=u-boot the bootargs are the card's (tools/sdcard/cmdline.txt): type the commands at the shell)
endif
endif
else
$(error BOARD must be virt or rpi4, not '$(BOARD)')
endif

QEMU_FLAGS = $(BOARD_FLAGS) -display none $(SERIAL) -nic none \
	-semihosting-config enable=on,target=native

.PHONY: all image run debug gdb sdcard chain-files test lint unit qemu-test docs bench fuzz setup clean FORCE

all: image

# Installs what is missing (Rust target, QEMU >= 9, gdb-multiarch, dtc); quiet when nothing is.
$(BUILD)/.setup: tools/setup.sh
	@bash tools/setup.sh
	@mkdir -p $(BUILD) && touch $@

setup:
	@bash tools/setup.sh

image: $(BUILD)/.setup $(IMAGE) $(BUILD)/kernel.elf $(DTBS)

# Cargo decides whether the kernel needs rebuilding.
$(ELF): FORCE $(BUILD)/.setup
	cargo build --release --target $(TARGET) --bin kernel

$(BUILD)/kernel.elf: $(ELF)
	@mkdir -p $(BUILD)
	cp $(ELF) $@

# The flat arm64 Image; the image applies only R_AARCH64_RELATIVE relocations to itself,
# so any other kind is a build error here rather than a hang at boot.
$(IMAGE): $(ELF)
	@mkdir -p $(BUILD)
	@bad=$$($(READELF) -r $(ELF) | awk '/^0/ && $$3 != "R_AARCH64_RELATIVE"' | head -3); \
	if [ -n "$$bad" ]; then echo "error: relocations the entry code cannot apply:"; echo "$$bad"; exit 1; fi
	$(OBJCOPY) -O binary $(ELF) $@

$(BUILD)/dts/%.dtb: dts/%.dts $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	dtc -q -I dts -O dtb -o $@ $<

run: image $(BOARD_DEPS) $(CONSOLE_DEPS)
	$(if $(RUN_REFUSED),$(error $(RUN_REFUSED)))
	$(CONSOLE_FILTER) $(QEMU) $(QEMU_FLAGS)

debug: image $(BOARD_DEPS) $(CONSOLE_DEPS)
	$(if $(RUN_REFUSED),$(error $(RUN_REFUSED)))
	@echo "QEMU is halted at the first instruction, gdbstub on port $(GDBPORT): 'make gdb' in another terminal"
	$(CONSOLE_FILTER) $(QEMU) $(QEMU_FLAGS) -S -gdb tcp::$(GDBPORT)

$(SYMBOLIZER): FORCE
	cargo build --release -p symbolize

# Cargo decides whether it needs rebuilding.
$(COUNTS_PLUGIN): FORCE
	cargo build --release -p counts

gdb: $(BUILD)/kernel.elf
	GDBPORT=$(GDBPORT) gdb-multiarch $(BUILD)/kernel.elf -x tools/gdb/kernel.gdb $(GDBFLAGS)

# Fetched from Debian's arm64 kernel package; where that is impossible the tests that need
# it say so loudly and skip.
$(UPSTREAM_DTB):
	@tools/fetch-debian.sh --meta linux-image-arm64 main $(@D) '*/broadcom/bcm2711-rpi-4-b.dtb' || \
	  echo "*** WARNING: could not fetch $@: the upstream-DTB tests will be SKIPPED ***"

$(BUILD)/dts/overlays/%.dtbo: dts/overlays/%.dts $(BUILD)/.setup
	@mkdir -p $(@D)
	dtc -q -@ -I dts -O dtb -o $@ $<

# The Raspberry Pi 4's boot firmware, each file from its Debian package at the version
# tools/debian-pins pins (SHA-256 checked): Trusted Firmware-A's BL31 for rpi4, U-Boot's
# rpi_arm64 build, and the GPU firmware.
$(FIRMWARE_DIR)/bl31.bin: tools/debian-pins tools/fetch-debian.sh
	tools/fetch-debian.sh arm-trusted-firmware main $(@D) 'usr/lib/arm-trusted-firmware/rpi4/bl31.bin'
$(FIRMWARE_DIR)/u-boot.bin: tools/debian-pins tools/fetch-debian.sh
	tools/fetch-debian.sh u-boot-rpi main $(@D) 'usr/lib/u-boot/rpi_arm64/u-boot.bin'
# (One fetch for both: &: makes them one target.)
$(FIRMWARE_DIR)/start4.elf $(FIRMWARE_DIR)/fixup4.dat &: tools/debian-pins tools/fetch-debian.sh
	tools/fetch-debian.sh raspi-firmware non-free-firmware $(FIRMWARE_DIR) \
	  usr/lib/raspi-firmware/start4.elf usr/lib/raspi-firmware/fixup4.dat

# A Raspberry Pi 4's card: its boot partition's files in $(SDCARD)/ (emptied first) and the
# whole card in $(SDCARD).img (tools/sdcard/image.sh). FIRMWARE=tf-a adds BL31 as the
# firmware's armstub (PSCI); BOOTLOADER=u-boot has the firmware load U-Boot, which boots
# the kernel through extlinux/extlinux.conf. config.txt is tools/sdcard/config.txt, with
# the chain's lines switched by tools/sdcard/tf-a.sed and u-boot.sed.
ifeq ($(FIRMWARE),stock)
SDCARD_ARMSTUB := \#armstub=bl31.bin
else ifeq ($(FIRMWARE),tf-a)
SDCARD_ARMSTUB := armstub=bl31.bin
else
$(error FIRMWARE must be stock or tf-a, not '$(FIRMWARE)')
endif
ifeq ($(BOOTLOADER),none)
SDCARD_KERNEL := kernel8.img
else ifeq ($(BOOTLOADER),u-boot)
SDCARD_KERNEL := u-boot.bin
else
$(error BOOTLOADER must be none or u-boot, not '$(BOOTLOADER)')
endif
SDCARD_SED  := $(if $(filter tf-a,$(FIRMWARE)),-f tools/sdcard/tf-a.sed) \
	$(if $(filter u-boot,$(BOOTLOADER)),-f tools/sdcard/u-boot.sed)
SDCARD_DEPS := $(FIRMWARE_DIR)/start4.elf $(FIRMWARE_DIR)/fixup4.dat \
	$(if $(filter tf-a,$(FIRMWARE)),$(FIRMWARE_DIR)/bl31.bin) \
	$(if $(filter u-boot,$(BOOTLOADER)),$(FIRMWARE_DIR)/u-boot.bin)
sdcard: image $(UPSTREAM_DTB) $(BUILD)/dts/rpi4.dtb $(BUILD)/dts/overlays/disable-bt.dtbo $(SDCARD_DEPS)
	@test -f $(UPSTREAM_DTB) || { echo "error: no $(UPSTREAM_DTB): the firmware needs it"; exit 1; }
	@test "$$(wc -l < tools/sdcard/cmdline.txt)" -le 1 || \
	  { echo "error: tools/sdcard/cmdline.txt must be one line: the firmware reads no more"; exit 1; }
	@if [ -n "$$(ls -A '$(SDCARD)' 2>/dev/null)" ] && [ ! -f '$(SDCARD)/config.txt' ]; then \
	  echo "error: $(SDCARD) holds files but no config.txt: not a card's directory, so not emptying it"; \
	  exit 1; fi
	rm -rf '$(SDCARD)' && mkdir -p '$(SDCARD)/overlays'
	sed -e '' $(SDCARD_SED) tools/sdcard/config.txt > '$(SDCARD)/config.txt'
	@grep -qx 'kernel=$(SDCARD_KERNEL)' '$(SDCARD)/config.txt' && \
	  grep -qx '$(SDCARD_ARMSTUB)' '$(SDCARD)/config.txt' || \
	  { echo "error: tools/sdcard/config.txt lacks the lines tools/sdcard/*.sed switch"; exit 1; }
	cp $(FIRMWARE_DIR)/start4.elf $(FIRMWARE_DIR)/fixup4.dat '$(SDCARD)/'
	cp $(UPSTREAM_DTB) '$(SDCARD)/bcm2711-rpi-4-b.dtb'
	cp $(BUILD)/dts/rpi4.dtb '$(SDCARD)/hotslab-rpi4.dtb'
	cp $(BUILD)/dts/overlays/disable-bt.dtbo '$(SDCARD)/overlays/'
ifeq ($(FIRMWARE),tf-a)
	cp $(FIRMWARE_DIR)/bl31.bin '$(SDCARD)/'
endif
ifeq ($(BOOTLOADER),u-boot)
	cp $(FIRMWARE_DIR)/u-boot.bin '$(SDCARD)/'
	cp $(IMAGE) '$(SDCARD)/Image'
	mkdir -p '$(SDCARD)/extlinux'
	{ cat tools/sdcard/extlinux.conf; printf '\tappend %s\n' "$$(cat tools/sdcard/cmdline.txt)"; } \
	  > '$(SDCARD)/extlinux/extlinux.conf'
else
	cp $(IMAGE) '$(SDCARD)/kernel8.img'
	cp tools/sdcard/cmdline.txt '$(SDCARD)/'
endif
	tools/sdcard/image.sh '$(SDCARD)' '$(SDCARD).img'
	@echo
	@echo "The card (FIRMWARE=$(FIRMWARE) BOOTLOADER=$(BOOTLOADER)): its files in $(SDCARD)/, the whole card in $(SDCARD).img."
	@echo "Write it to a card (/dev/sdX is your card: check with lsblk, this erases it):"
	@echo "  sudo dd if=$(SDCARD).img of=/dev/sdX bs=4M conv=fsync status=progress"

# Style and static checks, the image's included: no FP/SIMD register outside fpsimd.s.
lint: $(BUILD)/.setup $(BUILD)/kernel.elf
	cargo fmt --all -- --check
	cargo clippy --lib --tests -- -D warnings
	cargo clippy -p ktest -p symbolize -p bench -p counts --all-targets -- -D warnings
	cargo clippy --release --target $(TARGET) --lib --bin kernel -- -D warnings
	tools/check-fpsimd.sh $(BUILD)/kernel.elf src/arch/aarch64/fpsimd.s
	python3 tools/check-frames.py $(BUILD)/kernel.elf
	python3 tools/check-layers.py src

# QEMU's own device trees for the virt board, for the host tests of the DT reader.
QEMU_DTBS := $(BUILD)/dts/qemu-virt-gicv2.dtb $(BUILD)/dts/qemu-virt-gicv3-20cpus.dtb \
	$(BUILD)/dts/qemu-virt-numa.dtb $(BUILD)/dts/qemu-virt-gicv3-160cpus.dtb \
	$(BUILD)/dts/qemu-virt-topology.dtb $(BUILD)/dts/qemu-virt-threads.dtb
$(BUILD)/dts/qemu-virt-gicv2.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=2,dumpdtb=$@ -cpu cortex-a72 -smp 4 -m 512M -nic none -display none
$(BUILD)/dts/qemu-virt-gicv3-20cpus.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=3,virtualization=on,dumpdtb=$@ -cpu cortex-a72 -smp 20 -m 512M -nic none -display none

# More CPUs than the first redistributor region holds (123): a second region at 256 GiB.
$(BUILD)/dts/qemu-virt-gicv3-160cpus.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=3,dumpdtb=$@ -cpu cortex-a72 -smp 160 -m 1G -nic none -display none

# Two sockets of two clusters of two cores: QEMU writes /cpus/cpu-map.
$(BUILD)/dts/qemu-virt-topology.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=3,dumpdtb=$@ -cpu cortex-a72 -smp 8,sockets=2,clusters=2,cores=2 \
	  -m 512M -nic none -display none
# Two clusters of two cores of two threads: the map's leaves are threads.
$(BUILD)/dts/qemu-virt-threads.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=3,dumpdtb=$@ -cpu cortex-a72 \
	  -smp 8,sockets=1,clusters=2,cores=2,threads=2 -m 512M -nic none -display none

# Two NUMA nodes of 512 MiB, CPUs 0-1 (socket 0) in node 0 and 2-3 (socket 1) in node 1.
$(BUILD)/dts/qemu-virt-numa.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=2,dumpdtb=$@ -cpu cortex-a72 -smp 4,sockets=2,cores=2 -m 1G \
	  -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=512M \
	  -numa node,nodeid=0,cpus=0-1,memdev=m0 -numa node,nodeid=1,cpus=2-3,memdev=m1 \
	  -nic none -display none

# What QEMU's raspi4b hands the kernel: our tree and the upstream one after QEMU's edits
# (memory filled in, nodes it does not emulate disabled, FDT_NOP tokens left behind).
$(BUILD)/dts/qemu-raspi4b-rpi4.dtb: $(BUILD)/dts/rpi4.dtb $(IMAGE)
	$(QEMU) -M raspi4b,dumpdtb=$@ -dtb $< -kernel $(IMAGE) -display none
$(BUILD)/dts/qemu-raspi4b-upstream.dtb: $(UPSTREAM_DTB) $(IMAGE)
	@if [ -f $< ]; then $(QEMU) -M raspi4b,dumpdtb=$@ -dtb $< -kernel $(IMAGE) -display none 2>/dev/null; \
	 else rm -f $@; fi
QEMU_DTBS += $(BUILD)/dts/qemu-raspi4b-rpi4.dtb $(BUILD)/dts/qemu-raspi4b-upstream.dtb

# QEMU's virt tree (the GICv2 dump above) with one mistake each, made with the dtc tools,
# for the QEMU cases of tools/ktest/src/cases/bad_dtb.rs. QEMU's boot code puts /memory and /psci
# back into a tree given with -dtb, so the two trees without them are loaded unedited
# instead, and carry the boot script those cases expect in their own bootargs.
BAD_DTB_BASE := $(BUILD)/dts/qemu-virt-gicv2.dtb
BAD_DTB_RUN  := run="dt --raw; cpus --raw; cpu on 1; mem --raw; poweroff"
BAD_DTBS := $(patsubst %,$(BUILD)/dts/qemu-virt-%.dtb,no-psci no-memory no-cpus no-uart \
	unknown-gic dangling-stdout-path no-enable-method)
# (Both depend on this Makefile too, which holds the script.)
$(BUILD)/dts/qemu-virt-no-psci.dtb: $(BAD_DTB_BASE) Makefile
	cp $< $@.tmp && fdtput -r $@.tmp /psci && \
	  fdtput -t s $@.tmp /chosen bootargs '$(BAD_DTB_RUN)' && mv $@.tmp $@
$(BUILD)/dts/qemu-virt-no-memory.dtb: $(BAD_DTB_BASE) Makefile
	cp $< $@.tmp && fdtput -r $@.tmp /$$(fdtget -l $@.tmp / | grep '^memory@') && \
	  fdtput -t s $@.tmp /chosen bootargs '$(BAD_DTB_RUN)' && mv $@.tmp $@
$(BUILD)/dts/qemu-virt-no-cpus.dtb: $(BAD_DTB_BASE)
	cp $< $@.tmp && fdtput -r $@.tmp /cpus && mv $@.tmp $@
# The UART stdout-path names goes, and stdout-path and the serial0 alias dangle.
$(BUILD)/dts/qemu-virt-no-uart.dtb: $(BAD_DTB_BASE)
	cp $< $@.tmp && fdtput -r $@.tmp $$(fdtget -t s $@.tmp /chosen stdout-path) && mv $@.tmp $@
$(BUILD)/dts/qemu-virt-unknown-gic.dtb: $(BAD_DTB_BASE)
	cp $< $@.tmp && \
	  fdtput -t s $@.tmp /$$(fdtget -l $@.tmp / | grep '^intc@') compatible acme,imaginary-gic && \
	  mv $@.tmp $@
# CPUs 1-3 without an enable-method: the boot CPU runs alone and says why.
$(BUILD)/dts/qemu-virt-no-enable-method.dtb: $(BAD_DTB_BASE)
	cp $< $@.tmp && for c in 1 2 3; do fdtput -d $@.tmp /cpus/cpu@$$c enable-method || exit 1; done && \
	  mv $@.tmp $@
$(BUILD)/dts/qemu-virt-dangling-stdout-path.dtb: $(BAD_DTB_BASE)
	cp $< $@.tmp && fdtput -t s $@.tmp /chosen stdout-path /uart@7770000 && mv $@.tmp $@
# QEMU's tree for 512 CPUs (GICv3) with eight CPU nodes after its last, at the MPIDRs QEMU
# would give CPUs 512-519 (Aff1 32): more than the kernel's ceiling, which must take the
# first 512, say it left 8 out, and run. QEMU puts its /psci back in a tree given with -dtb.
BAD_DTBS += $(BUILD)/dts/qemu-virt-520cpus.dtb
CPU_NODE = \t\tcpu@%d {\n\t\t\treg = <0x%x>;\n\t\t\tenable-method = "psci";\n\t\t\tcompatible = "arm,cortex-a72";\n\t\t\tdevice_type = "cpu";\n\t\t};\n
$(BUILD)/dts/qemu-virt-520cpus.dtb: $(BUILD)/.setup Makefile
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=3,dumpdtb=$@.tmp -cpu cortex-a72 -smp 512 -m 2G -nic none \
	  -display none 2>/dev/null
	dtc -q -I dtb -O dts $@.tmp | awk -v extra="$$(for c in 0 1 2 3 4 5 6 7; do \
	    printf '$(CPU_NODE)' $$((512 + c)) $$((0x2000 + c)); done)" \
	  '{ print } /^\t\tcpu@511 \{/ { last = 1 } last && /^\t\t\};/ { printf "%s", extra; last = 0 }' \
	  | dtc -q -I dts -O dtb -o $@.tmp - && mv $@.tmp $@

# QEMU's virt tree with a /psci that speaks PSCI 0.1 alone (compatible "arm,psci", method
# hvc, the function numbers set here), for the QEMU cases of tools/ktest/src/cases/psci_0_1.rs.
# QEMU rewrites /psci in a tree given with -dtb, so these too are loaded unedited, with
# their boot script in their own bootargs. QEMU's PSCI answers the standard CPU_ON and
# CPU_OFF numbers (0xc4000003, 0x84000002, which Linux's Exynos trees give as PSCI 0.1's)
# and its own PSCI 0.1 ones (0x95c1ba60, 0x95c1ba5f); 0x95c1ba61, its PSCI 0.1 MIGRATE, it
# answers NOT_SUPPORTED.
PSCI01_RUN := run="dt --raw; cpus --raw; cpu off 1; cpus --raw; cpu on 1; hotplug 3; cpus --raw; poweroff"
PSCI01_DTBS := $(patsubst %,$(BUILD)/dts/qemu-virt-psci-0.1%.dtb,-qemu-numbers -cpu-on-unanswered \
	-no-cpu-on -no-cpu-off) $(BUILD)/dts/qemu-virt-psci-0.1.dtb
# $(call psci01,CPU_ON,CPU_OFF,RUN): the tree, with either number left out when empty.
psci01 = cp $(BAD_DTB_BASE) $@.tmp && fdtput -t s $@.tmp /psci compatible arm,psci && \
	fdtput -t s $@.tmp /psci method hvc && \
	for p in cpu_suspend cpu_off cpu_on migrate; do fdtput -d $@.tmp /psci $$p || exit 1; done && \
	$(if $(1),fdtput -t x $@.tmp /psci cpu_on $(1) &&) \
	$(if $(2),fdtput -t x $@.tmp /psci cpu_off $(2) &&) \
	fdtput -t s $@.tmp /chosen bootargs '$(3)' && mv $@.tmp $@
$(BUILD)/dts/qemu-virt-psci-0.1.dtb: $(BAD_DTB_BASE) Makefile
	$(call psci01,0xc4000003,0x84000002,$(PSCI01_RUN))
$(BUILD)/dts/qemu-virt-psci-0.1-qemu-numbers.dtb: $(BAD_DTB_BASE) Makefile
	$(call psci01,0x95c1ba60,0x95c1ba5f,run="cpus --raw; cpu off 2; cpus --raw; cpu on 2; hotplug 1; poweroff")
$(BUILD)/dts/qemu-virt-psci-0.1-cpu-on-unanswered.dtb: $(BAD_DTB_BASE) Makefile
	$(call psci01,0x95c1ba61,0x84000002,run="dt --raw; cpus --raw; cpu on 1; poweroff")
$(BUILD)/dts/qemu-virt-psci-0.1-no-cpu-on.dtb: $(BAD_DTB_BASE) Makefile
	$(call psci01,,0x84000002,run="dt --raw; cpus --raw; cpu on 1; poweroff")
$(BUILD)/dts/qemu-virt-psci-0.1-no-cpu-off.dtb: $(BAD_DTB_BASE) Makefile
	$(call psci01,0xc4000003,,run="dt --raw; cpus --raw; cpu off 1; cpu off 0; cpus --raw; poweroff")

# Every arm64 device tree of Debian's Linux package, and libfdt's reading of each, which
# the host test src/dt/corpus_tests.rs compares the kernel's reader with. Where the package
# cannot be fetched that test says so loudly and skips.
LINUX_DTBS    := $(BUILD)/dts/linux
LINUX_READING := $(BUILD)/dts/linux.reading
PYTHON_LIBFDT  = $(firstword $(foreach p,/usr/bin/python3 python3,$(shell $(p) -c 'import libfdt' 2>/dev/null && echo $(p))))
$(LINUX_DTBS)/.fetched:
	@rm -rf $(LINUX_DTBS)
	@if tools/fetch-debian.sh --meta --under 'usr/lib/linux-image-*' linux-image-arm64 main \
	    $(LINUX_DTBS) '*.dtb'; then touch $@; else \
	  echo "*** WARNING: could not fetch Debian's arm64 device trees: their comparison with libfdt will be SKIPPED ***"; fi
$(LINUX_READING): $(LINUX_DTBS)/.fetched tools/dt-reference/libfdt_reading.py $(BUILD)/.setup
	@test -n "$(PYTHON_LIBFDT)" || { echo "error: no Python with libfdt (tools/setup.sh installs python3-libfdt)"; exit 1; }
	$(PYTHON_LIBFDT) tools/dt-reference/libfdt_reading.py $(LINUX_DTBS) > $@.tmp && mv $@.tmp $@

# The arm64 trees of Linux 6.12 (Debian bookworm-backports' linux-image-arm64) whose /psci
# is PSCI 0.1 alone, which Linux 6.1's package does not ship, and libfdt's reading of them:
# the same comparison, and a check that each is read as PSCI 0.1 with the function numbers
# libfdt reads. Skipped loudly, like the others, where they cannot be fetched.
LINUX612_DTBS    := $(BUILD)/dts/linux-6.12
LINUX612_READING := $(BUILD)/dts/linux-6.12.reading
PSCI_0_1_TREES   := exynos5433-tm2 exynos5433-tm2e exynos7-espresso exynos7885-jackpotlte
$(LINUX612_DTBS)/.fetched:
	@rm -rf $(LINUX612_DTBS)
	@if tools/fetch-debian.sh --suite bookworm-backports --meta --under 'usr/lib/linux-image-*' \
	    linux-image-arm64 main $(LINUX612_DTBS) $(foreach t,$(PSCI_0_1_TREES),'*/exynos/$(t).dtb'); \
	  then touch $@; else \
	  echo "*** WARNING: could not fetch Linux 6.12's PSCI 0.1 trees: their checks will be SKIPPED ***"; fi
$(LINUX612_READING): $(LINUX612_DTBS)/.fetched tools/dt-reference/libfdt_reading.py $(BUILD)/.setup
	@test -n "$(PYTHON_LIBFDT)" || { echo "error: no Python with libfdt (tools/setup.sh installs python3-libfdt)"; exit 1; }
	$(PYTHON_LIBFDT) tools/dt-reference/libfdt_reading.py $(LINUX612_DTBS) > $@.tmp && mv $@.tmp $@

unit: image $(QEMU_DTBS) $(LINUX_READING) $(LINUX612_READING)
	cargo test --workspace
	@test -f $(UPSTREAM_DTB) || echo "*** SKIPPED: the upstream Raspberry Pi 4 DTB tests (no $(UPSTREAM_DTB)) ***"
	# Every Linux arm64 tree against libfdt's reading of it, with the count of each outcome;
	# Linux 6.12's PSCI 0.1 trees read as PSCI 0.1.
	cargo test --lib dt::corpus_tests -- --ignored --nocapture
	# The hotplug lock under loom, every interleaving (bounded): its own build directory.
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib loom

# What the boot-chain cases boot (tools/ktest/src/cases/rpi4_chains.rs): Debian's BL31 and
# U-Boot, and make sdcard's card for each chain through U-Boot, as a user makes them.
# Where the firmware cannot be fetched, those cases say so loudly and skip; a card that
# cannot be made from fetched firmware is an error.
CHAIN_CARDS := $(BUILD)/cards
chain-files: image $(UPSTREAM_DTB)
	@$(MAKE) -s $(FIRMWARE_DIR)/bl31.bin $(FIRMWARE_DIR)/u-boot.bin $(FIRMWARE_DIR)/start4.elf || \
	  echo "*** WARNING: Debian's Raspberry Pi 4 firmware could not be fetched: the boot-chain cases will be SKIPPED ***"
	@if [ -f $(FIRMWARE_DIR)/u-boot.bin ] && [ -f $(FIRMWARE_DIR)/start4.elf ] && [ -f $(UPSTREAM_DTB) ]; then \
	  $(MAKE) -s sdcard SDCARD=$(CHAIN_CARDS)/u-boot FIRMWARE=stock BOOTLOADER=u-boot >/dev/null && \
	  $(MAKE) -s sdcard SDCARD=$(CHAIN_CARDS)/tf-a-u-boot FIRMWARE=tf-a BOOTLOADER=u-boot >/dev/null; fi

# ONLY=TEXT runs only the cases whose name contains TEXT (`cargo run -p ktest -- --list`).
qemu-test: image $(UPSTREAM_DTB) $(BAD_DTBS) $(PSCI01_DTBS) $(LINUX_DTBS)/.fetched $(COUNTS_PLUGIN) chain-files
	cargo run --release -p ktest -- --image $(IMAGE) $(if $(ONLY),--only '$(ONLY)')

# docs/tests.md's table of the QEMU cases, written from the cases themselves.
docs:
	cargo run -q -p ktest -- --write-table docs/tests.md

test: lint unit qemu-test

# The fuzz targets of fuzz/ (its own workspace, on nightly), each for FUZZ_SECONDS, after
# installing what is missing (the nightly toolchain, cargo-fuzz). The device tree target is
# seeded with every tree of build/dts/; what a target finds is left in fuzz/artifacts/.
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= dt_parse shell_line
fuzz: $(DTBS) $(QEMU_DTBS) $(BAD_DTBS) $(PSCI01_DTBS) $(LINUX_DTBS)/.fetched $(LINUX612_DTBS)/.fetched
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
	@mkdir -p fuzz/corpus/dt_parse fuzz/corpus/shell_line
	@for f in $(BUILD)/dts/*.dtb $(BUILD)/dts/upstream/*.dtb $(LINUX_DTBS)/*/*.dtb $(LINUX612_DTBS)/*/*.dtb; do [ -f "$$f" ] || continue; \
	  dtc -q -I dtb -O dtb -o fuzz/corpus/dt_parse/seed-$$(basename $$f) $$f || exit 1; done
	@cp fuzz/seeds/shell_line/* fuzz/corpus/shell_line/
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
	  cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    || exit 1; \
	done

# Debian's Linux 6.1 and busybox in an initramfs that times boot and sysfs CPU hotplug
# (tools/linux-peer); without it the report has no ratios against Linux, and says so.
PEER := $(BUILD)/linux-peer
bench: image $(BUILD)/dts/rpi4.dtb $(COUNTS_PLUGIN)
	@tools/linux-peer/build.sh $(PEER) || \
	  echo "*** WARNING: the Linux peer could not be built: no ratios against Linux ***"
	cargo run --release -p bench -- --image $(IMAGE) --rpi4-dtb $(BUILD)/dts/rpi4.dtb \
	  --peer $(PEER) --out $(BUILD)/bench --plugin $(COUNTS_PLUGIN) \
	  --linux-at-64 $(if $(filter 1,$(LINUX_AT_64)),yes,no)

clean:
	cargo clean
	rm -rf $(BUILD)

FORCE:
