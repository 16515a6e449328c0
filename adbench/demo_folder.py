"""The demo's folder: it writes only inside it and never deletes a file it did not create.

A ledger file, `DIR/.adbench-demo.json`, lists every file the demo created (paths relative
to DIR) and the folders it is working in. Before each step the step's output folder is
claimed in the ledger (it must not exist yet); when the step ends, normally or not, the
files now under it are recorded. A second demo in the same folder first removes exactly
the recorded files (and the folders they leave empty), so files a user added survive.
A non-empty folder without a ledger is refused; so is a claimed folder holding files the
ledger does not know (a demo killed mid-step): the message says what to delete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from adcommon.atomic import write_atomic
from adcommon.errors import InputError

LEDGER_NAME = ".adbench-demo.json"


class DemoFolderError(InputError):
    """The demo's --out folder cannot be used without touching files it did not create."""


def _files_under(root: Path) -> set[Path]:
    return {Path(folder) / name for folder, _, names in os.walk(root) for name in names}


class DemoFolder:
    """The demo's output folder and its ledger of created files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.ledger = root / LEDGER_NAME
        self.files: set[str] = set()
        self.claims: set[str] = set()

    def _save(self) -> None:
        document = {"files": sorted(self.files), "claims": sorted(self.claims)}
        write_atomic(self.ledger, (json.dumps(document, indent=1) + "\n").encode())

    def _load(self) -> None:
        try:
            document = json.loads(self.ledger.read_text())
            self.files = set(document["files"])
            self.claims = set(document["claims"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise DemoFolderError(f"{self.ledger}: unreadable demo ledger ({error}); delete "
                                  f"the folder {self.root} or choose another --out") from None

    def prepare(self) -> None:
        """Make the folder ready: create it, or clear an earlier demo's own files from it.

        Refuses a non-empty folder that holds no ledger, and a claimed folder holding files
        the ledger does not list."""
        if self.root.exists() and not self.root.is_dir():
            raise DemoFolderError(f"{self.root}: not a folder; choose another --out")
        if not self.ledger.is_file():
            if self.root.is_dir() and any(self.root.iterdir()):
                raise DemoFolderError(f"{self.root}: not empty and not an earlier demo's folder; "
                                      "the demo writes only into a new or empty folder "
                                      "(choose another --out)")
            self.root.mkdir(parents=True, exist_ok=True)
            self._save()
            return
        self._load()
        for claim in sorted(self.claims):
            unknown = {str(p.relative_to(self.root)) for p in _files_under(self.root / claim)}
            unknown -= self.files
            if unknown:
                raise DemoFolderError(
                    f"{self.root / claim}: holds {len(unknown)} file(s) the demo did not record "
                    f"(e.g. {sorted(unknown)[0]}; an interrupted demo?); delete that folder or "
                    "choose another --out")
        self.clear()

    def clear(self) -> None:
        """Remove the recorded files and the folders they leave empty."""
        folders: set[Path] = set()
        for name in sorted(self.files):
            path = self.root / name
            path.unlink(missing_ok=True)
            folders.update(parent for parent in path.parents
                           if parent != self.root and self.root in parent.parents)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        self.files.clear()
        self.claims.clear()
        self._save()

    @contextmanager
    def step(self, name: str) -> Iterator[Path]:
        """A step writing `DIR/name` (a file, or a folder that must not exist yet or be
        empty); what it created is recorded when the step ends, even if it fails."""
        path = self.root / name
        if path.exists() and not (path.is_dir() and not any(path.iterdir())):
            raise DemoFolderError(f"{path}: already exists and holds files the demo did not "
                                  "make; delete it or choose another --out")
        self.claims.add(name)
        self._save()
        try:
            yield path
        finally:
            created = _files_under(path) if path.is_dir() else ({path} if path.exists() else set())
            self.files.update(str(p.relative_to(self.root)) for p in created)
            self.claims.discard(name)
            self._save()
