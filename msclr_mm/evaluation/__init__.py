from .knn_dataset import KNNEvalDataset
from .knn_metric import KNNMetric, knn_classify

__all__ = ['KNNEvalDataset', 'KNNMetric', 'knn_classify']
