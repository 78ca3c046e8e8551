from .label_subset import LabelSubsetDataset  # noqa: F401
