#!/usr/bin/env bash
# A 3-node Docker Swarm on one machine, for trying `runtime: swarm` across nodes (docs/swarm.md,
# "Multi-node"): each node is a dockerd in its own network namespace (and UTS namespace, so node
# hostnames differ), with its own data-root, exec-root, pidfile and socket; the namespaces are joined
# by one bridge on the host. Node 1 is the manager, 2 and 3 join as workers.
#
#   scripts/swarm/multinode.sh up     # idempotent: makes what is missing, one line per step
#   scripts/swarm/multinode.sh down   # idempotent: leaves the swarm, stops the engines, removes
#                                     # data roots, exec roots, logs, namespaces and the bridge
#   scripts/swarm/multinode.sh env    # the addresses and sockets, as shell assignments
#
# Needs root, iproute2, dockerd. The host's own engine (/var/run/docker.sock) is never touched.
#
#   SWIFTDEPLOY_MULTINODE_DRIVER   storage driver (default: the host engine's, else overlay2)
#   SWIFTDEPLOY_MULTINODE_TIMEOUT  seconds to wait for an engine or the nodes (default 60)
#   SWIFTDEPLOY_MULTINODE_KEEP_LOGS=1  down keeps /var/log/docker-sw*.log
set -euo pipefail

NODES=3
BRIDGE=swbr0
SUBNET_PREFIX=10.77.0
BRIDGE_ADDR=$SUBNET_PREFIX.1
timeout_s=${SWIFTDEPLOY_MULTINODE_TIMEOUT:-60}

ns() { echo "sw$1"; }
addr() { echo "$SUBNET_PREFIX.$((10 + $1))"; }
sock() { echo "/run/docker-sw$1.sock"; }
data_root() { echo "/var/lib/docker-sw$1"; }
exec_root() { echo "/run/docker-sw$1"; }
pidfile() { echo "/run/docker-sw$1.pid"; }
logfile() { echo "/var/log/docker-sw$1.log"; }
dk() { local i=$1; shift; docker -H "unix://$(sock "$i")" "$@"; }
step() { echo "multinode: $*"; }
die() { echo "multinode: $*" >&2; exit 1; }

engine_pid() {
  local p
  p=$(cat "$(pidfile "$1")" 2>/dev/null || true)
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "$p"; fi
}

wait_for() { # seconds, description, command...
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# Shell commands that mount the host's cgroup hierarchies (v1 controllers and/or v2) under /sys/fs/cgroup.
cgroup_mounts() {
  local out="mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup"
  if [ "$(awk '$2 == "/sys/fs/cgroup" { print $3 }' /proc/mounts)" = cgroup2 ]; then
    echo "mount -t cgroup2 cgroup2 /sys/fs/cgroup"; return
  fi
  while read -r _ dir type opts _; do
    case $type in
      cgroup) out="$out && mkdir -p $dir && mount -t cgroup -o $(tr , '\n' <<<"$opts" | grep -vxE 'rw|ro|relatime|noatime|nosuid|nodev|noexec' | paste -sd,) cgroup $dir" ;;
      cgroup2) out="$out && mkdir -p $dir && mount -t cgroup2 cgroup2 $dir" ;;
    esac
  done < <(awk '$2 ~ "^/sys/fs/cgroup/" { print }' /proc/mounts)
  echo "$out"
}

cmd_env() {
  echo "MULTINODE_MANAGER_ADDR=$(addr 1)"
  for i in $(seq 1 $NODES); do
    echo "MULTINODE_SW${i}_ADDR=$(addr "$i")"
    echo "MULTINODE_SW${i}_HOST=unix://$(sock "$i")"
  done
}

