"""`MultiSkeletonRecognizer`: one shared encoder, one linear classifier per skeleton format."""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any, Dict, List, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample
from mmengine.model import BaseModel, ModuleDict

from msclr_mm.skeletons import get_format
from msclr_mm.utils.device import copy_to_device

from .multi_format import attach_pred_features, iter_groups

#: Batch contract: ``{view: {fmt: {'keypoint': Tensor, 'index': LongTensor}}}``.
Inputs = Mapping[str, Mapping[str, Mapping[str, torch.Tensor]]]


@MODELS.register_module()
class MultiSkeletonRecognizer(BaseModel):
    """Linear evaluation, semi-supervised and fine-tuning model for several skeleton formats.

    The shared encoder (``backbone``, e.g. ``UnifiedSTGCN(formats=[...])``) runs once per
    (view, format) group of the batch; a classifier per format (a copy of ``cls_head``, by
    default mmaction2's ``GCNHead``: global average pooling over ``M, T', V`` of the features
    ``(N, M, C, T', V)``, optional dropout, one linear layer) turns the features into class
    scores. Training minimises the sum over the formats present in the batch of each
    format's cross-entropy (the MS-CLR reference's ``loss = sum(losses)``), so every
    classifier receives exactly the gradient of its own cross-entropy and trains at the
    configured learning rate, as a single-format probe would (lr 3.0 at batch 128 for the
    papers' probe). Prediction averages the softmax probabilities of the formats available
    for each clip (the multi-skeleton ensemble).

    With a trainable encoder (fine-tuning, semi-supervised) the encoder receives the sum of
    the ``F`` formats' gradients, ``F`` times the mean cross-entropy's gradient: at learning
    rate ``lr`` it takes the step the mean would take at ``F * lr`` (about ``F`` times a
    single-format encoder's step at ``lr`` when the formats' gradients agree). The fine-tune
    configs therefore give the backbone ``lr_mult=1/F`` and ``decay_mult=F``
    (``optim_wrapper.paramwise_cfg``): the encoder's SGD update (momentum, Nesterov and
    weight decay included) is then exactly that of the mean cross-entropy at ``lr`` and the
    configured weight decay (the single-format fine-tune recipe's step, as before the sum),
    while each classifier trains at ``lr`` on its own cross-entropy.

    With ``cls_head=None`` the model has no classifier: it is the encoder alone, whose
    ``predict`` attaches ``pred_feature = {fmt: (C',)}`` (pooled over ``M, T', V`` and the
    test clips) for ``KNNMetric``, as the contrastive algorithms' ``predict`` does. Its
    state dict is the backbone's (``backbone.*``), so any pretraining checkpoint of the same
    encoder loads into it, whatever its neck, queue or key encoder (kNN evaluation configs).

    Linear probing freezes the encoder through the backbone config
    (``frozen_stages=len(channels)``, ``norm_eval=True``); fine-tuning leaves it trainable.
    Pretraining checkpoints initialise the encoder with
    ``backbone.init_cfg=dict(type='Pretrained', checkpoint=..., prefix='backbone.')``.

    Inputs follow the batch contract of ``msclr_mm`` (see README): ``inputs`` is
    ``{view: {fmt: {'keypoint': (n, M, T, V, C) or (n, S, M, T, V, C), 'index': (n,)}}}``
    where ``index`` gives each row's position among the ``N`` data samples and ``S`` is
    the number of test clips (their probabilities are averaged).

    Args:
        backbone (dict): Config of the shared encoder. Its ``forward(x, fmt)`` maps
            ``(n, M, T, V, C)`` to ``(n, M, C', T', V)``.
        cls_head (dict, optional): Config of one format's classifier, copied per format.
            Needs ``num_classes``; ``in_channels`` defaults to ``backbone.out_channels``;
            ``type`` defaults to ``'GCNHead'``. Its ``loss_cls`` computes each format's loss.
            Defaults to None: no classifier (the feature extractor for kNN evaluation: no
            ``loss``, ``predict`` gives ``pred_feature``).
        formats (Sequence[str | dict], optional): Formats that get a classifier. Defaults to
            None: every format of the backbone (``backbone.formats``).
        feature_norm (bool): Normalise each format's pooled ``(n, C')`` features with a
            parameter-free BatchNorm before its linear layer, as MAE's linear probe does.
            Plain SGD on raw post-ReLU features converges slowly (a short probe can stay at
            chance although the features separate the classes). Defaults to False (the
            SkeletonCLR/AimCLR probe).
        data_preprocessor (dict | nn.Module, optional): Builds the batch on the model's
            device (``SkeletonDataPreprocessor``). Defaults to None (mmengine's
            ``BaseDataPreprocessor``: moves data, changes nothing).
        init_cfg (dict | list[dict], optional): Initialisation config. Defaults to None.

    """

    def __init__(
        self,
        backbone: Dict[str, Any],
        cls_head: Dict[str, Any] | None = None,
        formats: Sequence[Union[str, Dict[str, Any]]] | None = None,
        feature_norm: bool = False,
        data_preprocessor: Union[Dict[str, Any], nn.Module] | None = None,
        init_cfg: Union[Dict[str, Any], List[Dict[str, Any]]] | None = None,
    ) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        if formats is None:
            if not hasattr(self.backbone, 'formats'):
                raise ValueError(
                    f'MultiSkeletonRecognizer: backbone {type(self.backbone).__name__} has no '
                    '`formats` attribute; pass formats=[...] to the recognizer'
                )
            names = list(self.backbone.formats)
        else:
            names = [f if isinstance(f, str) else get_format(f).name for f in formats]
        if not names:
            raise ValueError('MultiSkeletonRecognizer needs at least one format')
        if len(set(names)) != len(names):
            raise ValueError(f'MultiSkeletonRecognizer: formats lists a name twice: {names}')
        served = getattr(self.backbone, 'formats', None)
        if served is not None:
            missing = [n for n in names if n not in served]
            if missing:
                raise ValueError(
                    f'MultiSkeletonRecognizer: formats {missing} are not served by the '
                    f'backbone, which serves {list(served)}'
                )
        self._format_names = names
        if cls_head is None:  # the encoder alone: features for kNN evaluation
            if feature_norm:
                raise ValueError(
                    'MultiSkeletonRecognizer: feature_norm=True needs a cls_head (it '
                    'normalises the features before the linear layers); got cls_head=None'
                )
            self.num_classes = None
            self.cls_heads = ModuleDict()
            self.feature_norm = None
            return
        if 'num_classes' not in cls_head:
            raise ValueError('MultiSkeletonRecognizer: cls_head needs num_classes')
        head_cfg = dict(type='GCNHead')
        head_cfg.update(cls_head)
        if 'in_channels' not in head_cfg:
            if not hasattr(self.backbone, 'out_channels'):
                raise ValueError(
                    'MultiSkeletonRecognizer: cls_head needs in_channels (the backbone has '
                    'no out_channels attribute)'
                )
            head_cfg['in_channels'] = self.backbone.out_channels
        self.num_classes = int(head_cfg['num_classes'])
        self.cls_heads = ModuleDict({n: MODELS.build(copy.deepcopy(head_cfg)) for n in names})
        # MAE-style linear probing: a parameter-free BatchNorm on the pooled features, part of
        # the classifier (the frozen encoder and its statistics are untouched).
        self.feature_norm = (
            nn.ModuleDict(
                {n: nn.BatchNorm1d(head_cfg['in_channels'], affine=False, eps=1e-6) for n in names}
            )
            if feature_norm
            else None
        )

    @property
    def formats(self) -> List[str]:
        """list[str]: The formats served (each with a classifier unless ``cls_head=None``)."""
        return list(self._format_names)

    @property
    def has_classifier(self) -> bool:
        """bool: False for ``cls_head=None`` (the encoder alone, for kNN evaluation)."""
        return len(self.cls_heads) > 0

    # ------------------------------------------------------------------ batch helpers
    def _groups(self, inputs: Inputs) -> Iterator[Tuple[str, str, torch.Tensor, torch.Tensor]]:
        """Yield ``(view, fmt, keypoint, index)`` for every group of the batch."""
        if not isinstance(inputs, Mapping):
            raise TypeError(
                'MultiSkeletonRecognizer expects inputs {view: {fmt: {"keypoint", "index"}}} '
                f'(multi_skeleton_collate), got {type(inputs).__name__}'
            )
        for view, groups in inputs.items():
            for fmt, kp, index in iter_groups(groups, view):
                if fmt not in self._format_names:
                    what = 'has no classifier' if self.has_classifier else 'is not served'
                    raise KeyError(
                        f"MultiSkeletonRecognizer: view '{view}' holds format '{fmt}', which "
                        f'{what}; the recognizer has {self.formats}'
                    )
                if kp.dim() not in (5, 6):
                    raise ValueError(
                        f"MultiSkeletonRecognizer: inputs['{view}']['{fmt}']['keypoint'] has "
                        f'shape {tuple(kp.shape)} with {index.shape[0]} indices; expected '
                        '(n, M, T, V, C) or (n, S, M, T, V, C) with n = len(index)'
                    )
                yield view, fmt, kp, index

    def _encode(self, keypoint: torch.Tensor, fmt: str) -> torch.Tensor:
        """Encoder features of one group, ``(n, S, M, C', T', V)``."""
        if keypoint.dim() == 5:
            keypoint = keypoint.unsqueeze(1)
        n, s = keypoint.shape[:2]
        feats = self.backbone(keypoint.flatten(0, 1), fmt)
        return feats.reshape((n, s) + feats.shape[1:])

    def _scores(self, keypoint: torch.Tensor, fmt: str) -> torch.Tensor:
        """Class scores (logits) of one group, ``(n, S, num_classes)``."""
        if not self.has_classifier:
            raise ValueError(
                'MultiSkeletonRecognizer: no classifier (cls_head=None, the encoder alone '
                'for kNN evaluation) to score with; predict() gives pred_feature instead'
            )
        feats = self._encode(keypoint, fmt)
        n, s = feats.shape[:2]
        feats = feats.flatten(0, 1)  # (n * S, M, C, T', V)
        head = self.cls_heads[fmt]
        if self.feature_norm is None:
            return head(feats).reshape(n, s, -1)
        pooled = self.feature_norm[fmt](feats.mean(dim=(1, 3, 4)))  # GAP over M, T', V
        if head.dropout is not None:
            pooled = head.dropout(pooled)
        return head.fc(pooled).reshape(n, s, -1)

    @staticmethod
    def _labels(
        data_samples: Sequence[ActionDataSample],
        device: torch.device,
        num_classes: int | None = None,
    ) -> torch.Tensor:
        content = data_samples.content() if hasattr(data_samples, 'content') else None
        if content is not None:  # a packed SampleList: no sample is built
            return MultiSkeletonRecognizer._packed_labels(*content, device, num_classes)
        labels = []
        for i, ds in enumerate(data_samples):
            gt = ds.gt_label
            frame_dir = ds.metainfo.get('frame_dir', f'#{i}')
            if gt.numel() != 1:
                raise ValueError(
                    f'MultiSkeletonRecognizer: sample {frame_dir} has gt_label of shape '
                    f'{tuple(gt.shape)}; expected one class index (single-label recognition)'
                )
            # Checked on the host copy, before the move to the device: no GPU sync.
            value = int(gt.reshape(-1)[0]) if gt.device.type == 'cpu' else None
            if num_classes is not None and value is not None and not 0 <= value < num_classes:
                raise _label_out_of_range(frame_dir, value, num_classes)
            labels.append(gt.reshape(1))
        return torch.cat(labels).to(device=device, dtype=torch.long)

    @staticmethod
    def _packed_labels(
        labels: np.ndarray,
        metas: Sequence[dict],
        device: torch.device,
        num_classes: int | None = None,
    ) -> torch.Tensor:
        """Labels of a packed ``SampleList``, checked on the host, one pinned copy."""
        bad = np.flatnonzero(labels < 0)
        if bad.size:
            frame_dir = metas[bad[0]].get('frame_dir', f'#{bad[0]}')
            raise ValueError(
                f'MultiSkeletonRecognizer: sample {frame_dir} has no gt_label; expected one '
                'class index (single-label recognition)'
            )
        if num_classes is not None:
            bad = np.flatnonzero(labels >= num_classes)
            if bad.size:
                frame_dir = metas[bad[0]].get('frame_dir', f'#{bad[0]}')
                raise _label_out_of_range(frame_dir, int(labels[bad[0]]), num_classes)
        return copy_to_device(
            torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64)), device
        )

    # ------------------------------------------------------------------ modes
    def forward(
        self,
        inputs: Inputs,
        data_samples: Sequence[ActionDataSample] | None = None,
        mode: str = 'tensor',
    ) -> Union[Dict[str, torch.Tensor], List[ActionDataSample], Dict[str, Any]]:
        """Run in ``'loss'``, ``'predict'`` or ``'tensor'`` mode (mmengine's protocol).

        Args:
            inputs (dict): ``{view: {fmt: {'keypoint': (n, M, T, V, C) or
                (n, S, M, T, V, C), 'index': (n,)}}}``.
            data_samples (list[ActionDataSample], optional): The ``N`` samples of the batch,
                with ``gt_label`` for ``'loss'``. Defaults to None.
            mode (str): ``'loss'``, ``'predict'`` or ``'tensor'``. Defaults to ``'tensor'``.

        Returns:
            dict | list[ActionDataSample]: Losses (``'loss'``), data samples with predictions
            (``'predict'``), or ``{view: {fmt: {'cls_score': (n, S, num_classes), 'index':
            (n,)}}}`` (``'tensor'``; without classifiers, :meth:`extract_feat`'s
            ``{view: {fmt: {'feat': (n, C'), 'index': (n,)}}}``).

        """
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            if not self.has_classifier:
                return self.extract_feat(inputs)
            out: Dict[str, Dict[str, Dict[str, torch.Tensor]]] = {}
            for view, fmt, kp, index in self._groups(inputs):
                out.setdefault(view, {})[fmt] = dict(cls_score=self._scores(kp, fmt), index=index)
            return out
        raise ValueError(
            f"MultiSkeletonRecognizer: mode must be 'loss', 'predict' or 'tensor', got {mode!r}"
        )

    def extract_feat(self, inputs: Inputs) -> Dict[str, Dict[str, Dict[str, torch.Tensor]]]:
        """Pooled encoder features per group (what the linear classifiers see).

        Args:
            inputs (dict): As in :meth:`forward`.

        Returns:
            dict: ``{view: {fmt: {'feat': (n, C'), 'index': (n,)}}}``: features averaged
            over ``M, T', V`` and over the ``S`` test clips.

        """
        out: Dict[str, Dict[str, Dict[str, torch.Tensor]]] = {}
        for view, fmt, kp, index in self._groups(inputs):
            feats = self._encode(kp, fmt)  # (n, S, M, C', T', V)
            out.setdefault(view, {})[fmt] = dict(feat=feats.mean(dim=(1, 2, 4, 5)), index=index)
        return out

    def loss(
        self, inputs: Inputs, data_samples: Sequence[ActionDataSample]
    ) -> Dict[str, torch.Tensor]:
        """Cross-entropy of each format's classifier on that format's views.

        Args:
            inputs (dict): As in :meth:`forward`.
            data_samples (list[ActionDataSample]): The ``N`` samples, with ``gt_label``.

        Returns:
            dict[str, Tensor]: ``loss_<fmt>`` (the cross-entropy of format ``fmt``, mean
            over its rows and clips) and ``top1_<fmt>`` (its training accuracy) for every
            format in the batch. :meth:`parse_losses` sums the ``loss_<fmt>`` terms.

        """
        if not self.has_classifier:
            raise ValueError(
                'MultiSkeletonRecognizer.loss: this model has no classifier (cls_head=None, '
                'the encoder alone for kNN evaluation); set cls_head=dict(num_classes=...) '
                'to train a probe'
            )
        if not data_samples:
            raise ValueError('MultiSkeletonRecognizer.loss needs the data samples (gt_label)')
        scores: Dict[str, List[torch.Tensor]] = {}
        targets: Dict[str, List[torch.Tensor]] = {}
        labels: torch.Tensor | None = None
        for _, fmt, kp, index in self._groups(inputs):
            logits = self._scores(kp, fmt)  # (n, S, K)
            if labels is None:
                labels = self._labels(data_samples, logits.device, logits.shape[-1])
            n, s = logits.shape[:2]
            scores.setdefault(fmt, []).append(logits.reshape(n * s, -1))
            targets.setdefault(fmt, []).append(labels[index.to(labels.device)].repeat_interleave(s))
        if not scores:
            raise ValueError('MultiSkeletonRecognizer.loss got a batch without any group')
        losses: Dict[str, torch.Tensor] = OrderedDict()
        for fmt in scores:
            logits = torch.cat(scores[fmt])
            target = torch.cat(targets[fmt])
            losses[f'loss_{fmt}'] = self.cls_heads[fmt].loss_cls(logits, target)
            losses[f'top1_{fmt}'] = (logits.detach().argmax(-1) == target).float().mean()
        return losses

    def parse_losses(
        self, losses: Dict[str, torch.Tensor]
    ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Sum the per-format losses into the loss to optimise; log each of them.

        The sum, as the MS-CLR reference's linear evaluation (``loss = sum(losses)``): each
        format's classifier gets exactly the gradient of its own cross-entropy, so it trains
        at the optimiser's learning rate like a single-format probe (a mean would train each
        of ``F`` classifiers at ``lr / F``). A trainable encoder gets the sum of the ``F``
        formats' gradients, ``F`` times the mean cross-entropy's, i.e. the mean's step at
        ``F * lr``; the fine-tune configs scale the backbone's lr by ``1 / F`` (and its weight
        decay by ``F``) so that its update is exactly the mean cross-entropy's at ``lr``.

        Args:
            losses (dict[str, Tensor]): Output of :meth:`loss`.

        Returns:
            tuple[Tensor, dict[str, Tensor]]: The loss to optimise, a scalar (sum of the
            ``loss_<fmt>`` terms plus any other term whose key contains ``'loss'``), and the
            values to log (``loss`` first, then every entry of ``losses``, e.g.
            ``loss_<fmt>`` and ``top1_<fmt>``).

        """
        fmt_keys = [k for k in losses if k.startswith('loss_') and k[5:] in self.cls_heads]
        other = [k for k in losses if 'loss' in k and k not in fmt_keys]
        total = sum(losses[k].mean() for k in fmt_keys + other)
        log_vars = OrderedDict(loss=total)
        for k, v in losses.items():
            log_vars[k] = v.mean()
        return total, log_vars

    @torch.no_grad()
    def predict_scores(
        self, inputs: Inputs, num_samples: int
    ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """Per-format class probabilities and logits in batch order.

        Args:
            inputs (dict): As in :meth:`forward`.
            num_samples (int): ``N``, the number of data samples in the batch.

        Returns:
            tuple[dict[str, Tensor], dict[str, Tensor], dict[str, Tensor]]: ``probs[fmt]``
            ``(N, num_classes)`` (softmax, averaged over test clips and over views of the
            same format), ``logits[fmt]`` ``(N, num_classes)`` (the linear layer's raw
            outputs, averaged the same way; the reference code fuses streams on these), rows
            of clips without that format zero, and ``present[fmt]`` ``(N,)`` bool.

        """
        sums: Dict[str, torch.Tensor] = {}
        logit_sums: Dict[str, torch.Tensor] = {}
        counts: Dict[str, torch.Tensor] = {}
        for _, fmt, kp, index in self._groups(inputs):
            scores = self._scores(kp, fmt).float()  # (n, S, K)
            prob = F.softmax(scores, dim=-1).mean(dim=1)  # (n, K)
            logit = scores.mean(dim=1)
            if fmt not in sums:
                sums[fmt] = prob.new_zeros(num_samples, prob.shape[-1])
                logit_sums[fmt] = prob.new_zeros(num_samples, prob.shape[-1])
                counts[fmt] = prob.new_zeros(num_samples)
            index = index.to(prob.device)
            if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_samples):
                raise IndexError(
                    f"MultiSkeletonRecognizer: format '{fmt}' has row indices outside "
                    f'0..{num_samples - 1}'
                )
            sums[fmt].index_add_(0, index, prob)
            logit_sums[fmt].index_add_(0, index, logit)
            counts[fmt].index_add_(0, index, torch.ones_like(index, dtype=prob.dtype))
        norm = {f: counts[f].clamp(min=1).unsqueeze(1) for f in counts}
        probs = {f: sums[f] / norm[f] for f in sums}
        logits = {f: logit_sums[f] / norm[f] for f in logit_sums}
        present = {f: counts[f] > 0 for f in counts}
        return probs, logits, present

    @torch.no_grad()
    def predict_features(
        self, inputs: Inputs, data_samples: Sequence[ActionDataSample]
    ) -> List[ActionDataSample]:
        """Attach each clip's pooled encoder features per format (kNN evaluation).

        The features of :meth:`extract_feat` (averaged over ``M, T', V`` and the ``S`` test
        clips), as the contrastive algorithms' ``predict`` gives them to ``KNNMetric``.

        Args:
            inputs (dict): As in :meth:`forward`; one view per format.
            data_samples (list[ActionDataSample]): The ``N`` samples of the batch.

        Returns:
            list[ActionDataSample]: The same samples, each with ``pred_feature`` =
            ``{fmt: Tensor (C',)}`` (float32) for the formats the clip has.

        Raises:
            ValueError: A clip has one format in two views (the features are keyed by
                format), or a row index lies outside ``0..N-1``; the message names the
                sample or the format.

        """
        groups = (
            (view, fmt, out['index'], out['feat'])
            for view, by_fmt in self.extract_feat(inputs).items()
            for fmt, out in by_fmt.items()
        )
        return attach_pred_features(groups, data_samples, 'MultiSkeletonRecognizer')

    def predict(
        self, inputs: Inputs, data_samples: Sequence[ActionDataSample]
    ) -> List[ActionDataSample]:
        """Multi-skeleton ensemble prediction.

        Args:
            inputs (dict): As in :meth:`forward`.
            data_samples (list[ActionDataSample]): The ``N`` samples of the batch.

        Returns:
            list[ActionDataSample]: The same samples with ``pred_score`` ``(num_classes,)``
            (mean of the available formats' softmax probabilities), ``pred_label``,
            ``pred_scores_per_format`` (``{fmt: (num_classes,)}`` probabilities, the
            formats the clip has) and ``pred_logits_per_format`` (the same with the raw
            logits, for ``tools/analysis/report.py --scores logits``). Without classifiers
            (``cls_head=None``): ``pred_feature`` (``{fmt: (C',)}`` float32, the pooled
            encoder features of the formats the clip has, for ``KNNMetric``) instead.

        """
        if not self.has_classifier:
            return self.predict_features(inputs, data_samples)
        probs, logits, present = self.predict_scores(inputs, len(data_samples))
        for i, ds in enumerate(data_samples):
            have = [f for f in self.formats if f in probs and present[f][i]]
            if not have:
                frame_dir = ds.metainfo.get('frame_dir', f'#{i}')
                raise ValueError(
                    f'MultiSkeletonRecognizer: sample {frame_dir} has no view in any format '
                    f'of {self.formats}; its formats: {ds.metainfo.get("formats")}'
                )
            per_format = {f: probs[f][i] for f in have}
            ensemble = torch.stack(list(per_format.values())).mean(dim=0)
            ds.set_pred_score(ensemble)
            ds.set_pred_label(ensemble.argmax(dim=-1, keepdim=True))
            ds.set_field(per_format, 'pred_scores_per_format')
            ds.set_field({f: logits[f][i] for f in have}, 'pred_logits_per_format')
        return list(data_samples)


def _label_out_of_range(frame_dir: str, value: int, num_classes: int) -> ValueError:
    """The error for a label outside ``[0, num_classes)``, naming the sample."""
    return ValueError(
        f'MultiSkeletonRecognizer: sample {frame_dir} has label {value}; expected '
        f'0 <= label < num_classes = {num_classes} (check the annotation file and '
        'the cls_head num_classes of the config)'
    )
