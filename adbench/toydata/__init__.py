"""Deterministic toy data for tests and `adbench demo`.

- `adbench.toydata.coco`: a COCO-format dataset (annotation files + small JPEGs).
- `adbench.toydata.mvtec`: an MVTec-AD-style folder dataset with synthetic defects.
- `adbench.toydata.maps`: anomaly-map / mask folders for `adbench score`.
- `adbench.toydata.fold_maps`: generated maps for a built COCO-AD fold (reports, tests).
"""
