#!/usr/bin/env bash
# Install the Linux installers the way users meet them, in clean Debian roots:
#   - the .deb with apt into Debian 11, 12 and 13 (bullseye, bookworm, trixie): install time,
#     the installed self-test (which names the Qt platform plugin), a reconstruct on a bundled
#     photo, the installed size, then removal (nothing may be left behind);
#   - the .tar.gz in a bare Debian 11 root after installing only the packages its README
#     lists: self-test, reconstruct, and its menu installer.
# Where Xvfb and weston are installed, the self-test also runs in a real window on X11 (Xvfb)
# and natively on Wayland (weston's headless backend), through the root's own libraries.
# Prints one summary line per root. Needs root, debootstrap and Debian's package mirror.
# Usage: packaging/test_installers.sh DEB TARBALL [SUITE ...]   (default: bullseye bookworm trixie)
# MAE_TEST_ROOTS: where the clean roots are kept (default /var/tmp/mae-desktop-test-roots).
set -euo pipefail
DEB=$(readlink -f "$1")
TARBALL=$(readlink -f "$2")
shift 2
SUITES=("$@")
[ ${#SUITES[@]} -gt 0 ] || SUITES=(bullseye bookworm trixie)
CACHE=${MAE_TEST_ROOTS:-/var/tmp/mae-desktop-test-roots}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SAMPLE=/opt/mae-desktop/_internal/mae_desktop/resources/samples/chelsea.png
mkdir -p "$CACHE"
MOUNTS=()
DISPLAYS=()
cleanup() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do umount -l "${MOUNTS[i]}" 2>/dev/null || true; done
  MOUNTS=()
}
stop_displays() { for pid in "${DISPLAYS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap 'cleanup; stop_displays' EXIT
SUMMARY=()

# the displays: an X server and a Wayland compositor, their sockets bound into each root
XDISPLAY=:77
WAYLAND_DIR=$(mktemp -d /tmp/mae-wayland.XXXXXX)
chmod 0700 "$WAYLAND_DIR"
PLATFORMS=()
if command -v Xvfb >/dev/null; then
  Xvfb "$XDISPLAY" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  DISPLAYS+=($!)
  PLATFORMS+=(xcb)
fi
if command -v weston >/dev/null; then
  XDG_RUNTIME_DIR=$WAYLAND_DIR weston --backend=headless-backend.so --socket=wayland-mae \
    --idle-time=0 >/dev/null 2>&1 &
  DISPLAYS+=($!)
  PLATFORMS+=(wayland)
fi
[ ${#PLATFORMS[@]} = 2 ] || echo "note: without Xvfb or weston, X11 or Wayland windows are not tried"
for _ in $(seq 50); do  # until both sockets are there (at most 5 s)
  [ -S "/tmp/.X11-unix/X${XDISPLAY#:}" ] || ! command -v Xvfb >/dev/null || { sleep 0.1; continue; }
  [ -S "$WAYLAND_DIR/wayland-mae" ] || ! command -v weston >/dev/null || { sleep 0.1; continue; }
  break
done

fresh_root() {  # fresh_root SUITE NAME -> a clean copy of a minimal SUITE root, mounted
  local suite=$1 root=$CACHE/$2
  if [ ! -x "$CACHE/$suite-base/usr/bin/apt-get" ]; then
    echo "== debootstrap $suite (minbase)"
    rm -rf "$CACHE/$suite-base.tmp"
    debootstrap --variant=minbase "$suite" "$CACHE/$suite-base.tmp" "$MIRROR" >/dev/null
    mv "$CACHE/$suite-base.tmp" "$CACHE/$suite-base"
  fi
  rm -rf "$root" && cp -a "$CACHE/$suite-base" "$root"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  mount -t proc proc "$root/proc" && MOUNTS+=("$root/proc")
  mkdir -p "$root/dev/pts"
  if mount -t devpts devpts "$root/dev/pts" 2>/dev/null; then MOUNTS+=("$root/dev/pts"); fi
  for dir in /tmp/.X11-unix "$WAYLAND_DIR"; do
    [ -d "$dir" ] || continue
    mkdir -p "$root$dir" && mount --bind "$dir" "$root$dir" && MOUNTS+=("$root$dir")
  done
  ROOT=$root
}
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
  LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
glibc_of() { in_root getconf GNU_LIBC_VERSION | awk '{print $2}'; }

wayland_native() {  # the root's libwayland-client is 1.20 or newer
  local version
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  version=$(in_root dpkg-query -W -f='${Version}' libwayland-client0 2>/dev/null) || return 1
  in_root dpkg --compare-versions "$version" ge 1.20
}

check_app() {  # check_app EXE -> FIRST (the self-test's first-result time), RECON_S
  local exe=$1 line t0
  line=$(in_root QT_QPA_PLATFORM=offscreen "$exe" --self-test)
  echo "   $line"
  case $line in "self-test ok: "*"platform offscreen"*) ;; *) echo "self-test failed" >&2; exit 1 ;; esac
  FIRST=$(echo "$line" | grep -o 'first result after [0-9.]* s' | grep -o '[0-9.]*')
  SEEN=offscreen
  for platform in "${PLATFORMS[@]}"; do  # a real window, through the root's own libraries
    if [ "$platform" = xcb ]; then
      choice=(QT_QPA_PLATFORM=xcb) expect=xcb
    else  # what a Wayland desktop session gets when nothing is forced
      choice=(XDG_SESSION_TYPE=wayland) expect=wayland
      # Qt 6.9's Wayland client needs libwayland-client 1.20 (wl_proxy_marshal_flags); with
      # an older one (Debian 11, Ubuntu 20.04) Qt falls back to the X11 window (XWayland)
      wayland_native || expect=xcb
    fi
    line=$(in_root "${choice[@]}" DISPLAY="$XDISPLAY" WAYLAND_DISPLAY=wayland-mae \
      XDG_RUNTIME_DIR="$WAYLAND_DIR" "$exe" --self-test 2>/dev/null)
    case $line in "self-test ok: "*"platform $expect"*) ;;
      *) echo "self-test with ${choice[*]} failed: $line" >&2; exit 1 ;; esac
    if [ "$platform" = "$expect" ]; then SEEN="$SEEN, $platform"
    else SEEN="$SEEN, wayland session -> xcb fallback"; fi
  done
  t0=$(date +%s.%N)
  in_root "$exe" reconstruct "$SAMPLE" --out /tmp/recon >/dev/null
  RECON_S=$(elapsed "$t0")
  # and in int8, the precision path that uses the most of torch beyond a plain forward pass
  in_root "$exe" reconstruct "$SAMPLE" --dtype int8 --out /tmp/recon-int8 >/dev/null
  for f in recon/reconstruction.png recon/metrics.json recon-int8/reconstruction.png; do
    [ -s "$ROOT/tmp/$f" ] || { echo "reconstruct wrote no $f" >&2; exit 1; }
  done
}

