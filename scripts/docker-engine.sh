#!/usr/bin/env bash
# A real Docker engine for the test suite: up | down | status.
#
#   up      install docker.io + busybox-static from Debian when missing, start dockerd without
#           touching the host network (--iptables=false --bridge=none) unless an engine
#           already answers, then build the local test images (no registry is reachable):
#             local/busybox:latest     busybox-static with one symlink per applet
#             local/hostpython:latest  an empty rootfs whose bin/lib/lib64/sbin point into
#                                      /usr; run it with the volume /usr:/usr:ro to get the
#                                      host's /usr/bin/python3
#           Idempotent. Each caller (the parent process of `up`, or
#           $PREFECT_AGENT_DOCKER_HOLDER) is recorded as a holder of the engine.
#   down    forget this caller; stop dockerd only if `up` started it and no live holder is
#           left, then unmount what dockerd left mounted. An engine it did not start is left
#           alone.
#   status  say whether an engine answers and who started it.
#
# Environment: PREFECT_AGENT_DOCKER_STATE (state dir, default /run/prefect-agent-docker),
# DOCKER_HOST is honoured when set (then nothing is started: it is someone else's engine).
set -euo pipefail

state="${PREFECT_AGENT_DOCKER_STATE:-/run/prefect-agent-docker}"
socket=/var/run/docker.sock
pidfile="$state/dockerd.pid"
ours="$state/started-by-us"
holders="$state/holders"
log="$state/dockerd.log"
holder="${PREFECT_AGENT_DOCKER_HOLDER:-$PPID}"
ready_timeout="${PREFECT_AGENT_DOCKER_READY_TIMEOUT:-30}"

say() { echo "docker-engine: $*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo -n "$@"; fi
}

docker_cli() {
    # Prefer Debian's client next to the dockerd we run; any recent client works.
    if [ -x /usr/bin/docker ]; then /usr/bin/docker "$@"; else docker "$@"; fi
}

answers() { docker_cli version >/dev/null 2>&1; }

our_pid() {
    # The pid of the dockerd this script started, if it is still alive.
    [ -f "$ours" ] && [ -f "$pidfile" ] || return 1
    local pid
    pid="$(cat "$pidfile")"
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    [ -x /bin/busybox ] || missing+=(busybox-static)
    [ "${#missing[@]}" -eq 0 ] && return 0
    say "installing ${missing[*]} from Debian"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$state/apt.log" 2>&1 || { tail -n 20 "$state/apt.log" >&2; return 1; }
}

start_dockerd() {
    say "starting dockerd (--iptables=false --bridge=none) on $socket"
    rm -f "$pidfile"
    # setsid: the engine must outlive this script and not get the test runner's signals;
    # 9>&-: it must not inherit (and so hold forever) the lock of this script.
    local sudo=()
    [ "$(id -u)" -eq 0 ] || sudo=(sudo -n)
    "${sudo[@]}" setsid dockerd --iptables=false --bridge=none -H "unix://$socket" \
        --pidfile "$pidfile" >"$log" 2>&1 </dev/null 9>&- &
    local deadline=$((SECONDS + ready_timeout))
    until answers; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "dockerd did not answer within ${ready_timeout}s; its log ($log):"
            tail -n 20 "$log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    touch "$ours"
}

has_image() { docker_cli image inspect "$1" >/dev/null 2>&1; }

build_busybox() {
    has_image local/busybox:latest && return 0
    local root
    root="$(mktemp -d)"
    mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root"
    cp /bin/busybox "$root/bin/busybox"
    local applet
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    chmod 1777 "$root/tmp"
    tar -C "$root" -c . | docker_cli import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' \
        - local/busybox:latest >/dev/null
    rm -rf "$root"
    say "built local/busybox:latest"
}

build_hostpython() {
    has_image local/hostpython:latest && return 0
    local root
    root="$(mktemp -d)"
    mkdir -p "$root/usr" "$root/etc" "$root/tmp" "$root/root"
    local dir
    for dir in bin lib lib64 sbin; do ln -s "usr/$dir" "$root/$dir"; done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
    printf 'root:x:0:\n' >"$root/etc/group"
    chmod 1777 "$root/tmp"
    tar -C "$root" -c . | docker_cli import \
        -c 'ENV PATH=/usr/local/bin:/usr/bin:/bin' -c 'CMD ["/usr/bin/python3"]' \
        - local/hostpython:latest >/dev/null
    rm -rf "$root"
    say "built local/hostpython:latest (run it with the volume /usr:/usr:ro)"
}

add_holder() {
    touch "$holders"
    grep -qx "$holder" "$holders" || echo "$holder" >>"$holders"
}

live_holders() {
    # Holders whose process is still alive, other than the caller of `down`.
    [ -f "$holders" ] || return 0
    local pid
    while read -r pid; do
        [ -n "$pid" ] && [ "$pid" != "$holder" ] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    done <"$holders"
    return 0
}

unmount_leftovers() {
    # dockerd leaves its network namespace mount behind when it dies uncleanly.
    local target
    for target in $(awk '$2 ~ "^/(var/)?run/docker" {print $2}' /proc/self/mounts | sort -r); do
        as_root umount "$target" 2>/dev/null || as_root umount -l "$target" 2>/dev/null || true
    done
}

cmd_up() {
    if [ -n "${DOCKER_HOST:-}" ]; then
        answers || { say "DOCKER_HOST=$DOCKER_HOST does not answer"; return 1; }
        say "using the engine at DOCKER_HOST (not started here)"
    elif our_pid >/dev/null; then
        answers || { say "our dockerd is alive but does not answer; see $log"; return 1; }
    elif answers; then
        say "an engine already answers on $socket; leaving it alone"
    else
        install_packages
        unmount_leftovers
        rm -f "$ours" "$holders"
        start_dockerd
    fi
    [ -x /bin/busybox ] || install_packages
    build_busybox
    build_hostpython
    if our_pid >/dev/null; then add_holder; fi
    say "engine ready: $(docker_cli version --format '{{.Server.Version}}')"
}

cmd_down() {
    local pid
    if ! pid="$(our_pid)"; then
        if [ -f "$ours" ]; then
            rm -f "$ours" "$holders" "$pidfile"
            unmount_leftovers
        fi
        say "no engine started by this script is running; nothing to stop"
        return 0
    fi
    local others
    others="$(live_holders)"
    if [ -n "$others" ]; then
        printf '%s\n' "$others" >"$holders"
        say "still used by pid(s) $(echo "$others" | tr '\n' ' ')- leaving it running"
        return 0
    fi
    say "stopping dockerd (pid $pid)"
    as_root kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            say "dockerd did not stop within 30s; killing it"
            as_root kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
    done
    rm -f "$ours" "$holders" "$pidfile"
    unmount_leftovers
}

cmd_status() {
    local pid
    if answers; then
        if pid="$(our_pid)"; then
            echo "running: dockerd pid $pid, started by this script; holders: $(live_holders | tr '\n' ' ')"
        else
            echo "running: an engine this script did not start"
        fi
        docker_cli images --format '  {{.Repository}}:{{.Tag}}' | grep '^  local/' || true
    else
        echo "not running"
        return 3
    fi
}

main() {
    local action="${1:-}"
    case "$action" in
    up | down | status) ;;
    *)
        echo "usage: $0 up|down|status" >&2
        return 2
        ;;
    esac
    as_root mkdir -p "$state"
    if [ "$action" = status ]; then
        cmd_status
        return
    fi
    # Serialise concurrent callers (several test runs may share one engine).
    exec 9>"$state/lock"
    flock 9
    "cmd_$action"
}

main "$@"
