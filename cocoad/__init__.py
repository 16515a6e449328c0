"""cocoad: build COCO-AD folds from the raw COCO 2017 annotations (no torch, no images)."""
