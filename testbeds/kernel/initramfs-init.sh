#!/bin/sh
# /init of the test bed's tiny initramfs (run by the static busybox it carries).
# Loads the virtio, 9p and overlay modules, mounts the host's root filesystem read-only from the 9p share "hnroot"
# with a tmpfs upper layer on top (the whole host filesystem, at the same paths, writable in memory), moves /dev and
# /proc into it and hands over to the guest init on the host filesystem:
#   hnbb=<busybox on the host filesystem>  hninit=<guest init script>  (both given on the kernel command line)
export PATH=/bin

fail() {
    echo "hn-initramfs: $*"
    poweroff -f
}

mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
while read -r module; do
    insmod "/modules/$module" || echo "hn-initramfs: insmod $module failed"
done < /modules/order
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hnroot /lower \
    || fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 hnmem /mem || fail "cannot mount the tmpfs for the upper layer"
mkdir /mem/upper /mem/work
mount -t overlay -o lowerdir=/lower,upperdir=/mem/upper,workdir=/mem/work hnroot /newroot \
    || fail "cannot mount the overlay root"
mount --move /dev /newroot/dev
mount --move /proc /newroot/proc
# shellcheck disable=SC2154  # hnbb and hninit come from the kernel command line
exec switch_root /newroot "$hnbb" sh "$hninit"
