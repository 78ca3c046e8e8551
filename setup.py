"""Install msclr_mm: ``pip install -e .`` (see README.md for the pinned one-line install)."""

import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version():
    """Return ``__version__`` from ``msclr_mm/version.py`` without importing the package."""
    scope = {}
    with open(osp.join(HERE, 'msclr_mm', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='msclr_mm',
    version=read_version(),
    description='Multi-Skeleton Contrastive Learning (MS-CLR) as an mmaction2 plugin',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    python_requires='>=3.10',
    packages=find_packages(include=['msclr_mm', 'msclr_mm.*']),
    install_requires=[
        # torch >= 2.4 for torch.serialization.add_safe_globals (safe checkpoint loading).
        'torch>=2.4',
        'numpy',
        'mmengine==0.10.7',
        # mmaction2 1.2.0 rejects mmcv >= 2.2; full mmcv has no wheels for current torch.
        'mmcv-lite==2.1.0',
        # mmaction2 declares neither mmcv nor mmengine: pinned above.
        'mmaction2==1.2.0',
        'tqdm',
    ],
    extras_require={
        'tests': ['pytest>=7', 'pytest-xdist>=3', 'hypothesis>=6', 'ruff>=0.5', 'scikit-learn'],
        # mediapipe releases after 0.10.21 ship no model files.
        'video': ['mediapipe==0.10.21', 'opencv-python'],
    },
    classifiers=[
        'Programming Language :: Python :: 3',
        'Topic :: Scientific/Engineering :: Artificial Intelligence',
    ],
)
