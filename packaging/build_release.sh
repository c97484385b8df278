#!/usr/bin/env bash
# Build the Linux installers the way they ship: inside a Debian 11 (bullseye) root, so that
# nothing in them needs a newer glibc than 2.31 or a newer libstdc++ than GCC 10's.
#
#   sudo packaging/build_release.sh          -> dist/mae-desktop-<v>-linux-x86_64.tar.gz
#                                               dist/mae-desktop_<v>_amd64.deb
#
# Steps: debootstrap a minimal bullseye root (reused on later runs), build Python 3.11 there
# from Debian's source archive (upstream 3.11.2 plus Debian's security fixes, sha256-checked),
# make a virtual environment with packaging/release-constraints.txt (torch CPU, PySide6 6.9,
# the last Qt whose wheels need only glibc 2.28), then run packaging/build_linux.sh in it.
# Needs root, debootstrap, curl, and the network to Debian's archive and the Python index.
# MAE_BUILD_ROOT: where the root lives (default /var/tmp/mae-desktop-build/bullseye).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$PWD
ROOT=${MAE_BUILD_ROOT:-/var/tmp/mae-desktop-build/bullseye}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://security.debian.org/debian-security}
POOL=$MIRROR/pool/main/p/python3.11
PY_ORIG=python3.11_3.11.2.orig.tar.gz
PY_ORIG_SHA256=2411c74bda5bbcfcddaf4531f66d1adc73f247f529aee981b029513aefdbf849
PY_DEBIAN=python3.11_3.11.2-6+deb12u8.debian.tar.xz
PY_DEBIAN_SHA256=ece2d63c70ac0b7a401fbe6b51b0103be997c294a01a3865549be1862794ba97
# the root's own /usr/local: the loader finds libpython there without an RPATH, which the
# bundle's Python modules would otherwise carry
PY_PREFIX=/usr/local
# to build Python, and the window libraries the self-test of the bundle needs
ROOT_DEBS="build-essential libssl-dev zlib1g-dev libffi-dev libbz2-dev liblzma-dev uuid-dev
  libsqlite3-dev ca-certificates patch binutils file git dpkg-dev
  libgl1 libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libglib2.0-0 fontconfig-config
  fonts-dejavu-core"
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0)) s] $*"; }

[ "$(id -u)" = 0 ] || { echo "build_release.sh: run as root (debootstrap, chroot)" >&2; exit 1; }

MOUNTS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
bind() {  # bind(HOST_PATH, [ro]): the same path inside the root
  mkdir -p "$ROOT$1"
  mount --bind "$1" "$ROOT$1"
  [ "${2:-}" = ro ] && mount -o remount,bind,ro "$ROOT$1"
  MOUNTS+=("$ROOT$1")
}
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 "${PIP_ENV[@]}" "$@"; }

if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  step "debootstrap bullseye (minbase) into $ROOT"
  mkdir -p "$ROOT"
  debootstrap --variant=minbase bullseye "$ROOT" "$MIRROR" >/dev/null
  cat >> "$ROOT/etc/apt/sources.list" <<SOURCES
deb $MIRROR bullseye-updates main
deb $SECURITY bullseye-security main
SOURCES
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
bind /dev
if mount -t devpts devpts "$ROOT/dev/pts" 2>/dev/null; then MOUNTS+=("$ROOT/dev/pts"); fi

# pip inside the root sees what pip sees here: the same settings, local wheel folders and CAs
PIP_ENV=()
while IFS='=' read -r name value; do PIP_ENV+=("$name=$value"); done < <(env | grep '^PIP_' || true)
for conf in /etc/pip.conf /etc/xdg/pip/pip.conf; do
  [ -f "$conf" ] && mkdir -p "$ROOT$(dirname "$conf")" && cp "$conf" "$ROOT$conf"
