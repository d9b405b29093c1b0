"""The files inside the tiny guest: initramfs ``/init`` and the root disk's boot scripts.

Boot path: the kernel runs ``/init`` from the initramfs, which loads the virtio modules (order
resolved from the modules' own dependencies at build time), mounts ``/dev/vda`` (ext4) and
switches to it. On the root disk, busybox ``init`` runs ``/etc/init.d/rcS``: read the NoCloud seed
(``meta-data``: ``local-hostname``, ``public-keys``; ``user-data``: the ``password:`` hash, which
``/etc/init.d/password`` sets for ``root``), DHCP on ``eth0``, start ``acpid`` (so ACPI powerdown
works) and ``dropbear`` for ``root`` (password logins only when the seed set a password), then print
the ready marker on the serial console.
"""

from __future__ import annotations

from hexagone.compute.driver import READY_MARKER
from hexagone.compute.drivers.accel import CANARY_MARKER

INIT = f"""#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
if grep -q hexagone.canary /proc/cmdline; then
    echo "{CANARY_MARKER} uptime=$(cut -d' ' -f1 /proc/uptime)"
    poweroff -f
fi
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r mod; do insmod "/lib/modules/$mod.ko" 2>/dev/null; done < /lib/modules/load.order
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
    echo "HEXAGONE-GUEST-FAILED: cannot mount the root disk /dev/vda"
    exec sh
fi
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
"""

INITTAB = """::sysinit:/etc/init.d/rcS
::shutdown:/etc/init.d/rcK
::ctrlaltdel:/bin/reboot
"""

RCS = f"""#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
[ -e /proc/mounts ] || mount -t proc proc /proc
mkdir -p /dev/pts /run /tmp /mnt/seed /root/.ssh /etc/dropbear /var/log
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs tmpfs /tmp
ip link set lo up

HOST=localhost
PWAUTH=
: > /run/keys
for dev in /dev/vd[b-z] /dev/sr0; do
    [ -b "$dev" ] || continue
    if mount -t iso9660 -o ro "$dev" /mnt/seed 2>/dev/null; then
        if [ -f /mnt/seed/meta-data ]; then
            HOST=$(sed -n 's/^local-hostname: *"*\\([^"]*\\)"*$/\\1/p' /mnt/seed/meta-data)
            awk '/^public-keys:/ {{k=1; next}}
                 k && /^  - / {{sub(/^  - "?/, ""); sub(/"$/, ""); print; next}}
                 {{k=0}}' /mnt/seed/meta-data > /run/keys
            [ -f /mnt/seed/user-data ] && /etc/init.d/password /mnt/seed/user-data /etc/passwd && PWAUTH=yes
            umount /mnt/seed
            break
        fi
        umount /mnt/seed
    fi
done
hostname "${{HOST:-localhost}}"
echo "${{HOST:-localhost}}" > /etc/hostname
chmod 700 /root /root/.ssh
cp /run/keys /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys

if [ -e /sys/class/net/eth0 ]; then
    ip link set eth0 up
    udhcpc -i eth0 -s /etc/udhcpc.script -t 10 -T 1 -b -x hostname:"$HOST" >/dev/null 2>&1
fi
acpid -c /etc/acpi
if [ -n "$PWAUTH" ]; then dropbear -R -p 22 -P /run/dropbear.pid; else dropbear -R -s -p 22 -P /run/dropbear.pid; fi
IP=$(ip -4 -o addr show dev eth0 2>/dev/null | awk '{{print $4}}')
echo "{READY_MARKER} hostname=$HOST ip=$IP uptime=$(cut -d' ' -f1 /proc/uptime)" > /dev/console
"""

#: ``password USER_DATA PASSWD``: the first ``password: "$6$..."`` line of the seed's user-data
#: (what cloud-init sets for the default user) becomes root's password hash in PASSWD. Only a
#: SHA-512 crypt hash is accepted, never a clear password. Exit 0 when it set one, 1 otherwise.
ROOT_HASH_SCRIPT = r"""#!/bin/sh
HASH=$(sed -n 's/^password: *"\(\$6\$[./0-9A-Za-z$=]*\)" *$/\1/p' "$1" | head -n 1)
[ -n "$HASH" ] || exit 1
sed -i "s|^root:[^:]*:|root:$HASH:|" "$2"
"""

RCK = """#!/bin/sh
[ -f /run/dropbear.pid ] && kill "$(cat /run/dropbear.pid)" 2>/dev/null
sync
mount -o remount,ro / 2>/dev/null
"""

UDHCPC_SCRIPT = """#!/bin/sh
case "$1" in
    deconfig)
        ip -4 addr flush dev "$interface"
        ip link set "$interface" up
        ;;
    bound|renew)
        ip -4 addr replace "$ip/${mask:-24}" dev "$interface"
        if [ -n "$router" ]; then
            ip route del default 2>/dev/null
            for r in $router; do ip route add default via "$r" dev "$interface"; break; done
        fi
        if [ -n "$dns" ]; then
            : > /etc/resolv.conf
            for d in $dns; do echo "nameserver $d" >> /etc/resolv.conf; done
        fi
        ;;
esac
exit 0
"""

POWER_BUTTON = """#!/bin/sh
poweroff
"""

ROOT_FILES: dict[str, tuple[str, int]] = {
    "etc/inittab": (INITTAB, 0o644),
    "etc/init.d/rcS": (RCS, 0o755),
    "etc/init.d/rcK": (RCK, 0o755),
    "etc/init.d/password": (ROOT_HASH_SCRIPT, 0o755),
    "etc/udhcpc.script": (UDHCPC_SCRIPT, 0o755),
    "etc/acpi/PWRF/00000080": (POWER_BUTTON, 0o755),
    "etc/passwd": ("root:*:0:0:root:/root:/bin/sh\n", 0o644),
    "etc/group": ("root:x:0:\n", 0o644),
    "etc/shells": ("/bin/sh\n/bin/ash\n", 0o644),
    "etc/fstab": ("/dev/vda / ext4 rw 0 1\n", 0o644),
    "etc/hostname": ("localhost\n", 0o644),
    "etc/resolv.conf": ("", 0o644),
}
