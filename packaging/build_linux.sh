#!/usr/bin/env bash
# Build the Linux bundle, test it, and package it:
#   dist/mae-desktop/                                 one-folder PyInstaller app
#   dist/mae-desktop-<version>-linux-x86_64.tar.gz    the folder, packed
#   dist/mae-desktop_<version>_amd64.deb              /opt/mae-desktop + /usr/bin link + menu entry
# Usage: packaging/build_linux.sh [PYTHON]   (PYTHON: an interpreter with the project and
# pyinstaller installed; default: python3). Needs dpkg-deb; desktop-file-validate if present.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-python3}
VERSION=$("$PY" -c "import mae_desktop; print(mae_desktop.__version__)")
DIST=dist
BUNDLE=$DIST/mae-desktop

# the binding the installers carry: named in the log, and never a release known to abort
echo "== Qt binding: $("$PY" -c 'import sys; from mae_desktop.binding import binding_version as v
print(f"PySide6 {v()} on Python {sys.version.split()[0]}")')"
"$PY" -c 'import sys; from mae_desktop.binding import binding_problem as p
sys.exit(f"refusing to build: {p()}" if p() else 0)'
# and it survives what a long painting session does (the known abort comes after ~11,000)
QT_QPA_PLATFORM=offscreen "$PY" -c 'from PySide6.QtCore import QObject, Signal
class O(QObject):
    s = Signal(object)
o = O()
for i in range(30_000):
    o.s.emit(i)' || { echo "refusing to build: the Qt binding aborts under many signals" >&2; exit 1; }

echo "== PyInstaller (version $VERSION)"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN build.spec

echo "== strip torch's libraries and Python's (never numpy's or pillow's: auditwheel-patched"
echo "   libraries break when stripped)"
find "$BUNDLE/_internal/torch/lib" "$BUNDLE/_internal/python3."*/lib-dynload \
     -name '*.so*' -type f -exec strip --strip-unneeded {} +
strip --strip-unneeded "$BUNDLE/_internal/"libpython3*.so*

echo "== ABI floor: nothing bundled may need a newer glibc or libstdc++ than this system's"
GLIBC=$(getconf GNU_LIBC_VERSION | awk '{print $2}')  # e.g. 2.31 (no head: SIGPIPE under pipefail)
# (awk reads to the end: exiting early would kill ldconfig with SIGPIPE under pipefail)
LIBSTDCXX=$(ldconfig -p | awk '/libstdc\+\+\.so\.6 .*x86-64/ && !n++ {print $NF}')
GLIBCXX=$(grep -ao 'GLIBCXX_3\.4\.[0-9]*' "$LIBSTDCXX" | sort -uV | tail -n 1 | cut -d_ -f2)
"$PY" packaging/abi_floor.py "$BUNDLE" --max-glibc "$GLIBC" --max-glibcxx "$GLIBCXX"

echo "== self-test of the bundle"
QT_QPA_PLATFORM=offscreen "$BUNDLE/mae-desktop" --self-test

echo "== tar.gz (with README.md, COPYRIGHT, CHANGELOG.md, install.sh, menu entry, icons)"
# the extras go beside the bundle in the tarball only: /opt in the .deb gets none of them
EXTRA=$(mktemp -d)
STAGE=$(mktemp -d)
trap 'rm -rf "$EXTRA" "$STAGE"' EXIT
mkdir -p "$EXTRA/mae-desktop/icons"
"$PY" packaging/licenses.py --bundle "$BUNDLE" --out "$EXTRA/mae-desktop/COPYRIGHT"
sed "s/@GLIBC_FLOOR@/$GLIBC/g" packaging/tarball/README.md > "$EXTRA/mae-desktop/README.md"
install -m 0755 packaging/tarball/install.sh "$EXTRA/mae-desktop/install.sh"
install -m 0644 resources/mae-desktop.desktop "$EXTRA/mae-desktop/mae-desktop.desktop"
install -m 0644 resources/mae-desktop-mime.xml "$EXTRA/mae-desktop/mae-desktop-mime.xml"
install -m 0644 mae_desktop/resources/icon.png "$EXTRA/mae-desktop/icons/mae-desktop-256.png"
install -m 0644 resources/icon.png "$EXTRA/mae-desktop/icons/mae-desktop-512.png"
install -m 0644 CHANGELOG.md "$EXTRA/mae-desktop/CHANGELOG.md"
TARBALL=$DIST/mae-desktop-$VERSION-linux-x86_64.tar.gz
tar -C "$DIST" -czf "$TARBALL" mae-desktop -C "$EXTRA" mae-desktop

echo "== .deb"
chmod 0755 "$STAGE"
mkdir -p "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/icons/hicolor/256x256/apps" "$STAGE/usr/share/icons/hicolor/512x512/apps" \
         "$STAGE/DEBIAN"
cp -a "$BUNDLE" "$STAGE/opt/mae-desktop"
ln -s /opt/mae-desktop/mae-desktop "$STAGE/usr/bin/mae-desktop"
cp resources/mae-desktop.desktop "$STAGE/usr/share/applications/"
install -D -m 0644 resources/mae-desktop-mime.xml "$STAGE/usr/share/mime/packages/mae-desktop.xml"
install -D -m 0644 "$EXTRA/mae-desktop/COPYRIGHT" "$STAGE/usr/share/doc/mae-desktop/copyright"
gzip -9n < packaging/debian/changelog > "$STAGE/usr/share/doc/mae-desktop/changelog.gz"
cp mae_desktop/resources/icon.png "$STAGE/usr/share/icons/hicolor/256x256/apps/mae-desktop.png"
cp resources/icon.png "$STAGE/usr/share/icons/hicolor/512x512/apps/mae-desktop.png"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$STAGE/usr/share/applications/mae-desktop.desktop"
fi
# Wayland: Qt 6.9's client needs libwayland 1.20; older systems (Debian 11) get X11 (XWayland)
# libstdc++ and libgcc_s come from the system (build.spec leaves them out: a bundled one
# would shadow the newer one that the system's graphics drivers need)
GCC_MAJOR=$(dpkg-query -W -f='${Version}' libstdc++6 | cut -d. -f1)
SIZE_KB=$(du -sk "$STAGE/opt" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: mae-desktop
Version: $VERSION
Section: science
Priority: optional
Architecture: amd64
Maintainer: MAE Desktop developers <maintainers@mae-desktop.invalid>
Installed-Size: $SIZE_KB
Depends: libc6 (>= $GLIBC), libstdc++6 (>= $GCC_MAJOR), libgcc-s1, libgl1, libegl1, libfontconfig1, libdbus-1-3, fontconfig-config, fonts-dejavu-core | fonts-liberation, libxcb1, libxkbcommon0, libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-randr0, libxcb-render0, libxcb-render-util0, libxcb-shape0, libxcb-util1, libxcb-xkb1
Recommends: libwayland-client0 (>= 1.20), libwayland-cursor0 (>= 1.20), libwayland-egl1 (>= 1.20)
Description: explore masked autoencoders by painting masks
 Open a masked autoencoder (MAE) checkpoint, paint a mask over its ViT patch
 grid and watch the reconstruction and the attention maps update live.
 Ships a small default model and sample photos; works offline.
CONTROL
DEB=$DIST/mae-desktop_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$DEB" >/dev/null

echo "== sizes"
du -sh "$BUNDLE" "$TARBALL" "$DEB"
