#!/bin/sh
# preinstall of vigil-agent and vigil-hub (deb preinst, rpm %pre).
#
# Creates the vigil system group and user that both services run as, before
# the package's files are unpacked (/etc/vigil and /var/lib/vigil belong to
# them). Does nothing when they exist: a user made by hand, or by the other
# Vigil package, is kept as it is. The arguments (deb "install", "upgrade" or
# "abort-upgrade"; rpm 1 or 2) do not matter.
#
# DPKG_ROOT is empty except under dpkg --force-script-chrootless, where it is
# the root being installed into: the user then goes into its /etc/passwd
# (useradd --prefix). The tests run the scripts that way.
set -e

root=${DPKG_ROOT:-}

# exists DATABASE NAME: whether NAME is in the passwd or group database of
# the system being installed into.
exists() {
	if [ -n "$root" ]; then
		grep -q "^$2:" "$root/etc/$1" 2>/dev/null
	else
		getent "$1" "$2" >/dev/null 2>&1
	fi
}

need() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "vigil: $1 not found; install the passwd (deb) or shadow-utils (rpm) package" >&2
		exit 1
	fi
}

if ! exists group vigil; then
	need groupadd
	groupadd ${root:+--prefix "$root"} --system vigil
fi

if ! exists passwd vigil; then
	need useradd
	shell=/bin/false
	for s in /usr/sbin/nologin /sbin/nologin; do
		if [ -x "$root$s" ]; then
			shell=$s
			break
		fi
	done
	useradd ${root:+--prefix "$root"} --system --gid vigil --home-dir /var/lib/vigil \
		--no-create-home --shell "$shell" --comment "Vigil agent and hub" vigil
fi

exit 0
