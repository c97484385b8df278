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

echo "== PyInstaller (version $VERSION)"
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN build.spec

echo "== strip torch's libraries and Python's (never numpy's or pillow's: auditwheel-patched"
echo "   libraries break when stripped)"
find "$BUNDLE/_internal/torch/lib" "$BUNDLE/_internal/python3."*/lib-dynload \
     -name '*.so*' -type f -exec strip --strip-unneeded {} +
strip --strip-unneeded "$BUNDLE/_internal/"libpython3*.so*

echo "== self-test of the bundle"
QT_QPA_PLATFORM=offscreen "$BUNDLE/mae-desktop" --self-test

echo "== tar.gz"
TARBALL=$DIST/mae-desktop-$VERSION-linux-x86_64.tar.gz
tar -C "$DIST" -czf "$TARBALL" mae-desktop

echo "== .deb"
STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
chmod 0755 "$STAGE"
mkdir -p "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
         "$STAGE/usr/share/icons/hicolor/256x256/apps" "$STAGE/usr/share/icons/hicolor/512x512/apps" \
         "$STAGE/DEBIAN"
cp -a "$BUNDLE" "$STAGE/opt/mae-desktop"
ln -s /opt/mae-desktop/mae-desktop "$STAGE/usr/bin/mae-desktop"
cp resources/mae-desktop.desktop "$STAGE/usr/share/applications/"
cp mae_desktop/resources/icon.png "$STAGE/usr/share/icons/hicolor/256x256/apps/mae-desktop.png"
cp resources/icon.png "$STAGE/usr/share/icons/hicolor/512x512/apps/mae-desktop.png"
if command -v desktop-file-validate >/dev/null; then
  desktop-file-validate "$STAGE/usr/share/applications/mae-desktop.desktop"
fi
GLIBC=$(getconf GNU_LIBC_VERSION | awk '{print $2}')  # e.g. 2.36 (no head: SIGPIPE under pipefail)
SIZE_KB=$(du -sk "$STAGE/opt" | cut -f1)
cat > "$STAGE/DEBIAN/control" <<CONTROL
Package: mae-desktop
Version: $VERSION
Section: science
Priority: optional
Architecture: amd64
Maintainer: MAE Desktop developers <maintainers@mae-desktop.invalid>
Installed-Size: $SIZE_KB
Depends: libc6 (>= $GLIBC), libgl1, libegl1, libxcb1, libxkbcommon0, libfontconfig1, libdbus-1-3, fontconfig-config, fonts-dejavu-core | fonts-liberation
Recommends: libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, libxcb-image0, libxcb-keysyms1, libxcb-render-util0, libxcb-shape0, libxcb-xkb1
Description: explore masked autoencoders by painting masks
 Open a masked autoencoder (MAE) checkpoint, paint a mask over its ViT patch
 grid and watch the reconstruction and the attention maps update live.
 Ships a small default model and sample photos; works offline.
CONTROL
DEB=$DIST/mae-desktop_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zzstd --build "$STAGE" "$DEB" >/dev/null

echo "== sizes"
du -sh "$BUNDLE" "$TARBALL" "$DEB"
