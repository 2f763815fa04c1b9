"""LibreOffice headless as the extract stage's `Converter` (.doc → .docx, .odp → .pptx, ...).

Runs inside a document's reader process (`flows/isolation.py`), so LibreOffice inherits its
memory cap and is stopped by its time limit. Each call gets a temporary folder of its own with
a fresh LibreOffice profile (`-env:UserInstallation`): parallel conversions do not share a
profile, which LibreOffice would lock, and nothing is left behind.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from pipeline.extract import ExtractError

#: LibreOffice's export filter per target suffix.
FILTERS = {
    ".docx": "docx:MS Word 2007 XML",
    ".pptx": "pptx:Impress MS PowerPoint 2007 XML",
    ".xlsx": "xlsx:Calc MS Excel 2007 XML",
}
#: LibreOffice's import filter per source suffix: named, so that a damaged file fails to load
#: instead of being opened as plain text by LibreOffice's fallback.
INFILTERS = {
    ".doc": "MS Word 97",
    ".rtf": "Rich Text Format",
    ".odt": "writer8",
    ".ppt": "MS PowerPoint 97",
    ".odp": "impress8",
    ".xls": "MS Excel 97",
    ".ods": "calc8",
}
INSTALL_HINT = (
    "install LibreOffice (apt-get install libreoffice-writer-nogui libreoffice-calc-nogui "
    "libreoffice-impress-nogui, as `make` does), or save the file as {target} and try again"
)


def soffice_convert(name: str, data: bytes, source: str, target: str, timeout: float) -> bytes:
    """`data` (a `source` file) converted to `target` by `soffice --headless --convert-to`."""
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        raise ExtractError(
            f"{name}: file",
            f"{source} files are read through LibreOffice, which is not installed",
            INSTALL_HINT.format(target=target),
        )
    with tempfile.TemporaryDirectory(prefix="temakarta-lo-") as folder:
        work = Path(folder)
        source_path = work / f"document{source}"
        source_path.write_bytes(data)
        out = work / "out"
        command = [
            exe,
            f"-env:UserInstallation={(work / 'profile').as_uri()}",
            "--headless",
            "--norestore",
            "--nolockcheck",
            *([f"--infilter={INFILTERS[source]}"] if source in INFILTERS else []),
            "--convert-to",
            FILTERS[target],
            "--outdir",
            str(out),
            str(source_path),
        ]
        # A session of its own, so a timeout stops LibreOffice's whole process tree.
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={**os.environ, "HOME": str(work)},
        )
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise ExtractError(
                f"{name}: file",
                f"converting with LibreOffice took longer than {timeout:g} seconds",
                "save the file in a current format (.docx, .pptx, .xlsx)",
                "limits.timeout_seconds",
            ) from exc
        result = out / f"document{target}"
        if process.returncode != 0 or not result.is_file():
            said = " ".join(
                line
                for line in (stderr + stdout).decode("utf-8", "replace").splitlines()
                if "javaldx" not in line  # a harmless warning of every headless run
            )
            said = " ".join(said.split())[:300]
            raise ExtractError(
                f"{name}: file",
                f"LibreOffice could not convert the {source} file (exit "
                f"{process.returncode}{': ' + said if said else ''})",
                f"open it in its program and save it again, or save it as {target}",
            )
        return result.read_bytes()
