# hotslab: build, run and test the kernel.
#
#   make run     boot in QEMU virt and get the shell   (options below)
#   make test    every test: lint, host unit tests, the QEMU suite
#   make image   build/Image, build/kernel.elf and build/dts/*.dtb
#
# Options for run:  SMP=4  MEM=512M  CPU=cortex-a72  GIC=2|3  EL=1|2  ARGS='bootargs'

SMP   ?= 4
MEM   ?= 512M
CPU   ?= cortex-a72
GIC   ?= 2
EL    ?= 1
ARGS  ?=

TARGET  := aarch64-unknown-none
ELF     := target/$(TARGET)/release/kernel
BUILD   := build
IMAGE   := $(BUILD)/Image
DTS     := $(wildcard dts/*.dts)
DTBS    := $(patsubst dts/%.dts,$(BUILD)/dts/%.dtb,$(DTS))
QEMU    := qemu-system-aarch64
OBJCOPY := $(shell command -v llvm-objcopy || command -v rust-objcopy)
READELF := $(shell command -v llvm-readelf || command -v readelf)

ifeq ($(EL),2)
VIRT := virt,gic-version=$(GIC),virtualization=on
else ifeq ($(EL),1)
VIRT := virt,gic-version=$(GIC)
else
$(error EL must be 1 or 2, not '$(EL)')
endif

QEMU_FLAGS := -M $(VIRT) -cpu $(CPU) -smp $(SMP) -m $(MEM) -nographic -nic none \
	-semihosting-config enable=on,target=native -kernel $(IMAGE)

.PHONY: all image run test lint unit qemu-test setup clean FORCE

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

run: image
	$(QEMU) $(QEMU_FLAGS) -append '$(ARGS)'

lint: $(BUILD)/.setup
	cargo fmt --all -- --check
	cargo clippy --lib --tests -- -D warnings
	cargo clippy -p ktest --all-targets -- -D warnings
	cargo clippy --release --target $(TARGET) --lib --bin kernel -- -D warnings

# QEMU's own device trees for the virt board, for the host tests of the DT reader.
QEMU_DTBS := $(BUILD)/dts/qemu-virt-gicv2.dtb $(BUILD)/dts/qemu-virt-gicv3-20cpus.dtb
$(BUILD)/dts/qemu-virt-gicv2.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=2,dumpdtb=$@ -cpu cortex-a72 -smp 4 -m 512M -nic none -display none
$(BUILD)/dts/qemu-virt-gicv3-20cpus.dtb: $(BUILD)/.setup
	@mkdir -p $(BUILD)/dts
	$(QEMU) -M virt,gic-version=3,virtualization=on,dumpdtb=$@ -cpu cortex-a72 -smp 20 -m 512M -nic none -display none

unit: image $(QEMU_DTBS)
	cargo test --workspace
	# The hotplug lock under loom, every interleaving (bounded): its own build directory.
	RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test --release --lib loom

qemu-test: image
	cargo run --release -p ktest -- --image $(IMAGE)

test: lint unit qemu-test

clean:
	cargo clean
	rm -rf $(BUILD)

FORCE:
