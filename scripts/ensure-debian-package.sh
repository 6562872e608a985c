#!/usr/bin/env bash
# ensure-debian-package.sh PACKAGE NEED COMMAND...
# Make sure COMMAND... (from Debian package PACKAGE) are here for the scenarios and tests that
# NEED says. Installs them as root; otherwise says so (those are then skipped with the
# reason). Never starts a packaged service: the suite runs its own processes.
set -uo pipefail
package=$1 need=$2
shift 2
missing=0
for command in "$@"; do command -v "$command" >/dev/null || missing=1; done
[ "$missing" = 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "setup: $package is not installed and this is not root; $need will be skipped" \
       "(apt-get install $package to run them)" >&2
  exit 0
fi
echo "installing $package (apt) ..." >&2
log=$(mktemp "/tmp/mooseng-apt-$package.XXXXXX")
install() {
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "$package" >>"$log" 2>&1
}
# A package's postinst may start its service where an init system allows it: forbid that.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && made_policy=1
fi
install || { apt-get update -q -o DPkg::Lock::Timeout=600 >>"$log" 2>&1; install; }
status=$?
[ "$made_policy" = 1 ] && rm -f "$policy"
if [ "$status" != 0 ]; then
  echo "setup: apt-get install $package failed (see $log); $need will be skipped" >&2
  exit 0
fi
rm -f "$log"
echo "setup: $package $(dpkg-query -W -f '${Version}' "$package") installed" >&2
