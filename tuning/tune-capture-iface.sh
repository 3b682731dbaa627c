#!/bin/bash
# tune-capture-iface.sh - prepare an interface for packet capture (see README.md).
#
# usage: tune-capture-iface.sh IFACE [--dry-run] [--worker-cpus LIST] [--no-sysctl]
#
# Steps, each idempotent (a setting already right is reported and left alone)
# and never fatal (a step that does not apply, e.g. ring sizes on veth, is
# reported and skipped):
#   1. offloads that merge frames off: gro, lro, gso, tso, rx-gro-hw (ethtool -K)
#   2. RX ring at its pre-set maximum (ethtool -g / -G)
#   3. the interface's IRQs moved off the CPUs in --worker-cpus
#      (/proc/irq/N/smp_affinity_list)
#   4. socket memory and backlog sysctls raised, never lowered
# --dry-run prints every command it would run and changes nothing.
# Exit status: 0 (steps skipped included), 2 usage or unknown interface.
set -u

RMEM_MAX=${PT_TUNE_RMEM_MAX:-67108864}         # 64 MiB
RMEM_DEFAULT=${PT_TUNE_RMEM_DEFAULT:-33554432} # 32 MiB
BACKLOG=${PT_TUNE_BACKLOG:-250000}

usage() {
    echo "usage: $0 IFACE [--dry-run] [--worker-cpus LIST] [--no-sysctl]" >&2
    exit 2
}

IFACE=""
DRY=0
WORKER_CPUS=""
SYSCTL=1
while [ $# -gt 0 ]; do
    case "$1" in
    --dry-run) DRY=1 ;;
    --worker-cpus)
        [ $# -ge 2 ] || usage
        WORKER_CPUS=$2
        shift
        ;;
    --worker-cpus=*) WORKER_CPUS=${1#*=} ;;
    --no-sysctl) SYSCTL=0 ;;
    -h | --help) usage ;;
    -*) echo "unknown option '$1'" >&2; usage ;;
    *)
        [ -z "$IFACE" ] || usage
        IFACE=$1
        ;;
    esac
    shift
done
[ -n "$IFACE" ] || usage
if ! ip link show dev "$IFACE" >/dev/null 2>&1; then
    echo "tune: unknown interface '$IFACE'" >&2
    exit 2
fi
if ! command -v ethtool >/dev/null 2>&1; then
    echo "tune: ethtool not found (Debian package 'ethtool'): offload and ring steps skipped" >&2
    HAVE_ETHTOOL=0
else
    HAVE_ETHTOOL=1
fi

say() { echo "tune: $*"; }

# Run a command, or with --dry-run only print it. Failure is reported, not fatal.
run() {
    if [ "$DRY" = 1 ]; then
        echo "would run: $*"
        return 0
    fi
    echo "run: $*"
    "$@" || { say "command failed (skipped): $*"; return 1; }
}

# Write VALUE to FILE (procfs), or print what would be written.
write_file() {
    local file=$1 value=$2
    if [ "$DRY" = 1 ]; then
        echo "would run: echo $value > $file"
        return 0
    fi
    echo "run: echo $value > $file"
    echo "$value" 2>/dev/null >"$file" || { say "cannot write $file (skipped)"; return 1; }
}

# ---- 1. offloads ----
# `ethtool -k` name -> `ethtool -K` name. Fixed features cannot change.
step_offloads() {
    local k long short state args=()
    local -A short_of=(
        [generic-receive-offload]=gro
        [large-receive-offload]=lro
        [generic-segmentation-offload]=gso
        [tcp-segmentation-offload]=tso
        [rx-gro-hw]=rx-gro-hw
    )
    if [ "$HAVE_ETHTOOL" = 0 ]; then
        say "offloads: skipped (no ethtool)"
        return
    fi
    if ! k=$(ethtool -k "$IFACE" 2>/dev/null); then
        say "offloads: $IFACE does not report offloads (skipped)"
        return
    fi
    for long in generic-receive-offload large-receive-offload generic-segmentation-offload \
        tcp-segmentation-offload rx-gro-hw; do
        short=${short_of[$long]}
        state=$(printf '%s\n' "$k" | sed -n "s/^$long: //p" | head -n1)
        case "$state" in
        "") say "offloads: $short not present on $IFACE (skipped)" ;;
        off*) say "offloads: $short already off" ;;
        *fixed*) say "offloads: $short is on and fixed by the driver (cannot be turned off)" ;;
        on*) args+=("$short" off) ;;
        esac
    done
    if [ ${#args[@]} -eq 0 ]; then
        say "offloads: nothing to change"
        return
    fi
    run ethtool -K "$IFACE" "${args[@]}"
}

# ---- 2. RX ring ----
step_ring() {
    local g max cur
    if [ "$HAVE_ETHTOOL" = 0 ]; then
        say "rx ring: skipped (no ethtool)"
        return
    fi
    if ! g=$(ethtool -g "$IFACE" 2>/dev/null); then
        say "rx ring: $IFACE has no ring settings (skipped)"
        return
    fi
    max=$(printf '%s\n' "$g" | awk '/^Pre-set maximums/{m=1} /^Current hardware/{m=0} m && /^RX:/{print $2; exit}')
    cur=$(printf '%s\n' "$g" | awk '/^Current hardware/{c=1} c && /^RX:/{print $2; exit}')
    case "$max$cur" in
    *[!0-9]* | "")
        say "rx ring: $IFACE reports no numeric RX ring size (skipped)"
        return
        ;;
    esac
    if [ "$cur" -ge "$max" ]; then
        say "rx ring: already at its maximum ($cur)"
        return
    fi
    run ethtool -G "$IFACE" rx "$max"
}

