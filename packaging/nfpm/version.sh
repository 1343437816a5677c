#!/bin/sh
# Prints the .deb/.rpm version for this checkout, made from
# `git describe --tags --always` (or from $1, with the commit count in $2, for
# tests). The result is valid for dpkg and rpm alike and orders builds the
# way git does:
#
#   v1.2.3                    -> 1.2.3
#   v1.2.3-rc.1, v1.2.3-rc-1  -> 1.2.3~rc.1                (before 1.2.3)
#   v1.2.3-4-gabcdef0         -> 1.2.3+git4.abcdef0        (after 1.2.3)
#   v1.2.3-rc.1-4-gabcdef0    -> 1.2.3~rc.1+git4.abcdef0
#   abcdef0 (no tag yet)      -> 0.0.0~git<N>.abcdef0      (N: commits in
#                                HEAD, so later builds sort later; all of
#                                them sort before 0.0.0)
#
# A "-dirty" suffix is dropped. Any other tag is refused: a package version
# must start with a digit and hold only letters, digits and . + ~.
set -e

describe=${1:-$(git describe --tags --always)}
describe=${describe%-dirty}

case "$describe" in
*[!0-9a-f]* | "") ;;
*)
	if [ "${#describe}" -lt 7 ]; then
		echo "version.sh: $describe is neither a tag nor an abbreviated commit" >&2
		exit 1
	fi
	count=${2:-$(git rev-list --count HEAD)}
	echo "0.0.0~git$count.$describe"
	exit 0
	;;
esac

v=${describe#v}
suffix=
# The -N-gHASH that git describe adds after the tag.
case "$v" in
*-[0-9]*-g[0-9a-f]*)
	hash=${v##*-g}
	rest=${v%-g*}
	n=${rest##*-}
	v=${rest%-*}
	suffix="+git$n.$hash"
	;;
esac
# A pre-release tag (v1.2.3-rc.1, v1.2.3-rc-1) sorts before its release.
case "$v" in
*-*)
	v="${v%%-*}~$(printf '%s' "${v#*-}" | tr - .)"
	;;
esac
v="$v$suffix"

case "$v" in
[0-9]*) ;;
*)
	echo "version.sh: tag $describe does not start with vDIGIT; cannot make a package version" >&2
	exit 1
	;;
esac
case "$v" in
*[!0-9A-Za-z.+~]*)
	echo "version.sh: tag $describe gives $v, which is not a valid package version" >&2
	exit 1
	;;
esac
echo "$v"
