#!/bin/sh
# postremove of vigil-agent (deb postrm, rpm %postun).
#
# deb "remove": keeps the configuration, the buffer (events not shipped
#   yet), the enrollment and the vigil user, so that a reinstall carries on
#   where it stopped; systemd forgets the unit file.
# deb "purge": also deletes /var/lib/vigil/agent, /etc/vigil/enroll.token
#   (a left-over token) and the unit's enablement links. Unless vigil-hub is
#   installed (it shares them), it then deletes /var/lib/vigil when nothing
#   else is left in it, and after that the vigil user and group. Data of
#   vigil-hub removed but not purged is never touched.
# rpm 0 (erase): rpm has no purge. As deb "remove", but the enablement links
#   go too (as with rpm's own %systemd_preun); state, configuration and the
#   user stay (docs/install.md says how to delete them).
# Anything else (deb "upgrade", "failed-upgrade", "abort-*", "disappear";
#   rpm 1 and more, an upgrade): nothing.
#
# See preinstall and postinstall for DPKG_ROOT (every path is taken under
# it) and when systemd counts as running. Every step may run again: a purge
# that failed half-way can be repeated.
set -e

root=${DPKG_ROOT:-}
unit=vigil-agent.service

reload() {
	if [ -d "$root/run/systemd/system" ] && command -v systemctl >/dev/null 2>&1; then
		systemctl daemon-reload || true
	fi
}

# exists DATABASE NAME: whether NAME is in the passwd or group database of
# the system being removed from.
exists() {
	if [ -n "$root" ]; then
		grep -q "^$2:" "$root/etc/$1" 2>/dev/null
	else
		getent "$1" "$2" >/dev/null 2>&1
	fi
}

unlink_unit() {
	rm -f "$root"/etc/systemd/system/*.wants/"$unit"
}

case "${1:-}" in
remove)
	reload
	;;
0)
	unlink_unit
	reload
	;;
purge)
	unlink_unit
	rm -rf "$root/var/lib/vigil/agent"
	rm -f "$root/etc/vigil/enroll.token"
	rmdir "$root/etc/vigil" 2>/dev/null || true
	if [ -e "$root/usr/bin/vigil-hub" ]; then
		: # vigil-hub is installed: it needs /var/lib/vigil and the user
	elif [ -d "$root/var/lib/vigil" ] && ! rmdir "$root/var/lib/vigil" 2>/dev/null; then
		echo "vigil-agent: kept /var/lib/vigil and the vigil user: the directory holds more than this package's data" >&2
	else
		if exists passwd vigil; then
			userdel ${root:+--prefix "$root"} vigil >/dev/null 2>&1 || echo "vigil-agent: could not delete the user vigil" >&2
		fi
		if exists group vigil; then
			groupdel ${root:+--prefix "$root"} vigil >/dev/null 2>&1 || echo "vigil-agent: could not delete the group vigil" >&2
		fi
	fi
	reload
	;;
esac

exit 0