done
while IFS='=' read -r key value; do
  for item in ${value//\'/}; do
    item=${item#file://}
    case $key in
      *find-links | *index-url)
        top=$(echo "$item" | cut -d/ -f1-3)
        if [ -d "$item" ] && ! mountpoint -q "$ROOT$top"; then bind "$top" ro; fi ;;
      *cert | *constraint)
        opt=${key##*.}
        if [ -f "$item" ]; then
          mkdir -p "$ROOT$(dirname "$item")" && cp "$item" "$ROOT$item.build-host"
          PIP_ENV+=("PIP_${opt^^}=$item.build-host")
        fi ;;
    esac
  done
done < <(python3 -m pip config list 2>/dev/null | sort -u)

step "Debian packages in the root"
# shellcheck disable=SC2086
if ! in_root dpkg -s $ROOT_DEBS >/dev/null 2>&1; then
  in_root DEBIAN_FRONTEND=noninteractive apt-get update -qq
  in_root DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $ROOT_DEBS >/dev/null
fi

if [ ! -x "$ROOT$PY_PREFIX/bin/python3.11" ]; then
  step "Python 3.11.2 with Debian's security fixes, built in the root"
  mkdir -p "$ROOT/build/python"
  for pair in "$PY_ORIG $PY_ORIG_SHA256" "$PY_DEBIAN $PY_DEBIAN_SHA256"; do
    read -r file sum <<< "$pair"
    curl -fsSL -o "$ROOT/build/python/$file" "$POOL/$file"
    echo "$sum  $ROOT/build/python/$file" | sha256sum -c --quiet -
  done
  cat > "$ROOT/build/python/build.sh" <<'BUILD'
set -euo pipefail
cd /build/python && rm -rf Python-3.11.2 debian
tar -xzf python3.11_3.11.2.orig.tar.gz && tar -xJf python3.11_*.debian.tar.xz
cd Python-3.11.2
# Debian's patches from its first bug fix on: the earlier ones change Debian's file layout
take=0
while read -r patch; do
  [ "$patch" = shutdown-deadlock.diff ] && take=1
  [ "$take" = 1 ] && patch -p1 -s --no-backup-if-mismatch < "../debian/patches/$patch"
done < ../debian/patches/series
# Debian links pyexpat into the interpreter; built as a module, its backported fix needs the
# define that upstream gives every core module
grep -q Py_BUILD_CORE_MODULE Modules/pyexpat.c ||
  sed -i '1i #ifndef Py_BUILD_CORE_BUILTIN\n#  define Py_BUILD_CORE_MODULE 1\n#endif' Modules/pyexpat.c
./configure --prefix="$1" --enable-shared --with-ensurepip=install >/dev/null
make -j"$(nproc)" >/dev/null 2>make.log || { tail -40 make.log; exit 1; }
make install >/dev/null 2>&1
ldconfig
BUILD
  in_root bash /build/python/build.sh "$PY_PREFIX"
fi
in_root "$PY_PREFIX/bin/python3.11" -c 'import ssl, ctypes, lzma, bz2, zlib, sqlite3
import sys; print("python", sys.version.split()[0], ssl.OPENSSL_VERSION)'

step "the project's files (tracked and new, not ignored) into the root"
rm -rf "$ROOT/build/src" && mkdir -p "$ROOT/build/src"
git ls-files -z --cached --others --exclude-standard |
  (while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
  tar --null -T - -cf - | tar -C "$ROOT/build/src" -xf -

step "virtual environment (release constraints)"
if ! grep -qx "home = $PY_PREFIX/bin" "$ROOT/build/venv/pyvenv.cfg" 2>/dev/null; then
  rm -rf "$ROOT/build/venv"
  in_root "$PY_PREFIX/bin/python3.11" -m venv /build/venv
fi
in_root /build/venv/bin/pip install -q -c /build/src/packaging/release-constraints.txt torch
in_root /build/venv/bin/pip install -q --prefer-binary \
  -c /build/src/packaging/release-constraints.txt -e "/build/src[package]"
mkdir -p "$SRC/dist"
in_root /build/venv/bin/pip freeze --exclude-editable > "$SRC/dist/release-freeze.txt"

step "packaging/build_linux.sh in the root"
in_root bash -c "cd /build/src && bash packaging/build_linux.sh /build/venv/bin/python"

mkdir -p dist
rm -rf dist/mae-desktop
cp -a "$ROOT/build/src/dist/mae-desktop" dist/
cp "$ROOT"/build/src/dist/mae-desktop-*-linux-x86_64.tar.gz "$ROOT"/build/src/dist/mae-desktop_*_amd64.deb dist/
step "done: $(cd dist && echo mae-desktop-*-linux-x86_64.tar.gz mae-desktop_*_amd64.deb)"
