"""Pretrained weights: one registry of the files the frozen encoders load, and their checks.

Every entry (`PretrainedWeights`) says where a file comes from (URL), how it is trusted
(its sha256 or a prefix of it; where the publisher gives none, a public md5 prefix and
trust on first use), what input the network expects (mean and std),
and which keys the file and the network do not share. `--weights default|none|PATH`
resolves through `resolve_weights`:
- default: downloaded once into torch.hub's cache (`<hub dir>/checkpoints/<file name>`)
  and checked before every use;
- PATH: a local file (offline machines), checked against the entry when its name is the
  entry's file name or carries a `-<hex>` sha256 suffix (timm's `name-<sha256[:8]>.pth`);
- none: no file (random initialisation, for tests and quick CPU runs).
`load_weights` then loads a file into a module, tolerating exactly the key differences
the entry declares (`load_pretrained`: resolve, then load). docs/baselines.md,
"Pretrained weights", lists the entries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from adcommon.atomic import write_atomic
from adcommon.checksums import file_digests, sha256_file
from adcommon.errors import InputError
from baselines.normalisation import IMAGENET_MEAN, IMAGENET_STD

_TIMM_RELEASE = "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights"
_HASH_SUFFIX = re.compile(r"-([0-9a-f]{8,64})\.pth?$")
RECORD_SUFFIX = ".sha256"  # trust-on-first-use record written beside a download

StateDict = dict[str, torch.Tensor]


class WeightsError(InputError):
    """Pretrained weights could not be obtained or do not fit: a one-line message."""


@dataclass(frozen=True)
class PretrainedWeights:
    """One pretrained file: origin, trust, expected preprocessing, key differences.

    sha256: the file's digest or a prefix of at least 8 hex digits (None: unpublished).
    md5_prefix: a publicly pinned md5 prefix, checked where no sha256 is known; the
    sha256 of such a file is recorded beside its first download and verified after.
    unused_keys: prefixes of the file's keys the network does not have (a classifier the
    feature extractor drops). absent_keys: prefixes of the network's keys the file does
    not hold (a head that stays random). `*.num_batches_tracked` may always be absent.
    """

    key: str
    url: str
    source: str
    sha256: str | None = None
    md5_prefix: str | None = None
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    unused_keys: tuple[str, ...] = ()
    absent_keys: tuple[str, ...] = ()

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[1]


WEIGHTS: dict[str, PretrainedWeights] = {
    entry.key: entry
    for entry in (
        PretrainedWeights(
            "wide_resnet50_2", f"{_TIMM_RELEASE}/wide_resnet50_racm-8234f177.pth",
            "timm's WRN50-2 (release v0.1-weights of pytorch-image-models); torchvision keys",
            sha256="8234f177"),
        PretrainedWeights(
            "resnet34", f"{_TIMM_RELEASE}/resnet34-43635321.pth",
            "timm's ResNet34 (release v0.1-weights); torchvision keys", sha256="43635321"),
        PretrainedWeights(
            "resnet18", "https://download.pytorch.org/models/resnet18-f37072fd.pth",
            "torchvision's ResNet18 (IMAGENET1K_V1)", sha256="f37072fd"),
        PretrainedWeights(
            "vit_small_patch16_224.dino",
            "https://dl.fbaipublicfiles.com/dino/dino_deitsmall16_pretrain/"
            "dino_deitsmall16_pretrain.pth",
            "Meta's DINO ViT-S/16 (timm id vit_small_patch16_224.dino); no published sha256: "
            "md5 prefix as pinned by open-metric-learning, sha256 recorded on first use",
            md5_prefix="cf0f22", absent_keys=("head.",)),
        PretrainedWeights(
            "tf_efficientnet_b4.aa_in1k", f"{_TIMM_RELEASE}/tf_efficientnet_b4_aa-818f208c.pth",
            "timm's TF-EfficientNet-B4, AutoAugment (release v0.1-weights)",
            sha256="818f208c",
            unused_keys=("conv_head.", "bn2.", "classifier.")),
    )
}


def weights_entry(key: str) -> PretrainedWeights:
    """The registry entry `key`; WeightsError naming the known ones otherwise."""
    if key not in WEIGHTS:
        raise WeightsError(f"unknown backbone {key!r} (known: {', '.join(sorted(WEIGHTS))})")
    return WEIGHTS[key]


def check_hash_suffix(path: Path) -> None:
    """If `path` is named `stem-<hex>.pth`, its sha256 must start with <hex>."""
    match = _HASH_SUFFIX.search(path.name)
    if match and not sha256_file(path).startswith(match.group(1)):
        raise WeightsError(f"{path}: sha256 does not start with {match.group(1)} as its name "
                           "says (corrupted or wrong file)")


def check_file(path: Path, entry: PretrainedWeights, record_first_use: bool = False) -> None:
    """Check `path` against everything `entry` pins: the sha256 (prefix), else the md5
    prefix and the trust-on-first-use record `<file>.sha256` beside it (written now if
    `record_first_use` and absent). WeightsError on any mismatch."""
    digests = file_digests(path, "sha256", *(() if entry.md5_prefix is None else ("md5",)))
    digest = digests["sha256"]
    if entry.sha256 is not None and not digest.startswith(entry.sha256):
        raise WeightsError(f"{path}: sha256 {digest[:16]}... is not {entry.key}'s "
                           f"{entry.sha256} (corrupted or wrong file)")
    if entry.md5_prefix is not None and not digests["md5"].startswith(entry.md5_prefix):
        raise WeightsError(f"{path}: md5 does not start with {entry.md5_prefix}, the published "
                           f"pin of {entry.key} (corrupted or wrong file)")
    if entry.sha256 is not None:
        return
    record = path.with_name(path.name + RECORD_SUFFIX)
    if record.is_file():
        if record.read_text().split()[:1] != [digest]:
            raise WeightsError(f"{path}: sha256 {digest[:16]}... differs from the one recorded "
                               f"at its first use in {record} (file changed or corrupted)")
    elif record_first_use:
        write_atomic(record, f"{digest}  {path.name}\n".encode())


def _download(entry: PretrainedWeights) -> tuple[Path, bool]:
    """The entry's file in torch.hub's cache (downloaded if absent) and whether it is new."""
    target = Path(torch.hub.get_dir()) / "checkpoints" / entry.file_name
    if target.exists():
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(entry.url, str(target), progress=True)
    except Exception as error:  # network errors come in many types
        raise WeightsError(f"cannot download {entry.url} ({type(error).__name__}: {error}); "
                           "fetch it on a machine with internet access and pass --weights PATH"
                           ) from None
    return target, True


def resolve_weights(key: str, weights: str | Path) -> Path | None:
    """The checked local file of `weights` ("default", "none" or a path) for entry `key`."""
    entry = weights_entry(key)
    if str(weights) == "none":
        return None
    if str(weights) == "default":
        path, new = _download(entry)
        try:
            check_file(path, entry, record_first_use=True)
        except WeightsError:
            if new:  # a bad download must not stay in the cache
                path.unlink()
            raise
        return path
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if path.name == entry.file_name:
        check_file(path, entry)  # its pins include any hash suffix of the name
    else:
        check_hash_suffix(path)
    return path


def read_state_dict(path: Path) -> StateDict:
    """Tensors of a checkpoint file, unwrapping a top-level 'state_dict' or 'model' entry."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsError(f"{path}: not a readable torch checkpoint ({error})") from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict):
        raise WeightsError(f"{path}: holds no state dict")
    return state


