"""A site's kustomization file: found (one per folder), read exactly, and its image pins read
(``pinread.py``) and edited in place (``pinedit.py``); this module is the face the rest of the
package uses, and every name it had before the split is still importable from it."""

from __future__ import annotations

import stat
from pathlib import Path

from gitops_mlops.core import repofiles
from gitops_mlops.core.errors import InputError
from gitops_mlops.pins.fast import _fast_matches, fast_pin_fields  # noqa: F401 (importable from here, as before the split)
from gitops_mlops.pins.pinedit import (  # noqa: F401 (importable from here, as before the split)
    edit_pin,
    edit_pin_noted,
    pin_value_spans,
    remove_pin,
    set_pin,
    set_pin_exact,
)
from gitops_mlops.pins.pinread import (  # noqa: F401 (importable from here, as before the split)
    PIN_FIELDS,
    Kustomization,
    Pin,
    _fast_fields,
    _modelcar_found,
    _modelcar_pins,
    _root_and_images,
    fast_pins,
    parse,
    pins,
    references,
)

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
MAX_KUSTOMIZATION_BYTES = 1024 * 1024


def find_kustomization_file(directory: Path) -> Path | None:
    """The one kustomization file of a directory; two is an error, none is None. A name kustomize
    would take that is not a regular file (a folder, a FIFO) is an error, never "no kustomization"."""
    found = []
    for name in KUSTOMIZATION_FILES:
        path = directory / name
        try:
            info = path.stat()
        except FileNotFoundError:
            if path.is_symlink():
                raise InputError(f"{path}: a symlink to nothing") from None
            continue
        except OSError as exc:
            raise InputError(f"{path}: cannot be resolved ({exc.strerror or exc})") from None
        if not stat.S_ISREG(info.st_mode):
            what = "a directory" if stat.S_ISDIR(info.st_mode) else repofiles.kind_of(info.st_mode)
            raise InputError(f"{path}: is {what}, not a kustomization file")
        found.append(path)
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise InputError(f"{directory}: two kustomization files ({names}); keep one")
    return found[0] if found else None


def read_text(path: Path, source: str) -> str:
    """Read a kustomization as text, exactly (no newline translation); a regular file of at most
    MAX_KUSTOMIZATION_BYTES (``repofiles``)."""
    data = repofiles.read_bytes(path, source, limit=MAX_KUSTOMIZATION_BYTES)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: not UTF-8 text") from None


def read(path: Path, source: str | None = None) -> Kustomization:
    source = source or str(path)
    return parse(read_text(path, source), source)


def read_pin_fields(path: Path, source: str) -> list[tuple[str, str | None, str | None, str | None]]:
    """(name, newName, newTag, digest) of every pin of a kustomization file: fast when it can be."""
    text = read_text(path, source)
    fields = _fast_fields(text, source)
    if fields is None:
        fields = [(p.name, p.new_name, p.new_tag, p.digest) for p in parse(text, source).pins]
    return fields
