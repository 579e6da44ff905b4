#!/bin/sh
# busybox udhcpc script for the role tests: print the lease it got, change nothing.
# udhcpc passes the lease in the environment:
# shellcheck disable=SC2154
if [ "$1" = bound ]; then
    echo "LEASE ip=$ip router=$router subnet=$subnet serverid=$serverid"
fi
exit 0
