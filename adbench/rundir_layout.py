"""The names inside a run folder, shared by the pipeline that writes one and the report
that reads one (torch-free, so `adbench report` needs no torch).

  RUN_DIR/config.json        the run's settings and run_id
  RUN_DIR/maps/REL.npy       the model's final maps
  RUN_DIR/gts/REL.png        the masks they are scored against
  RUN_DIR/image_scores.csv   the method's own image scores, when it has them
"""

from __future__ import annotations

CONFIG_NAME = "config.json"
IMAGE_SCORES_NAME = "image_scores.csv"
MAPS_DIR = "maps"
GTS_DIR = "gts"
