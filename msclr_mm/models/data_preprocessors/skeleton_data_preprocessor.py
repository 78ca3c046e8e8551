"""`SkeletonDataPreprocessor`: batched, seeded skeleton augmentation on the model's device."""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Sequence, Union

import numpy as np
import torch
from mmaction.registry import MODELS
from mmengine.dist import get_rank
from mmengine.model import BaseDataPreprocessor

from msclr_mm.skeletons import SkeletonFormat, get_format

from .base import SkeletonAugment, build_augment, check_clip_batch
from .streams import STREAMS, convert_stream

OpSpec = Union[Mapping[str, Any], SkeletonAugment]
WILDCARD_VIEW = '*'
DERIVED_STARTS = ('augmented', 'input')


def _ops_of(spec: Any, what: str) -> List[SkeletonAugment]:
    """Build the op list of a view spec: ``dict(ops=[...])`` or a plain list of ops."""
    if isinstance(spec, Mapping):
        unknown = sorted(set(spec) - {'ops'})
        if unknown:
            raise KeyError(f"{what}: unknown keys {unknown}; expected only 'ops'")
        spec = spec.get('ops', [])
    if not isinstance(spec, Sequence) or isinstance(spec, str):
        raise TypeError(f'{what}: ops must be a list of augmentation dicts, got {spec!r}')
    return [build_augment(op) for op in spec]


