"""A toy mmengine training run whose every iteration draws from every random stream.

``DrawingModel`` draws once per iteration from Python's, numpy's and torch's global
generators and from the generator of a ``SkeletonDataPreprocessor`` it holds (seeded with
the rank mixed in), records the draws, and scales its loss with them: a run that resumes
on another stream records other draws and ends with other weights.
"""

import random
from itertools import count

import numpy as np
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner

import msclr_mm.engine.hooks  # noqa: F401  (registers RNGStateHook)
from msclr_mm.models.data_preprocessors import SkeletonDataPreprocessor

_names = count()


class DrawingModel(BaseModel):
    """A linear model that draws ``(python, numpy, torch, augmentation)`` each step."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.aug = SkeletonDataPreprocessor()  # seed drawn from torch's global generator
        self.draws = []

    def forward(self, inputs, data_samples=None, mode='loss'):
        """Record this step's draws; the loss is scaled by their sum."""
        draws = [
            random.random(),
            float(np.random.rand()),
            float(torch.rand(())),
            float(torch.rand((), generator=self.aug.generator(torch.device('cpu')))),
        ]
        self.draws.append(draws)
        return dict(loss=self.linear(inputs).pow(2).mean() * (1 + sum(draws)))


def toy_dataloader(data):
    """An in-order DataLoader config over the rows of ``data`` ``(N, 2)``, batch 2."""
    return dict(
        dataset=[dict(inputs=x) for x in data],
        sampler=dict(type='DefaultSampler', shuffle=False),
        batch_size=2,
        num_workers=0,
        collate_fn=dict(type='default_collate'),
    )


def train_toy(
    work_dir,
    *,
    seed=None,
    diff_rank_seed=False,
    max_epochs=2,
    max_iters=None,
    checkpoint=None,
    resume_from=None,
    samples=16,
):
    """Train a ``DrawingModel`` on fixed data (no shuffling); return the finished runner.

    Args:
        work_dir (str | Path): The run's work dir.
        seed (int, optional): ``randomness.seed``. Defaults to None (a random seed).
        diff_rank_seed (bool): ``randomness.diff_rank_seed``. Defaults to False.
        max_epochs (int): Epochs of an epoch-based run. Defaults to 2.
        max_iters (int, optional): Iterations of an iteration-based run instead.
        checkpoint (dict, optional): ``CheckpointHook`` arguments. Defaults to every epoch.
        resume_from (str | Path, optional): Resume (``resume=True``) from this checkpoint.
        samples (int): Dataset length, batch 2. Defaults to 16.

    Returns:
        Runner: After ``train()``; ``runner.model.draws`` holds one list per iteration.
    """
    data = torch.randn(samples, 2, generator=torch.Generator().manual_seed(123))
    if max_iters is None:
        train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
    else:
        train_cfg = dict(by_epoch=False, max_iters=max_iters)
    runner = Runner(
        model=DrawingModel(),
        work_dir=str(work_dir),
        experiment_name=f'rng_toy_{next(_names)}',  # a MessageHub of its own
        default_scope='mmaction',
        train_dataloader=toy_dataloader(data),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05)),
        train_cfg=train_cfg,
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=1),
            checkpoint=dict(type='CheckpointHook', **(checkpoint or dict(interval=1))),
        ),
        custom_hooks=[dict(type='RNGStateHook')],
        randomness=dict(seed=seed, diff_rank_seed=diff_rank_seed),
        resume=resume_from is not None,
        load_from=None if resume_from is None else str(resume_from),
        log_level='ERROR',
    )
    runner.train()
    return runner