# ---- 3. IRQ affinity ----
# Expand a CPU list ("0-3,6") into one number per line.
expand_cpus() {
    local part a b
    local IFS=,
    for part in $1; do
        case "$part" in
        *-*) a=${part%-*}; b=${part#*-} ;;
        *) a=$part; b=$part ;;
        esac
        case "$a$b" in *[!0-9]* | "") return 1 ;; esac
        seq "$a" "$b"
    done
}

step_irqs() {
    local online allowed irqs irq file cur
    if [ -z "$WORKER_CPUS" ]; then
        say "irq affinity: no --worker-cpus given (skipped)"
        return
    fi
    if ! expand_cpus "$WORKER_CPUS" >/dev/null; then
        say "irq affinity: bad --worker-cpus '$WORKER_CPUS' (skipped)"
        return
    fi
    # IRQ lines whose device column names the interface (eth0, eth0-TxRx-3, ...).
    irqs=$(awk -v ifc="$IFACE" '$1 ~ /^[0-9]+:$/ {
               for (i = 2; i <= NF; i++)
                   if ($i == ifc || index($i, ifc "-") == 1 || index($i, ifc "@") == 1) {
                       sub(":", "", $1); print $1; break
                   }
           }' /proc/interrupts)
    if [ -z "$irqs" ]; then
        say "irq affinity: no IRQ of $IFACE in /proc/interrupts (skipped)"
        return
    fi
    online=$(expand_cpus "$(cat /sys/devices/system/cpu/online)")
    allowed=$(comm -23 <(printf '%s\n' "$online" | sort) \
        <(expand_cpus "$WORKER_CPUS" | sort) | sort -n | paste -sd, -)
    if [ -z "$allowed" ]; then
        say "irq affinity: --worker-cpus covers every online CPU (skipped)"
        return
    fi
    for irq in $irqs; do
        file=/proc/irq/$irq/smp_affinity_list
        cur=$(cat "$file" 2>/dev/null)
        if [ "$(expand_cpus "$cur" 2>/dev/null | paste -sd, -)" = "$allowed" ]; then
            say "irq affinity: IRQ $irq already on CPUs $allowed"
            continue
        fi
        write_file "$file" "$allowed"
    done
}

# ---- 4. sysctls ----
raise_sysctl() {
    local key=$1 want=$2 file cur
    file=/proc/sys/${key//.//}
    if [ ! -r "$file" ]; then
        say "sysctl: $key not present in this network namespace (skipped)"
        return
    fi
    cur=$(cat "$file")
    if [ "$cur" -ge "$want" ] 2>/dev/null; then
        say "sysctl: $key already $cur (>= $want)"
        return
    fi
    run sysctl -w "$key=$want" || return
    # sysctl(8) may exit 0 although the kernel refused the value: check.
    [ "$DRY" = 1 ] && return
    cur=$(cat "$file")
    [ "$cur" -ge "$want" ] 2>/dev/null || say "sysctl: $key stayed $cur (the kernel refused $want; skipped)"
}

step_sysctls() {
    if [ "$SYSCTL" = 0 ]; then
        say "sysctl: --no-sysctl given (skipped)"
        return
    fi
    raise_sysctl net.core.rmem_max "$RMEM_MAX"
    raise_sysctl net.core.rmem_default "$RMEM_DEFAULT"
    raise_sysctl net.core.netdev_max_backlog "$BACKLOG"
}

[ "$DRY" = 1 ] && say "dry run: nothing will be changed"
step_offloads
step_ring
step_irqs
step_sysctls
exit 0