@MODELS.register_module()
class SkeletonDataPreprocessor(BaseDataPreprocessor):
    """Move a multi-skeleton batch to the device, augment it per view, convert the stream.

    Input (the batch contract of ``multi_skeleton_collate``)::

        data = dict(
            inputs={view: {fmt_name: dict(keypoint=Tensor (n, M, T, V, C) or
                                              (n, S, M, T, V, C),
                                          index=LongTensor (n,))}},
            data_samples=[ActionDataSample] * N)

    Output: the same nested structure, ``keypoint`` replaced by the float32 augmented,
    stream-converted tensor on the model's device (``index`` unchanged), plus the derived
    views, and ``data_samples`` moved to the device.

    Training (``training=True``):

    1. Each view (e.g. ``query``, ``key``) runs its op list (``views[view]``, or
       ``views['*']`` for views not named; a view with neither is not augmented) on each
       format group separately, with that format's flip permutation, dimensionality, etc.
       Every clip draws its own parameters. A multi-clip tensor ``(n, S, ...)`` is
       flattened to ``n * S`` clips, each with its own parameters.
    2. Each derived view (e.g. AimCLR's ``query_extreme``) takes its ``source`` view, format
       group by format group, and runs its own ops on
       ``start='augmented'`` (default): the source's augmented output, i.e. the extreme
       view is ``extreme_ops(normal_ops(x))`` and shares the query's crop and shear;
       ``start='input'``: the source's input before augmentation, i.e. an independent
       draw; AimCLR's feeder does this, with the normal ops repeated in the list
       (``[temporal_crop, shear, flip, rotate, ...]``).
       A derived view has the same format groups and the same ``index`` tensors as its
       source.
    3. Every view is converted to ``stream`` with its format's own bones.

    Evaluation (``training=False``): no augmentation and no derived view; only the stream
    conversion.

    Randomness: one ``torch.Generator`` per device, seeded once from ``seed`` (or, when
    ``seed`` is None, from a number drawn from torch's global generator when the
    preprocessor is built, so mmengine's ``randomness.seed`` governs it) combined with the
    distributed rank, so that ranks draw different augmentations. It advances with every
    call; views and format groups are processed in sorted name order, so the same seed and
    the same sequence of batches give the same augmentations.

    Example::

        data_preprocessor = dict(
            type='SkeletonDataPreprocessor',
            views=dict(
                query=dict(ops=[dict(type='temporal_crop'), dict(type='shear')]),
                key=dict(ops=[dict(type='temporal_crop'), dict(type='shear')])),
            derived_views=dict(query_extreme=dict(source='query', ops=[
                dict(type='flip'), dict(type='rotate'), dict(type='time_flip'),
                dict(type='gaussian_noise'), dict(type='gaussian_blur'),
                dict(type='axis_mask')])),
            stream='joint')

    Args:
        views (dict, optional): ``{view_name: dict(ops=[op_cfg, ...])}`` (a plain list of op
            configs also works); ``'*'`` names the ops of every view not listed. Op types:
            ``temporal_crop``, ``shear``, ``rotate``, ``flip``, ``time_flip``,
            ``gaussian_noise``, ``gaussian_blur``, ``axis_mask`` (see
            :mod:`~msclr_mm.models.data_preprocessors.spatial` and ``temporal``). Defaults
            to None (no augmentation).
        derived_views (dict, optional): ``{name: dict(source=view_name, ops=[...],
            start='augmented' | 'input')}``. Defaults to None.
        stream (str): ``'joint'``, ``'bone'``, ``'motion'`` or ``'bone_motion'``. Defaults
            to ``'joint'``.
        formats (list, optional): The formats the batches may contain, as names, inline
            dicts or :class:`SkeletonFormat` (an inline format need not be registered).
            None resolves names through the format registry. Defaults to None.
        seed (int, optional): Seed of the augmentation generator. Defaults to None.
        non_blocking (bool): Non-blocking host-to-device copies (with the DataLoader's
            ``pin_memory=True`` they overlap the previous step). Defaults to False.
        move_data_samples (bool): Move the ``ActionDataSample`` s to the device too. The
            contrastive losses never read them, and every sample's label is a separate
            small copy which, from pageable memory, waits for the GPU to drain: the
            pretraining configs set False. Defaults to True.

    """

    def __init__(
        self,
        views: Mapping[str, Any] | None = None,
        derived_views: Mapping[str, Mapping[str, Any]] | None = None,
        stream: str = 'joint',
        formats: Sequence[Any] | None = None,
        seed: int | None = None,
        non_blocking: bool = False,
        move_data_samples: bool = True,
    ) -> None:
        super().__init__(non_blocking=non_blocking)
        self.move_data_samples = bool(move_data_samples)
        self.view_ops: Dict[str, List[SkeletonAugment]] = {
            str(name): _ops_of(spec, f'SkeletonDataPreprocessor: views[{name!r}]')
            for name, spec in (views or {}).items()
        }
        self.derived_views: Dict[str, Dict[str, Any]] = {}
        for name, spec in (derived_views or {}).items():
            what = f'SkeletonDataPreprocessor: derived_views[{name!r}]'
            if not isinstance(spec, Mapping) or 'source' not in spec:
                raise TypeError(f"{what} must be a dict with a 'source' view and 'ops'")
            unknown = sorted(set(spec) - {'source', 'ops', 'start'})
            if unknown:
                raise KeyError(f"{what}: unknown keys {unknown}; expected 'source', 'ops', 'start'")
            start = spec.get('start', 'augmented')
            if start not in DERIVED_STARTS:
                raise ValueError(f'{what}: start = {start!r}, expected one of {DERIVED_STARTS}')
            if name in self.view_ops:
                raise ValueError(f'{what}: the name is also an augmented view in views')
            self.derived_views[str(name)] = dict(
                source=str(spec['source']),
                start=start,
                ops=_ops_of(list(spec.get('ops', [])), what),
            )
        if stream not in STREAMS:
            raise ValueError(
                f'SkeletonDataPreprocessor: stream = {stream!r}, expected one of {sorted(STREAMS)}'
            )
        self.stream = stream
        self.formats: Dict[str, SkeletonFormat] | None = None
        if formats is not None:
            resolved = [get_format(f) for f in formats]
            self.formats = {f.name: f for f in resolved}
        if seed is None:
            # drawn now, from torch's global generator (seeded by mmengine's randomness cfg)
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.seed = int(seed)
        self._generators: Dict[torch.device, torch.Generator] = {}

    # ------------------------------------------------------------------ helpers
    def get_format(self, name: str) -> SkeletonFormat:
        """Resolve a format name of the batch.

        Args:
            name (str): The format group's key in the batch.

        Returns:
            SkeletonFormat: The format.

        """
        if self.formats is None:
            return get_format(name)
        if name not in self.formats:
            raise KeyError(
                f"SkeletonDataPreprocessor: the batch holds format '{name}', which is not "
                f'among the configured formats {sorted(self.formats)}'
            )
        return self.formats[name]

    def generator(self, device: torch.device) -> torch.Generator:
        """The augmentation generator of ``device``, created on first use.

        Its seed mixes ``seed`` and the distributed rank (``numpy.random.SeedSequence``),
        so ranks draw different augmentations.

        Args:
            device (torch.device): The batch's device.

        Returns:
            torch.Generator: The generator, advanced by every call.

        """
        device = torch.device(device)
        if device not in self._generators:
            state = np.random.SeedSequence([self.seed, get_rank()]).generate_state(2, np.uint64)
            gen = torch.Generator(device=device)
            gen.manual_seed(int(state[0]) & (2**63 - 1))
            self._generators[device] = gen
        return self._generators[device]

    def cuda_generators(self) -> List[torch.Generator]:
        """The augmentation generators created so far on CUDA devices (for graph capture)."""
        return [gen for device, gen in self._generators.items() if device.type == 'cuda']

    def get_rng_state(self) -> Dict[str, torch.Tensor]:
        """The states of the augmentation generators, for :class:`RNGStateHook`.

        They are not in ``state_dict()`` on purpose: a checkpoint's weights stay weights
        (``load_from``, ``init_cfg=Pretrained`` and ``tools/test.py`` never touch the
        augmentation stream); only ``--resume`` restores it, through the hook.

        Returns:
            dict[str, torch.Tensor]: ``{device: generator state}`` (uint8 CPU tensors), one
            entry per device that has drawn augmentations.

        """
        return {str(device): gen.get_state() for device, gen in self._generators.items()}

    def set_rng_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Restore the augmentation generators from :meth:`get_rng_state`.

        Args:
            state (dict[str, torch.Tensor]): ``{device: generator state}``.

        """
        for device, gen_state in state.items():
            self.generator(torch.device(device)).set_state(gen_state.cpu())

    def ops_for(self, view: str) -> List[SkeletonAugment]:
        """The training ops of an input view.

        Args:
            view (str): The view name.

        Returns:
            list[SkeletonAugment]: ``views[view]``, else ``views['*']``, else ``[]``.

        """
        if view in self.view_ops:
            return self.view_ops[view]
        return self.view_ops.get(WILDCARD_VIEW, [])

    @staticmethod
    def _describe(view: str, fmt_name: str, index: Any, data_samples: Any) -> str:
        """Name the view, the format and the first samples of a group for error messages.

        Only called on the way to raising: it reads ``index`` on the host (a device
        synchronisation on a GPU, refused inside a CUDA-graph capture) and builds packed
        data samples.
        """
        names = []
        if isinstance(data_samples, Sequence) and isinstance(index, torch.Tensor):
            for i in index.flatten()[:3].tolist():
                if 0 <= i < len(data_samples):
                    names.append(data_samples[i].metainfo.get('frame_dir', f'#{i}'))
        where = f"SkeletonDataPreprocessor: view '{view}', format '{fmt_name}'"
        return where + (f', samples {names}' if names else '')

    def run_ops(
        self,
        x: torch.Tensor,
        fmt: SkeletonFormat,
        ops: Sequence[SkeletonAugment],
        generator: torch.Generator | None,
    ) -> torch.Tensor:
        """Apply ops in order to one format group; ``(n, S, ...)`` is flattened to clips.

        Args:
            x (torch.Tensor): float ``(n, M, T, V, C)`` or ``(n, S, M, T, V, C)``.
            fmt (SkeletonFormat): The group's format.
            ops (Sequence[SkeletonAugment]): The ops.
            generator (torch.Generator, optional): Source of randomness on ``x.device``.

        Returns:
            torch.Tensor: Same shape as ``x``.

        """
        if not ops:
            return x
        shape = x.shape
        clips = x.reshape(-1, *shape[-4:])
        for op in ops:
            clips = op(clips, fmt, generator)
        return clips.reshape(shape)

    # ------------------------------------------------------------------ forward
    def forward(self, data: dict, training: bool = False) -> dict:
        """Run :meth:`_forward` in float32, outside any autocast region (see its doc)."""
        device_type = self.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            return self._forward(data, training)

    def _forward(self, data: dict, training: bool = False) -> dict:
        """Cast to the device, augment (training only), derive views, convert the stream.

        Args:
            data (dict): ``inputs`` (``{view: {fmt: {keypoint, index}}}``) and
                ``data_samples``, as built by ``multi_skeleton_collate``.
            training (bool): Apply the augmentations and derived views. Defaults to False.

        Returns:
            dict: ``inputs`` (same structure, plus derived views in training) and
            ``data_samples``.

        """
        if self.move_data_samples or not isinstance(data, Mapping):
            data = self.cast_data(data)
        else:
            data = dict(data, inputs=self.cast_data(data.get('inputs')))
        inputs = data.get('inputs') if isinstance(data, Mapping) else None
        if not isinstance(inputs, Mapping):
            raise TypeError(
                "SkeletonDataPreprocessor: data['inputs'] must be a dict "
                '{view: {format: {keypoint, index}}}, got '
                f'{type(inputs).__name__}'
            )
        data_samples = data.get('data_samples')
        before: Dict[str, Dict[str, Dict[str, Any]]] = {}
        after: Dict[str, Dict[str, Dict[str, Any]]] = {}
        for view in sorted(inputs):
            groups = inputs[view]
            if not isinstance(groups, Mapping):
                raise TypeError(
                    f"SkeletonDataPreprocessor: view '{view}' must map format names to "
                    f'{{keypoint, index}}, got {type(groups).__name__}'
                )
            ops = self.ops_for(view) if training else []
            before[view], after[view] = {}, {}
            for fmt_name in sorted(groups):
                group = groups[fmt_name]
                index = group.get('index') if isinstance(group, Mapping) else None

                def where(view=view, fmt_name=fmt_name, index=index):
                    return self._describe(view, fmt_name, index, data_samples)

                if not isinstance(group, Mapping) or 'keypoint' not in group:
                    raise KeyError(f"{where()}: expected a dict with 'keypoint' and 'index'")
                if index is None:
                    raise KeyError(f"{where()}: 'index' is missing")
                fmt = self.get_format(fmt_name)
                x = torch.as_tensor(group['keypoint'], device=self.device).float()
                if x.dim() not in (5, 6):
                    raise ValueError(
                        f'{where()}: keypoint has shape {tuple(x.shape)}, expected '
                        '(n, M, T, V, C) or (n, S, M, T, V, C)'
                    )
                try:
                    check_clip_batch(x.reshape(-1, *x.shape[-4:]), fmt)
                except ValueError as exc:
                    raise ValueError(f'{where()}: {exc}') from None
                if x.shape[0] != len(index):
                    raise ValueError(
                        f'{where()}: keypoint holds {x.shape[0]} clips but index has '
                        f'{len(index)} entries'
                    )
                gen = self.generator(x.device) if ops else None
                before[view][fmt_name] = dict(group, keypoint=x)
                after[view][fmt_name] = dict(group, keypoint=self.run_ops(x, fmt, ops, gen))

        if training:
            for name in sorted(self.derived_views):
                spec = self.derived_views[name]
                source = spec['source']
                if name in after:
                    raise ValueError(
                        f"SkeletonDataPreprocessor: derived view '{name}' is also a view "
                        'of the batch'
                    )
                if source not in after:
                    raise KeyError(
                        f"SkeletonDataPreprocessor: derived view '{name}': source view "
                        f"'{source}' is not in the batch (views: {sorted(after)})"
                    )
                start = after if spec['start'] == 'augmented' else before
                after[name] = {}
                for fmt_name in sorted(start[source]):
                    group = start[source][fmt_name]
                    fmt = self.get_format(fmt_name)
                    x = group['keypoint']
                    gen = self.generator(x.device)
                    after[name][fmt_name] = dict(
                        group, keypoint=self.run_ops(x, fmt, spec['ops'], gen)
                    )

        out = {}
        for view, groups in after.items():
            out[view] = {}
            for fmt_name, group in groups.items():
                fmt = self.get_format(fmt_name)
                keypoint = convert_stream(group['keypoint'], fmt, self.stream)
                out[view][fmt_name] = dict(group, keypoint=keypoint)
        return dict(inputs=out, data_samples=data_samples)
