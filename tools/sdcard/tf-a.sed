# make sdcard FIRMWARE=tf-a: config.txt's armstub= line switched on (bl31.bin is on the card).
s/^#armstub=bl31\.bin$/armstub=bl31.bin/