up() {
  [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and dockerd)"
  command -v dockerd >/dev/null || die "no dockerd on PATH (apt-get install -y docker.io)"
  local driver=${SWIFTDEPLOY_MULTINODE_DRIVER:-}
  if [ -z "$driver" ]; then
    driver=$(docker info --format '{{.Driver}}' 2>/dev/null || true)
    driver=${driver:-overlay2}
  fi

  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    step "bridge $BRIDGE exists"
  else
    ip link add "$BRIDGE" type bridge
    ip addr add "$BRIDGE_ADDR/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    step "bridge $BRIDGE $BRIDGE_ADDR/24 made"
  fi

  # With br_netfilter loaded, frames between two ports of the bridge pass the host's FORWARD chain,
  # whose policy the host engine sets to DROP (the bridge's own nf_call_iptables 0 does not override
  # the global sysctl): accept what stays on this bridge.
  if iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; then
    step "FORWARD accepts $BRIDGE to $BRIDGE"
  else
    iptables -I FORWARD 1 -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
    step "FORWARD rule added: -i $BRIDGE -o $BRIDGE -j ACCEPT"
  fi

  for i in $(seq 1 $NODES); do
    local n; n=$(ns "$i")
    if ip netns list | grep -qw "^$n"; then
      step "netns $n exists"
    else
      ip netns add "$n"
      ip link add "$n-host" type veth peer name eth0 netns "$n"
      ip link set "$n-host" master "$BRIDGE" up
      ip netns exec "$n" ip addr add "$(addr "$i")/24" dev eth0
      ip netns exec "$n" ip link set eth0 up
      ip netns exec "$n" ip link set lo up
      ip netns exec "$n" ip route add default via "$BRIDGE_ADDR"
      step "netns $n $(addr "$i")/24 on $BRIDGE made"
    fi
  done

  for i in $(seq 1 $NODES); do
    local n; n=$(ns "$i")
    if dk "$i" version --format '{{.Server.Version}}' >/dev/null 2>&1; then
      step "dockerd $n answers on $(sock "$i")"
      continue
    fi
    if [ -z "$(engine_pid "$i")" ]; then
      mkdir -p "$(data_root "$i")" "$(exec_root "$i")"
      # `ip netns exec` gives the engine a fresh /sys without the cgroup mounts ("failed to start
      # daemon: Devices cgroup isn't mounted"): mount the host's hierarchies again in its mount
      # namespace. unshare --uts: the node's hostname (Swarm's node.hostname) is sw<i>.
      # setsid nohup: the engine outlives this script.
      setsid nohup ip netns exec "$n" unshare --uts sh -c "$(cgroup_mounts) && hostname $n && exec dockerd \
        --data-root $(data_root "$i") --exec-root $(exec_root "$i") --pidfile $(pidfile "$i") \
        -H unix://$(sock "$i") --storage-driver $driver --cgroup-parent /docker-$n" \
        >>"$(logfile "$i")" 2>&1 </dev/null &
    fi
    wait_for "$timeout_s" "dockerd $n" dk "$i" version \
      || { tail -n 20 "$(logfile "$i")" >&2; die "dockerd $n did not answer within ${timeout_s}s (log above: $(logfile "$i"))"; }
    step "dockerd $n started ($driver, log $(logfile "$i"))"
  done

  if [ "$(dk 1 info --format '{{.Swarm.LocalNodeState}}')" = active ]; then
    step "swarm on sw1 exists"
  else
    dk 1 swarm init --advertise-addr "$(addr 1)" --listen-addr "$(addr 1):2377" >/dev/null
    step "swarm initialised on sw1 ($(addr 1):2377)"
  fi
  local token; token=$(dk 1 swarm join-token --quiet worker)
  for i in $(seq 2 $NODES); do
    local state; state=$(dk "$i" info --format '{{.Swarm.LocalNodeState}}')
    if [ "$state" = active ]; then
      step "sw$i is in the swarm"
    else
      # pending or error: an earlier join that did not complete
      [ "$state" = inactive ] || dk "$i" swarm leave --force >/dev/null 2>&1 || true
      dk "$i" swarm join --advertise-addr "$(addr "$i")" --listen-addr "$(addr "$i"):2377" --token "$token" "$(addr 1):2377" >/dev/null
      step "sw$i joined as a worker"
    fi
  done
  ready() { [ "$(dk 1 node ls --format '{{.Status}}' | grep -c '^Ready$')" -eq "$NODES" ]; }
  wait_for "$timeout_s" "nodes" ready || { dk 1 node ls >&2; die "not all $NODES nodes Ready within ${timeout_s}s"; }
  step "$NODES nodes Ready: $(dk 1 node ls --format '{{.Hostname}}={{.Status}}' | sort | tr '\n' ' ')"
}

down() {
  [ "$(id -u)" -eq 0 ] || die "needs root"
  for i in $(seq 1 $NODES); do
    local n; n=$(ns "$i")
    if dk "$i" version >/dev/null 2>&1; then
      if [ "$(dk "$i" info --format '{{.Swarm.LocalNodeState}}')" != inactive ]; then
        dk "$i" swarm leave --force >/dev/null 2>&1 || true
        step "sw$i left the swarm"
      fi
      local ids; ids=$(dk "$i" ps --all --quiet)
      if [ -n "$ids" ]; then
        # shellcheck disable=SC2086
        dk "$i" rm --force $ids >/dev/null 2>&1 || true
        step "sw$i: containers removed"
      fi
    fi
    local pid; pid=$(engine_pid "$i")
    if [ -n "$pid" ]; then
      kill -TERM "$pid"
      wait_for 30 "dockerd $n to stop" sh -c "! kill -0 $pid" || { kill -KILL "$pid" 2>/dev/null || true; sleep 1; }
      step "dockerd $n (pid $pid) stopped"
    fi
    # Anything still running in the namespace was started here (the engine's containerd, shims).
    if ip netns list | grep -qw "^$n"; then
      local left; left=$(ip netns pids "$n" | tr '\n' ' ')
      if [ -n "${left// /}" ]; then
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null || true
        step "netns $n: killed leftover pids $left"
      fi
    fi
    for root in "$(exec_root "$i")" "$(data_root "$i")"; do
      # Deepest first: overlay mounts, network namespaces bound under the exec-root.
      awk -v r="$root" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do umount -l "$m" || true; done
    done
    if [ -e "$(data_root "$i")" ] || [ -e "$(exec_root "$i")" ]; then
      rm -rf "$(data_root "$i")" "$(exec_root "$i")"
      step "sw$i: data root and exec root removed"
    fi
    rm -f "$(sock "$i")" "$(pidfile "$i")"
    [ "${SWIFTDEPLOY_MULTINODE_KEEP_LOGS:-0}" = 1 ] || rm -f "$(logfile "$i")"
    if ip netns list | grep -qw "^$n"; then
      ip netns del "$n"
      step "netns $n removed"
    fi
    rmdir "/sys/fs/cgroup/"*"/docker-$n" 2>/dev/null || true
  done
  while iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; do
    iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
    step "FORWARD rule for $BRIDGE removed"
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then
    ip link del "$BRIDGE"
    step "bridge $BRIDGE removed"
  fi
  step "down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) cmd_env ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
