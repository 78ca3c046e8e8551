"""Projection MLP of the MoCo-family skeleton models (SkeletonCLR, AimCLR, SkeleMixCLR)."""

from __future__ import annotations

from typing import Dict, List, Union

import torch
import torch.nn as nn
from mmaction.registry import MODELS
from mmengine.model import BaseModule


def global_pool(feat: torch.Tensor) -> torch.Tensor:
    """Average backbone features over persons, time and joints.

    The mean over ``(T, V)`` per person, then over the ``M`` persons (zero-padded persons
    included), as ST-GCN and the SkeletonCLR family pool.

    Args:
        feat (torch.Tensor): Backbone features ``(N, M, C, T, V)``.

    Returns:
        torch.Tensor: Pooled features ``(N, C)``.

    """
    if feat.dim() != 5:
        raise ValueError(f'expected backbone features (N, M, C, T, V), got {tuple(feat.shape)}')
    return feat.mean(dim=(3, 4)).mean(dim=1)


@MODELS.register_module()
class ProjectionNeck(BaseModule):
    """Global average pooling, then the projection MLP ``Linear-[BN-]ReLU-Linear``.

    SkeletonCLR / AimCLR / MS-CLR: ``256 -> 256 -> 128`` without BN; SkeleMixCLR+ adds a
    ``BatchNorm1d`` after the first linear layer (``with_bn=True``).

    Args:
        in_channels (int): Backbone output channels. Defaults to 256.
        hid_channels (int): Hidden width. Defaults to 256.
        out_channels (int): Embedding size. Defaults to 128.
        with_bn (bool): BatchNorm after the first linear layer. Defaults to False.
        with_avg_pool (bool): Pool ``(N, M, C, T, V)`` inputs with :func:`global_pool`.
            When False (or when the input is already ``(N, C)``) the MLP runs directly.
            Defaults to True.
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None
            (PyTorch's defaults). The pretraining configs set the reference code's
            ``weights_init`` (``reference_init`` in ``configs/_base_/models/skeletonclr.py``).

    """

    def __init__(
        self,
        in_channels: int = 256,
        hid_channels: int = 256,
        out_channels: int = 128,
        with_bn: bool = False,
        with_avg_pool: bool = True,
        init_cfg: Union[Dict, List[Dict]] | None = None,
    ) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.with_avg_pool = with_avg_pool
        layers: List[nn.Module] = [nn.Linear(in_channels, hid_channels)]
        if with_bn:
            layers.append(nn.BatchNorm1d(hid_channels))
        layers += [nn.ReLU(inplace=True), nn.Linear(hid_channels, out_channels)]
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project backbone features.

        Args:
            x (torch.Tensor): Backbone features ``(N, M, C, T, V)`` (pooled first) or
                already pooled features ``(N, C)``.

        Returns:
            torch.Tensor: Embeddings ``(N, out_channels)`` (not normalised).

        """
        if x.dim() == 5 and self.with_avg_pool:
            x = global_pool(x)
        if x.dim() != 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'ProjectionNeck expects (N, {self.in_channels}) or (N, M, {self.in_channels}, '
                f'T, V) features, got {tuple(x.shape)}'
            )
        return self.mlp(x)
