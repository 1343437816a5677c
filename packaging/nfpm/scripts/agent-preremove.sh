#!/bin/sh
# preremove of vigil-agent (deb prerm, rpm %preun).
#
# Stops vigil-agent when the package is removed (deb "remove", rpm 0), never on
# an upgrade (deb "upgrade", rpm 1): an upgrade leaves the service running
# and the postinstall says to restart it. Nothing happens when systemd does
# not run (containers, chroots); see postinstall for DPKG_ROOT.
set -e

root=${DPKG_ROOT:-}
unit=vigil-agent.service

case "${1:-}" in
remove | 0)
	if [ -d "$root/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then
		systemctl stop "$unit" || true
	fi
	;;
esac

exit 0
