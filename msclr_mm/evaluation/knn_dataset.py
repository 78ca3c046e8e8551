"""The dataset that feeds :class:`KNNMetric`: memory bank and queries in one val pass."""

from __future__ import annotations

from typing import Any, Dict, Union

from mmaction.registry import DATASETS
from torch.utils.data import Dataset


@DATASETS.register_module()
class KNNEvalDataset(Dataset):
    """The memory-bank split followed by the query split, bank samples flagged.

    One ordinary ``ValLoop`` pass then embeds both: ``val_dataloader.dataset =
    dict(type='KNNEvalDataset', bank=<train split, test pipeline>, query=<val split, test
    pipeline>)`` with ``val_evaluator = dict(type='KNNMetric')``. Every packed sample gets
    the metainfo ``knn_bank`` (True for the bank) on its ``data_samples``. The sampler
    shards the concatenation across ranks like any dataset.

    Args:
        bank (dict | Dataset): Dataset (config) whose features form the memory bank,
            usually the train split with the deterministic test pipeline.
        query (dict | Dataset): Dataset (config) that is classified, usually the val split.
        bank_key (str): Metainfo flag name. Defaults to ``'knn_bank'``.

    """

    def __init__(
        self,
        bank: Union[Dict[str, Any], Dataset],
        query: Union[Dict[str, Any], Dataset],
        bank_key: str = 'knn_bank',
    ) -> None:
        self.bank = DATASETS.build(bank) if isinstance(bank, dict) else bank
        self.query = DATASETS.build(query) if isinstance(query, dict) else query
        self.bank_key = bank_key

    @property
    def metainfo(self) -> dict:
        """dict: The query dataset's metainfo (class names, ...)."""
        return dict(getattr(self.query, 'metainfo', {}))

    def full_init(self) -> None:
        """Fully initialise both datasets (mmengine lazy init)."""
        for ds in (self.bank, self.query):
            if hasattr(ds, 'full_init'):
                ds.full_init()

    def __len__(self) -> int:
        return len(self.bank) + len(self.query)

    def __getitem__(self, idx: int) -> dict:
        if idx < 0:
            idx += len(self)
        in_bank = idx < len(self.bank)
        ds = self.bank if in_bank else self.query
        results = ds[idx if in_bank else idx - len(self.bank)]
        sample = results.get('data_samples') if isinstance(results, dict) else None
        if sample is None or not hasattr(sample, 'set_metainfo'):
            raise TypeError(
                f'KNNEvalDataset: item {idx} of {type(ds).__name__} is not a packed sample '
                "with 'data_samples' (end the pipeline with the packing transform)"
            )
        sample.set_metainfo({self.bank_key: in_bank})
        return results
