#!/usr/bin/env bash
# Add MAE Desktop to your application menu (for your user only), or take it out again.
# Run it from the unpacked mae-desktop folder: ./install.sh, ./install.sh --uninstall.
set -euo pipefail

NAME=mae-desktop

usage() {
  cat <<EOF
Usage: ./install.sh [--uninstall | --help]

Adds MAE Desktop, from the folder this script is in, to your application menu:
  \$XDG_DATA_HOME/applications/$NAME.desktop   (\$XDG_DATA_HOME: ~/.local/share when unset)
  \$XDG_DATA_HOME/icons/hicolor/{256x256,512x512}/apps/$NAME.png
  \$XDG_DATA_HOME/mime/packages/$NAME.xml       (when $NAME-mime.xml is in this folder)
  ~/.local/bin/$NAME                            (a link to the program in this folder)
and refreshes the menu, file-type and icon caches where their tools are installed.
Nothing outside your home folder is touched, and no administrator rights are needed.

  --uninstall   remove exactly those files again (the folder itself stays)
  --help        show this help

Move or delete the folder only after --uninstall, or run ./install.sh again from the new
place: the menu entry names the program by its full path.
EOF
}

die() {
  echo "install.sh: error: $*" >&2
  exit 1
}

mode=install
case $# in
  0) ;;
  1)
    case $1 in
      --uninstall) mode=uninstall ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        usage >&2
        exit 2
        ;;
    esac
    ;;
  *)
    usage >&2
    exit 2
    ;;
esac

[[ -n ${HOME:-} ]] || die "HOME is not set"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
program="$here/$NAME"

