"""`cocoad verify`: re-hash a built fold's meta file and masks against its manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from adcommon.checksums import sha256_file
from cocoad.folds import DEFAULT_NUM_FOLDS, check_fold_arguments
from cocoad.layout import FoldOutputs
from cocoad.manifest import read_manifest


@dataclass
class VerifyReport:
    """The outcome: files checked, and the ones changed or missing (paths relative to out)."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file matches its recorded sha256."""
        return not (self.changed or self.missing)


def verify_fold(out: Path, fold: int, num_folds: int = DEFAULT_NUM_FOLDS) -> VerifyReport:
    """Compare the sha256 of the meta file and of every mask with the fold's manifest."""
    outputs = FoldOutputs(out, check_fold_arguments(fold, num_folds), fold)
    manifest = read_manifest(outputs.manifest)
    expected = {manifest["meta"]["path"]: manifest["meta"]["sha256"]}
    expected.update((entry["mask_path"], entry["mask_sha256"])
                    for entry in manifest["anomalous_test_images"])
    report = VerifyReport()
    for relative, digest in expected.items():
        report.checked += 1
        path = out / relative
        if not path.is_file():
            report.missing.append(relative)
        elif sha256_file(path) != digest:
            report.changed.append(relative)
    return report
