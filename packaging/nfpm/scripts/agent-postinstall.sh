#!/bin/sh
# postinstall of vigil-agent (deb postinst, rpm %post).
#
# Has systemd read the new unit file, when systemd runs. It never enables
# or starts vigil-agent: that is the administrator's step (docs/install.md).
# After an upgrade a running service keeps the old binary until it is
# restarted; this script says so instead of restarting it. (The package's
# files and directories carry their owners and modes; the vigil user exists
# since the preinstall.)
#
# Arguments: deb "configure [OLD-VERSION]" (an upgrade when OLD-VERSION is
# set) or "abort-*"; rpm 1 (install) or 2 and more (upgrade).
#
# DPKG_ROOT is empty except under dpkg --force-script-chrootless, where it is
# the root being installed into. systemd counts as running only when
# $DPKG_ROOT/run/systemd/system exists, so nothing calls systemctl in
# containers, chroots and image builds.
set -e

root=${DPKG_ROOT:-}
unit=vigil-agent.service

systemd_running() {
	[ -d "$root/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1
}

upgrade=false
case "${1:-}" in
configure)
	if [ -n "${2:-}" ]; then
		upgrade=true
	fi
	;;
abort-*)
	exit 0
	;;
1) ;;
[0-9]*)
	upgrade=true
	;;
esac

if systemd_running; then
	systemctl daemon-reload || true
	if $upgrade && systemctl is-active --quiet "$unit"; then
		echo "vigil-agent: $unit still runs the previous version; restart it with: systemctl restart vigil-agent"
	fi
fi

exit 0