# XDG Base Directory: an unset, empty or relative XDG_DATA_HOME means ~/.local/share
data=${XDG_DATA_HOME:-}
[[ $data == /* ]] || data="$HOME/.local/share"
applications="$data/applications"
desktop_file="$applications/$NAME.desktop"
hicolor="$data/icons/hicolor"
icon_256="$hicolor/256x256/apps/$NAME.png"
icon_512="$hicolor/512x512/apps/$NAME.png"
mime_dir="$data/mime"
mime_file="$mime_dir/packages/$NAME.xml"
bin_dir="$HOME/.local/bin"
link="$bin_dir/$NAME"

if [[ $(id -u) == 0 ]]; then
  echo "Note: this changes root's own menu (in $HOME). For every user of this computer," \
    "install the .deb package instead."
fi

# The Exec= value for a program path, per the Desktop Entry Specification: % doubled; a
# path with a reserved character quoted whole, with " \` \$ and \\ escaped inside the
# quotes; then, as in every string value, each backslash written as \\.
exec_path() {
  local path=$1 reserved
  reserved="[[:space:]\"'\\\\<>~|&;\$*?#\`()]"
  path=${path//%/%%}
  if [[ $path =~ $reserved ]]; then
    path=${path//\\/\\\\}
    path=${path//\"/\\\"}
    path=${path//\`/\\\`}
    path=${path//\$/\\\$}
    path="\"$path\""
  fi
  printf '%s' "${path//\\/\\\\}"
}

# the first thing found under a folder that matches find's tests, or nothing
first_found() {
  find "$@" -print -quit 2>/dev/null
}

refresh_caches() {
  # the menu's MIME cache; it goes when no desktop entry is left to describe
  if [[ -n $(first_found "$applications" -name '*.desktop') ]]; then
    if command -v update-desktop-database >/dev/null 2>&1; then
      update-desktop-database -q "$applications" 2>/dev/null \
        || echo "install.sh: warning: update-desktop-database failed (the menu may update later)" >&2
    fi
  elif [[ -f $applications/mimeinfo.cache ]]; then
    rm -f -- "$applications/mimeinfo.cache"
  fi
  # the file-type database, made from mime/packages/; it goes when no package is left
  if [[ -d $mime_dir/packages ]]; then
    if [[ -n $(first_found "$mime_dir/packages" -mindepth 1) ]]; then
      if command -v update-mime-database >/dev/null 2>&1; then
        update-mime-database "$mime_dir" >/dev/null 2>&1 \
          || echo "install.sh: warning: update-mime-database failed" >&2
      fi
    else
      rm -rf -- "$mime_dir"
    fi
  fi
  if [[ -d $hicolor ]]; then
    touch "$hicolor" 2>/dev/null || true # a newer folder tells icon loaders to look again
    # refresh a cache that is already there; never start one (an icon cache that later goes
    # stale would hide other programs' icons)
    if [[ -f $hicolor/icon-theme.cache ]] && command -v gtk-update-icon-cache >/dev/null 2>&1; then
      gtk-update-icon-cache -q -f -t "$hicolor" >/dev/null 2>&1 \
        || echo "install.sh: warning: gtk-update-icon-cache failed" >&2
    fi
  fi
  return 0
}

uninstall() {
  local removed=0 path
  for path in "$desktop_file" "$icon_256" "$icon_512" "$mime_file"; do
    if [[ -e $path || -L $path ]]; then
      rm -f -- "$path"
      echo "removed $path"
      removed=1
    fi
  done
  if [[ -L $link ]]; then
    rm -f -- "$link"
    echo "removed $link"
    removed=1
  elif [[ -e $link ]]; then
    echo "install.sh: left $link alone: it is not the link install.sh makes" >&2
  fi
  refresh_caches
  if ((removed)); then
    echo "MAE Desktop is no longer in your menu. This folder is untouched: delete it to remove the program."
  else
    echo "Nothing to remove: MAE Desktop was not in your menu."
  fi
}

install_entry() {
  local template="$here/$NAME.desktop" mime_source="$here/$NAME-mime.xml"
  local icon_256_source="$here/icons/$NAME-256.png" icon_512_source="$here/icons/$NAME-512.png"
  local source
  [[ -f $program && -x $program ]] \
    || die "no $NAME program beside install.sh: run it from the unpacked $NAME folder"
  for source in "$template" "$icon_256_source" "$icon_512_source"; do
    [[ -f $source ]] || die "$source is missing: unpack the whole archive again"
  done
  case $here in
    *$'\n'* | *$'\r'* | *$'\t'*) die "the folder's path has a tab or line break: move it to a plainer path" ;;
  esac
  grep -Eq '^Exec=mae-desktop( |$)' "$template" \
    || die "$template has no 'Exec=$NAME' line to point at this folder"

  local exec_value try_value tmp line
  exec_value=$(exec_path "$program")
  try_value=${program//\\/\\\\}
  mkdir -p "$applications" "$(dirname "$icon_256")" "$(dirname "$icon_512")" "$bin_dir"

  # the desktop entry, with Exec= (and TryExec=, so the entry hides itself if the folder is
  # gone) naming the program in this folder
  tmp=$(mktemp "$applications/.$NAME.desktop.XXXXXX")
  {
    while IFS= read -r line || [[ -n $line ]]; do
      case $line in
        'Exec=mae-desktop' | 'Exec=mae-desktop '*)
          printf 'Exec=%s%s\n' "$exec_value" "${line#Exec=mae-desktop}"
          ;;
        TryExec=*) ;;
        '[Desktop Entry]')
          printf '%s\n' "$line"
          printf 'TryExec=%s\n' "$try_value"
          ;;
        *) printf '%s\n' "$line" ;;
      esac
    done <"$template"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$desktop_file"
  echo "installed $desktop_file"

  cp -- "$icon_256_source" "$icon_256"
  cp -- "$icon_512_source" "$icon_512"
  chmod 0644 "$icon_256" "$icon_512"
  echo "installed $icon_256"
  echo "installed $icon_512"

  if [[ -f $mime_source ]]; then
    mkdir -p "$(dirname "$mime_file")"
    cp -- "$mime_source" "$mime_file"
    chmod 0644 "$mime_file"
    echo "installed $mime_file"
  fi

  if [[ -e $link && ! -L $link ]]; then
    echo "install.sh: left $link alone: a file of that name is already there" >&2
  else
    ln -sfn -- "$program" "$link"
    echo "installed $link -> $program"
    case ":${PATH:-}:" in
      *":$bin_dir:"*) ;;
      *) echo "Note: $bin_dir is not on your PATH; add it to type '$NAME' in a terminal." ;;
    esac
  fi

  refresh_caches
  echo "MAE Desktop is in your application menu (it may take a moment to appear)."
  echo "To remove it again: $here/install.sh --uninstall"
}

if [[ $mode == uninstall ]]; then
  uninstall
else
  install_entry
fi
