"""Weighted k-nearest-neighbour accuracy on frozen features: the pretraining monitor."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Dict, List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmaction.registry import METRICS
from mmengine.evaluator import BaseMetric


def knn_classify(
    query: torch.Tensor,
    bank: torch.Tensor,
    bank_labels: torch.Tensor,
    num_classes: int,
    k: int = 200,
    temperature: float = 0.07,
    chunk_size: int = 1024,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weighted kNN (InstDisc / SkeletonCLR's kNN monitor) and 1-NN predictions.

    Features are L2-normalised; each of the ``k`` most similar bank entries votes for its
    label with weight ``exp(cos / temperature)``; the class with the largest sum wins.

    Args:
        query (torch.Tensor): ``(Q, C)`` features.
        bank (torch.Tensor): ``(B, C)`` memory-bank features.
        bank_labels (torch.Tensor): ``(B,)`` int64 labels.
        num_classes (int): Number of classes.
        k (int): Neighbours (clipped to ``B``). Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        chunk_size (int): Queries per similarity block. Defaults to 1024.

    Returns:
        tuple[torch.Tensor, torch.Tensor]: ``(Q,)`` weighted-kNN and 1-NN predictions.

    """
    bank = F.normalize(bank.float(), dim=1)
    query = F.normalize(query.float(), dim=1)
    k = min(k, bank.shape[0])
    knn, nn1 = [], []
    for start in range(0, query.shape[0], chunk_size):
        sim = query[start : start + chunk_size] @ bank.t()  # (q, B)
        w, idx = sim.topk(k, dim=1)
        labels = bank_labels[idx]  # (q, k)
        votes = torch.zeros(sim.shape[0], num_classes, dtype=sim.dtype)
        votes.scatter_add_(1, labels, (w / temperature).exp())
        knn.append(votes.argmax(dim=1))
        nn1.append(labels[:, 0])
    return torch.cat(knn), torch.cat(nn1)


@METRICS.register_module()
class KNNMetric(BaseMetric):
    """kNN accuracy of the pooled backbone features, per skeleton format.

    Expects the algorithm's ``predict()`` samples (``pred_feature = {fmt: (C,)}``,
    ``gt_label``) from a :class:`KNNEvalDataset`, which marks the memory-bank samples
    (the train split) with the metainfo ``knn_bank=True``; the others are queried. Bank and
    queries meet only within a format. Works with mmengine's ``ValLoop`` and ``TestLoop``
    (results are collected from every rank before ``compute_metrics``).

    Metrics (fractions in ``[0, 1]``, as mmaction2's ``AccMetric``), prefixed ``knn/``:
    ``{fmt}_top1`` (weighted kNN), ``{fmt}_nn1`` (1-NN), and ``top1`` / ``nn1``, the
    means over formats (use ``save_best='knn/top1'``).

    Args:
        k (int): Neighbours of the weighted vote. Defaults to 200.
        temperature (float): Vote temperature. Defaults to 0.07.
        num_classes (int, optional): Defaults to None: ``1 + max label`` seen.
        bank_key (str): Metainfo flag of the bank samples. Defaults to ``'knn_bank'``.
        chunk_size (int): Queries per similarity block. Defaults to 1024.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to None (``'knn'``).

    """

    default_prefix = 'knn'

    def __init__(
        self,
        k: int = 200,
        temperature: float = 0.07,
        num_classes: int | None = None,
        bank_key: str = 'knn_bank',
        chunk_size: int = 1024,
        collect_device: str = 'cpu',
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if k < 1:
            raise ValueError(f'k must be >= 1, got {k}')
        self.k = k
        self.temperature = temperature
        self.num_classes = num_classes
        self.bank_key = bank_key
        self.chunk_size = chunk_size

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Keep each sample's features (on the CPU), label and bank flag.

        Args:
            data_batch (Any): Unused.
            data_samples (Sequence[dict]): ``predict()`` outputs as dicts.

        """
        for s in data_samples:
            if 'pred_feature' not in s:
                raise KeyError(
                    f"sample {s.get('frame_dir', '?')!r} has no 'pred_feature': KNNMetric "
                    "needs the MoCo-family algorithms' predict() output"
                )
            label = s.get('gt_label')
            if label is None:
                raise KeyError(f"sample {s.get('frame_dir', '?')!r} has no 'gt_label'")
            self.results.append(
                dict(
                    features={f: v.detach().float().cpu() for f, v in s['pred_feature'].items()},
                    label=int(torch.as_tensor(label).reshape(-1)[0]),
                    bank=bool(s.get(self.bank_key, False)),
                )
            )

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Accuracy of the weighted kNN and of 1-NN per format, and their means.

        Args:
            results (list[dict]): What :meth:`process` kept, from every rank.

        Returns:
            dict[str, float]: See the class docstring.

        """
        groups: Dict[str, Dict[bool, List[Tuple[torch.Tensor, int]]]] = defaultdict(
            lambda: {True: [], False: []}
        )
        for r in results:
            for fmt, feat in r['features'].items():
                groups[fmt][r['bank']].append((feat, r['label']))
        if not any(g[True] for g in groups.values()):
            raise ValueError(
                f"KNNMetric got no memory-bank sample (metainfo '{self.bank_key}'=True): wrap "
                "the val dataset as dict(type='KNNEvalDataset', bank=<train split>, "
                'query=<val split>)'
            )
        num_classes = self.num_classes or 1 + max(r['label'] for r in results)
        metrics: Dict[str, float] = {}
        top1, nn1 = [], []
        for fmt in sorted(groups):
            bank, query = groups[fmt][True], groups[fmt][False]
            if not bank or not query:
                continue
            pred_knn, pred_nn = knn_classify(
                torch.stack([f for f, _ in query]),
                torch.stack([f for f, _ in bank]),
                torch.tensor([y for _, y in bank]),
                num_classes,
                self.k,
                self.temperature,
                self.chunk_size,
            )
            labels = torch.tensor([y for _, y in query])
            metrics[f'{fmt}_top1'] = (pred_knn == labels).float().mean().item()
            metrics[f'{fmt}_nn1'] = (pred_nn == labels).float().mean().item()
            top1.append(metrics[f'{fmt}_top1'])
            nn1.append(metrics[f'{fmt}_nn1'])
        if not top1:
            raise ValueError(
                f'KNNMetric: no format has both bank and query samples (formats: {sorted(groups)})'
            )
        metrics['top1'] = sum(top1) / len(top1)
        metrics['nn1'] = sum(nn1) / len(nn1)
        return metrics
