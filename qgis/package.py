"""Build the installable plugin zip: `python3 qgis/package.py` → dist/ccp_qgis.zip.

In QGIS: Plugins > Manage and Install Plugins > Install from ZIP. The zip holds one folder,
`ccp_qgis/`, the plugin's name in the profile's python/plugins directory.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN_NAME = "ccp_qgis"
FILES = ("*.py", "metadata.txt", "icon.svg")
LEFT_OUT = ("package.py",)  # a build tool, not part of the plugin


def plugin_files() -> list[Path]:
    found = {path for pattern in FILES for path in HERE.glob(pattern)}
    return sorted(path for path in found if path.name not in LEFT_OUT)


def build(destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(destination, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in plugin_files():
            # fixed timestamps: the same sources give the same zip
            info = zipfile.ZipInfo(f"{PLUGIN_NAME}/{path.name}", date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=HERE.parent / "dist" / f"{PLUGIN_NAME}.zip")
    print(build(parser.parse_args().output))


if __name__ == "__main__":
    main()
