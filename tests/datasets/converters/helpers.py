"""Generators of small synthetic inputs for the converter and tool tests."""

import hashlib
import os

import numpy as np


def body_joints(rng, centre=(0.0, 0.0, 3.0), height=1.6, num_joints=25, state=2):
    """(V, 12) joint fields of a plausible upright body: narrow in x, tall in y."""
    j = np.zeros((num_joints, 12), np.float32)
    j[:, 0] = centre[0] + rng.uniform(-0.2, 0.2, num_joints)
    j[:, 1] = centre[1] + np.linspace(-height / 2, height / 2, num_joints)
    j[:, 2] = centre[2] + rng.uniform(-0.05, 0.05, num_joints)
    j[:, 5] = 960 + 300 * j[:, 0]
    j[:, 6] = 540 - 300 * j[:, 1]
    j[:, 11] = state
    return j


def write_skeleton(path, frames, num_joints=25, header=None):
    """Write an NTU .skeleton file; ``frames`` = list of lists of (body_id, (V, 12))."""
    lines = [str(len(frames) if header is None else header)]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f'{body_id} 0 1 1 1 1 0 0.0 0.0 2')
            lines.append(str(num_joints))
            lines += [' '.join(f'{v:.6g}' for v in row) for row in joints]
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def make_clip(path, num_frames=20, seed=0, two=False, noise_body=False):
    """A synthetic clip: one moving body (two with ``two``), optional furniture-like body."""
    rng = np.random.default_rng(seed)
    frames = []
    for t in range(num_frames):
        bodies = [('111', body_joints(rng, centre=(0.3 * np.sin(t / 3), 0, 3)))]
        if two:
            bodies.append(('222', body_joints(rng, centre=(1.0, 0.1 * np.cos(t), 3))))
        if noise_body:
            wide = body_joints(rng, centre=(-1, 0, 3), height=0.2)
            wide[:, 0] = -1 + np.linspace(-1, 1, len(wide))
            bodies.append(('999', wide))
        frames.append(bodies)
    write_skeleton(path, frames)
    return frames


def tree_hashes(folder):
    """sha256 of every file under ``folder``, keyed by relative path."""
    out = {}
    for root, _, files in os.walk(folder):
        for name in files:
            p = os.path.join(root, name)
            with open(p, 'rb') as f:
                out[os.path.relpath(p, folder)] = hashlib.sha256(f.read()).hexdigest()
    return out
