#!/usr/bin/env bash
# Separate "hosts" on one Linux machine: network namespaces, each with its own address on a bridge
# that the root namespace also has an address on (the broker listens there). Needs root and `ip`.
#
#   scripts/netns-hosts.sh up N             create N hosts; prints "ID BRIDGE-ADDRESS", then one
#                                           "NAMESPACE ADDRESS" line per host
#   scripts/netns-hosts.sh exec ID I CMD…   run CMD in host I (1-based) of ID
#   scripts/netns-hosts.sh cut ID I         unplug host I: its cable (the bridge side of its veth) goes down
#   scripts/netns-hosts.sh slow ID I RATE   host I sends at most RATE (tc tbf, e.g. 8kbit); `heal` undoes it
#   scripts/netns-hosts.sh heal ID I        plug host I back in, at full speed
#   scripts/netns-hosts.sh down ID          end the processes left in ID's namespaces, delete them and the bridge
#   scripts/netns-hosts.sh run N -- CMD…    up N, run CMD with EDDY_NETNS_ID, EDDY_NETNS_BRIDGE and
#                                           EDDY_NETNS_HOST1… set, then down (also on error or Ctrl-C)
#
# Each `up` picks a fresh ID (eh + 5 hex digits) and a free 10.x.y.0/24 under a lock, so parallel
# runs do not clash. Host I is namespace ID-hI at 10.x.y.(I+1); the bridge ID-br is at 10.x.y.1;
# host I's cable is the veth pair IDvI (bridge side) / IDnI (inside the namespace).
set -euo pipefail

die() { echo "netns-hosts.sh: $*" >&2; exit 1; }

need() {
  [ "$(id -u)" = 0 ] || die "network namespaces need root (run as root, or with sudo)"
  command -v ip >/dev/null || die "the ip command is missing; install iproute2 (Debian: apt-get install iproute2)"
}

LOCK=${EDDY_NETNS_LOCK:-/tmp/eddy-netns-hosts.lock}

# A /24 in 10.0.0.0/8 that no address or route of this machine uses yet ("x.y").
free_subnet() {
  local x y tries
  for tries in $(seq 1 200); do
    x=$((RANDOM % 150 + 100)) y=$((RANDOM % 254 + 1))
    if ! ip -4 -o addr show | grep -q " 10\.$x\.$y\." && [ -z "$(route_match "10.$x.$y.1")" ]; then
      echo "$x.$y"
      return 0
    fi
    : "$tries"
  done
  die "found no free 10.x.y.0/24 subnet"
}

# A default route (0.0.0.0/0) matches every address; "to match" lists it too, so it is filtered out.
route_match() { ip -4 route show to match "$1" | grep -v '^default'; }

up() {
  local n=${1:-3} id net i
  need
  [[ $n =~ ^[1-9][0-9]?$ ]] || die "up takes a number of hosts (1–99), not '$n'"
  id=eh$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n' | cut -c1-5)
  exec 9>"$LOCK"
  command -v flock >/dev/null && flock 9
  # Half-made hosts are removed if any step fails.
  trap 'down "$id" >/dev/null 2>&1 || true' ERR
  net=$(free_subnet)
  ip link add "$id-br" type bridge
  ip addr add "10.$net.1/24" dev "$id-br"
  ip link set "$id-br" up
  for ((i = 1; i <= n; i++)); do
    ip netns add "$id-h$i"
    ip link add "${id}v$i" type veth peer name "${id}n$i"
    ip link set "${id}v$i" master "$id-br" up
    ip link set "${id}n$i" netns "$id-h$i"
    ip -n "$id-h$i" addr add "10.$net.$((i + 1))/24" dev "${id}n$i"
    ip -n "$id-h$i" link set "${id}n$i" up
    ip -n "$id-h$i" link set lo up
    # Everything else (another bridge host's subnet, the machine's other addresses) goes via the bridge.
    ip -n "$id-h$i" route add default via "10.$net.1"
  done
  trap - ERR
  exec 9>&-
  echo "$id 10.$net.1"
  for ((i = 1; i <= n; i++)); do echo "$id-h$i 10.$net.$((i + 1))"; done
}

check_id() { [[ ${1:-} =~ ^eh[0-9a-f]{5}$ ]] || die "'${1:-}' is not a hosts ID from 'up'"; }
check_host() { ip netns list | grep -q "^$1-h$2\b" || die "no host $2 in $1"; }

down() {
  local id=$1 ns pid
  check_id "$id"
  for ns in $(ip netns list | awk '{print $1}' | grep "^$id-h" || true); do
    # Only processes inside this run's own namespaces: TERM, a few seconds, then KILL.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill "$pid" 2>/dev/null || true; done
    for _ in $(seq 1 50); do [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break; sleep 0.1; done
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  # Deleting a veth end deletes its pair; the namespace ends went with the namespaces.
  for v in $(ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | grep "^${id}v" || true); do
    ip link del "$v" 2>/dev/null || true
  done
  ip link del "$id-br" 2>/dev/null || true
}

case "${1:-}" in
  up) shift; up "$@" ;;
  exec)
    need; check_id "${2:-}"; check_host "$2" "${3:-}"
    id=$2 i=$3; shift 3
    exec ip netns exec "$id-h$i" "$@"
    ;;
  cut) need; check_id "${2:-}"; check_host "$2" "${3:-}"; ip link set "${2}v$3" down ;;
  slow)
    need; check_id "${2:-}"; check_host "$2" "${3:-}"
    command -v tc >/dev/null || die "the tc command is missing; install iproute2"
    # A token bucket on the host's own side: what it sends waits in a queue big enough not to drop.
    ip netns exec "$2-h$3" tc qdisc replace dev "${2}n$3" root tbf rate "${4:?slow needs a RATE, e.g. 8kbit}" \
      burst 1600 limit 4mb
    ;;
  heal)
    need; check_id "${2:-}"; check_host "$2" "${3:-}"
    ip netns exec "$2-h$3" tc qdisc del dev "${2}n$3" root 2>/dev/null || true
    ip link set "${2}v$3" up
    ;;
  down) need; down "${2:-}" ;;
  run)
    shift
    n=${1:-}; shift || true
    [ "${1:-}" = -- ] && shift
    [ $# -gt 0 ] || die "run needs a command after --"
    out=$(up "$n")
    id=$(head -1 <<<"$out" | cut -d' ' -f1)
    trap 'down "$id"' EXIT
    trap 'exit 130' INT TERM
    export EDDY_NETNS_ID=$id EDDY_NETNS_BRIDGE
    EDDY_NETNS_BRIDGE=$(head -1 <<<"$out" | cut -d' ' -f2)
    i=0
    while read -r _ addr; do
      i=$((i + 1))
      export "EDDY_NETNS_HOST$i=$addr"
    done < <(tail -n +2 <<<"$out")
    echo "$out" >&2
    "$@"
    ;;
  *)
    echo "usage: scripts/netns-hosts.sh up N | exec ID I CMD… | cut ID I | slow ID I RATE | heal ID I | down ID | run N -- CMD…" >&2
    exit 2
    ;;
esac
