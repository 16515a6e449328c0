"""The metric keys of docs/metrics.md, in the order tables and CSV files show them."""

RANKING_IMAGE_KEYS = ("auroc_i", "ap_i", "f1max_i")
RANKING_PIXEL_KEYS = ("auroc_p", "ap_p", "f1max_p", "aupro_p")
THRESHOLD_KEYS = ("f1_p_20_80", "acc_p_20_80", "iou_p_20_80", "iou_max_p")
AGGREGATE_KEYS = ("mad_i", "mad_p", "mad_20_80", "mad")

METRIC_KEYS: tuple[str, ...] = (
    RANKING_IMAGE_KEYS + RANKING_PIXEL_KEYS + THRESHOLD_KEYS + AGGREGATE_KEYS
)

COMPAT_DEFINITIONS: dict[str | None, str] = {None: "adbench-1", "ader": "ader"}
"""Each `compat` mode of the scorer and the `definition` its results record."""

DEFINITIONS: tuple[str, ...] = tuple(COMPAT_DEFINITIONS.values())
"""Every definition a result or a leaderboard row can name."""

RESIZE_CHOICES: tuple[str, ...] = ("none", "masks", "maps")
"""The evaluation-size rules (`--resize`): none, masks brought to the maps' size, or maps
to the masks' size (docs/metrics.md, "Evaluation size")."""
