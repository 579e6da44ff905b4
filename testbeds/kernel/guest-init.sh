#!/bin/sh
# PID 1 of the test bed's QEMU guest, run by busybox sh after the initramfs switched to the host's root
# (a read-only 9p share under a tmpfs overlay).  Busybox runs its applets without exec, which matters under TCG.
#
# The host describes the job in the 9p share "hnjob" (mounted on /run/hn-job):
#   setup   shell variables: HN_KVER HN_MODULES HN_PRELOAD HN_RW HN_NET HN_HOSTNAME
#   job.sh  the command (environment, working directory, exec), run by /bin/sh with an empty environment
# and gets back:
#   rc      the command's exit code        error   why the command could not be started
# The command's stdout and stderr go to the virtio-serial ports named hn.stdout and hn.stderr.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
JOB=/run/hn-job

say() {
    echo "hn-guest: $*"
}

finish() {
    sync
    reboot -f
    say "reboot failed"
    sleep 5
    poweroff -f
}

die() {
    say "$*"
    echo "$*" > "$JOB/error"
    finish
}

uptime_s() {
    read -r up _idle < /proc/uptime
    echo "$up"
}

mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /run
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mkdir -p "$JOB"
if ! mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 hnjob "$JOB"; then
    say "cannot mount the job folder"
    finish
fi
[ -r "$JOB/setup" ] || die "no setup file in the job folder"
# shellcheck source=/dev/null
. "$JOB/setup"
[ -n "$HN_HOSTNAME" ] && hostname "$HN_HOSTNAME"

# Kernel modules live in the cache folder: bind them in at the usual place (the root is writable in memory).
mkdir -p "/lib/modules/$HN_KVER"
mount --bind "$HN_MODULES/$HN_KVER" "/lib/modules/$HN_KVER" || die "cannot bind the modules from $HN_MODULES"
# shellcheck disable=SC2086
/sbin/modprobe -a $HN_PRELOAD || say "modprobe -a $HN_PRELOAD failed"

# The host folders shared read-write, at their own paths.
while read -r tag dir; do
    [ -n "$tag" ] || continue
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=mmap "$tag" "$dir" \
        || die "cannot mount the read-write folder $dir"
done <<RW
$HN_RW
RW

ip link set lo up
if [ "$HN_NET" = 1 ]; then
    ip link set eth0 up || die "no eth0 (virtio_net)"
    ip addr add 10.0.2.15/24 dev eth0 || die "cannot address eth0"
fi

# The command's output ports (virtio-serial ports appear shortly after virtio_console loads).
out=
err=
tries=0
while [ -z "$out" ] || [ -z "$err" ]; do
    for port in /sys/class/virtio-ports/*; do
        [ -r "$port/name" ] || continue
        read -r name < "$port/name"
        case "$name" in
            hn.stdout) out=/dev/${port##*/} ;;
            hn.stderr) err=/dev/${port##*/} ;;
        esac
    done
    if [ -z "$out" ] || [ -z "$err" ]; then
        tries=$((tries + 1))
        [ "$tries" -lt 200 ] || die "the output ports hn.stdout/hn.stderr did not appear"
        sleep 0.05
    fi
done

say "command starting at $(uptime_s)s"
env -i /bin/sh "$JOB/job.sh" < /dev/null > "$out" 2> "$err"
rc=$?
say "command exited with $rc at $(uptime_s)s"
echo "$rc" > "$JOB/rc"
finish