def load_weights(module: nn.Module, path: Path, entry: PretrainedWeights,
                 adapt: Callable[[StateDict], StateDict] | None = None) -> None:
    """Load file `path` into `module`: the entry's unused keys dropped, `adapt` applied
    (e.g. a position table resized to the module's grid), then every other key must
    match in name and shape. WeightsError naming the file otherwise."""
    state = read_state_dict(path)
    state = {k: v for k, v in state.items() if not k.startswith(entry.unused_keys)}
    if adapt is not None:
        try:
            state = adapt(state)
        except ValueError as error:  # e.g. a position table that is not a square grid
            raise WeightsError(f"{path}: does not fit {entry.key}: {error}") from None
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as error:  # a shape mismatch
        detail = " ".join(str(error).split("\n\t")[1:2]) or str(error).splitlines()[0]
        raise WeightsError(f"{path}: does not fit {entry.key}: {detail.strip()}") from None
    missing = [k for k in result.missing_keys
               if not k.startswith(entry.absent_keys)
               and not k.endswith("num_batches_tracked")]
    if missing or result.unexpected_keys:
        raise WeightsError(f"{path}: does not fit {entry.key}: missing {missing[:3]}, "
                           f"unexpected {result.unexpected_keys[:3]} "
                           f"({len(missing)} missing, {len(result.unexpected_keys)} unexpected)")


def load_pretrained(module: nn.Module, key: str, weights: str | Path,
                    adapt: Callable[[StateDict], StateDict] | None = None) -> None:
    """Resolve `weights` ("default", "none" or a path) for entry `key` and load the file
    into `module` (`load_weights`, with `adapt`); nothing to load for "none"."""
    path = resolve_weights(key, weights)
    if path is not None:
        load_weights(module, path, weights_entry(key), adapt)
