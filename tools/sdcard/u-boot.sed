# make sdcard BOOTLOADER=u-boot: the firmware loads U-Boot instead of the kernel.
/^# Start the cores in AArch64/,/^kernel=kernel8\.img$/c\
# Start the cores in AArch64 and load U-Boot (Debian's rpi_arm64 build) as the kernel.\
# U-Boot reads extlinux/extlinux.conf on this partition and boots the kernel (the file\
# Image) by itself, with the bootargs of that file's append line and the device tree the\
# firmware gave U-Boot. This card has no cmdline.txt: U-Boot would replace what it says.\
arm_64bit=1\
kernel=u-boot.bin
