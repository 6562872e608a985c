#!/usr/bin/env bash
# Make sure prometheus and promtool (Debian package prometheus) are here for the scenarios
# tagged @needs.prometheus. Installs them as root; otherwise says so (those scenarios are then
# skipped with the reason). Never starts the packaged service: the suite runs its own server.
set -uo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup: prometheus is not installed and this is not root; the @needs.prometheus" \
       "scenarios will be skipped (apt-get install prometheus to run them)" >&2
  exit 0
fi
echo "installing prometheus (apt) ..." >&2
log=$(mktemp /tmp/mooseng-apt-prometheus.XXXXXX)
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=600 prometheus >>"$log" 2>&1
}
# The package's postinst may start its service where an init system allows it: forbid that.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
install || { apt-get update -q -o DPkg::Lock::Timeout=600 >>"$log" 2>&1; install; }
status=$?
[ "$made_policy" = 1 ] && rm -f "$policy"
if [ "$status" != 0 ]; then
  echo "setup: apt-get install prometheus failed (see $log); the @needs.prometheus scenarios" \
       "will be skipped" >&2
  exit 0
fi
rm -f "$log"
echo "setup: prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') installed" >&2
