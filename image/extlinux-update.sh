#!/bin/sh
# Writes /boot/extlinux/extlinux.conf for the newest installed kernel. Run at
# image build and, through /etc/kernel/postinst.d, after every kernel upgrade.
set -eu
version=$(ls -1 /boot/vmlinuz-* 2>/dev/null | sed 's|^/boot/vmlinuz-||' | sort -V | tail -n 1)
[ -n "$version" ] || { echo "parvis-extlinux-update: no kernel in /boot" >&2; exit 1; }
mkdir -p /boot/extlinux
# no_timer_check: the kernel's check that the timer interrupt works gives up
# on a slow or busy hypervisor and panics ("IO-APIC + timer doesn't work!"),
# seen under TCG on a loaded host.
cat >/boot/extlinux/extlinux.conf.new <<CONF
# Written by parvis-extlinux-update; edits are lost at the next kernel upgrade.
SERIAL 0 115200
DEFAULT parvis
PROMPT 0
TIMEOUT 1

LABEL parvis
  LINUX /boot/vmlinuz-$version
  INITRD /boot/initrd.img-$version
  APPEND root=LABEL=rootfs ro console=tty0 console=ttyS0,115200 net.ifnames=1 panic=10 no_timer_check
CONF
mv /boot/extlinux/extlinux.conf.new /boot/extlinux/extlinux.conf
