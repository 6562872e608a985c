#!/usr/bin/env bash
# Make sure a Docker engine answers on the default socket, for the suite's `docker` backend.
#
# Reuses a running engine. Otherwise, as root, installs docker.io if dockerd is missing and starts
# ONE dockerd by hand (no systemd here), with its state under $MOOSENG_DOCKER_ROOT. Without root,
# or when that fails, prints one line and exits 1 so the caller falls back to the `local` backend.
# A lock keeps two concurrent callers from starting two daemons (a second dockerd rewrites the
# shared DOCKER iptables chains and can delete docker0).
set -u

ROOT="${MOOSENG_DOCKER_ROOT:-/var/lib/mooseng-docker}"
SOCKET=/var/run/docker.sock

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

unavailable() {
    echo "Docker engine unavailable: $1" >&2
    exit 1
}

engine_answers && exit 0

command -v docker >/dev/null 2>&1 || [ "$(id -u)" = 0 ] || unavailable "no docker client and not root"
[ "$(id -u)" = 0 ] || unavailable "no engine on $SOCKET and not root (cannot start one)"

mkdir -p "$ROOT"
exec 9>"$ROOT/start.lock"
flock -w 300 9 || unavailable "timed out waiting for another ensure-docker.sh"
engine_answers && exit 0      # another caller started it while we waited

if ! command -v dockerd >/dev/null 2>&1; then
    echo "installing docker.io (apt) ..." >&2
    { apt-get update -qq -o DPkg::Lock::Timeout=600 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 docker.io; } \
        >"$ROOT/apt.log" 2>&1 || unavailable "apt-get install docker.io failed (see $ROOT/apt.log)"
fi

# A daemon of ours that is still alive but not answering: never start a second one beside it.
if [ -s "$ROOT/dockerd.pid" ] && [ "$(cat "/proc/$(cat "$ROOT/dockerd.pid")/comm" 2>/dev/null)" = dockerd ]; then
    for _ in $(seq 1 100); do engine_answers && exit 0; sleep 0.2; done
    unavailable "dockerd (pid $(cat "$ROOT/dockerd.pid")) runs but does not answer (see $ROOT/dockerd.log)"
fi
if pgrep -x dockerd >/dev/null 2>&1; then
    unavailable "a dockerd runs that does not answer on $SOCKET; not starting a second one"
fi

echo "starting dockerd (state in $ROOT, log $ROOT/dockerd.log) ..." >&2
rm -f "$SOCKET"
# 9>&-: the daemon must not inherit (and hold forever) the start lock.
setsid dockerd --data-root "$ROOT/data" --exec-root "$ROOT/exec" --pidfile "$ROOT/dockerd.pid" \
    -H "unix://$SOCKET" >>"$ROOT/dockerd.log" 2>&1 </dev/null 9>&- &
for _ in $(seq 1 150); do
    engine_answers && { echo "dockerd ready" >&2; exit 0; }
    sleep 0.2
done
unavailable "dockerd did not answer within 30 s (see $ROOT/dockerd.log)"
