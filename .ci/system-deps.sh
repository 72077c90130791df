#!/bin/sh
# System packages the tests need: Chromium (browser map tests) and GDAL's command-line
# tools (exports are read back with ogrinfo), QGIS for the styled-GeoPackage check.
# Installs only what is missing.
set -eu
missing=""
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$missing chromium"
command -v ogrinfo >/dev/null 2>&1 || missing="$missing gdal-bin"
# QGIS (headless) opens the exported GeoPackage to check its stored styles.
/usr/bin/python3 -c "import qgis.core" >/dev/null 2>&1 || missing="$missing qgis python3-qgis"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
else
  echo "system-deps: please install:$missing (browser and GDAL tests are skipped without them)" >&2
  exit 0
fi
echo "system-deps: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
