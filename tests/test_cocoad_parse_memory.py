"""The annotation parse holds one copy of the file's text, not two: the raw bytes are
freed once decoded, before the (much larger) document is built (docs/performance.md)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from cocoad.annotations import RawFile, parse_annotations
from cocoad.categories import coco_category_dicts


def test_raw_bytes_are_freed_before_the_json_parse(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    images = [{"id": i, "file_name": f"{i}.jpg", "height": 10, "width": 10} for i in range(4000)]
    annotations = [{"id": i, "image_id": i, "category_id": 1,
                    "segmentation": [[1.25, 1.5, 8.75, 1.5, 8.75, 8.5, 1.25, 8.5]]}
                   for i in range(4000)]
    path = tmp_path / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations,
                                "categories": coco_category_dicts()}))
    size = path.stat().st_size
    copies_alive: list[int] = []
    real_loads = json.loads

    def probing_loads(text: str, **kwargs: Any) -> Any:
        snapshot = tracemalloc.take_snapshot()
        copies_alive.append(sum(trace.size >= size for trace in snapshot.traces))
        return real_loads(text, **kwargs)

    monkeypatch.setattr(json, "loads", probing_loads)  # the module cocoad.annotations calls
    tracemalloc.start()
    try:
        raw = RawFile(path)
        parsed = parse_annotations(raw, keep_segmentations=True)
    finally:
        tracemalloc.stop()
    assert copies_alive == [1]  # the decoded text only
    assert len(parsed.images) == 4000
    with pytest.raises(RuntimeError, match="already taken"):
        raw.take()