for suite in "${SUITES[@]}"; do
  fresh_root "$suite" "$suite-deb"
  echo "== $suite (glibc $(glibc_of)): apt-get install ./$(basename "$DEB")"
  cp "$DEB" "$ROOT/tmp/"
  in_root apt-get update -qq
  before=$(in_root dpkg-query -W -f='.\n' | wc -l)
  t0=$(date +%s.%N)
  in_root apt-get install -y -qq "/tmp/$(basename "$DEB")" >/dev/null
  install_s=$(elapsed "$t0")
  pulled=$(($(in_root dpkg-query -W -f='.\n' | wc -l) - before))
  # shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
  size_mb=$(($(in_root dpkg-query -W -f='${Installed-Size}' mae-desktop) / 1024))
  check_app /usr/bin/mae-desktop
  in_root apt-get remove -y -qq mae-desktop >/dev/null
  left=$( (find "$ROOT/opt/mae-desktop" "$ROOT/usr/bin/mae-desktop" \
    "$ROOT/usr/share/applications/mae-desktop.desktop" "$ROOT/usr/share/doc/mae-desktop" \
    "$ROOT/usr/share/mime/packages/mae-desktop.xml" 2>/dev/null || true) | wc -l)
  [ "$left" = 0 ] || { echo "removal left $left files behind" >&2; exit 1; }
  SUMMARY+=("$suite .deb: glibc $(glibc_of), install ${install_s} s ($pulled packages), self-test ok ($SEEN), first result ${FIRST} s, reconstruct ${RECON_S} s, installed ${size_mb} MiB, removed cleanly")
  echo "   ${SUMMARY[-1]}"
  cleanup
done

# the tarball in a bare root, with only the packages its README lists
fresh_root bullseye bullseye-tarball
echo "== bullseye (glibc $(glibc_of)): the tarball with the packages its README lists"
mkdir -p "$ROOT/opt/unpacked"
tar -C "$ROOT/opt/unpacked" -xzf "$TARBALL"
README=$ROOT/opt/unpacked/mae-desktop/README.md
[ -s "$README" ] || { echo "the tarball has no README.md" >&2; exit 1; }
# the README's Debian/Ubuntu line: sudo apt install PACKAGES...
debs=$(grep -m1 -E '^\s*(sudo )?apt(-get)? install' "$README" | sed -E 's/.*install( -y)?//')
[ -n "$debs" ] || { echo "no apt line in the tarball's README" >&2; exit 1; }
in_root apt-get update -qq
# shellcheck disable=SC2086
in_root apt-get install -y -qq --no-install-recommends $debs >/dev/null
ln -sfn /opt/unpacked/mae-desktop "$ROOT/opt/mae-desktop"  # where check_app's sample lies
check_app /opt/unpacked/mae-desktop/mae-desktop
in_root bash /opt/unpacked/mae-desktop/install.sh >/dev/null
[ -f "$ROOT/root/.local/share/applications/mae-desktop.desktop" ] || {
  echo "install.sh made no menu entry" >&2; exit 1; }
SUMMARY+=("bullseye tarball: README's apt line ($(echo "$debs" | wc -w) packages), self-test ok ($SEEN), first result ${FIRST} s, menu entry installed")
cleanup

echo "== summary"
printf '%s\n' "${SUMMARY[@]}"
echo "installer tests ok"
