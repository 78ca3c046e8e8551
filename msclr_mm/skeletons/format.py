"""`SkeletonFormat`: everything the package knows about one skeleton convention.

A format holds the joint names, the undirected edge list, the centre joint, the left/right
permutation used for flips, the five body parts used by SkeleMix, the bone list used for the
bone stream, the dimensionality and the unit. It validates itself when built, so a broken
inline declaration in a config fails at start-up with a message naming the format and the
entry, not with an index error deep inside a training step.

All joint indices are 0-based.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Dict, Mapping, Sequence, Tuple

import numpy as np

PART_NAMES = ('trunk', 'left_arm', 'right_arm', 'left_leg', 'right_leg')
_MIRROR_PART = {
    'trunk': 'trunk',
    'left_arm': 'right_arm',
    'right_arm': 'left_arm',
    'left_leg': 'right_leg',
    'right_leg': 'left_leg',
}
ADJACENCY_MODES = ('stgcn_spatial', 'spatial', 'binary')


class SkeletonFormatError(ValueError):
    """A skeleton format declaration is inconsistent; the message names format and entry."""


def _as_pairs(value: Any) -> Tuple[Tuple[int, int], ...]:
    return tuple((int(a), int(b)) for a, b in value)


def _as_ints(value: Any) -> Tuple[int, ...]:
    return tuple(int(v) for v in value)


@dataclass(frozen=True, eq=True)
class SkeletonFormat:
    """One skeleton convention (joint layout) and everything derived from it.

    Args:
        name (str): Registry name, e.g. ``'kinect25'``.
        joints (tuple[str, ...]): Joint names; their number is ``V``.
        edges (tuple[tuple[int, int], ...]): Undirected edges, 0-based. The order inside a
            pair does not matter; :meth:`inward_edges` orients them towards the centre.
        center (int): The graph centre (root) used by the ST-GCN partition and as the root
            of the bone tree.
        flip (tuple[int, ...]): Left/right permutation: joint ``i`` of a mirrored skeleton is
            joint ``flip[i]`` of the original. Must be an involution mapping edges to edges
            and left parts to right parts.
        parts (Mapping[str, tuple[int, ...]]): Exactly ``trunk``, ``left_arm``,
            ``right_arm``, ``left_leg`` and ``right_leg``; every joint in exactly one part.
        bones (tuple[tuple[int, int], ...], optional): ``(child, parent)`` pairs, one per
            joint (``V`` entries), forming a spanning tree of the graph rooted at the
            centre. The centre's entry is ``(center, center)`` and an isolated joint's entry
            is ``(j, j)``, so those bones are zero vectors. Defaults to the BFS tree from the
            centre (neighbours visited in increasing index order).
        isolated (tuple[int, ...]): Declared joints without edges (e.g. the two SMPL-X eye
            joints of MeTRAbs ``smplx_42``). Defaults to ``()``.
        dim (int): Coordinate dimension, 2 or 3. Defaults to 3.
        unit (str): Unit of the coordinates as stored: ``'m'``, ``'mm'``, ``'px'``, ...
            Defaults to ``'m'``.
        center_joints (tuple[int, ...], optional): Joints whose mean is the origin used when
            normalising a clip. Defaults to ``(center,)``. Formats without a joint between
            the hips (BlazePose, COCO) set the two hips here. Must be a flip-invariant set.
        scale_joints (tuple[tuple[int, ...], tuple[int, ...]], optional): Body-size hint: the
            torso length, measured from the mean of the first group (the hips) to the mean
            of the second group (the shoulders). Using midpoints of left/right pairs makes
            the scale invariant to flips and comparable across conventions (every format
            has hips and shoulders, unlike a spine joint). Each group must be a
            flip-invariant set. ``None`` leaves the choice to the normaliser.
        image_size (tuple[int, int], optional): ``(width, height)`` in pixels of the images
            the 2D coordinates refer to, when fixed by the source (NTU colour: 1920x1080).
        channels (int, optional): Input channels per joint. Defaults to 3 (x, y, z for 3D;
            x, y, score for 2D).

    """

    name: str
    joints: Tuple[str, ...]
    edges: Tuple[Tuple[int, int], ...]
    center: int
    flip: Tuple[int, ...]
    parts: Mapping[str, Tuple[int, ...]]
    bones: Tuple[Tuple[int, int], ...] | None = None
    isolated: Tuple[int, ...] = ()
    dim: int = 3
    unit: str = 'm'
    center_joints: Tuple[int, ...] | None = None
    scale_joints: Tuple[Tuple[int, ...], Tuple[int, ...]] | None = None
    image_size: Tuple[int, int] | None = None
    channels: int | None = None
    _hop: np.ndarray = field(default=None, init=False, repr=False, compare=False)

    # ------------------------------------------------------------------ building
    def __post_init__(self) -> None:
        set_ = object.__setattr__
        try:
            set_(self, 'joints', tuple(str(j) for j in self.joints))
            set_(self, 'edges', _as_pairs(self.edges))
            set_(self, 'center', int(self.center))
            set_(self, 'flip', _as_ints(self.flip))
            if not isinstance(self.parts, Mapping):
                raise TypeError('parts must be a dict')
            set_(
                self,
                'parts',
                MappingProxyType({str(k): _as_ints(v) for k, v in self.parts.items()}),
            )
            set_(self, 'isolated', _as_ints(self.isolated))
            if self.bones is not None:
                set_(self, 'bones', _as_pairs(self.bones))
            if self.center_joints is not None:
                set_(self, 'center_joints', _as_ints(self.center_joints))
            if self.scale_joints is not None:
                if len(self.scale_joints) != 2:
                    raise TypeError('scale_joints must hold two groups of joints')
                set_(self, 'scale_joints', tuple(_as_ints(g) for g in self.scale_joints))
            if self.image_size is not None:
                set_(self, 'image_size', _as_ints(self.image_size))
        except (TypeError, ValueError) as exc:
            raise self._error(f'malformed declaration: {exc}') from exc
        self._validate()
        set_(self, '_hop', self._hop_distance())
        if self.bones is None:
            set_(self, 'bones', self._bfs_bones())
        else:
            self._validate_bones()
        if self.center_joints is None:
            set_(self, 'center_joints', (self.center,))
        self._validate_hints()

    def __hash__(self) -> int:
        return hash((self.name, self.joints, self.edges, self.center))

    # Pickling and deep copies (DataLoader workers started with spawn, dataset subsets) go
    # through the plain-dict declaration: the MappingProxyType of ``parts`` cannot pickle.
    def __reduce__(self) -> Tuple[Any, Tuple[Dict[str, Any]]]:
        return (_format_from_dict, (self.to_dict(),))

    # ------------------------------------------------------------------ copying
    # A format is immutable (frozen, parts behind a MappingProxyType, which cannot be
    # deep-copied): a copy is the format itself, so models holding formats can be copied
    # (e.g. the EMA key encoder of the contrastive algorithms).
    def __copy__(self) -> SkeletonFormat:
        return self

    def __deepcopy__(self, memo: Dict[int, Any]) -> SkeletonFormat:
        return self

    def _error(self, message: str) -> SkeletonFormatError:
        return SkeletonFormatError(f"format '{self.name}': {message}")

    def _check_index(self, what: str, value: int) -> None:
        if not 0 <= value < len(self.joints):
            raise self._error(f'{what} = {value} is out of range for {len(self.joints)} joints')

    def _validate(self) -> None:
        V = len(self.joints)
        if V == 0:
            raise self._error('joints is empty')
        if len(set(self.joints)) != V:
            dup = sorted({j for j in self.joints if self.joints.count(j) > 1})
            raise self._error(f'joints has duplicate names {dup}')
        if self.dim not in (2, 3):
            raise self._error(f'dim = {self.dim} must be 2 or 3')
        if self.channels is not None and self.channels < 1:
            raise self._error(f'channels = {self.channels} must be positive')
        self._check_index('center', self.center)

        seen = {}
        for k, (a, b) in enumerate(self.edges):
            self._check_index(f'edges[{k}] = ({a}, {b}): joint', a)
            self._check_index(f'edges[{k}] = ({a}, {b}): joint', b)
            if a == b:
                raise self._error(f'edges[{k}] = ({a}, {b}) is a self-loop')
            key = frozenset((a, b))
            if key in seen:
                raise self._error(
                    f'edges[{k}] = ({a}, {b}) duplicates edges[{seen[key]}] = '
                    f'{self.edges[seen[key]]}'
                )
            seen[key] = k

        for k, j in enumerate(self.isolated):
            self._check_index(f'isolated[{k}]', j)
            if any(j in e for e in self.edges):
                raise self._error(f'isolated[{k}] = {j} ({self.joints[j]}) has edges')
        if self.center in self.isolated:
            raise self._error(f'center = {self.center} is declared isolated')

        # connectivity apart from the isolated joints
        reached = self._reachable_from(self.center)
        missing = [j for j in range(V) if j not in reached and j not in self.isolated]
        if missing:
            names = [self.joints[j] for j in missing]
            raise self._error(
                f'graph is not connected: joints {missing} {names} cannot be reached from '
                f'center {self.center}; add edges or declare them in isolated'
            )

        # flip: permutation, involution, edges to edges
        if len(self.flip) != V:
            raise self._error(f'flip has {len(self.flip)} entries, expected {V}')
        for i, j in enumerate(self.flip):
            self._check_index(f'flip[{i}]', j)
        if len(set(self.flip)) != V:
            raise self._error('flip is not a permutation (some joint appears twice)')
        for i, j in enumerate(self.flip):
            if self.flip[j] != i:
                raise self._error(
                    f'flip is not an involution: flip[{i}] = {j} but flip[{j}] = {self.flip[j]}'
                )
        for k, (a, b) in enumerate(self.edges):
            if frozenset((self.flip[a], self.flip[b])) not in seen:
                raise self._error(
                    f'flip maps edges[{k}] = ({a}, {b}) to ({self.flip[a]}, {self.flip[b]}), '
                    'which is not an edge'
                )
        iso = set(self.isolated)
        for k, j in enumerate(self.isolated):
            if self.flip[j] not in iso:
                raise self._error(f'flip maps isolated[{k}] = {j} to a joint with edges')

        # parts
        if set(self.parts) != set(PART_NAMES):
            raise self._error(
                f'parts has keys {sorted(self.parts)}, expected exactly {list(PART_NAMES)}'
            )
        owner: Dict[int, str] = {}
        for part in PART_NAMES:
            for j in self.parts[part]:
                self._check_index(f'parts[{part!r}] joint', j)
                if j in owner:
                    raise self._error(f'joint {j} is in both parts {owner[j]!r} and {part!r}')
                owner[j] = part
        missing = [j for j in range(V) if j not in owner]
        if missing:
            raise self._error(f'joints {missing} belong to no part')
        for part in PART_NAMES:
            mirrored = {self.flip[j] for j in self.parts[part]}
            target = _MIRROR_PART[part]
            if mirrored != set(self.parts[target]):
                raise self._error(f'flip does not map parts[{part!r}] onto parts[{target!r}]')

    def _validate_bones(self) -> None:
        V = len(self.joints)
        if len(self.bones) != V:
            raise self._error(f'bones has {len(self.bones)} entries, expected {V} (one per joint)')
        parent: Dict[int, int] = {}
        edge_set = {frozenset(e) for e in self.edges}
        for k, (c, p) in enumerate(self.bones):
            self._check_index(f'bones[{k}] = ({c}, {p}): joint', c)
            self._check_index(f'bones[{k}] = ({c}, {p}): joint', p)
            if c in parent:
                raise self._error(f'bones[{k}] = ({c}, {p}): joint {c} has two parents')
            if c == p and c != self.center and c not in self.isolated:
                raise self._error(
                    f'bones[{k}] = ({c}, {p}) is a self-bone but {c} is neither the center '
                    'nor isolated'
                )
            if c != p and frozenset((c, p)) not in edge_set:
                raise self._error(f'bones[{k}] = ({c}, {p}) is not an edge')
            parent[c] = p
        if parent.get(self.center) != self.center:
            raise self._error(f'bones must contain ({self.center}, {self.center}) for the center')
        for j in range(V):
            seen, cur = set(), j
            while parent[cur] != cur:
                if cur in seen:
                    raise self._error(f'bones have a cycle through joint {cur}')
                seen.add(cur)
                cur = parent[cur]
            if cur != self.center and j not in self.isolated:
                raise self._error(
                    f'bones: joint {j} ({self.joints[j]}) does not lead to the center'
                )

    def _validate_hints(self) -> None:
        for k, j in enumerate(self.center_joints):
            self._check_index(f'center_joints[{k}]', j)
        if not self.center_joints:
            raise self._error('center_joints is empty')
        if {self.flip[j] for j in self.center_joints} != set(self.center_joints):
            raise self._error('center_joints must be a flip-invariant set of joints')
        if self.scale_joints is not None:
            for g, group in enumerate(self.scale_joints):
                if not group:
                    raise self._error(f'scale_joints[{g}] is empty')
                for k, j in enumerate(group):
                    self._check_index(f'scale_joints[{g}][{k}]', j)
                if {self.flip[j] for j in group} != set(group):
                    raise self._error(f'scale_joints[{g}] must be a flip-invariant set')
            if set(self.scale_joints[0]) == set(self.scale_joints[1]):
                raise self._error('scale_joints groups are identical (zero length)')
        if self.image_size is not None and len(self.image_size) != 2:
            raise self._error('image_size must be (width, height)')

    def _neighbours(self) -> Dict[int, list]:
        nbrs: Dict[int, list] = {j: [] for j in range(len(self.joints))}
        for a, b in self.edges:
            nbrs[a].append(b)
            nbrs[b].append(a)
        for v in nbrs.values():
            v.sort()
        return nbrs

    def _reachable_from(self, root: int) -> set:
        nbrs = self._neighbours()
        reached, queue = {root}, deque([root])
        while queue:
            for n in nbrs[queue.popleft()]:
                if n not in reached:
                    reached.add(n)
                    queue.append(n)
        return reached

    def _bfs_bones(self) -> Tuple[Tuple[int, int], ...]:
        nbrs = self._neighbours()
        parent = {self.center: self.center}
        queue = deque([self.center])
        while queue:
            cur = queue.popleft()
            for n in nbrs[cur]:
                if n not in parent:
                    parent[n] = cur
                    queue.append(n)
        return tuple((j, parent.get(j, j)) for j in range(len(self.joints)))

    def _hop_distance(self, max_hop: int | None = None) -> np.ndarray:
        """All-pairs hop distance ``(V, V)``; ``inf`` beyond ``max_hop`` or unreachable."""
        V = len(self.joints)
        adj = np.eye(V, dtype=bool)
        if self.edges:
            e = np.asarray(self.edges)
            adj[e[:, 0], e[:, 1]] = True
            adj[e[:, 1], e[:, 0]] = True
        dist = np.full((V, V), np.inf)
        reach = np.eye(V, dtype=bool)
        limit = V if max_hop is None else max_hop
        for d in range(limit + 1):
            dist[reach & np.isinf(dist)] = d
            nxt = (reach.astype(np.int64) @ adj.astype(np.int64)) > 0
            if (nxt == reach).all():
                break
            reach = nxt
        return dist

    # ------------------------------------------------------------------ properties
    @property
    def num_joints(self) -> int:
        """int: Number of joints ``V``."""
        return len(self.joints)

    @property
    def in_channels(self) -> int:
        """int: Channels per joint of the input: 3 (x, y, z or x, y, score) unless declared."""
        return 3 if self.channels is None else self.channels

    @property
    def is_2d(self) -> bool:
        """bool: Whether the coordinates are image-plane (2D) coordinates."""
        return self.dim == 2

    # ------------------------------------------------------------------ graph
    def inward_edges(self) -> Tuple[Tuple[int, int], ...]:
        """Edges oriented from the joint farther from the centre to the nearer one.

        Ties (both ends equally far, possible in graphs with cycles) keep the declared
        order. For trees this is the ``inward`` list of mmaction2's ``Graph``.

        Returns:
            tuple[tuple[int, int], ...]: ``(far, near)`` pairs, in declaration order.

        """
        d = self._hop[:, self.center]
        return tuple((b, a) if d[a] < d[b] else (a, b) for a, b in self.edges)

    def adjacency(self, mode: str = 'stgcn_spatial', max_hop: int = 1) -> np.ndarray:
        """Partitioned, normalised adjacency, as mmaction2's ``Graph(layout, mode).A``.

        Args:
            mode (str): ``'stgcn_spatial'`` (ST-GCN spatial configuration partition: self,
                centripetal and centrifugal subsets, normalised with the degree of the
                ``max_hop`` neighbourhood), ``'spatial'`` (identity, inward, outward, each
                column-normalised) or ``'binary'`` (undirected 0/1 adjacency, no self loops).
                Defaults to ``'stgcn_spatial'``.
            max_hop (int): Neighbourhood size for ``'stgcn_spatial'``. Defaults to 1.

        Returns:
            np.ndarray: float32 ``(K, V, V)``, ``K`` = ``2 * max_hop + 1``, 3 or 1; entry
            ``[k, j, i]`` weighs the message from joint ``j`` to joint ``i``
            (``x_out[..., i] = sum_j x[..., j] * A[k, j, i]``).

        """
        V = self.num_joints
        if mode == 'binary' or mode == 'binary_adj':
            A = self._edge_matrix(self.edges) + self._edge_matrix([(b, a) for a, b in self.edges])
            return np.minimum(A, 1)[None].astype(np.float32)
        if mode == 'spatial':
            inward = self.inward_edges()
            return np.stack(
                [
                    np.eye(V),
                    _normalize_columns(self._edge_matrix(inward)),
                    _normalize_columns(self._edge_matrix([(b, a) for a, b in inward])),
                ]
            ).astype(np.float32)
        if mode == 'stgcn_spatial':
            hop = self._hop_distance(max_hop)
            norm = _normalize_columns((hop <= max_hop).astype(np.float64))
            d_center = hop[:, self.center]
            # hop[j, i] is symmetric; "close" when j is at least as far from the centre as i
            close = d_center[:, None] >= d_center[None, :]
            subsets = []
            for h in range(max_hop + 1):
                ring = hop == h
                subsets.append(np.where(ring & close, norm, 0.0))
                if h > 0:
                    subsets.append(np.where(ring & ~close, norm, 0.0))
            return np.stack(subsets).astype(np.float32)
        raise ValueError(f'unknown adjacency mode {mode!r}; expected one of {ADJACENCY_MODES}')

    def _edge_matrix(self, pairs: Sequence[Tuple[int, int]]) -> np.ndarray:
        """``M[j, i] = 1`` for each directed pair ``(i, j)``, as mmaction2's ``edge2mat``."""
        M = np.zeros((self.num_joints, self.num_joints))
        if len(pairs):
            p = np.asarray(pairs)
            M[p[:, 1], p[:, 0]] = 1
        return M

    def bone_pairs(self) -> Tuple[Tuple[int, int], ...]:
        """Bone ``(child, parent)`` pairs, one per joint, in joint order.

        Returns:
            tuple[tuple[int, int], ...]: ``V`` pairs; ``bone[v] = x[child] - x[parent]``
            gives a bone stream with the same ``V`` as the joint stream.

        """
        return tuple(sorted(self.bones))

    # ------------------------------------------------------------------ (de)serialise
    def to_dict(self) -> Dict[str, Any]:
        """Plain-Python description that :meth:`from_dict` turns back into this format.

        Returns:
            dict: Lists and ints only, suitable for a config file or JSON.

        """
        out: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            value = getattr(self, f.name)
            if f.name == 'parts':
                value = {k: list(v) for k, v in value.items()}
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SkeletonFormat:
        """Build a format from a config dict.

        Args:
            d (Mapping): Required keys ``name``, ``joints``, ``edges`` (0-based), ``center``,
                ``flip``, ``parts``; optional ``bones``, ``isolated``, ``dim``, ``unit``,
                ``center_joints``, ``scale_joints``, ``image_size``, ``channels``.

        Returns:
            SkeletonFormat: The validated format.

        """
        name = d.get('name', '<unnamed>')
        allowed = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(d) - allowed)
        if unknown:
            raise SkeletonFormatError(
                f"format '{name}': unknown keys {unknown}; allowed are {sorted(allowed)}"
            )
        required = ('name', 'joints', 'edges', 'center', 'flip', 'parts')
        missing = [k for k in required if k not in d]
        if missing:
            raise SkeletonFormatError(f"format '{name}': missing required keys {missing}")
        return cls(**dict(d))


def _format_from_dict(d: Dict[str, Any]) -> SkeletonFormat:
    """Unpickle helper of :meth:`SkeletonFormat.__reduce__`."""
    return SkeletonFormat.from_dict(d)


def _normalize_columns(A: np.ndarray) -> np.ndarray:
    """Divide each column by its sum (zero columns stay zero), as ``normalize_digraph``."""
    deg = A.sum(axis=0)
    inv = np.zeros_like(deg)
    np.divide(1.0, deg, out=inv, where=deg > 0)
    return A * inv[None, :]
