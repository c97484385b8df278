#!/usr/bin/env bash
# Install the .deb into a clean Debian 12 root the way a user meets it, run the installed
# app's self-test, remove it. Needs root, debootstrap and Debian's package mirror.
# Usage: packaging/test_deb.sh dist/mae-desktop_<version>_amd64.deb [ROOT_DIR]
set -euo pipefail
DEB=$(readlink -f "$1")
ROOT=${2:-$(mktemp -d /tmp/mae-deb-root.XXXXXX)}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  echo "== debootstrap (minbase bookworm) into $ROOT"
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null
fi
cleanup() { umount "$ROOT/dev/pts" "$ROOT/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$ROOT/proc"
mkdir -p "$ROOT/dev/pts" && mount -t devpts devpts "$ROOT/dev/pts" 2>/dev/null || true
cp "$DEB" "$ROOT/tmp/"
NAME=$(basename "$DEB")
echo "== apt-get install ./$NAME"
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get update -qq
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "/tmp/$NAME" >/dev/null
echo "== installed self-test"
chroot "$ROOT" /usr/bin/env QT_QPA_PLATFORM=offscreen HOME=/root /usr/bin/mae-desktop --self-test
echo "== remove"
chroot "$ROOT" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq mae-desktop >/dev/null
test ! -e "$ROOT/opt/mae-desktop/mae-desktop" && test ! -e "$ROOT/usr/bin/mae-desktop"
echo "deb test ok: installed, self-tested and removed in a clean Debian 12 root ($ROOT)"
