"""Evaluation: kNN (dataset and metric), format ensembles, stream fusion and reports."""

from .fusion import DEFAULT_STREAM_COEFFS, accuracy_metrics, ensemble_formats, fuse_streams
from .knn_dataset import KNNEvalDataset
from .knn_metric import KNNMetric, knn_classify
from .report import build_report, load_dump, read_dump, report_markdown, write_report

__all__ = [
    'DEFAULT_STREAM_COEFFS',
    'KNNEvalDataset',
    'KNNMetric',
    'accuracy_metrics',
    'build_report',
    'ensemble_formats',
    'fuse_streams',
    'knn_classify',
    'load_dump',
    'read_dump',
    'report_markdown',
    'write_report',
]
