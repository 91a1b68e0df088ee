"""The folder format in and out: a folder on disk or a zip becomes files (relative path ->
text), and files become a folder or a zip. Input is checked whole before anything is
written or returned: a path outside the folder, a symlink, a file that is not UTF-8 text,
too many or too large files are refused with the reason, and nothing changes.
"""

import io
import stat
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from coach.programmes.loader import MAX_FILE_CHARS
from coach.programmes.models import ProgrammeVersion
from coach.programmes.programme_yaml import ProgrammeFile, StepEntry, dump
from coach.programmes.services import PROGRAMME_YAML

MAX_FILES = 200  # a programme is programme.yaml and one template a step
MAX_FILE_BYTES = 4 * MAX_FILE_CHARS  # UTF-8 takes at most 4 bytes a character
MAX_ZIP_BYTES = 5_000_000
PROGRAMME_FILE = "programme.yaml"


class FolderRefused(ValueError):
    """The folder, zip or files cannot be taken; the message says why. Nothing was changed."""


def check_path(path: str) -> str:
    """A relative path inside the programme folder, with / between parts; else refused."""
    pure = PurePosixPath(path)
    if (not path or "\\" in path or "\0" in path or pure.is_absolute() or ":" in pure.parts[0]
            or any(part in ("..", ".", "") for part in path.split("/"))):
        raise FolderRefused(f"{path!r} is not a path inside the programme folder; use relative "
                            "paths like steps/welcome.j2, without .. or a leading /")
    return path


def check_files(files: Mapping[str, str]) -> dict[str, str]:
    if len(files) > MAX_FILES:
        raise FolderRefused(f"{len(files)} files; a programme has at most {MAX_FILES}")
    for path, text in files.items():
        check_path(path)
        if not isinstance(text, str):
            raise FolderRefused(f"{path} is not text")
        if len(text) > MAX_FILE_CHARS:
            raise FolderRefused(f"{path} is over {MAX_FILE_CHARS} characters")
    if PROGRAMME_FILE not in files:
        raise FolderRefused("there is no programme.yaml at the top of the folder")
    return dict(files)


def read_folder(folder: Path) -> dict[str, str]:
    """Every file under the folder (names starting with a dot are skipped, as git's are)."""
    if folder.is_symlink():
        raise FolderRefused(f"{folder} is a symlink; give the folder itself")
    if not folder.is_dir():
        raise FolderRefused(f"{folder} is not a folder; give a folder holding programme.yaml")
    files: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_symlink():
            raise FolderRefused(f"{relative} is a symlink; programme folders hold plain files "
                                "only (a link could read a file outside the folder)")
        if path.is_file():
            if len(files) >= MAX_FILES:
                raise FolderRefused(f"more than {MAX_FILES} files in {folder}")
            if path.stat().st_size > MAX_FILE_BYTES:
                raise FolderRefused(f"{relative} is over {MAX_FILE_CHARS} characters")
            files[relative.as_posix()] = _text(relative.as_posix(), path.read_bytes())
    return check_files(files)


def write_folder(files: Mapping[str, str], folder: Path) -> list[Path]:
    """Write the files into the folder (made if missing). A folder that holds something other
    than a programme, or a symlink on the way, is refused before anything is written."""
    files = check_files(files)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise FolderRefused(f"{folder} is not a folder")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / PROGRAMME_FILE).is_file():
        raise FolderRefused(f"{folder} is not empty and holds no programme; export into an "
                            "empty folder or a programme's own")
    targets = [folder / path for path in files]
    for target in targets:
        for parent in [target, *target.parents]:
            if parent == folder:
                break
            if parent.is_symlink():
                raise FolderRefused(f"{parent} is a symlink; nothing was written")
    for target, text in zip(targets, files.values(), strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text.encode("utf-8"))
    return targets


def files_from_zip(data: bytes) -> dict[str, str]:
    """A zip of one programme folder (at its top, or in one folder named after the slug)."""
    if len(data) > MAX_ZIP_BYTES:
        raise FolderRefused(f"the zip is over {MAX_ZIP_BYTES} bytes")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = [e for e in archive.infolist() if not e.is_dir()]
    except (zipfile.BadZipFile, ValueError) as error:
        raise FolderRefused(f"not a zip file ({error})") from None
    if len(entries) > MAX_FILES:
        raise FolderRefused(f"{len(entries)} files in the zip; a programme has at most "
                            f"{MAX_FILES}")
    for entry in entries:
        check_path(entry.filename)
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise FolderRefused(f"{entry.filename} is a symlink; a zip of a programme holds "
                                "plain files only")
        if entry.file_size > MAX_FILE_BYTES:
            raise FolderRefused(f"{entry.filename} is over {MAX_FILE_CHARS} characters")
    files = {entry.filename: _text(entry.filename, _read_entry(archive, entry))
             for entry in entries if not PurePosixPath(entry.filename).name.startswith(".")}
    return check_files(_without_top_folder(files))


def zip_files(files: Mapping[str, str], top: str) -> bytes:
    """The files as a zip, under one folder ``top`` (the slug), in a stable order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(check_files(files)):
            info = zipfile.ZipInfo(f"{check_path(top)}/{path}", date_time=(2000, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[path].encode("utf-8"))
    return buffer.getvalue()


def export_zip(version: ProgrammeVersion) -> bytes:
    """A published version as a zip download: the folder format under a folder named after
    the programme (what ``files_from_zip`` takes back)."""
    return zip_files(version_files(version.definition), version.programme.slug)


def version_files(definition: Mapping[str, Any]) -> dict[str, str]:
    """A published version as the folder format: programme.yaml as it was published (or, for
    a version published before that was kept, written in the format's layout) and every
    step's template."""
    files = {PROGRAMME_FILE: definition.get(PROGRAMME_YAML) or _programme_yaml(definition)}
    for step in definition["steps"]:
        files[step["template"]] = step.get("source", "")
    return files


def _programme_yaml(definition: Mapping[str, Any]) -> str:
    steps = [StepEntry(s["key"], s["week"], s["gap_days"], s.get("practice", False),
                       s.get("checkin"), s.get("save_as"),
                       None if s["template"] == f"steps/{s['key']}.j2" else s["template"])
             for s in definition["steps"]]
    return dump(ProgrammeFile(definition.get("title", ""), definition.get("quality", ""),
                              definition.get("summary"), dict(definition.get("pacing") or {}),
                              steps))


def _read_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> bytes:
    """At most the allowed size, whatever the entry's header claims."""
    with archive.open(entry) as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise FolderRefused(f"{entry.filename} is over {MAX_FILE_CHARS} characters")
    return data


def _without_top_folder(files: dict[str, str]) -> dict[str, str]:
    tops = {path.split("/", 1)[0] for path in files}
    if PROGRAMME_FILE in files or len(tops) != 1 or any("/" not in p for p in files):
        return files
    return {path.split("/", 1)[1]: text for path, text in files.items()}


def _text(name: str, data: bytes) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise FolderRefused(f"{name} is over {MAX_FILE_CHARS} characters")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise FolderRefused(f"{name} is not UTF-8 text") from None
