"""The input normalisation every baseline's encoder expects: ImageNet's mean and std.

Torch-free, so the toy-data generators can use the same statistics.
"""

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
